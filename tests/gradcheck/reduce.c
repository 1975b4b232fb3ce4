/* Gradient checks of the reductions, cumsum and softmax: several dim sets (single, several, all, negative),
 * keepdim on and off, the column loop order, and non-contiguous inputs.
 * Every case gets fresh inputs: backward walks the whole tape of the step, so an input shared with an
 * earlier case would collect that case's gradient again. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

typedef struct red_case {
    int op; /* a CF_OP_* */
    int ndims;
    int dims[4];
    bool keepdim;
    double correction;
} red_case;

static cf_tensor *fn_reduce(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const red_case *p = u;
    const int *dims = p->ndims ? p->dims : NULL;
    switch (p->op) {
    case CF_OP_sum: return cf_sum(c, x[0], p->ndims, dims, p->keepdim);
    case CF_OP_mean: return cf_mean(c, x[0], p->ndims, dims, p->keepdim);
    case CF_OP_var: return cf_var(c, x[0], p->ndims, dims, p->correction, p->keepdim);
    case CF_OP_max: return cf_max(c, x[0], p->ndims, dims, p->keepdim, NULL);
    case CF_OP_min: return cf_min(c, x[0], p->ndims, dims, p->keepdim, NULL);
    case CF_OP_logsumexp: return cf_logsumexp(c, x[0], p->ndims, dims, p->keepdim);
    case CF_OP_cumsum: return cf_cumsum(c, x[0], p->dims[0]);
    case CF_OP_softmax: return cf_softmax(c, x[0], p->dims[0]);
    default: return cf_log_softmax(c, x[0], p->dims[0]);
    }
}

/* A [4, 3, 2] input seen as the [2, 3, 4] permutation: no dim is contiguous where it sits. */
static cf_tensor *permuted(cf_gc *g)
{
    cf_ctx *ctx = cf_gc_ctx(g);
    cf_tensor *v = cf_detach(ctx, cf_permute(ctx, cf_gc_randn(g, CF_SHAPE(4, 3, 2)), (const int[]){2, 1, 0}));
    if (v) v->requires_grad = true;
    return v;
}

/* The dim-set cases every reduction runs. */
static cf_status reduce_cases(cf_gc *g, int op, double correction)
{
    struct {
        const char *label;
        red_case c;
        int shape; /* 0: [2, 3, 4]; 1: [6, 5] (columns); 2: permuted [2, 3, 4] */
    } cases[] = {
        {"all dims", {op, 0, {0}, false, correction}, 0},
        {"all dims keepdim", {op, 0, {0}, true, correction}, 0},
        {"dim 1", {op, 1, {1}, false, correction}, 0},
        {"dims {0, 2} keepdim", {op, 2, {0, 2}, true, correction}, 0},
        {"dims {-1, 0}", {op, 2, {-1, 0}, false, correction}, 0},
        {"dim 0 of [6, 5] (columns)", {op, 1, {0}, false, correction}, 1},
        {"dims {0, 1} of [2, 3, 4] (columns)", {op, 2, {0, 1}, true, correction}, 0},
        {"dim -1 of a permuted view", {op, 1, {-1}, false, correction}, 2},
        {"dims {0, 2} of a permuted view", {op, 2, {0, 2}, true, correction}, 2},
    };
    cf_status st = CF_OK;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cf_tensor *x = cases[i].shape == 0   ? cf_gc_randn(g, CF_SHAPE(2, 3, 4))
                       : cases[i].shape == 1 ? cf_gc_randn(g, CF_SHAPE(6, 5))
                                             : permuted(g);
        cf_status s = cf_gc_check(g, cases[i].label, fn_reduce, &cases[i].c, 1, &x);
        if (s != CF_OK) st = s;
    }
    return st;
}

CF_GRADCHECK(sum) { return reduce_cases(g, CF_OP_sum, 0); }
CF_GRADCHECK(mean) { return reduce_cases(g, CF_OP_mean, 0); }
CF_GRADCHECK(var)
{
    reduce_cases(g, CF_OP_var, 1); /* unbiased */
    cf_tensor *x = cf_gc_randn(g, CF_SHAPE(3, 4)), *y = cf_gc_randn(g, CF_SHAPE(3, 4));
    red_case pop = {CF_OP_var, 1, {-1}, true, 0};
    cf_gc_check(g, "population (correction 0)", fn_reduce, &pop, 1, &x);
    red_case c2 = {CF_OP_var, 1, {0}, false, 2};
    return cf_gc_check(g, "correction 2 over columns", fn_reduce, &c2, 1, &y);
}
/* random inputs have no ties, so max/min are differentiable at them */
CF_GRADCHECK(max) { return reduce_cases(g, CF_OP_max, 0); }
CF_GRADCHECK(min) { return reduce_cases(g, CF_OP_min, 0); }
CF_GRADCHECK(logsumexp) { return reduce_cases(g, CF_OP_logsumexp, 0); }

static cf_status along_cases(cf_gc *g, int op)
{
    red_case last = {op, 1, {-1}, false, 0}, first = {op, 1, {0}, false, 0}, mid = {op, 1, {1}, false, 0};
    cf_tensor *a = cf_gc_randn(g, CF_SHAPE(3, 5)), *a2 = cf_gc_randn(g, CF_SHAPE(3, 5));
    cf_gc_check(g, "[3, 5] dim -1", fn_reduce, &last, 1, &a);
    cf_gc_check(g, "[3, 5] dim 0", fn_reduce, &first, 1, &a2);
    cf_tensor *b = cf_gc_randn(g, CF_SHAPE(2, 3, 4));
    cf_gc_check(g, "[2, 3, 4] dim 1", fn_reduce, &mid, 1, &b);
    cf_tensor *p = permuted(g), *p2 = permuted(g);
    cf_gc_check(g, "permuted view dim -1", fn_reduce, &last, 1, &p);
    return cf_gc_check(g, "permuted view dim 1", fn_reduce, &mid, 1, &p2);
}

CF_GRADCHECK(cumsum) { return along_cases(g, CF_OP_cumsum); }
/* softmax / log_softmax: also rows longer than a warp (the CUDA kernels split a row over 32 lanes) */
static cf_status softmax_cases(cf_gc *g, int op)
{
    along_cases(g, op);
    red_case last = {op, 1, {-1}, false, 0};
    cf_tensor *x = cf_gc_randn(g, CF_SHAPE(2, 70));
    return cf_gc_check(g, "[2, 70] dim -1 (rows longer than a warp)", fn_reduce, &last, 1, &x);
}
CF_GRADCHECK(softmax) { return softmax_cases(g, CF_OP_softmax); }
CF_GRADCHECK(log_softmax) { return softmax_cases(g, CF_OP_log_softmax); }
