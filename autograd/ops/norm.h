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

/* Fused residual add + norm over the last dim, one op: s = x + r and y = layer_norm(s) * weight + bias
 * (cf_add_layer_norm, as cf_layer_norm with norm_ndim 1) or y = rms_norm(s) * weight (cf_add_rms_norm).
 * Returns y; *sum_out (when sum_out is non-NULL) receives s. Both are outputs of the one node: s is its
 * second output (cf_node.out2), so gradients flow from y and from s's own later uses, and backward sums
 * them: dL/dx = dL/dr = dL/ds + norm_backward(dL/dy), in one pass over each row. Pre-norm blocks use both
 * (s goes on as the residual stream, y into the next sub-block); post-norm blocks pass sum_out NULL.
 * Contract: x and r have one shape and dtype (no broadcasting) and are different tensors (x + x: use
 * cf_add then the norm); weight and bias are [D] = [x->shape[-1]] or NULL, x's dtype. s is a new contiguous
 * tensor and must not be written in place afterwards (backward reads it; the tape checks its version).
 * Numerics: s is rounded to the dtype first (bf16 on CUDA), and the statistics are those of the stored s,
 * so y equals cf_layer_norm(cf_add(x, r)) to rounding.
 * Sketch (pre-norm):  h = attn(norm1(x)); y = cf_add_layer_norm(ctx, x, h, w2, b2, eps, &x); x = x + mlp(y) */
cf_tensor *cf_add_layer_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *r, cf_tensor *weight, cf_tensor *bias, double eps,
                             cf_tensor **sum_out);
cf_tensor *cf_add_rms_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *r, cf_tensor *weight, double eps, cf_tensor **sum_out);

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
