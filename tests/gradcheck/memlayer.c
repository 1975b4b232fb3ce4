/* Gradient checks of the memory-layer ops. The hash is discontinuous where an input crosses 0, so its
 * inputs are pushed at least 0.05 away from zero and perturbed by 1e-6 (far less than min |z|): no bit
 * flips, and central differences see the weight's smooth dependence on z ("MemoryFormer", Section 3.1;
 * the finite-difference rule of its reproduction notes). Cases cover both weight forms, a temperature,
 * several tau, leading dims, repeated rows (the table's scatter must add them) and the full layer
 * z -> hash -> lookup, where the gradient reaches z through the weights and the table through the rows. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"
#include "autograd/ops/memlayer.h"

struct hash_case {
    int64_t tau;
    cf_memweight weight;
    double t;
};

static cf_tensor *fn_hash(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct hash_case *h = u;
    cf_tensor *rows;
    return cf_memlayer_hash(c, x[0], h->tau, h->weight, h->t, &rows);
}

/* the memory layer: y = lookup(table, hash(z)) */
static cf_tensor *fn_layer(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const struct hash_case *h = u;
    cf_tensor *rows;
    cf_tensor *w = cf_memlayer_hash(c, x[0], h->tau, h->weight, h->t, &rows);
    return cf_memlayer_lookup(c, x[1], rows, w);
}

CF_GRADCHECK(memlayer_hash)
{
    cf_gc_check(g, "code weight, tau 4, [3, 8]", fn_hash, &(struct hash_case){4, CF_MEMWEIGHT_CODE, 1}, 1,
                (cf_tensor *[]){cf_gc_randn_away(g, CF_SHAPE(3, 8), 0.05)});
    cf_gc_check(g, "paper weight, tau 3, t 0.7, [2, 2, 6]", fn_hash, &(struct hash_case){3, CF_MEMWEIGHT_PAPER, 0.7}, 1,
                (cf_tensor *[]){cf_gc_randn_away(g, CF_SHAPE(2, 2, 6), 0.05)});
    cf_gc_check(g, "code weight, tau 8, t 2, one chunk", fn_hash, &(struct hash_case){8, CF_MEMWEIGHT_CODE, 2}, 1,
                (cf_tensor *[]){cf_gc_randn_away(g, CF_SHAPE(2, 8), 0.05)});
    return cf_gc_check(g, "full layer, code weight, tau 2 (repeated rows)", fn_layer,
                       &(struct hash_case){2, CF_MEMWEIGHT_CODE, 1}, 2,
                       (cf_tensor *[]){cf_gc_randn_away(g, CF_SHAPE(6, 4), 0.05), cf_gc_randn(g, CF_SHAPE(8, 5))});
}

static cf_tensor *fn_lookup(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    (void)u;
    return cf_memlayer_lookup(c, x[0], x[2], x[1]);
}

CF_GRADCHECK(memlayer_lookup)
{
    /* rows 1 and 6 repeat, rows 0, 2, 4 and 7 are never used */
    cf_gc_check(g, "[2, 3] rows with repeats", fn_lookup, NULL, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(8, 4)), cf_gc_randn(g, CF_SHAPE(2, 3)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 3), (double[]){1, 6, 3, 1, 6, 5})});
    cf_gc_check(g, "[2, 2, 2] rows, 40 columns (two column blocks)", fn_lookup, NULL, 3,
                (cf_tensor *[]){cf_gc_randn(g, CF_SHAPE(4, 40)), cf_gc_randn(g, CF_SHAPE(2, 2, 2)),
                                cf_gc_const(g, CF_I64, CF_SHAPE(2, 2, 2), (double[]){0, 3, 0, 2, 1, 3, 1, 3})});
    return cf_gc_check(g, "full layer, paper weight, tau 3, [2, 3, 6]", fn_layer,
                       &(struct hash_case){3, CF_MEMWEIGHT_PAPER, 1}, 2,
                       (cf_tensor *[]){cf_gc_randn_away(g, CF_SHAPE(2, 3, 6), 0.05), cf_gc_randn(g, CF_SHAPE(16, 3))});
}
