/* Matrix products. Transposed views are passed to GEMM as transposes, never copied. */
#ifndef CF_OPS_MATMUL_H
#define CF_OPS_MATMUL_H

#include "autograd/cf_tensor.h"

/* NumPy matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast. */
cf_tensor *cf_matmul(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
/* x @ w^T + bias, with x [..., in], w [out, in] (PyTorch Linear layout), bias [out] or NULL. */
cf_tensor *cf_linear(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias);

#endif
