/* Norm op frontends: shape and dtype checks of x and its optional parameters, node recording. */
#include "autograd/ops/norm.h"

#include "autograd/cf_node.h"
#include "autograd/ops/norm_attr.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* "[4, 5]" for the trailing `nd` dims of shape. */
static const char *dims_str(int nd, const int64_t *shape, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* A parameter p (weight, bias, running stat) of x: NULL is fine; otherwise x's dtype and exactly the
 * shape (nd, shape). */
static cf_status check_param(const char *op, const char *what, const cf_tensor *x, const cf_tensor *p, int nd,
                             const int64_t *shape)
{
    if (!p) return CF_OK;
    char a[128], b[128], c[128];
    if (p->dtype != x->dtype)
        return cf_set_error(CF_ERR_DTYPE, "%s: %s %s does not have the dtype of input %s", op, what,
                            cf_shape_str(p, a, sizeof a), cf_shape_str(x, b, sizeof b));
    bool same = p->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = p->shape[i] == shape[i];
    if (!same)
        return cf_set_error(CF_ERR_SHAPE, "%s: %s %s should be %s for input %s", op, what, cf_shape_str(p, a, sizeof a),
                            dims_str(nd, shape, c, sizeof c), cf_shape_str(x, b, sizeof b));
    return CF_OK;
}

static cf_status check_eps(const char *op, double eps)
{
    if (!(eps >= 0) || isinf(eps)) return cf_set_error(CF_ERR_ARG, "%s: eps must be finite and >= 0, got %g", op, eps);
    return CF_OK;
}

/* Appends the present optional inputs to in[] (x, and r for the fused ops, already at in[0..n-1]) and records
 * their slots. */
static int add_inputs(cf_tensor **in, int n, struct norm_attr *a, cf_tensor *w, cf_tensor *b, cf_tensor *rm,
                      cf_tensor *rv)
{
    a->iw = a->ib = a->irm = a->irv = -1;
    if (w) a->iw = n, in[n++] = w;
    if (b) a->ib = n, in[n++] = b;
    if (rm) a->irm = n, in[n++] = rm;
    if (rv) a->irv = n, in[n++] = rv;
    return n;
}

static cf_tensor *finish(cf_ctx *ctx, cf_op op, cf_tensor *x, struct norm_attr *a, cf_tensor *w, cf_tensor *b,
                         cf_tensor *rm, cf_tensor *rv)
{
    cf_tensor *in[5] = {x};
    int nin = add_inputs(in, 1, a, w, b, rm, rv);
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, op, nin, in, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct norm_attr) = *a;
    /* backward reads x and the weight; bias and running stats never (the stats it needs are in aux) */
    n->saves = 1u | (a->iw > 0 ? 1u << a->iw : 0u);
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_layer_norm(cf_ctx *ctx, cf_tensor *x, int norm_ndim, cf_tensor *weight, cf_tensor *bias, double eps)
{
    CF_GUARD(x);
    char s[128];
    CF_TRY_NULL(cf_check_float("layer_norm", x));
    CF_TRY_NULL(check_eps("layer_norm", eps));
    if (norm_ndim < 1 || norm_ndim > x->ndim) {
        cf_set_error(CF_ERR_SHAPE, "layer_norm: cannot normalise the last %d dims of %s", norm_ndim,
                     cf_shape_str(x, s, sizeof s));
        return NULL;
    }
    const int64_t *nshape = x->shape + x->ndim - norm_ndim;
    int64_t d = 1;
    for (int i = 0; i < norm_ndim; i++) d *= nshape[i];
    if (d == 0) {
        cf_set_error(CF_ERR_SHAPE, "layer_norm: the normalised dims of %s are empty", cf_shape_str(x, s, sizeof s));
        return NULL;
    }
    CF_TRY_NULL(check_param("layer_norm", "weight", x, weight, norm_ndim, nshape));
    CF_TRY_NULL(check_param("layer_norm", "bias", x, bias, norm_ndim, nshape));
    struct norm_attr a = {.eps = eps, .norm_ndim = norm_ndim};
    return finish(ctx, CF_OP_layer_norm, x, &a, weight, bias, NULL, NULL);
}

cf_tensor *cf_rms_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *weight, double eps)
{
    CF_GUARD(x);
    char s[128];
    CF_TRY_NULL(cf_check_float("rms_norm", x));
    CF_TRY_NULL(check_eps("rms_norm", eps));
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0) {
        cf_set_error(CF_ERR_SHAPE, "rms_norm: input %s has no last dim to normalise", cf_shape_str(x, s, sizeof s));
        return NULL;
    }
    CF_TRY_NULL(check_param("rms_norm", "weight", x, weight, 1, x->shape + x->ndim - 1));
    struct norm_attr a = {.eps = eps, .norm_ndim = 1};
    return finish(ctx, CF_OP_rms_norm, x, &a, weight, NULL, NULL, NULL);
}

