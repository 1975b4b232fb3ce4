/* Loss functions, with PyTorch's semantics and defaults. Each returns a 0-dim scalar for reduction
 * mean or sum, or the per-element (per-sample) losses for reduction none; NULL with the error set on bad
 * shapes, dtypes or class indices. Float inputs are f32 or f64 (or bf16 on the CUDA backend, whose losses are
 * then f32: cf_dtype_accum); class indices are i64. */
#ifndef CF_OPS_LOSS_H
#define CF_OPS_LOSS_H

#include "autograd/cf_tensor.h"

typedef enum cf_reduction { CF_REDUCTION_MEAN = 0, CF_REDUCTION_SUM, CF_REDUCTION_NONE } cf_reduction;

/* Options of cross_entropy and nll_loss. Pass NULL for PyTorch's defaults (CF_CE_DEFAULTS): a zeroed
 * struct is NOT the default, because ignore_index 0 would ignore class 0. */
typedef struct cf_ce_opts {
    cf_reduction reduction; /* mean: over the non-ignored targets (soft targets: over the samples) */
    int64_t ignore_index;   /* targets equal to it add nothing and are not counted (hard targets only) */
    double label_smoothing; /* eps in [0, 1]: the target becomes (1 - eps) * target + eps / C */
} cf_ce_opts;
#define CF_CE_DEFAULTS ((cf_ce_opts){.reduction = CF_REDUCTION_MEAN, .ignore_index = -100, .label_smoothing = 0.0})

/* Cross entropy of logits against class indices or class probabilities, with the log-softmax fused
 * inside (no softmax tensor is made; backward recomputes it from the saved per-sample max and log-sum).
 *
 * Layout, as torch.nn.functional.cross_entropy: the CLASS DIM IS DIM 1.
 *   logits [N, C] or [N, C, d1, d2, ...] (or [C] for one sample);
 *   target i64 [N] or [N, d1, d2, ...] (or 0-dim) with values in [0, C) or == ignore_index, or
 *   target f32/f64 of the logits' shape: probabilities over the classes (soft targets).
 * reduction none returns the target's shape ([N, d1, ...]); ignored positions hold 0.
 * With mean over hard targets the sum is divided by the number of non-ignored targets (NaN when all are
 * ignored, as PyTorch). Gradient: (softmax * sum(q) - q) * g / count, q the (smoothed) target
 * distribution; soft targets also get a gradient (-(1 - eps) * log_softmax * g / count). */
cf_tensor *cf_cross_entropy(cf_ctx *ctx, cf_tensor *logits, cf_tensor *target, const cf_ce_opts *opt);
/* The same with the CLASS DIM LAST, the language-model layout: logits [..., C] (e.g. [B, T, C]) with
 * targets [...] (e.g. [B, T]) or soft targets [..., C]. Reads the logits in place; nothing is copied. */
cf_tensor *cf_cross_entropy_last(cf_ctx *ctx, cf_tensor *logits, cf_tensor *target, const cf_ce_opts *opt);

/* Negative log-likelihood of log-probabilities, same layout as cf_cross_entropy (class dim 1) with hard
 * targets: loss = -logp[target]. label_smoothing must be 0. */
cf_tensor *cf_nll_loss(cf_ctx *ctx, cf_tensor *logp, cf_tensor *target, const cf_ce_opts *opt);

/* (x - y)^2 and |x - y| elementwise, same shapes; both inputs get gradients. l1's gradient at x == y
 * is 0. mean divides by the element count. */
cf_tensor *cf_mse_loss(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, cf_reduction reduction);
cf_tensor *cf_l1_loss(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, cf_reduction reduction);

/* Binary cross entropy on logits x against targets y in [0, 1] (same shape), in the stable form
 *   (1 - y) x + (1 + (pw - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)).
 * pos_weight (NULL: 1) broadcasts against x, e.g. [C] for x [N, C] (torch's pos_weight). */
cf_tensor *cf_bce_with_logits(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, cf_tensor *pos_weight,
                              cf_reduction reduction);

/* torchvision.ops.sigmoid_focal_loss: bce_with_logits(x, y) * (1 - p_t)^gamma, times
 * alpha_t = alpha y + (1 - alpha)(1 - y) when alpha >= 0, with p = sigmoid(x) and
 * p_t = p y + (1 - p)(1 - y). torchvision's defaults: alpha 0.25, gamma 2, reduction NONE. */
cf_tensor *cf_sigmoid_focal_loss(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, double alpha, double gamma,
                                 cf_reduction reduction);

#endif
