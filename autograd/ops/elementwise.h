/* Elementwise ops. Binary ops broadcast as NumPy does; all return arena tensors (NULL on error). */
#ifndef CF_OPS_ELEMENTWISE_H
#define CF_OPS_ELEMENTWISE_H

#include "autograd/cf_tensor.h"

cf_tensor *cf_add(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
/* a + b stored over a's bytes when a is a contiguous tensor with history whose shape is the result's and the
 * backend has the kernel (else a fresh tensor, as cf_add): for a tensor nothing reads afterwards, such as a
 * sub-block's output before its residual add, so the step arena keeps one tensor instead of two. a's storage
 * version is bumped, so a node that saved a fails at backward (never a wrong gradient). The gradient is add's. */
cf_tensor *cf_add_into(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
cf_tensor *cf_sub(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
cf_tensor *cf_mul(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
cf_tensor *cf_div(cf_ctx *ctx, cf_tensor *a, cf_tensor *b);
cf_tensor *cf_pow(cf_ctx *ctx, cf_tensor *a, cf_tensor *b); /* a > 0 where b's gradient is needed */
/* cond (bool, broadcast) ? a : b */
cf_tensor *cf_where(cf_ctx *ctx, cf_tensor *cond, cf_tensor *a, cf_tensor *b);
/* x with value wherever mask (bool, broadcast to x) is true */
cf_tensor *cf_masked_fill(cf_ctx *ctx, cf_tensor *x, cf_tensor *mask, double value);
/* x * scale + shift */
cf_tensor *cf_scale_shift(cf_ctx *ctx, cf_tensor *x, double scale, double shift);
cf_tensor *cf_add_scalar(cf_ctx *ctx, cf_tensor *x, double s);
cf_tensor *cf_mul_scalar(cf_ctx *ctx, cf_tensor *x, double s);
cf_tensor *cf_pow_scalar(cf_ctx *ctx, cf_tensor *x, double p);
cf_tensor *cf_neg(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_sqrt(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_rsqrt(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_exp(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_log(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_abs(cf_ctx *ctx, cf_tensor *x);
/* Bounds that are NaN are not applied (clamp from one side). The gradient passes where lo <= x <= hi. */
cf_tensor *cf_clamp(cf_ctx *ctx, cf_tensor *x, double lo, double hi);
cf_tensor *cf_relu(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_gelu(cf_ctx *ctx, cf_tensor *x);      /* exact: x * Phi(x), with erf */
cf_tensor *cf_gelu_tanh(cf_ctx *ctx, cf_tensor *x); /* tanh approximation */
cf_tensor *cf_silu(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_sigmoid(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_tanh(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_hardswish(cf_ctx *ctx, cf_tensor *x);
/* log(1 + exp(beta x)) / beta, linear where beta x > threshold (PyTorch defaults: 1, 20) */
cf_tensor *cf_softplus(cf_ctx *ctx, cf_tensor *x, double beta, double threshold);
/* Converts to dtype; differentiable between float dtypes (f32, f64, bf16, f16 storage). */
cf_tensor *cf_cast(cf_ctx *ctx, cf_tensor *x, cf_dtype dt);

#endif
