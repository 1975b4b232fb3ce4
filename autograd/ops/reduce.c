/* Reduction, scan and softmax frontends: dim lists to masks, output shapes, node recording. */
#include "autograd/ops/reduce.h"

#include "autograd/ops/reduce_attr.h"

int cf_dims_from_mask(uint32_t mask, int *dims)
{
    int n = 0;
    for (int d = 0; d < CF_MAX_DIMS; d++)
        if (mask & (1u << d)) dims[n++] = d;
    return n;
}

/* The reduced-dims mask of x for a dims list (ndims 0: all dims); -1 with the error set when a dim is
 * out of range or repeated. */
static int64_t dims_mask(const char *op, const cf_tensor *x, int ndims, const int *dims)
{
    if (ndims == 0) return x->ndim ? (int64_t)((1u << x->ndim) - 1) : 0;
    if (ndims < 0 || ndims > CF_MAX_DIMS || !dims) {
        cf_set_error(CF_ERR_ARG, "%s: bad dims list (%d dims)", op, ndims);
        return -1;
    }
    uint32_t mask = 0;
    for (int i = 0; i < ndims; i++) {
        int d = cf_norm_dim(op, x, dims[i]);
        if (d < 0) return -1;
        if (mask & (1u << d)) {
            char b[128];
            cf_set_error(CF_ERR_ARG, "%s: dim %d appears twice in the dims list for %s", op, dims[i],
                         cf_shape_str(x, b, sizeof b));
            return -1;
        }
        mask |= 1u << d;
    }
    return mask;
}

/* x's shape with the masked dims removed (or kept as 1). */
static int reduced_shape(const cf_tensor *x, uint32_t mask, bool keepdim, int64_t *shape)
{
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!(mask & (1u << d)))
            shape[nd++] = x->shape[d];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return nd;
}

static int64_t reduced_count(const cf_tensor *x, uint32_t mask)
{
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++)
        if (mask & (1u << d)) n *= x->shape[d];
    return n;
}

static cf_node *reduce_node(cf_ctx *ctx, cf_op op, cf_tensor *x, int ndims, const int *dims, bool keepdim,
                            cf_dtype out_dt)
{
    const char *name = cf_op_name(op);
    if (cf_check_float(name, x) != CF_OK) return NULL;
    int64_t mask = dims_mask(name, x, ndims, dims);
    if (mask < 0) return NULL;
    int64_t shape[CF_MAX_DIMS];
    int nd = reduced_shape(x, (uint32_t)mask, keepdim, shape);
    cf_tensor *out = cf_empty(ctx, out_dt, nd, shape);
    cf_node *n = cf_node_new(ctx, op, 1, &x, out);
    if (!n) return NULL;
    struct reduce_attr *a = CF_ATTR(n, struct reduce_attr);
    *a = (struct reduce_attr){.mask = (uint32_t)mask, .keepdim = keepdim};
    return n;
}

cf_tensor *cf_sum(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim)
{
    CF_GUARD(x);
    cf_node *n = reduce_node(ctx, CF_OP_sum, x, ndims, dims, keepdim, x->dtype);
    if (!n) return NULL;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_mean(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim)
{
    CF_GUARD(x);
    cf_node *n = reduce_node(ctx, CF_OP_mean, x, ndims, dims, keepdim, x->dtype);
    if (!n) return NULL;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_var(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, double correction, bool keepdim)
{
    CF_GUARD(x);
    if (!(correction >= 0)) {
        cf_set_error(CF_ERR_ARG, "var: correction must be >= 0, got %g", correction);
        return NULL;
    }
    cf_node *n = reduce_node(ctx, CF_OP_var, x, ndims, dims, keepdim, x->dtype);
    if (!n) return NULL;
    CF_ATTR(n, struct reduce_attr)->correction = correction;
    n->saves = 1u; /* x; the mean goes to aux[0] */
    return cf_node_finish(ctx, n);
}

static cf_tensor *extreme(cf_ctx *ctx, cf_op op, cf_tensor *x, int ndims, const int *dims, bool keepdim,
                          cf_tensor **indices)
{
    if (indices) *indices = NULL;
    CF_GUARD(x);
    cf_node *n = reduce_node(ctx, op, x, ndims, dims, keepdim, x->dtype);
    if (!n) return NULL;
    uint32_t mask = CF_ATTR(n, struct reduce_attr)->mask;
    if (reduced_count(x, mask) == 0 && cf_numel(n->out) > 0) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "%s: cannot reduce over an empty dim of %s", cf_op_name(op),
                     cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    /* the indices are made here so they exist (for the caller) even when nothing is recorded */
    n->aux[0] = cf_empty(ctx, CF_I64, n->out->ndim, n->out->shape);
    if (!n->aux[0]) return NULL;
    n->saves = 0; /* backward reads only the indices, which nothing else can write */
    cf_tensor *out = cf_node_finish(ctx, n);
    if (out && indices) *indices = n->aux[0];
    return out;
}

cf_tensor *cf_max(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim, cf_tensor **indices)
{
    return extreme(ctx, CF_OP_max, x, ndims, dims, keepdim, indices);
}

cf_tensor *cf_min(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim, cf_tensor **indices)
{
    return extreme(ctx, CF_OP_min, x, ndims, dims, keepdim, indices);
}

cf_tensor *cf_logsumexp(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim)
{
    CF_GUARD(x);
    cf_node *n = reduce_node(ctx, CF_OP_logsumexp, x, ndims, dims, keepdim, x->dtype);
    if (!n) return NULL;
    n->saves = 1u | CF_SAVE_OUT;
    return cf_node_finish(ctx, n);
}

/* The one-dim ops keep x's shape. */
static cf_tensor *along_dim(cf_ctx *ctx, cf_op op, cf_tensor *x, int dim, uint32_t saves)
{
    CF_GUARD(x);
    const char *name = cf_op_name(op);
    CF_TRY_NULL(cf_check_float(name, x));
    /* a 0-dim tensor behaves as one of shape [1] (PyTorch accepts dim 0 and -1 there) */
    int d = x->ndim == 0 && (dim == 0 || dim == -1) ? 0 : cf_norm_dim(name, x, dim);
    if (d < 0) return NULL;
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, op, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct reduce_attr) = (struct reduce_attr){.dim = d};
    n->saves = saves;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_cumsum(cf_ctx *ctx, cf_tensor *x, int dim) { return along_dim(ctx, CF_OP_cumsum, x, dim, 0); }
cf_tensor *cf_softmax(cf_ctx *ctx, cf_tensor *x, int dim)
{
    return along_dim(ctx, CF_OP_softmax, x, dim, CF_SAVE_OUT);
}
cf_tensor *cf_log_softmax(cf_ctx *ctx, cf_tensor *x, int dim)
{
    return along_dim(ctx, CF_OP_log_softmax, x, dim, CF_SAVE_OUT);
}
