/* norm ops: declarations. Each is one fused op with PyTorch's semantics; weight and bias may be NULL
 * (no affine transform). Statistics are accumulated in the input's dtype (f32 or f64; bf16 inputs on the
 * CUDA backend accumulate and save them in f32). */
#ifndef CF_OPS_NORM_H
#define CF_OPS_NORM_H

#include "autograd/cf_tensor.h"

/* PyTorch's defaults, for callers that want them. */
#define CF_NORM_EPS 1e-5
#define CF_BATCH_NORM_MOMENTUM 0.1

/* torch.nn.functional.layer_norm over the last norm_ndim dims of x (1 <= norm_ndim <= x->ndim):
 * (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance. weight and bias have the
 * shape of those dims. */
cf_tensor *cf_layer_norm(cf_ctx *ctx, cf_tensor *x, int norm_ndim, cf_tensor *weight, cf_tensor *bias, double eps);

/* RMSNorm over the last dim: x * rsqrt(mean(x^2) + eps) * weight; weight is [x->shape[-1]] or NULL. */
cf_tensor *cf_rms_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *weight, double eps);

/* torch.nn.functional.batch_norm for x [N, C, ...]: per-channel statistics over N and the trailing dims.
 * training: normalise with the batch statistics (biased variance) and update the running statistics in
 * place: running = (1 - momentum) * running + momentum * batch, with the unbiased variance for
 * running_var. Not training: normalise with running_mean / running_var. weight, bias, running_mean and
 * running_var are [C] or NULL; the running statistics are both given or both NULL (then the batch
 * statistics are used in either mode), have x's dtype and must not require grad. */
cf_tensor *cf_batch_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *weight, cf_tensor *bias, cf_tensor *running_mean,
                         cf_tensor *running_var, bool training, double momentum, double eps);

/* torch.nn.functional.group_norm for x [N, C, ...]: C is split into `groups` groups of C / groups
 * channels, each normalised over its channels and the trailing dims; weight and bias are [C]. */
cf_tensor *cf_group_norm(cf_ctx *ctx, cf_tensor *x, int groups, cf_tensor *weight, cf_tensor *bias, double eps);

#endif
