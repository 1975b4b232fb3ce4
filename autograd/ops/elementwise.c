/* Elementwise op frontends: dtype and broadcast checks, output allocation, node recording. */
#include "autograd/cf_node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/elementwise_attr.h"

#include <math.h>

static cf_tensor *unary(cf_ctx *ctx, cf_op op, cf_tensor *x, double a, double b, uint32_t saves)
{
    CF_GUARD(x);
    CF_TRY_NULL(cf_check_float(cf_op_name(op), x));
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, op, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct ew_attr) = (struct ew_attr){a, b};
    n->saves = saves;
    return cf_node_finish(ctx, n);
}

#define SAVE_X 1u
#define SAVE_Y CF_SAVE_OUT
#define SAVE_NONE 0u

static cf_tensor *broadcast_out(cf_ctx *ctx, const char *op, cf_tensor *a, cf_tensor *b)
{
    char x[128], y[128];
    int nd;
    int64_t shape[CF_MAX_DIMS];
    if (!cf_broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) {
        cf_set_error(CF_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op, cf_shape_str(a, x, sizeof x),
                     cf_shape_str(b, y, sizeof y));
        return NULL;
    }
    return cf_empty(ctx, a->dtype, nd, shape);
}

static cf_tensor *binary(cf_ctx *ctx, cf_op op, cf_tensor *a, cf_tensor *b, uint32_t saves)
{
    CF_GUARD(a, b);
    const char *name = cf_op_name(op);
    CF_TRY_NULL(cf_check_float(name, a));
    CF_TRY_NULL(cf_check_same_dtype(name, a, b));
    cf_tensor *out = broadcast_out(ctx, name, a, b);
    cf_tensor *in[2] = {a, b};
    cf_node *n = cf_node_new(ctx, op, 2, in, out);
    if (!n) return NULL;
    n->saves = saves;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_add(cf_ctx *ctx, cf_tensor *a, cf_tensor *b) { return binary(ctx, CF_OP_add, a, b, SAVE_NONE); }

cf_tensor *cf_add_into(cf_ctx *ctx, cf_tensor *a, cf_tensor *b)
{
    CF_GUARD(a, b);
    CF_TRY_NULL(cf_check_float("add_into", a));
    CF_TRY_NULL(cf_check_same_dtype("add_into", a, b));
    int nd;
    int64_t shape[CF_MAX_DIMS];
    const cf_backend *be = cf_tensor_backend(a);
    bool fits = cf_broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, shape) && nd == a->ndim;
    for (int i = 0; fits && i < nd; i++) fits = shape[i] == a->shape[i];
    if (!fits || !a->node || a->persistent || !cf_is_contiguous(a) || !be->fwd[CF_OP_add_into])
        return binary(ctx, CF_OP_add, a, b, SAVE_NONE);
    cf_tensor *out = cf_view_raw(ctx, a, a->ndim, a->shape, a->stride, a->offset);
    cf_tensor *in[2] = {a, b};
    cf_node *n = out ? cf_node_new(ctx, CF_OP_add_into, 2, in, out) : NULL;
    if (!n) return NULL;
    n->saves = SAVE_NONE;
    cf_bump_version(out);
    return cf_node_finish(ctx, n);
}
cf_tensor *cf_sub(cf_ctx *ctx, cf_tensor *a, cf_tensor *b) { return binary(ctx, CF_OP_sub, a, b, SAVE_NONE); }
cf_tensor *cf_mul(cf_ctx *ctx, cf_tensor *a, cf_tensor *b) { return binary(ctx, CF_OP_mul, a, b, 3u); }
cf_tensor *cf_div(cf_ctx *ctx, cf_tensor *a, cf_tensor *b) { return binary(ctx, CF_OP_div, a, b, 3u); }
cf_tensor *cf_pow(cf_ctx *ctx, cf_tensor *a, cf_tensor *b) { return binary(ctx, CF_OP_pow, a, b, 3u | SAVE_Y); }

