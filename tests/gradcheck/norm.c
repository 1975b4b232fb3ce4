/* Gradient checks of the norm ops: every combination of optional weight/bias that changes the
 * backward, several normalised extents, non-contiguous inputs, and batch_norm in both modes. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

#define EPS 1e-5

/* A leaf that is the transpose of a fresh [b, a] tensor: a non-contiguous [a, b] input. */
static cf_tensor *transposed(cf_gc *g, int64_t a, int64_t b)
{
    cf_ctx *c = cf_gc_ctx(g);
    cf_tensor *t = cf_detach(c, cf_transpose(c, cf_gc_randn(g, CF_SHAPE(b, a)), 0, 1));
    if (t) t->requires_grad = true;
    return t;
}

/* A positive constant (running variance), no grad. */
static cf_tensor *positive_const(cf_gc *g, int64_t n)
{
    cf_tensor *t = cf_gc_rand(g, 1, &n, 0.5, 2.0);
    if (t) t->requires_grad = false;
    return t;
}

static cf_tensor *constant(cf_gc *g, int64_t n)
{
    cf_tensor *t = cf_gc_randn(g, 1, &n);
    if (t) t->requires_grad = false;
    return t;
}

/* ---- layer_norm: in = {x, weight?, bias?}; user = {norm_ndim, has_w, has_b} ---- */
static cf_tensor *fn_layer_norm(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const int *p = u;
    int k = 1;
    cf_tensor *w = p[1] ? x[k++] : NULL, *b = p[2] ? x[k++] : NULL;
    return cf_layer_norm(c, x[0], p[0], w, b, EPS);
}
CF_GRADCHECK(layer_norm)
{
    cf_gc_check(g, "last dim, weight and bias", fn_layer_norm, (int[]){1, 1, 1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 5)), cf_gc_randn(g, CF_SHAPE(5)), cf_gc_randn(g, CF_SHAPE(5))});
    cf_gc_check(g, "last two dims, weight only", fn_layer_norm, (int[]){2, 1, 0}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(3, 4))});
    cf_gc_check(g, "bias only", fn_layer_norm, (int[]){1, 0, 1}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 3)), cf_gc_randn(g, CF_SHAPE(3))});
    cf_gc_check(g, "no affine, all dims of a 1-D input", fn_layer_norm, (int[]){1, 0, 0}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(6))});
    /* more than one row block (32 rows) exercises the blocked weight-gradient sums */
    /* rows longer than a warp: the CUDA kernels split a row over 32 lanes */
    cf_gc_check(g, "rows of 70", fn_layer_norm, (int[]){1, 1, 1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_randn(g, CF_SHAPE(70)), cf_gc_randn(g, CF_SHAPE(70))});
    cf_gc_check(g, "70 rows", fn_layer_norm, (int[]){1, 1, 1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(70, 3)), cf_gc_randn(g, CF_SHAPE(3)), cf_gc_randn(g, CF_SHAPE(3))});
    return cf_gc_check(g, "non-contiguous input", fn_layer_norm, (int[]){1, 1, 1}, 3,
                       (cf_tensor *[]){transposed(g, 3, 4), cf_gc_randn(g, CF_SHAPE(4)), cf_gc_randn(g, CF_SHAPE(4))});
}

/* ---- rms_norm: in = {x, weight?} ---- */
static cf_tensor *fn_rms_norm(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const int *p = u;
    return cf_rms_norm(c, x[0], p[0] ? x[1] : NULL, EPS);
}
CF_GRADCHECK(rms_norm)
{
    cf_gc_check(g, "weight", fn_rms_norm, (int[]){1}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 5)), cf_gc_randn(g, CF_SHAPE(5))});
    cf_gc_check(g, "no weight", fn_rms_norm, (int[]){0}, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 6))});
    cf_gc_check(g, "rows of 70", fn_rms_norm, (int[]){1}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_randn(g, CF_SHAPE(70))});
    return cf_gc_check(g, "non-contiguous input", fn_rms_norm, (int[]){1}, 2,
                       (cf_tensor *[]){transposed(g, 3, 4), cf_gc_randn(g, CF_SHAPE(4))});
}

