/* Gradient checks of dropout and drop-path. The mask is fixed by (seed, step, stream), and the harness
 * stays within one step, so every forward of a case uses the same mask and the op is linear in x. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

struct rnd_case {
    double p;
    uint64_t stream;
    bool transpose; /* a non-contiguous input */
};

static cf_tensor *fn_dropout(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct rnd_case *k = u;
    cf_tensor *in = k->transpose ? cf_transpose(c, x[0], 0, 1) : x[0];
    return cf_dropout(c, in, k->p, k->stream);
}
CF_GRADCHECK(dropout)
{
    cf_gc_check(g, "p 0.3", fn_dropout, &(struct rnd_case){0.3, 1, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 9))});
    cf_gc_check(g, "p 0.5 non-contiguous", fn_dropout, &(struct rnd_case){0.5, 2, true}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(5, 3))});
    return cf_gc_check(g, "p 1 (all dropped)", fn_dropout, &(struct rnd_case){1.0, 3, false}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(7))});
}

static cf_tensor *fn_drop_path(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct rnd_case *k = u;
    cf_tensor *in = k->transpose ? cf_transpose(c, x[0], 0, 1) : x[0];
    return cf_drop_path(c, in, k->p, k->stream);
}
CF_GRADCHECK(drop_path)
{
    cf_gc_check(g, "p 0.5, 8 samples", fn_drop_path, &(struct rnd_case){0.5, 4, false}, 1,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(8, 2, 3))});
    return cf_gc_check(g, "p 0.4 non-contiguous", fn_drop_path, &(struct rnd_case){0.4, 5, true}, 1,
                       (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(3, 6))});
}
