/* Matmul and linear frontends: shape rules and 1-D promotion. */
#include "autograd/ops/matmul.h"

#include "autograd/cf_node.h"
#include "autograd/ops/shape.h"

#include <inttypes.h>

static cf_tensor *matmul_nd(cf_ctx *ctx, cf_tensor *a, cf_tensor *b)
{
    char x[128], y[128];
    int64_t K = a->shape[a->ndim - 1];
    if (b->shape[b->ndim - 2] != K) {
        cf_set_error(CF_ERR_SHAPE, "matmul: inner dims differ: %s @ %s", cf_shape_str(a, x, sizeof x),
                     cf_shape_str(b, y, sizeof y));
        return NULL;
    }
    int nd;
    int64_t shape[CF_MAX_DIMS];
    if (!cf_broadcast_shapes(a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nd, shape)) {
        cf_set_error(CF_ERR_SHAPE, "matmul: batch dims of %s and %s do not broadcast", cf_shape_str(a, x, sizeof x),
                     cf_shape_str(b, y, sizeof y));
        return NULL;
    }
    shape[nd++] = a->shape[a->ndim - 2];
    shape[nd++] = b->shape[b->ndim - 1];
    cf_tensor *out = cf_empty(ctx, a->dtype, nd, shape);
    cf_tensor *in[2] = {a, b};
    cf_node *n = cf_node_new(ctx, CF_OP_matmul, 2, in, out);
    if (!n) return NULL;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_matmul(cf_ctx *ctx, cf_tensor *a, cf_tensor *b)
{
    CF_GUARD(a, b);
    CF_TRY_NULL(cf_check_float("matmul", a));
    CF_TRY_NULL(cf_check_same_dtype("matmul", a, b));
    if (a->ndim == 0 || b->ndim == 0) {
        cf_set_error(CF_ERR_SHAPE, "matmul: operands must have at least 1 dim");
        return NULL;
    }
    bool sq_a = a->ndim == 1, sq_b = b->ndim == 1;
    if (sq_a) a = cf_unsqueeze(ctx, a, 0);
    if (sq_b) b = cf_unsqueeze(ctx, b, 1);
    cf_tensor *y = (a && b) ? matmul_nd(ctx, a, b) : NULL;
    if (y && sq_b) y = cf_squeeze(ctx, y, -1);
    if (y && sq_a) y = cf_squeeze(ctx, y, sq_b ? -1 : -2);
    return y;
}

static cf_tensor *linear_op(cf_ctx *ctx, cf_op op, const char *name, cf_tensor *x, cf_tensor *w, cf_tensor *bias)
{
    CF_GUARD(x, w);
    char s1[128], s2[128];
    CF_TRY_NULL(cf_check_float(name, x));
    CF_TRY_NULL(cf_check_same_dtype(name, x, w));
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        cf_set_error(CF_ERR_SHAPE, "%s: input %s does not fit weight %s ([out, in])", name, cf_shape_str(x, s1, sizeof s1),
                     cf_shape_str(w, s2, sizeof s2));
        return NULL;
    }
    if (bias) {
        CF_TRY_NULL(cf_check_same_dtype(name, x, bias));
        if (bias->ndim != 1 || bias->shape[0] != w->shape[0]) {
            cf_set_error(CF_ERR_SHAPE, "%s: bias %s does not fit weight %s", name, cf_shape_str(bias, s1, sizeof s1),
                         cf_shape_str(w, s2, sizeof s2));
            return NULL;
        }
    }
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[0];
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, shape);
    cf_tensor *in[3] = {x, w, bias};
    cf_node *n = cf_node_new(ctx, op, bias ? 3 : 2, in, out);
    if (!n) return NULL;
    n->saves = 3u; /* x and w; the bias is not read in backward (linear_gelu keeps its pre-activation in aux[0]) */
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_linear(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias)
{
    return linear_op(ctx, CF_OP_linear, "linear", x, w, bias);
}

cf_tensor *cf_linear_gelu(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias)
{
    return linear_op(ctx, CF_OP_linear_gelu, "linear_gelu", x, w, bias);
}