/* ---- batch_norm: in = {x, weight?, bias?, running_mean?, running_var?}; user = {training, has_w, has_b,
 * has_running}. The running statistics are copied on every call: in training mode the op updates them in
 * place, and the harness calls this function many times. */
static cf_tensor *fn_batch_norm(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const int *p = u;
    int k = 1;
    cf_tensor *w = p[1] ? x[k++] : NULL, *b = p[2] ? x[k++] : NULL, *rm = NULL, *rv = NULL;
    if (p[3]) {
        rm = cf_empty_like(c, x[k]);
        rv = cf_empty_like(c, x[k + 1]);
        if (!rm || !rv || cf_copy_(rm, x[k]) != CF_OK || cf_copy_(rv, x[k + 1]) != CF_OK) return NULL;
    }
    return cf_batch_norm(c, x[0], w, b, rm, rv, p[0], 0.1, EPS);
}
CF_GRADCHECK(batch_norm)
{
    cf_gc_check(g, "training [N, C, L], affine, running stats", fn_batch_norm, (int[]){1, 1, 1, 1}, 5,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 2, 4)), cf_gc_randn(g, CF_SHAPE(2)), cf_gc_randn(g, CF_SHAPE(2)),
                                constant(g, 2), positive_const(g, 2)});
    cf_gc_check(g, "training [N, C], no affine, no running stats", fn_batch_norm, (int[]){1, 0, 0, 0}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5, 3))});
    cf_gc_check(g, "training [N, C, H, W], weight only", fn_batch_norm, (int[]){1, 1, 0, 1}, 4,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 2, 2)), cf_gc_randn(g, CF_SHAPE(3)), constant(g, 3),
                                positive_const(g, 3)});
    cf_gc_check(g, "eval [N, C, L], affine", fn_batch_norm, (int[]){0, 1, 1, 1}, 5,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 3)), cf_gc_randn(g, CF_SHAPE(3)), cf_gc_randn(g, CF_SHAPE(3)),
                                constant(g, 3), positive_const(g, 3)});
    cf_gc_check(g, "eval [N, C], no affine", fn_batch_norm, (int[]){0, 0, 0, 1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 2)), constant(g, 2), positive_const(g, 2)});
    return cf_gc_check(g, "training, non-contiguous input", fn_batch_norm, (int[]){1, 1, 1, 1}, 5,
                       (cf_tensor *[]){transposed(g, 4, 3), cf_gc_randn(g, CF_SHAPE(3)), cf_gc_randn(g, CF_SHAPE(3)),
                                       constant(g, 3), positive_const(g, 3)});
}

/* ---- group_norm: in = {x, weight?, bias?}; user = {groups, has_w, has_b} ---- */
static cf_tensor *fn_group_norm(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const int *p = u;
    int k = 1;
    cf_tensor *w = p[1] ? x[k++] : NULL, *b = p[2] ? x[k++] : NULL;
    return cf_group_norm(c, x[0], p[0], w, b, EPS);
}
CF_GRADCHECK(group_norm)
{
    cf_gc_check(g, "2 groups of 2 channels, [N, C, H, W], affine", fn_group_norm, (int[]){2, 1, 1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 4, 2, 3)), cf_gc_randn(g, CF_SHAPE(4)), cf_gc_randn(g, CF_SHAPE(4))});
    cf_gc_check(g, "1 group (layer norm over C, L), weight only", fn_group_norm, (int[]){1, 1, 0}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 3)), cf_gc_randn(g, CF_SHAPE(3))});
    cf_gc_check(g, "groups = C (instance norm), no affine", fn_group_norm, (int[]){3, 0, 0}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4))});
    return cf_gc_check(g, "[N, C] input, bias only", fn_group_norm, (int[]){2, 0, 1}, 2,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 6)), cf_gc_randn(g, CF_SHAPE(6))});
}

