/* Joining per-time-step tensors, for the step loops of layers/lmu.c and layers/lif.c.
 *
 * cf_concat_steps(ctx, n, xs, dim) == cf_concat(ctx, n, xs, dim) for any n >= 1, built as a tree of concats
 * of at most CF_CONCAT_STEPS_FANIN inputs each, since a tape node records at most 32 saved inputs. */
#ifndef CF_LAYERS_LMU_STEPS_H
#define CF_LAYERS_LMU_STEPS_H

#include "autograd/cformer.h"

#define CF_CONCAT_STEPS_FANIN 16

cf_tensor *cf_concat_steps(cf_ctx *ctx, int64_t n, cf_tensor *const *xs, int dim);

#endif
