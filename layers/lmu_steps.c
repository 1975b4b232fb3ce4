/* Joining per-time-step tensors (layers/lmu_steps.h). */
#include "layers/lmu_steps.h"

#include "autograd/cf_node.h"

cf_tensor *cf_concat_steps(cf_ctx *ctx, int64_t n, cf_tensor *const *xs, int dim)
{
    if (n <= 1) return n == 1 ? xs[0] : NULL;
    if (n <= CF_CONCAT_STEPS_FANIN) return cf_concat(ctx, (int)n, xs, dim);
    int64_t groups = (n + CF_CONCAT_STEPS_FANIN - 1) / CF_CONCAT_STEPS_FANIN;
    cf_tensor **parts = cf_scratch(ctx, (size_t)groups * sizeof *parts);
    if (!parts) return NULL;
    for (int64_t g = 0; g < groups; g++) {
        int64_t at = g * CF_CONCAT_STEPS_FANIN, len = n - at < CF_CONCAT_STEPS_FANIN ? n - at : CF_CONCAT_STEPS_FANIN;
        if (!(parts[g] = cf_concat_steps(ctx, len, xs + at, dim))) return NULL;
    }
    return cf_concat_steps(ctx, groups, parts, dim);
}
