/* Gradient checks of the index ops: repeated indices (the scatters must add them), several dims
 * including negative ones, index tensors smaller than the data, and non-contiguous inputs. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

static cf_tensor *transposed(cf_gc *g, int64_t a, int64_t b)
{
    cf_ctx *c = cf_gc_ctx(g);
    cf_tensor *t = cf_detach(c, cf_transpose(c, cf_gc_randn(g, CF_SHAPE(b, a)), 0, 1));
    if (t) t->requires_grad = true;
    return t;
}

/* [1, 4, 3] with its last two dims transposed. */
static cf_tensor *transposed3(cf_gc *g)
{
    cf_ctx *c = cf_gc_ctx(g);
    cf_tensor *t = cf_detach(c, cf_transpose(c, cf_gc_randn(g, CF_SHAPE(1, 3, 4)), 1, 2));
    if (t) t->requires_grad = true;
    return t;
}

static cf_tensor *fn_embedding(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_embedding(c, x[0], x[1]);
}
CF_GRADCHECK(embedding)
{
    cf_gc_check(g, "[2, 3] ids with repeats", fn_embedding, NULL, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5, 3)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 3), (double[]){1, 3, 1, 0, 3, 1})});
    cf_gc_check(g, "1-D ids, unused rows", fn_embedding, NULL, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(6, 2)), cf_gc_const(g, CF_I64, CF_SHAPE(3), (double[]){4, 4, 2})});
    return cf_gc_check(g, "non-contiguous weight", fn_embedding, NULL, 2,
                       (cf_tensor *[]){transposed(g, 4, 3),
                                       cf_gc_const(g, CF_I64, CF_SHAPE(4), (double[]){3, 0, 3, 2})});
}

static cf_tensor *fn_index_select(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_index_select(c, x[0], *(const int *)u, x[1]);
}
CF_GRADCHECK(index_select)
{
    cf_gc_check(g, "dim 0, repeats", fn_index_select, (int[]){0}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 3)), cf_gc_const(g, CF_I64, CF_SHAPE(5), (double[]){2, 0, 2, 3, 2})});
    cf_gc_check(g, "middle dim", fn_index_select, (int[]){1}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 4, 3)), cf_gc_const(g, CF_I64, CF_SHAPE(3), (double[]){3, 1, 3})});
    cf_gc_check(g, "dim -1, non-contiguous input", fn_index_select, (int[]){-1}, 2,
                (cf_tensor *[]){transposed(g, 3, 4), cf_gc_const(g, CF_I64, CF_SHAPE(2), (double[]){0, 0})});
    return cf_gc_check(g, "empty index", fn_index_select, (int[]){0}, 2,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 2)), cf_gc_const(g, CF_I64, CF_SHAPE(0), NULL)});
}

static cf_tensor *fn_gather(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_gather(c, x[0], *(const int *)u, x[1]);
}
CF_GRADCHECK(gather)
{
    cf_gc_check(g, "dim 1, repeats", fn_gather, (int[]){1}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 4), (double[]){0, 2, 2, 1, 1, 1, 0, 2})});
    cf_gc_check(g, "dim 0, index smaller than input", fn_gather, (int[]){0}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 3), (double[]){2, 0, 1, 2, 2, 0})});
    cf_gc_check(g, "3-D, dim -2", fn_gather, (int[]){-2}, 2,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 2)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 2, 2), (double[]){0, 2, 1, 1, 2, 2, 0, 1})});
    return cf_gc_check(g, "non-contiguous input", fn_gather, (int[]){1}, 2,
                       (cf_tensor *[]){transposed(g, 3, 4),
                                       cf_gc_const(g, CF_I64, CF_SHAPE(3, 2), (double[]){3, 3, 0, 1, 2, 0})});
}

static cf_tensor *fn_scatter_add(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_scatter_add(c, x[0], *(const int *)u, x[1], x[2]);
}
CF_GRADCHECK(scatter_add)
{
    cf_gc_check(g, "dim 1, repeats", fn_scatter_add, (int[]){1}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 4), (double[]){0, 2, 2, 1, 1, 1, 0, 2}),
                                cf_gc_randn(g, CF_SHAPE(2, 4))});
    cf_gc_check(g, "dim 0, src larger than index", fn_scatter_add, (int[]){0}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 4)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 3), (double[]){2, 0, 1, 2, 2, 0}),
                                cf_gc_randn(g, CF_SHAPE(3, 4))});
    return cf_gc_check(g, "3-D, dim -1, non-contiguous src", fn_scatter_add, (int[]){-1}, 3,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(1, 4, 2)),
                                       cf_gc_const(g, CF_I64, CF_SHAPE(1, 4, 3), (double[]){1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1}),
                                       transposed3(g)});
}

static cf_tensor *fn_index_add(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const double *p = u;
    return cf_index_add(c, x[0], (int)p[0], x[1], x[2], p[1]);
}
CF_GRADCHECK(index_add)
{
    cf_gc_check(g, "dim 0, repeats, alpha 1", fn_index_add, (double[]){0, 1.0}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 3)), cf_gc_const(g, CF_I64, CF_SHAPE(5), (double[]){1, 3, 1, 1, 0}),
                                cf_gc_randn(g, CF_SHAPE(5, 3))});
    cf_gc_check(g, "dim 1 of 3-D, alpha -2.5", fn_index_add, (double[]){1, -2.5}, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 3, 2)), cf_gc_const(g, CF_I64, CF_SHAPE(2), (double[]){2, 2}),
                                cf_gc_randn(g, CF_SHAPE(2, 2, 2))});
    return cf_gc_check(g, "dim -1, non-contiguous src", fn_index_add, (double[]){-1, 0.5}, 3,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 2)), cf_gc_const(g, CF_I64, CF_SHAPE(4), (double[]){0, 1, 1, 0}),
                                       transposed(g, 3, 4)});
}
