/* The index ops' CUDA kernels beyond the parity cases (tests/test_cuda_parity.c):
 *  - out-of-range indices: the ops that read through an i64 index (embedding, index_select, gather,
 *    scatter_add, index_add, segment_max, memlayer_lookup) check it on the device and fail with the CPU's own
 *    error text (the op, the bad value and its position, the valid range), never a fault; a valid index right
 *    after gives the CPU's values;
 *  - a long index (3000 ids, sorted by target over 4096 keys): the sort's global-memory steps, which the
 *    parity cases' short indices never reach, through embedding's backward against the CPU's;
 *  - sort and topk of bf16 rows of 1500 (the global-memory bitonic path, f32 sort buffers) against the CPU in
 *    f32 on the same values: equal values and indices, ties in index order, -0 == +0, NaN the largest.
 * Without a CUDA backend (or device) the test reports SKIP. */
#include "autograd/cf_node.h"
#include "autograd/cformer.h"
#include "autograd/ops/memlayer.h"
#include "autograd/ops/sort.h"
#define CHECK_SHOW_LAST_ERROR
#include "tests/check.h"

#include <stdlib.h>

typedef cf_tensor *(*index_fn)(cf_ctx *ctx, cf_tensor *x, cf_tensor *idx);

static cf_tensor *embedding(cf_ctx *c, cf_tensor *x, cf_tensor *i) { return cf_embedding(c, x, i); }
static cf_tensor *index_select(cf_ctx *c, cf_tensor *x, cf_tensor *i) { return cf_index_select(c, x, 1, i); }
static cf_tensor *gather(cf_ctx *c, cf_tensor *x, cf_tensor *i) { return cf_gather(c, x, 0, i); }
static cf_tensor *scatter_add(cf_ctx *c, cf_tensor *x, cf_tensor *i)
{
    return cf_scatter_add(c, x, 0, i, cf_gather(c, x, 0, cf_zeros(c, CF_I64, 2, i->shape)));
}
static cf_tensor *index_add(cf_ctx *c, cf_tensor *x, cf_tensor *i)
{
    int64_t shape[2] = {cf_numel(i), x->shape[1]};
    return cf_index_add(c, x, 0, i, cf_full(c, CF_F32, 2, shape, 1.0), 0.5);
}
static cf_tensor *segment_max(cf_ctx *c, cf_tensor *x, cf_tensor *i) { return cf_segment_max(c, x, i, 3); }
static cf_tensor *memlayer_lookup(cf_ctx *c, cf_tensor *x, cf_tensor *i)
{
    return cf_memlayer_lookup(c, x, i, cf_full(c, CF_F32, i->ndim, i->shape, 1.0));
}

/* x [4, 3] f32 of distinct values; idx i64 of idx_shape holding vals */
static cf_tensor *make_x(cf_ctx *cpu)
{
    cf_tensor *x = cf_empty(cpu, CF_F32, 2, (int64_t[]){4, 3});
    for (int i = 0; i < 12; i++) cf_set_flat(x, i, 0.25 * i - 1);
    return x;
}

static cf_tensor *make_idx(cf_ctx *cpu, int ndim, const int64_t *shape, const int64_t *vals)
{
    cf_tensor *t = cf_empty(cpu, CF_I64, ndim, shape);
    for (int64_t i = 0; i < cf_numel(t); i++) cf_set_flat(t, i, (double)vals[i]);
    return t;
}

/* fn on the CPU and on dev with the same inputs: both fail with the same text when bad, else agree */
static void compare(const char *name, index_fn fn, cf_ctx *cpu, cf_ctx *dev, int ndim, const int64_t *shape,
                    const int64_t *vals, bool bad)
{
    cf_tensor *x = make_x(cpu), *idx = make_idx(cpu, ndim, shape, vals);
    cf_tensor *want = fn(cpu, x, idx);
    char cpu_err[512];
    snprintf(cpu_err, sizeof cpu_err, "%s", cf_last_error());
    cf_clear_error();
    cf_tensor *got = fn(dev, cf_tensor_to(dev, x, CF_CUDA), cf_tensor_to(dev, idx, CF_CUDA));
    if (bad) {
        CHECK(!want && !got, "%s: a bad index must fail on both backends", name);
        CHECK(strstr(cpu_err, "out of range") != NULL, "%s: cpu error '%s'", name, cpu_err);
        CHECK(strcmp(cpu_err, cf_last_error()) == 0, "%s: cuda error '%s', cpu '%s'", name, cf_last_error(), cpu_err);
        cf_clear_error();
        return;
    }
    CHECK(want && got, "%s: a valid index must run on both backends", name);
    if (!want || !got) return;
    cf_tensor *h = cf_tensor_to(cpu, got, CF_CPU);
    double worst = 0;
    for (int64_t i = 0; i < cf_numel(want); i++) worst = fmax(worst, fabs(cf_get_flat(want, i) - cf_get_flat(h, i)));
    CHECK(cf_numel(want) == cf_numel(h) && worst == 0, "%s: cuda differs from cpu by %g", name, worst);
}

