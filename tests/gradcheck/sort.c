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
/* Parity mode only (the cross-backend test): inputs with ties (few distinct values, and -0 beside +0), where
 * finite differences would reorder but the backends must pick the same indices (ties in index order); the
 * gradient lands at the chosen indices, so it shows any difference. */
static cf_tensor *tied(cf_gc *g, int64_t rows, int64_t cols)
{
    cf_tensor *x = cf_gc_randn(g, CF_SHAPE(rows, cols));
    if (!x) return NULL;
    for (int64_t i = 0; i < rows * cols; i++) cf_set_flat(x, i, (double)((i * 7) % 5) - 2);
    cf_set_flat(x, 1, -0.0), cf_set_flat(x, 2, 0.0);
    return x;
}

CF_GRADCHECK(topk)
{
    if (cf_gc_parity_mode(g)) {
        cf_gc_check(g, "ties, k 4 largest sorted", fn_topk, &(struct topk_case){4, 1, true, true, false}, 1,
                    (cf_tensor *[]){tied(g, 3, 9)});
        cf_gc_check(g, "ties, k 5 smallest unsorted", fn_topk, &(struct topk_case){5, 1, false, false, false}, 1,
                    (cf_tensor *[]){tied(g, 3, 9)});
        cf_gc_check(g, "ties, k 6 of 1100 (global-memory path), unsorted", fn_topk,
                    &(struct topk_case){6, 1, true, false, false}, 1, (cf_tensor *[]){tied(g, 2, 1100)});
    }
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
    if (cf_gc_parity_mode(g)) {
        cf_gc_check(g, "ties, ascending", fn_sort, &(struct sort_case){1, false, false}, 1,
                    (cf_tensor *[]){tied(g, 3, 9)});
        cf_gc_check(g, "ties, descending, 1100 long (global-memory path)", fn_sort, &(struct sort_case){1, true, false},
                    1, (cf_tensor *[]){tied(g, 2, 1100)});
    }
    cf_gc_check(g, "ascending, last dim", fn_sort, &(struct sort_case){-1, false, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 6))});
    cf_gc_check(g, "descending, dim 0", fn_sort, &(struct sort_case){0, true, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5, 2, 2))});
    return cf_gc_check(g, "descending, non-contiguous, 20 long", fn_sort, &(struct sort_case){1, true, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(20, 2))});
}
