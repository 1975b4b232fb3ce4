/* Activation recomputation (gradient checkpointing): a segment of the forward runs without keeping its
 * intermediates, and backward runs it again to get them. Chen, Xu, Zhang and Guestrin, "Training Deep Nets
 * with Sublinear Memory Cost" (2016), Section 4: the forward keeps a segment's output only; the segment's
 * backward recomputes the segment from its stored inputs and back-propagates through it.
 *
 *     static cf_tensor *mlp(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
 *     {
 *         const cf_mlp *m = user;
 *         return cf_mlp_fwd(ctx, m, in[0]);
 *     }
 *     y = cf_recompute(ctx, mlp, (void *)&model->mlp, 1, &x); // as cf_mlp_fwd(ctx, &model->mlp, x)
 *
 * Forward (grad mode on): fn runs with grad mode off; the tensors it allocated are freed at once (the step arena
 * rewinds to where it stood before fn), except its output, copied into a fresh tensor; one tape node records
 * the segment. Its inputs are in[] and every other tensor that requires grad which an op inside fn read (the
 * parameters, and anything fn reaches through user): their gradients and the leaves' gradient-final hooks
 * behave as without recomputation.
 * Backward: the node runs fn again with grad mode on, with the RNG key (the context's seed and step) and the
 * training mode of the forward, so dropout and drop-path draw the same masks; back-propagates the output's
 * gradient through that nested piece of tape (parameters' gradients accumulate as usual, in the same order);
 * then frees the piece (the arena rewinds under it; only the inputs' gradients are kept). So recomputed
 * training is bit-identical to plain training, and the arena holds the forward's segment outputs plus one
 * segment's recomputation at a time. Segments may nest: a segment inside fn is itself recomputed inside its
 * parent's recomputation.
 * Grad mode off (evaluation, generation, or inside another segment's forward): cf_recompute is fn(...).
 *
 * fn's contract: its output is a function of in[], the parameters and the context's seed, step and training
 * mode alone (same shapes, same values when run again); it writes into no input or parameter in place (a batch
 * norm's running statistics would be updated twice) and keeps no pointer to its intermediates after it returns;
 * user (and whatever it points to) stays valid until the step ends. NULL with the error set on failure;
 * backward reports an output of another shape than the forward's. */
#ifndef CF_RECOMPUTE_H
#define CF_RECOMPUTE_H

#include "autograd/cf_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef cf_tensor *(*cf_recompute_fn)(cf_ctx *ctx, void *user, int n, cf_tensor *const *in);

cf_tensor *cf_recompute(cf_ctx *ctx, cf_recompute_fn fn, void *user, int n, cf_tensor *const *in);

/* What the layers recompute (recipe key train.recompute): nothing; each transformer block's attention
 * sub-block (norm, attention, residual); each whole transformer block. A property of the context, read by
 * layers/block.c; the default is none. */
typedef enum cf_recompute_mode { CF_RECOMPUTE_NONE, CF_RECOMPUTE_ATTENTION, CF_RECOMPUTE_BLOCK } cf_recompute_mode;
void cf_set_recompute_mode(cf_ctx *ctx, cf_recompute_mode mode);
cf_recompute_mode cf_recompute_mode_of(const cf_ctx *ctx);
/* "none", "attention", "block"; false for anything else. */
bool cf_recompute_mode_parse(const char *s, cf_recompute_mode *out);

#ifdef __cplusplus
}
#endif

#endif
