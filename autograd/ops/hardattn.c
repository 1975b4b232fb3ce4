/* Frontend of topk_softmax: checks and node recording (backward reads the output only). */
#include "autograd/ops/hardattn.h"

#include "autograd/ops/hardattn_attr.h"

cf_tensor *cf_topk_softmax(cf_ctx *ctx, cf_tensor *x, int64_t k)
{
    CF_GUARD(x);
    CF_TRY_NULL(cf_check_float("topk_softmax", x));
    CF_TRY_NULL(cf_check_ndim("topk_softmax", x, 1, CF_MAX_DIMS));
    if (k < 1) {
        cf_set_error(CF_ERR_ARG, "topk_softmax: k = %lld must be at least 1", (long long)k);
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    cf_node *n = cf_node_new(ctx, CF_OP_topk_softmax, 1, &x, out);
    if (!n) return NULL;
    CF_ATTR(n, struct hardattn_attr)->k = k;
    n->saves = CF_SAVE_OUT;
    return cf_node_finish(ctx, n);
}
