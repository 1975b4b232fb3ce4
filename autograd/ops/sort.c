/* Frontends of topk, sort and argsort: checks, the value and index outputs, node recording. */
#include "autograd/ops/sort.h"

#include "autograd/cf_node.h"
#include "autograd/ops/sort_attr.h"

/* name: the public function, for messages (argsort runs the sort op) */
static cf_tensor *sort_op(cf_ctx *ctx, cf_op op, const char *name, cf_tensor *x, int64_t k, int dim, bool largest,
                          bool sorted, cf_tensor **indices_out)
{
    if (indices_out) *indices_out = NULL;
    CF_GUARD(x);
    CF_TRY_NULL(cf_check_float(name, x));
    CF_TRY_NULL(cf_check_ndim(name, x, 1, CF_MAX_DIMS));
    int d = cf_norm_dim(name, x, dim);
    if (d < 0) return NULL;
    if (op == CF_OP_sort) k = x->shape[d];
    if (k < 0 || k > x->shape[d]) {
        char b[128];
        cf_set_error(CF_ERR_ARG, "%s: k = %lld is out of range [0, %lld] for dim %d of %s", name, (long long)k,
                     (long long)x->shape[d], dim, cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = i == d ? k : x->shape[i];
    cf_tensor *values = cf_empty(ctx, x->dtype, x->ndim, shape);
    cf_tensor *indices = cf_empty(ctx, CF_I64, x->ndim, shape);
    if (!values || !indices) return NULL;
    cf_node *n = cf_node_new(ctx, op, 1, &x, values);
    if (!n) return NULL;
    *CF_ATTR(n, struct sort_attr) = (struct sort_attr){.dim = d, .k = k, .largest = largest, .sorted = sorted};
    n->aux[SORT_AUX_INDICES] = indices;
    n->saves = 0; /* backward reads only the indices */
    cf_tensor *out = cf_node_finish(ctx, n);
    if (out && indices_out) *indices_out = indices;
    return out;
}

cf_tensor *cf_topk(cf_ctx *ctx, cf_tensor *x, int64_t k, int dim, bool largest, bool sorted,
                   cf_tensor **indices_out)
{
    return sort_op(ctx, CF_OP_topk, "topk", x, k, dim, largest, sorted, indices_out);
}

cf_tensor *cf_sort(cf_ctx *ctx, cf_tensor *x, int dim, bool descending, cf_tensor **indices_out)
{
    return sort_op(ctx, CF_OP_sort, "sort", x, 0, dim, descending, true, indices_out);
}

cf_tensor *cf_argsort(cf_ctx *ctx, cf_tensor *x, int dim, bool descending)
{
    CF_GUARD(x);
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *indices = NULL;
    cf_tensor *v = sort_op(ctx, CF_OP_sort, "argsort", x, 0, dim, descending, true, &indices);
    cf_set_grad_enabled(ctx, prev);
    return v ? indices : NULL;
}
