/* Matrix products. Transposed views are passed to GEMM as transposes, never copied. */
#ifndef CF_OPS_MATMUL_H
#define CF_OPS_MATMUL_H

#include "autograd/cf_tensor.h"

/* NumPy matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast. */
cf_tensor *cf_matmul(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
/* x @ w^T + bias, with x [..., in], w [out, in] (PyTorch Linear layout), bias [out] or NULL. */
cf_tensor *cf_linear(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias);
/* gelu(x @ w^T + bias) (exact GELU, the erf form) as one op: the bias and the activation are applied in one
 * pass over the GEMM's output, and backward forms the pre-activation's gradient in one pass; the same values,
 * bit for bit, as cf_gelu(cf_linear(...)). Keeps the pre-activation [..., out] for backward. */
cf_tensor *cf_linear_gelu(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias);

#endif