cf_tensor *cf_where(cf_ctx *ctx, cf_tensor *cond, cf_tensor *a, cf_tensor *b)
{
    CF_GUARD(cond, a, b);
    CF_TRY_NULL(cf_check_dtype("where", cond, CF_BOOL));
    CF_TRY_NULL(cf_check_float("where", a));
    CF_TRY_NULL(cf_check_same_dtype("where", a, b));
    char x[128], y[128], z[128];
    int nd, nd2;
    int64_t s1[CF_MAX_DIMS], s2[CF_MAX_DIMS];
    if (!cf_broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, s1) ||
        !cf_broadcast_shapes(nd, s1, cond->ndim, cond->shape, &nd2, s2)) {
        cf_set_error(CF_ERR_SHAPE, "where: shapes cond %s, a %s, b %s do not broadcast", cf_shape_str(cond, z, sizeof z),
                     cf_shape_str(a, x, sizeof x), cf_shape_str(b, y, sizeof y));
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, a->dtype, nd2, s2);
    cf_tensor *in[3] = {cond, a, b};
    cf_node *n = cf_node_new(ctx, CF_OP_where, 3, in, out);
    if (!n) return NULL;
    n->saves = 1u; /* only the condition */
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_masked_fill(cf_ctx *ctx, cf_tensor *x, cf_tensor *mask, double value)
{
    CF_GUARD(x, mask);
    CF_TRY_NULL(cf_check_float("masked_fill", x));
    CF_TRY_NULL(cf_check_dtype("masked_fill", mask, CF_BOOL));
    char a[128], b[128];
    int nd;
    int64_t s[CF_MAX_DIMS];
    if (!cf_broadcast_shapes(x->ndim, x->shape, mask->ndim, mask->shape, &nd, s) || nd != x->ndim) {
        cf_set_error(CF_ERR_SHAPE, "masked_fill: mask %s does not broadcast to %s", cf_shape_str(mask, a, sizeof a),
                     cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    for (int i = 0; i < nd; i++)
        if (s[i] != x->shape[i]) {
            cf_set_error(CF_ERR_SHAPE, "masked_fill: mask %s does not broadcast to %s", cf_shape_str(mask, a, sizeof a),
                         cf_shape_str(x, b, sizeof b));
            return NULL;
        }
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_tensor *in[2] = {x, mask};
    cf_node *n = cf_node_new(ctx, CF_OP_masked_fill, 2, in, out);
    if (!n) return NULL;
    CF_ATTR(n, struct ew_attr)->a = value;
    n->saves = 2u;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_scale_shift(cf_ctx *ctx, cf_tensor *x, double scale, double shift)
{
    return unary(ctx, CF_OP_scale_shift, x, scale, shift, SAVE_NONE);
}
cf_tensor *cf_add_scalar(cf_ctx *ctx, cf_tensor *x, double s) { return cf_scale_shift(ctx, x, 1.0, s); }
cf_tensor *cf_mul_scalar(cf_ctx *ctx, cf_tensor *x, double s) { return cf_scale_shift(ctx, x, s, 0.0); }
cf_tensor *cf_pow_scalar(cf_ctx *ctx, cf_tensor *x, double p) { return unary(ctx, CF_OP_pow_scalar, x, p, 0, SAVE_X); }
cf_tensor *cf_neg(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_neg, x, 0, 0, SAVE_NONE); }
cf_tensor *cf_sqrt(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_sqrt, x, 0, 0, SAVE_Y); }
cf_tensor *cf_rsqrt(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_rsqrt, x, 0, 0, SAVE_Y); }
cf_tensor *cf_exp(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_exp, x, 0, 0, SAVE_Y); }
cf_tensor *cf_log(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_log, x, 0, 0, SAVE_X); }
cf_tensor *cf_abs(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_abs, x, 0, 0, SAVE_X); }
cf_tensor *cf_clamp(cf_ctx *ctx, cf_tensor *x, double lo, double hi)
{
    return unary(ctx, CF_OP_clamp, x, isnan(lo) ? -INFINITY : lo, isnan(hi) ? INFINITY : hi, SAVE_X);
}
cf_tensor *cf_relu(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_relu, x, 0, 0, SAVE_X); }
cf_tensor *cf_gelu(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_gelu, x, 0, 0, SAVE_X); }
cf_tensor *cf_gelu_tanh(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_gelu_tanh, x, 0, 0, SAVE_X); }
cf_tensor *cf_silu(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_silu, x, 0, 0, SAVE_X); }
cf_tensor *cf_sigmoid(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_sigmoid, x, 0, 0, SAVE_Y); }
cf_tensor *cf_tanh(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_tanh, x, 0, 0, SAVE_Y); }
cf_tensor *cf_hardswish(cf_ctx *ctx, cf_tensor *x) { return unary(ctx, CF_OP_hardswish, x, 0, 0, SAVE_X); }
cf_tensor *cf_softplus(cf_ctx *ctx, cf_tensor *x, double beta, double threshold)
{
    if (!(beta > 0)) {
        cf_set_error(CF_ERR_ARG, "softplus: beta must be > 0, got %g", beta);
        return NULL;
    }
    return unary(ctx, CF_OP_softplus, x, beta, threshold, SAVE_X);
}

cf_tensor *cf_cast(cf_ctx *ctx, cf_tensor *x, cf_dtype dt)
{
    CF_GUARD(x);
    if ((unsigned)dt >= CF_DTYPE_COUNT) {
        cf_set_error(CF_ERR_DTYPE, "cast: unknown dtype %d", (int)dt);
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, dt, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, CF_OP_cast, 1, &x, out);
    if (!n) return NULL;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}
