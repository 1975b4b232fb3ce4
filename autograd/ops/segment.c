/* Frontend of the segment ops: checks, the argmax buffer, node recording. */
#include "autograd/ops/segment.h"

#include "autograd/cf_node.h"
#include "autograd/ops/segment_attr.h"

cf_tensor *cf_segment_max(cf_ctx *ctx, cf_tensor *x, cf_tensor *seg, int64_t nseg)
{
    CF_GUARD(x, seg);
    char a[128], b[128];
    CF_TRY_NULL(cf_check_float("segment_max", x));
    if (seg->dtype != CF_I64 || seg->ndim != 1 || x->ndim != 2 || seg->shape[0] != x->shape[0]) {
        cf_set_error(CF_ERR_SHAPE, "segment_max: needs x [N, C] and an i64 seg [N], got x %s and seg %s",
                     cf_shape_str(x, a, sizeof a), cf_shape_str(seg, b, sizeof b));
        return NULL;
    }
    if (nseg < 0) {
        cf_set_error(CF_ERR_ARG, "segment_max: %lld segments", (long long)nseg);
        return NULL;
    }
    int64_t shape[2] = {nseg, x->shape[1]};
    cf_tensor *out = cf_empty(ctx, x->dtype, 2, shape);
    cf_tensor *arg = cf_empty(ctx, CF_I64, 2, shape);
    if (!out || !arg) return NULL;
    cf_node *n = cf_node_new(ctx, CF_OP_segment_max, 2, (cf_tensor *[]){x, seg}, out);
    if (!n) return NULL;
    CF_ATTR(n, struct segment_attr)->nseg = nseg;
    n->aux[SEGMENT_AUX_ARGMAX] = arg;
    n->saves = 0; /* backward reads only the argmax */
    return cf_node_finish(ctx, n);
}
