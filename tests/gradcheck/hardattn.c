/* Gradient check of topk_softmax: the gradient flows through the k kept entries of each row only. Inputs are
 * random normals, so no perturbation reorders a row's k-th and (k+1)-th entries. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"
#include "autograd/ops/hardattn.h"

struct hardattn_case {
    int64_t k;
    bool transpose;
};

static cf_tensor *fn_topk_softmax(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct hardattn_case *t = u;
    cf_tensor *in = t->transpose ? cf_transpose(c, x[0], 0, 1) : x[0];
    /* used twice so the gradient accumulates into a buffer that already exists */
    return cf_add(c, cf_topk_softmax(c, in, t->k), in);
}
CF_GRADCHECK(topk_softmax)
{
    cf_gc_check(g, "k 1 of 5", fn_topk_softmax, &(struct hardattn_case){1, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 5))});
    cf_gc_check(g, "k 4 of 9, attention-shaped", fn_topk_softmax, &(struct hardattn_case){4, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 2, 3, 9))});
    cf_gc_check(g, "k >= len is softmax", fn_topk_softmax, &(struct hardattn_case){8, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(2, 6))});
    return cf_gc_check(g, "k 3, non-contiguous", fn_topk_softmax, &(struct hardattn_case){3, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(7, 4))});
}