/* ---- add_layer_norm / add_rms_norm: in = {x, r, weight?, bias?}; user = {has_w, has_b, outputs}: outputs 3 checks
 * both outputs (y and the sum s, concatenated, so each gets its own random weights in the check's loss), 1 only y,
 * 2 only s. The gradients of x and r then come through y, through s, or through both. */
static cf_tensor *add_norm_case(cf_ctx *c, cf_tensor *const *x, const void *u, bool center)
{
    const int *p = u;
    int k = 2;
    cf_tensor *w = p[0] ? x[k++] : NULL, *b = p[1] ? x[k++] : NULL, *s = NULL;
    cf_tensor *y = center ? cf_add_layer_norm(c, x[0], x[1], w, b, EPS, &s) : cf_add_rms_norm(c, x[0], x[1], w, EPS, &s);
    if (!y || p[2] == 1) return y;
    if (p[2] == 2) return s;
    return cf_concat(c, 2, (cf_tensor *[]){y, s}, 0);
}
static cf_tensor *fn_add_layer_norm(cf_ctx *c, cf_tensor *const *x, const void *u) { return add_norm_case(c, x, u, true); }
static cf_tensor *fn_add_rms_norm(cf_ctx *c, cf_tensor *const *x, const void *u) { return add_norm_case(c, x, u, false); }

CF_GRADCHECK(add_layer_norm)
{
    cf_gc_check(g, "both outputs, weight and bias", fn_add_layer_norm, (int[]){1, 1, 3}, 4,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 5)), cf_gc_randn(g, CF_SHAPE(3, 5)), cf_gc_randn(g, CF_SHAPE(5)),
                                cf_gc_randn(g, CF_SHAPE(5))});
    cf_gc_check(g, "y only (post-norm), [2, 3, 4], weight only", fn_add_layer_norm, (int[]){1, 0, 1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(2, 3, 4)), cf_gc_randn(g, CF_SHAPE(4))});
    cf_gc_check(g, "the sum only, no affine", fn_add_layer_norm, (int[]){0, 0, 2}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 3)), cf_gc_randn(g, CF_SHAPE(4, 3))});
    /* more than one row block (32 rows); a non-contiguous x */
    cf_gc_check(g, "70 rows, both outputs", fn_add_layer_norm, (int[]){1, 1, 3}, 4,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(70, 3)), cf_gc_randn(g, CF_SHAPE(70, 3)), cf_gc_randn(g, CF_SHAPE(3)),
                                cf_gc_randn(g, CF_SHAPE(3))});
    cf_gc_check(g, "rows of 70, both outputs", fn_add_layer_norm, (int[]){1, 1, 3}, 4,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_randn(g, CF_SHAPE(70)),
                                cf_gc_randn(g, CF_SHAPE(70))});
    return cf_gc_check(g, "non-contiguous x, bias only", fn_add_layer_norm, (int[]){0, 1, 3}, 3,
                       (cf_tensor *[]){transposed(g, 3, 4), cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(4))});
}

CF_GRADCHECK(add_rms_norm)
{
    cf_gc_check(g, "both outputs, weight", fn_add_rms_norm, (int[]){1, 0, 3}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 5)), cf_gc_randn(g, CF_SHAPE(2, 3, 5)), cf_gc_randn(g, CF_SHAPE(5))});
    cf_gc_check(g, "rows of 70, the sum only", fn_add_rms_norm, (int[]){1, 0, 2}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_randn(g, CF_SHAPE(70))});
    cf_gc_check(g, "y only, no weight", fn_add_rms_norm, (int[]){0, 0, 1}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 6)), cf_gc_randn(g, CF_SHAPE(4, 6))});
    return cf_gc_check(g, "non-contiguous r, 40 rows", fn_add_rms_norm, (int[]){1, 0, 3}, 3,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(40, 3)), transposed(g, 40, 3), cf_gc_randn(g, CF_SHAPE(3))});
}
