/* Gradient checks of the elementwise ops. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

#include <math.h>

#define BIN_FN(op) \
    static cf_tensor *fn_##op(cf_ctx *c, cf_tensor *const *x, const void *u) \
    { \
        (void)u; \
        return cf_##op(c, x[0], x[1]); \
    }
#define UN_FN(op) \
    static cf_tensor *fn_##op(cf_ctx *c, cf_tensor *const *x, const void *u) \
    { \
        (void)u; \
        return cf_##op(c, x[0]); \
    }

BIN_FN(add)
BIN_FN(sub)
BIN_FN(mul)
BIN_FN(div)
BIN_FN(pow)

/* same shape, broadcast both ways, a strided (transposed) operand */
static cf_status binary_cases(cf_gc *g, cf_gc_fn fn, double lo, double hi, bool positive_b)
{
    cf_tensor *a = cf_gc_rand(g, CF_SHAPE(3, 4), lo, hi);
    cf_tensor *b = positive_b ? cf_gc_rand(g, CF_SHAPE(3, 4), 0.5, 2.0) : cf_gc_randn(g, CF_SHAPE(3, 4));
    cf_gc_check(g, "same shape", fn, NULL, 2, (cf_tensor *[]){a, b});
    cf_tensor *c = cf_gc_rand(g, CF_SHAPE(2, 1, 4), lo, hi);
    cf_tensor *d = positive_b ? cf_gc_rand(g, CF_SHAPE(3, 1), 0.5, 2.0) : cf_gc_randn(g, CF_SHAPE(3, 1));
    cf_gc_check(g, "broadcast [2,1,4] x [3,1]", fn, NULL, 2, (cf_tensor *[]){c, d});
    /* a non-contiguous leaf: the transpose of a [4, 3] tensor */
    cf_tensor *e = cf_detach(cf_gc_ctx(g), cf_transpose(cf_gc_ctx(g), cf_gc_rand(g, CF_SHAPE(4, 3), lo, hi), 0, 1));
    cf_tensor *f = positive_b ? cf_gc_rand(g, CF_SHAPE(4), 0.5, 2.0) : cf_gc_randn(g, CF_SHAPE(4));
    if (e) e->requires_grad = true;
    return cf_gc_check(g, "transposed operand", fn, NULL, 2, (cf_tensor *[]){e, f});
}

CF_GRADCHECK(add) { return binary_cases(g, fn_add, -2, 2, false); }

/* add_into writes over its first operand: give it a fresh one (the leaves themselves are never written) */
static cf_tensor *fn_add_into(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_add_into(c, cf_mul_scalar(c, x[0], 1.5), x[1]);
}

CF_GRADCHECK(add_into)
{
    cf_tensor *a = cf_gc_randn(g, CF_SHAPE(3, 4)), *b = cf_gc_randn(g, CF_SHAPE(3, 4)), *c = cf_gc_randn(g, CF_SHAPE(4));
    cf_gc_check(g, "same shape", fn_add_into, NULL, 2, (cf_tensor *[]){a, b});
    return cf_gc_check(g, "b broadcast [3,4] + [4]", fn_add_into, NULL, 2, (cf_tensor *[]){a, c});
}
CF_GRADCHECK(sub) { return binary_cases(g, fn_sub, -2, 2, false); }
CF_GRADCHECK(mul) { return binary_cases(g, fn_mul, -2, 2, false); }
CF_GRADCHECK(div) { return binary_cases(g, fn_div, -2, 2, true); }
CF_GRADCHECK(pow) { return binary_cases(g, fn_pow, 0.5, 2.0, false); }

static cf_tensor *fn_add_t(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_mul(c, cf_transpose(c, x[0], 0, 1), x[1]);
}

static cf_tensor *fn_where(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_where(c, x[0], x[1], x[2]);
}

CF_GRADCHECK(where)
{
    double cv[] = {1, 0, 0, 1, 1, 0};
    cf_tensor *cond = cf_gc_const(g, CF_BOOL, CF_SHAPE(2, 3), cv);
    cf_tensor *a = cf_gc_randn(g, CF_SHAPE(2, 3)), *b = cf_gc_randn(g, CF_SHAPE(3));
    cf_gc_check(g, "broadcast b", fn_where, NULL, 3, (cf_tensor *[]){cond, a, b});
    /* also the strided-operand path of the binary kernels */
    cf_tensor *p = cf_gc_randn(g, CF_SHAPE(4, 3)), *q = cf_gc_randn(g, CF_SHAPE(3, 4));
    return cf_gc_check(g, "mul of a transposed view", fn_add_t, NULL, 2, (cf_tensor *[]){p, q});
}

