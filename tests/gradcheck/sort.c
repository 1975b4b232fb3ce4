/* Gradient checks of topk and sort: the values' gradient is scattered back to the chosen positions.
 * Inputs are random normals, so there are no ties for a perturbation to reorder. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

struct topk_case {
    int64_t k;
    int dim;
    bool largest, sorted, transpose;
};

static cf_tensor *fn_topk(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct topk_case *t = u;
    cf_tensor *in = t->transpose ? cf_transpose(c, x[0], 0, 1) : x[0];
    return cf_topk(c, in, t->k, t->dim, t->largest, t->sorted, NULL);
}
CF_GRADCHECK(topk)
{
    cf_gc_check(g, "k 2 largest sorted, last dim", fn_topk, &(struct topk_case){2, -1, true, true, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 5))});
    cf_gc_check(g, "k 3 smallest unsorted, dim 0", fn_topk, &(struct topk_case){3, 0, false, false, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5, 2, 3))});
    cf_gc_check(g, "k 18 of 20 (sorting path), unsorted", fn_topk, &(struct topk_case){18, 1, true, false, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 20))});
    cf_gc_check(g, "k = size, middle dim", fn_topk, &(struct topk_case){4, 1, true, true, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 4, 3))});
    return cf_gc_check(g, "k 2 non-contiguous", fn_topk, &(struct topk_case){2, 1, false, true, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(6, 3))});
}

struct sort_case {
    int dim;
    bool descending, transpose;
};

static cf_tensor *fn_sort(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct sort_case *s = u;
    cf_tensor *in = s->transpose ? cf_transpose(c, x[0], 0, 1) : x[0];
    /* used twice so the gradient accumulates into a buffer that already exists */
    return cf_add(c, cf_sort(c, in, s->dim, s->descending, NULL), in);
}
CF_GRADCHECK(sort)
{
    cf_gc_check(g, "ascending, last dim", fn_sort, &(struct sort_case){-1, false, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 6))});
    cf_gc_check(g, "descending, dim 0", fn_sort, &(struct sort_case){0, true, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5, 2, 2))});
    return cf_gc_check(g, "descending, non-contiguous, 20 long", fn_sort, &(struct sort_case){1, true, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(20, 2))});
}