/* embedding's weight gradient for 3000 ids over 50 rows (many repeats), CPU against CUDA */
static void long_index(cf_ctx *cpu, cf_ctx *dev)
{
    const int64_t K = 3000, V = 50, D = 4;
    cf_tensor *w = cf_randn(cpu, CF_F64, 2, (int64_t[]){V, D}, 5, 1), *ids = cf_empty(cpu, CF_I64, 1, &K);
    for (int64_t k = 0; k < K; k++) cf_set_flat(ids, k, (double)((k * 37 + k / 7) % V));
    cf_tensor *seed = cf_randn(cpu, CF_F64, 2, (int64_t[]){K, D}, 5, 2);
    cf_tensor *wd = cf_tensor_to(dev, w, CF_CUDA);
    cf_requires_grad_(w, true), cf_requires_grad_(wd, true);
    CHECK(cf_backward(cpu, cf_embedding(cpu, w, ids), seed) == CF_OK);
    CHECK(cf_backward(dev, cf_embedding(dev, wd, cf_tensor_to(dev, ids, CF_CUDA)), cf_tensor_to(dev, seed, CF_CUDA)) ==
          CF_OK);
    if (!w->grad || !wd->grad) return;
    cf_tensor *h = cf_tensor_to(cpu, wd->grad, CF_CPU);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < V * D; i++) {
        worst = fmax(worst, fabs(cf_get_flat(w->grad, i) - cf_get_flat(h, i)));
        scale = fmax(scale, fabs(cf_get_flat(w->grad, i)));
    }
    CHECK(scale > 1 && worst <= 1e-12 * scale, "long index: cuda differs from cpu by %g (scale %g)", worst, scale);
}

/* a and b equal element for element (NaN equal to NaN, -0 told from +0) */
static bool same_values(const cf_tensor *a, const cf_tensor *b)
{
    if (cf_numel(a) != cf_numel(b)) return false;
    for (int64_t i = 0; i < cf_numel(a); i++) {
        double x = cf_get_flat(a, i), y = cf_get_flat(b, i);
        if (!(x == y && signbit(x) == signbit(y)) && !(isnan(x) && isnan(y))) return false;
    }
    return true;
}

/* sort (descending) and unsorted topk of bf16 [2, 1500] on the device, f32 of the same values on the CPU */
static void long_sort_bf16(cf_ctx *cpu, cf_ctx *dev)
{
    const int64_t R = 2, L = 1500, K = 700;
    cf_tensor *xb = cf_empty(cpu, CF_BF16, 2, (int64_t[]){R, L}), *xf = cf_empty(cpu, CF_F32, 2, (int64_t[]){R, L});
    for (int64_t i = 0; i < R * L; i++) {
        int64_t h = (i * 2654435761u) % 101;
        double v = h == 0 ? NAN : h == 1 ? ((i & 1) ? -0.0 : 0.0) : 0.37 * (double)(h - 50); // rounded to bf16
        cf_set_flat(xb, i, v);
        cf_set_flat(xf, i, cf_get_flat(xb, i));
    }
    cf_tensor *xd = cf_tensor_to(dev, xb, CF_CUDA);
    for (int t = 0; t < 2; t++) {
        const char *name = t ? "topk (unsorted)" : "sort";
        cf_tensor *iw = NULL, *ig = NULL;
        cf_tensor *want = t ? cf_topk(cpu, xf, K, 1, true, false, &iw) : cf_sort(cpu, xf, 1, true, &iw);
        cf_tensor *got = t ? cf_topk(dev, xd, K, 1, true, false, &ig) : cf_sort(dev, xd, 1, true, &ig);
        CHECK(want && got && iw && ig, "bf16 %s: both backends run", name);
        if (!want || !got || !iw || !ig) return;
        CHECK(got->dtype == CF_BF16, "bf16 %s: output dtype %s", name, cf_dtype_name(got->dtype));
        CHECK(same_values(want, cf_tensor_to(cpu, got, CF_CPU)), "bf16 %s: values differ from the cpu's", name);
        CHECK(same_values(iw, cf_tensor_to(cpu, ig, CF_CPU)), "bf16 %s: indices differ from the cpu's", name);
    }
}

int main(void)
{
    if (!cf_backend_table(CF_CUDA) || !cf_backend_for(CF_CUDA)) {
        printf("no CUDA backend or device: skipped\n");
        return 77;
    }
    cf_ctx *cpu = cf_ctx_new(NULL), *dev = cf_ctx_new(&(cf_ctx_options){.device = CF_CUDA, .arena_bytes = 8u << 20});
    CHECK(cpu && dev);
    if (!cpu || !dev) TEST_MAIN_END();
    static const struct {
        const char *name;
        index_fn fn;
        int ndim;
        int64_t shape[2], bad[6], good[6];
    } cases[] = {
        {"embedding", embedding, 2, {2, 3}, {1, 3, 4, 0, 2, 1}, {1, 3, 3, 0, 2, 1}},
        {"index_select", index_select, 1, {4}, {0, 2, 2, -1}, {0, 2, 2, 1}},
        {"gather", gather, 2, {2, 3}, {0, 3, 1, 2, 9, 0}, {0, 3, 1, 2, 1, 0}},
        {"scatter_add", scatter_add, 2, {2, 3}, {0, 1, 4, 3, 3, 0}, {0, 1, 2, 3, 3, 0}},
        {"index_add", index_add, 1, {5}, {1, 1, 3, 0, 7}, {1, 1, 3, 0, 1}},
        {"segment_max", segment_max, 1, {4}, {2, 0, 3, 0}, {2, 0, 2, 0}},
        {"memlayer_lookup", memlayer_lookup, 2, {2, 2}, {3, 0, -2, 1}, {3, 0, 2, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        compare(cases[c].name, cases[c].fn, cpu, dev, cases[c].ndim, cases[c].shape, cases[c].bad, true);
        compare(cases[c].name, cases[c].fn, cpu, dev, cases[c].ndim, cases[c].shape, cases[c].good, false);
        cf_step_reset(cpu), cf_step_reset(dev);
    }
    long_index(cpu, dev);
    long_sort_bf16(cpu, dev);
    cf_ctx_free(dev);
    cf_ctx_free(cpu);
    TEST_MAIN_END();
}