static cf_tensor *fn_masked_fill(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_masked_fill(c, x[0], x[1], -3.5);
}

CF_GRADCHECK(masked_fill)
{
    double mv[] = {1, 0, 0, 1};
    cf_tensor *x = cf_gc_randn(g, CF_SHAPE(3, 4)), *m = cf_gc_const(g, CF_BOOL, CF_SHAPE(4), mv);
    return cf_gc_check(g, "row mask", fn_masked_fill, NULL, 2, (cf_tensor *[]){x, m});
}

static cf_tensor *fn_scale_shift(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_scale_shift(c, x[0], -1.5, 0.25);
}
static cf_tensor *fn_pow_scalar(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_pow_scalar(c, x[0], 2.5);
}
static cf_tensor *fn_clamp(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_clamp(c, x[0], -0.5, 0.7);
}
static cf_tensor *fn_softplus(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_softplus(c, x[0], 2.0, 3.0);
}
static cf_tensor *fn_cast(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_cast(c, cf_cast(c, x[0], CF_F32), CF_F64);
}
UN_FN(neg)
UN_FN(sqrt)
UN_FN(rsqrt)
UN_FN(exp)
UN_FN(log)
UN_FN(abs)
UN_FN(relu)
UN_FN(gelu)
UN_FN(gelu_tanh)
UN_FN(silu)
UN_FN(sigmoid)
UN_FN(tanh)
UN_FN(hardswish)

static cf_status unary_case(cf_gc *g, cf_gc_fn fn, cf_tensor *x)
{
    cf_gc_check(g, "[3, 5]", fn, NULL, 1, &x);
    /* a non-contiguous input: the transpose of a leaf */
    cf_tensor *y = cf_detach(cf_gc_ctx(g), cf_transpose(cf_gc_ctx(g), x, 0, 1));
    if (y) y->requires_grad = true;
    return cf_gc_check(g, "transposed view", fn, NULL, 1, &y);
}

CF_GRADCHECK(scale_shift) { return unary_case(g, fn_scale_shift, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(pow_scalar) { return unary_case(g, fn_pow_scalar, cf_gc_rand(g, CF_SHAPE(3, 5), 0.3, 2.0)); }
CF_GRADCHECK(neg) { return unary_case(g, fn_neg, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(sqrt) { return unary_case(g, fn_sqrt, cf_gc_rand(g, CF_SHAPE(3, 5), 0.2, 3.0)); }
CF_GRADCHECK(rsqrt) { return unary_case(g, fn_rsqrt, cf_gc_rand(g, CF_SHAPE(3, 5), 0.2, 3.0)); }
CF_GRADCHECK(exp) { return unary_case(g, fn_exp, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(log) { return unary_case(g, fn_log, cf_gc_rand(g, CF_SHAPE(3, 5), 0.2, 3.0)); }
CF_GRADCHECK(abs) { return unary_case(g, fn_abs, cf_gc_randn_away(g, CF_SHAPE(3, 5), 0.05)); }
CF_GRADCHECK(clamp) { return unary_case(g, fn_clamp, cf_gc_randn_away(g, CF_SHAPE(3, 5), 0.05)); }
CF_GRADCHECK(relu) { return unary_case(g, fn_relu, cf_gc_randn_away(g, CF_SHAPE(3, 5), 0.05)); }
CF_GRADCHECK(gelu) { return unary_case(g, fn_gelu, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(gelu_tanh) { return unary_case(g, fn_gelu_tanh, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(silu) { return unary_case(g, fn_silu, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(sigmoid) { return unary_case(g, fn_sigmoid, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(tanh) { return unary_case(g, fn_tanh, cf_gc_randn(g, CF_SHAPE(3, 5))); }
CF_GRADCHECK(hardswish) { return unary_case(g, fn_hardswish, cf_gc_rand(g, CF_SHAPE(3, 5), -5, 5)); }
CF_GRADCHECK(softplus) { return unary_case(g, fn_softplus, cf_gc_rand(g, CF_SHAPE(3, 5), -3, 3)); }
CF_GRADCHECK(cast)
{
    cf_gc_tolerance(g, 1e-2, 1e-4, 1e-3); /* through f32: the step must dwarf f32 rounding */
    return cf_gc_check(g, "f64 -> f32 -> f64", fn_cast, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(7))});
}
