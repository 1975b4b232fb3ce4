/* Gradient checks of the shape ops: the harness weights each output by a fixed random tensor, so a
 * plain view output checks the geometry of its backward. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

static cf_tensor *fn_reshape(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    /* reshape of a transposed (non-viewable) input copies first, then views */
    cf_tensor *a = cf_reshape(c, x[0], CF_SHAPE(2, -1, 3));
    cf_tensor *b = cf_reshape(c, cf_transpose(c, x[1], 0, 1), CF_SHAPE(12));
    /* a strided view reshaped without a copy: split dim 0 of a transpose, then squeeze */
    cf_tensor *t = cf_transpose(c, x[1], 0, 1);                                          /* [4, 3] */
    cf_tensor *v = cf_reshape(c, cf_reshape(c, t, CF_SHAPE(2, 2, 1, 3)), CF_SHAPE(2, 2, 3)); /* view */
    return cf_add(c, cf_add(c, cf_reshape(c, a, CF_SHAPE(12)), b), cf_reshape(c, cf_contiguous(c, v), CF_SHAPE(12)));
}
CF_GRADCHECK(reshape)
{
    return cf_gc_check(g, "reshape + transposed reshape", fn_reshape, NULL, 2,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 3)), cf_gc_randn(g, CF_SHAPE(3, 4))});
}

static cf_tensor *fn_transpose(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_transpose(c, x[0], 0, 2);
}
CF_GRADCHECK(transpose)
{
    return cf_gc_check(g, "dims 0,2", fn_transpose, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4))});
}

static cf_tensor *fn_permute(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_permute(c, x[0], (int[]){2, 0, 1});
}
CF_GRADCHECK(permute)
{
    return cf_gc_check(g, "(2,0,1)", fn_permute, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4))});
}

static cf_tensor *fn_expand(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_expand(c, x[0], CF_SHAPE(2, 3, 4));
}
CF_GRADCHECK(expand)
{
    return cf_gc_check(g, "[3,1] -> [2,3,4]", fn_expand, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 1))});
}

static cf_tensor *fn_slice(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_slice(c, cf_slice(c, x[0], 1, 1, 6, 2), 0, -2, 3, 1);
}
CF_GRADCHECK(slice)
{
    return cf_gc_check(g, "step 2 and negative start", fn_slice, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 7))});
}

static cf_tensor *fn_unfold(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const int64_t *p = u;
    return cf_unfold(c, x[0], 1, p[0], p[1]);
}
CF_GRADCHECK(unfold)
{
    cf_gc_check(g, "overlapping windows", fn_unfold, (int64_t[]){3, 1}, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 7))});
    return cf_gc_check(g, "disjoint windows", fn_unfold, (int64_t[]){2, 3}, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 7))});
}

static cf_tensor *fn_contiguous(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_contiguous(c, cf_transpose(c, x[0], 0, 1));
}
CF_GRADCHECK(contiguous)
{
    return cf_gc_check(g, "of a transpose", fn_contiguous, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4))});
}

static cf_tensor *fn_concat(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_concat(c, 3, x, 1);
}
CF_GRADCHECK(concat)
{
    return cf_gc_check(g, "three along dim 1", fn_concat, NULL, 3,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 1, 3)), cf_gc_randn(g, CF_SHAPE(2, 2, 3)),
                                       cf_gc_randn(g, CF_SHAPE(2, 3, 3))});
}

static cf_tensor *fn_pad(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_pad(c, x[0], 2, (int64_t[]){1, 2, 0, 1}, 0.5);
}
CF_GRADCHECK(pad)
{
    return cf_gc_check(g, "last two dims", fn_pad, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 4))});
}

static cf_tensor *fn_roll(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_roll(c, x[0], -2, 1);
}
CF_GRADCHECK(roll)
{
    return cf_gc_check(g, "shift -2", fn_roll, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 5))});
}

static cf_tensor *fn_repeat(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_repeat(c, x[0], 3, (int64_t[]){2, 1, 3});
}
CF_GRADCHECK(repeat)
{
    return cf_gc_check(g, "[2,3] x (2,1,3)", fn_repeat, NULL, 1, (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3))});
}
