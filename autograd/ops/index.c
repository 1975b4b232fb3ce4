/* Index op frontends: dtype and shape rules. Index values are range-checked by the kernels, which
 * read them anyway (on a GPU backend they live on the device). */
#include "autograd/ops/index.h"

#include "autograd/cf_node.h"
#include "autograd/ops/index_attr.h"

#include <inttypes.h>

static cf_tensor *record(cf_ctx *ctx, cf_op op, int nin, cf_tensor **in, cf_tensor *out, int dim, double alpha)
{
    cf_node *n = cf_node_new(ctx, op, nin, in, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct index_attr) = (struct index_attr){.dim = dim, .alpha = alpha};
    n->saves = 2u; /* backward reads only the indices */
    return cf_node_finish(ctx, n);
}

static cf_status check_index(const char *op, const cf_tensor *idx)
{
    char b[128];
    if (idx->dtype != CF_I64)
        return cf_set_error(CF_ERR_DTYPE, "%s: indices must be i64, got %s", op, cf_shape_str(idx, b, sizeof b));
    return CF_OK;
}

cf_tensor *cf_embedding(cf_ctx *ctx, cf_tensor *weight, cf_tensor *ids)
{
    CF_GUARD(weight, ids);
    char a[128], b[128];
    CF_TRY_NULL(cf_check_float("embedding", weight));
    CF_TRY_NULL(check_index("embedding", ids));
    if (weight->ndim != 2) {
        cf_set_error(CF_ERR_SHAPE, "embedding: weight must be [V, D], got %s", cf_shape_str(weight, a, sizeof a));
        return NULL;
    }
    if (ids->ndim + 1 > CF_MAX_DIMS) {
        cf_set_error(CF_ERR_SHAPE, "embedding: ids %s leave no room for the embedding dim (at most %d dims)",
                     cf_shape_str(ids, b, sizeof b), CF_MAX_DIMS);
        return NULL;
    }
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
    shape[ids->ndim] = weight->shape[1];
    cf_tensor *out = cf_empty(ctx, weight->dtype, ids->ndim + 1, shape);
    return record(ctx, CF_OP_embedding, 2, (cf_tensor *[]){weight, ids}, out, 0, 0);
}

cf_tensor *cf_index_select(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx)
{
    CF_GUARD(x, idx);
    char b[128];
    CF_TRY_NULL(cf_check_float("index_select", x));
    CF_TRY_NULL(check_index("index_select", idx));
    int d = cf_norm_dim("index_select", x, dim);
    if (d < 0) return NULL;
    if (idx->ndim != 1) {
        cf_set_error(CF_ERR_SHAPE, "index_select: the index must be 1-D, got %s", cf_shape_str(idx, b, sizeof b));
        return NULL;
    }
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = i == d ? idx->shape[0] : x->shape[i];
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, shape);
    return record(ctx, CF_OP_index_select, 2, (cf_tensor *[]){x, idx}, out, d, 0);
}

/* idx must have t's number of dims and be no larger than t in every dim (but skip, when >= 0). */
static cf_status check_within(const char *op, const cf_tensor *idx, const char *what, const cf_tensor *t, int skip)
{
    char a[128], b[128];
    if (idx->ndim != t->ndim)
        return cf_set_error(CF_ERR_SHAPE, "%s: index %s and %s %s differ in their number of dims", op,
                            cf_shape_str(idx, a, sizeof a), what, cf_shape_str(t, b, sizeof b));
    for (int i = 0; i < t->ndim; i++)
        if (i != skip && idx->shape[i] > t->shape[i])
            return cf_set_error(CF_ERR_SHAPE, "%s: index %s is larger than %s %s in dim %d (%" PRId64 " > %" PRId64 ")",
                                op, cf_shape_str(idx, a, sizeof a), what, cf_shape_str(t, b, sizeof b), i,
                                idx->shape[i], t->shape[i]);
    return CF_OK;
}

cf_tensor *cf_gather(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx)
{
    CF_GUARD(x, idx);
    CF_TRY_NULL(cf_check_float("gather", x));
    CF_TRY_NULL(check_index("gather", idx));
    int d = cf_norm_dim("gather", x, dim);
    if (d < 0) return NULL;
    CF_TRY_NULL(check_within("gather", idx, "input", x, d));
    cf_tensor *out = cf_empty(ctx, x->dtype, idx->ndim, idx->shape);
    return record(ctx, CF_OP_gather, 2, (cf_tensor *[]){x, idx}, out, d, 0);
}

cf_tensor *cf_scatter_add(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx, cf_tensor *src)
{
    CF_GUARD(x, idx, src);
    CF_TRY_NULL(cf_check_float("scatter_add", x));
    CF_TRY_NULL(cf_check_same_dtype("scatter_add", x, src));
    CF_TRY_NULL(check_index("scatter_add", idx));
    int d = cf_norm_dim("scatter_add", x, dim);
    if (d < 0) return NULL;
    CF_TRY_NULL(check_within("scatter_add", idx, "input", x, d));
    CF_TRY_NULL(check_within("scatter_add", idx, "src", src, -1));
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    return record(ctx, CF_OP_scatter_add, 3, (cf_tensor *[]){x, idx, src}, out, d, 0);
}

cf_tensor *cf_index_add(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx, cf_tensor *src, double alpha)
{
    CF_GUARD(x, idx, src);
    char a[128], b[128], c[128];
    CF_TRY_NULL(cf_check_float("index_add", x));
    CF_TRY_NULL(cf_check_same_dtype("index_add", x, src));
    CF_TRY_NULL(check_index("index_add", idx));
    int d = cf_norm_dim("index_add", x, dim);
    if (d < 0) return NULL;
    if (idx->ndim != 1) {
        cf_set_error(CF_ERR_SHAPE, "index_add: the index must be 1-D, got %s", cf_shape_str(idx, a, sizeof a));
        return NULL;
    }
    bool fits = src->ndim == x->ndim;
    for (int i = 0; fits && i < x->ndim; i++) fits = src->shape[i] == (i == d ? idx->shape[0] : x->shape[i]);
    if (!fits) {
        cf_set_error(CF_ERR_SHAPE, "index_add: src %s should have the shape of input %s with dim %d of size %" PRId64
                     " (the length of index %s)", cf_shape_str(src, a, sizeof a), cf_shape_str(x, b, sizeof b), d,
                     idx->shape[0], cf_shape_str(idx, c, sizeof c));
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    return record(ctx, CF_OP_index_add, 3, (cf_tensor *[]){x, idx, src}, out, d, alpha);
}
