/* Random regularisers: dropout and drop-path (stochastic depth).
 *
 * Masks come from the counter-based RNG (autograd/rng.h), never from thread-local state, so they are
 * the same for any thread count, on any backend and after a restart at the same step:
 *     key  = cf_rng_key(cf_ctx_seed(ctx), stream)
 *     word = Philox4x32-10(key, counter {i/4 low, i/4 high, step low, step high})[i % 4]
 *     element (dropout) or sample (drop_path) i is kept iff word >= floor(p * 2^32)
 * where step is cf_ctx_step(ctx) at the time of the call. Use a distinct stream per call site in a
 * step (e.g. the layer index, with the rank folded in for data parallelism where masks must differ)
 * or two call sites draw the same mask. Kept values are scaled by 1 / (1 - p), so the expectation is
 * unchanged; p == 1 gives zeros.
 *
 * When not training (cf_is_training false) or p == 0, both return x itself (no copy, no node). */
#ifndef CF_OPS_RANDOM_H
#define CF_OPS_RANDOM_H

#include "autograd/cf_tensor.h"

/* Zeroes each element of x with probability p (0 <= p <= 1). */
cf_tensor *cf_dropout(cf_ctx *ctx, cf_tensor *x, double p, uint64_t stream);
/* Zeroes each sample x[b, ...] (one decision per index along dim 0) with probability p. */
cf_tensor *cf_drop_path(cf_ctx *ctx, cf_tensor *x, double p, uint64_t stream);

#endif