/* add_layer_norm / add_rms_norm: in = {x, r, weight?, bias?}, out = y, out2 = s. */
static cf_tensor *add_norm(cf_ctx *ctx, cf_op op, cf_tensor *x, cf_tensor *r, cf_tensor *w, cf_tensor *b, double eps,
                           cf_tensor **sum_out)
{
    const char *name = cf_op_name(op);
    char s1[128], s2[128];
    if (sum_out) *sum_out = NULL;
    CF_GUARD(x, r);
    CF_TRY_NULL(cf_check_float(name, x));
    CF_TRY_NULL(check_eps(name, eps));
    CF_TRY_NULL(cf_check_same_dtype(name, x, r));
    if (!cf_same_shape(x, r)) {
        cf_set_error(CF_ERR_SHAPE, "%s: residual %s does not have the shape of input %s", name,
                     cf_shape_str(r, s1, sizeof s1), cf_shape_str(x, s2, sizeof s2));
        return NULL;
    }
    if (x == r) {
        cf_set_error(CF_ERR_ARG, "%s: x and r are one tensor; use cf_add then the norm", name);
        return NULL;
    }
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0) {
        cf_set_error(CF_ERR_SHAPE, "%s: input %s has no last dim to normalise", name, cf_shape_str(x, s1, sizeof s1));
        return NULL;
    }
    const int64_t *d = x->shape + x->ndim - 1;
    CF_TRY_NULL(check_param(name, "weight", x, w, 1, d));
    CF_TRY_NULL(check_param(name, "bias", x, b, 1, d));
    struct norm_attr a = {.eps = eps, .norm_ndim = 1};
    cf_tensor *in[4] = {x, r};
    int nin = add_inputs(in, 2, &a, w, b, NULL, NULL);
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape), *sum = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = sum ? cf_node_new(ctx, op, nin, in, out) : NULL;
    if (!n) return NULL;
    *CF_ATTR(n, struct norm_attr) = a;
    n->out2 = sum;
    n->saves = a.iw > 0 ? 1u << a.iw : 0u; /* backward reads s (out2, always checked) and the weight */
    cf_tensor *y = cf_node_finish(ctx, n);
    if (y && sum_out) *sum_out = sum;
    return y;
}

cf_tensor *cf_add_layer_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *r, cf_tensor *weight, cf_tensor *bias, double eps,
                             cf_tensor **sum_out)
{
    return add_norm(ctx, CF_OP_add_layer_norm, x, r, weight, bias, eps, sum_out);
}

cf_tensor *cf_add_rms_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *r, cf_tensor *weight, double eps, cf_tensor **sum_out)
{
    return add_norm(ctx, CF_OP_add_rms_norm, x, r, weight, NULL, eps, sum_out);
}

/* x [N, C, ...] with C > 0. */
static cf_status check_nc(const char *op, const cf_tensor *x)
{
    char s[128];
    CF_TRY(cf_check_float(op, x));
    if (x->ndim < 2)
        return cf_set_error(CF_ERR_SHAPE, "%s: expected an input [N, C, ...], got %s", op, cf_shape_str(x, s, sizeof s));
    return CF_OK;
}

cf_tensor *cf_batch_norm(cf_ctx *ctx, cf_tensor *x, cf_tensor *weight, cf_tensor *bias, cf_tensor *running_mean,
                         cf_tensor *running_var, bool training, double momentum, double eps)
{
    CF_GUARD(x);
    char s[128], t[128];
    CF_TRY_NULL(check_nc("batch_norm", x));
    CF_TRY_NULL(check_eps("batch_norm", eps));
    const int64_t *c = x->shape + 1;
    CF_TRY_NULL(check_param("batch_norm", "weight", x, weight, 1, c));
    CF_TRY_NULL(check_param("batch_norm", "bias", x, bias, 1, c));
    CF_TRY_NULL(check_param("batch_norm", "running_mean", x, running_mean, 1, c));
    CF_TRY_NULL(check_param("batch_norm", "running_var", x, running_var, 1, c));
    if (!running_mean != !running_var) {
        cf_set_error(CF_ERR_ARG, "batch_norm: give both running_mean and running_var, or neither");
        return NULL;
    }
    if ((running_mean && running_mean->requires_grad) || (running_var && running_var->requires_grad)) {
        cf_set_error(CF_ERR_ARG, "batch_norm: running_mean %s / running_var %s are buffers and must not require grad",
                     cf_shape_str(running_mean, s, sizeof s), cf_shape_str(running_var, t, sizeof t));
        return NULL;
    }
    bool batch_stats = training || !running_mean;
    if (batch_stats && running_mean && !(momentum >= 0 && momentum <= 1)) {
        cf_set_error(CF_ERR_ARG, "batch_norm: momentum must be in [0, 1], got %g", momentum);
        return NULL;
    }
    if (batch_stats && cf_numel(x) / (x->shape[1] ? x->shape[1] : 1) < 2) {
        cf_set_error(CF_ERR_SHAPE, "batch_norm: input %s has fewer than 2 values per channel; batch statistics need more",
                     cf_shape_str(x, s, sizeof s));
        return NULL;
    }
    struct norm_attr a = {.eps = eps, .momentum = momentum, .training = batch_stats};
    return finish(ctx, CF_OP_batch_norm, x, &a, weight, bias, running_mean, running_var);
}

cf_tensor *cf_group_norm(cf_ctx *ctx, cf_tensor *x, int groups, cf_tensor *weight, cf_tensor *bias, double eps)
{
    CF_GUARD(x);
    char s[128];
    CF_TRY_NULL(check_nc("group_norm", x));
    CF_TRY_NULL(check_eps("group_norm", eps));
    if (groups <= 0 || x->shape[1] % groups != 0) {
        cf_set_error(CF_ERR_SHAPE, "group_norm: %d groups do not divide the %" PRId64 " channels of %s", groups,
                     x->shape[1], cf_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (cf_numel(x) > 0 && cf_numel(x) / x->shape[0] / groups == 0) {
        cf_set_error(CF_ERR_SHAPE, "group_norm: the groups of %s are empty", cf_shape_str(x, s, sizeof s));
        return NULL;
    }
    const int64_t *c = x->shape + 1;
    CF_TRY_NULL(check_param("group_norm", "weight", x, weight, 1, c));
    CF_TRY_NULL(check_param("group_norm", "bias", x, bias, 1, c));
    struct norm_attr a = {.eps = eps, .groups = groups};
    return finish(ctx, CF_OP_group_norm, x, &a, weight, bias, NULL, NULL);
}
