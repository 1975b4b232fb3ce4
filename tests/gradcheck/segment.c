/* Gradient check of segment_max: random normals (no ties), segments given out of order, one empty. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

static cf_tensor *fn_segmax(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const int64_t *nseg = u;
    /* used twice so the gradient accumulates into a buffer that already exists */
    cf_tensor *m = cf_segment_max(c, x[0], x[1], *nseg);
    return cf_add(c, m, cf_segment_max(c, cf_mul(c, x[0], x[0]), x[1], *nseg));
}
CF_GRADCHECK(segment_max)
{
    static const int64_t four = 4, two = 2;
    cf_gc_check(g, "7 rows into 4 segments (segment 2 empty)", fn_segmax, &four, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(7, 3)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(7), (double[]){3, 0, 1, 3, 0, 3, 1})});
    return cf_gc_check(g, "one row per segment, wide", fn_segmax, &two, 2,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 70)), cf_gc_const(g, CF_I64, CF_SHAPE(2), (double[]){1, 0})});
}
