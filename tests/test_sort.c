/* topk / sort / argsort: known cases with ties and NaN, agreement with a reference stable sort on both
 * topk paths (insertion buffer and full sort) and across threads, gradients, argument errors. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static bool equals(const cf_tensor *t, int64_t n, const double *want)
{
    if (!t || cf_numel(t) != n) return false;
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        if (!(v == want[i] || (isnan(v) && isnan(want[i])))) return false;
    }
    return true;
}

static cf_tensor *vec(cf_ctx *ctx, cf_dtype dt, int64_t n, const double *v)
{
    cf_tensor *t = cf_empty(ctx, dt, CF_SHAPE(n));
    for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, v[i]);
    return t;
}

static void test_known(cf_ctx *ctx, cf_dtype dt)
{
    const char *d = cf_dtype_name(dt);
    cf_tensor *idx;
    cf_tensor *v = cf_topk(ctx, vec(ctx, dt, 5, (double[]){1, 5, 3, 5, 2}), 2, 0, true, true, &idx);
    CHECK(equals(v, 2, (double[]){5, 5}) && equals(idx, 2, (double[]){1, 3}), "%s topk largest with a tie", d);
    CHECK(idx && idx->dtype == CF_I64, "%s topk indices are not i64", d);
    v = cf_topk(ctx, vec(ctx, dt, 4, (double[]){3, 1, 2, 1}), 2, -1, false, true, &idx);
    CHECK(equals(v, 2, (double[]){1, 1}) && equals(idx, 2, (double[]){1, 3}), "%s topk smallest with a tie", d);
    v = cf_topk(ctx, vec(ctx, dt, 5, (double[]){4, 9, 1, 7, 3}), 3, 0, true, false, &idx);
    CHECK(equals(v, 3, (double[]){4, 9, 7}) && equals(idx, 3, (double[]){0, 1, 3}), "%s topk unsorted keeps index order",
          d);
    v = cf_topk(ctx, vec(ctx, dt, 3, (double[]){4, 9, 1}), 0, 0, true, true, &idx);
    CHECK(v && cf_numel(v) == 0 && idx && cf_numel(idx) == 0, "%s topk k 0", d);

    v = cf_sort(ctx, vec(ctx, dt, 5, (double[]){2, 1, 2, 1, 0}), 0, false, &idx);
    CHECK(equals(v, 5, (double[]){0, 1, 1, 2, 2}) && equals(idx, 5, (double[]){4, 1, 3, 0, 2}), "%s sort ascending, ties",
          d);
    v = cf_sort(ctx, vec(ctx, dt, 5, (double[]){2, 1, 2, 1, 0}), 0, true, &idx);
    CHECK(equals(v, 5, (double[]){2, 2, 1, 1, 0}) && equals(idx, 5, (double[]){0, 2, 1, 3, 4}),
          "%s sort descending, ties", d);
    v = cf_sort(ctx, vec(ctx, dt, 4, (double[]){1, NAN, 0, -INFINITY}), 0, false, &idx);
    CHECK(equals(v, 4, (double[]){-INFINITY, 0, 1, NAN}) && equals(idx, 4, (double[]){3, 2, 0, 1}),
          "%s NaN sorts last ascending", d);
    v = cf_sort(ctx, vec(ctx, dt, 4, (double[]){1, NAN, 0, INFINITY}), 0, true, &idx);
    CHECK(equals(v, 4, (double[]){NAN, INFINITY, 1, 0}) && equals(idx, 4, (double[]){1, 3, 0, 2}),
          "%s NaN sorts first descending", d);

    /* along dim 0 of [3, 2]: columns sorted independently */
    cf_tensor *m = cf_from_data(ctx, CF_F64, CF_SHAPE(3, 2), (double[]){3, 0, 1, 2, 2, 1});
    if (dt == CF_F32) {
        cf_tensor *m32 = cf_empty(ctx, CF_F32, CF_SHAPE(3, 2));
        cf_copy_(m32, m);
        m = m32;
    }
    v = cf_sort(ctx, m, 0, false, &idx);
    CHECK(equals(v, 6, (double[]){1, 0, 2, 1, 3, 2}) && equals(idx, 6, (double[]){1, 0, 2, 2, 0, 1}),
          "%s sort along dim 0", d);
    cf_tensor *ai = cf_argsort(ctx, m, 1, true);
    CHECK(ai && ai->dtype == CF_I64 && equals(ai, 6, (double[]){0, 1, 1, 0, 0, 1}), "%s argsort along dim 1", d);
}

/* ---- reference: a stable sort by (value, index) ---- */
static int ref_desc;
static const double *ref_vals;
static int ref_cmp(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    double x = ref_vals[a], y = ref_vals[b];
    if (x != y) return (ref_desc ? x > y : x < y) ? -1 : 1;
    return a < b ? -1 : 1;
}
static int idx_cmp(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : (a > b);
}

/* rows x len values with many ties (integers 0..9), topk of every row against the reference */
static void test_against_reference(cf_ctx *ctx, cf_dtype dt, int64_t rows, int64_t len, int64_t k, bool largest,
                                   bool sorted)
{
    cf_tensor *x = cf_rand(ctx, CF_F64, CF_SHAPE(rows, len), 0, 10, 3, (uint64_t)(k * 7 + len));
    for (int64_t i = 0; i < rows * len; i++) cf_set_flat(x, i, floor(cf_get_flat(x, i)));
    cf_tensor *xd = cf_empty(ctx, dt, CF_SHAPE(rows, len));
    cf_copy_(xd, x);
    cf_tensor *idx;
    cf_tensor *v = cf_topk(ctx, xd, k, 1, largest, sorted, &idx);
    CHECK(v != NULL, "topk: %s", cf_last_error());
    if (!v) return;
    double *vals = malloc(sizeof(double) * (size_t)len);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)len);
    int bad = 0;
    for (int64_t r = 0; r < rows && !bad; r++) {
        for (int64_t j = 0; j < len; j++) vals[j] = cf_get_flat(x, r * len + j), order[j] = j;
        ref_desc = largest, ref_vals = vals;
        qsort(order, (size_t)len, sizeof *order, ref_cmp);
        if (!sorted) qsort(order, (size_t)k, sizeof *order, idx_cmp);
        for (int64_t j = 0; j < k; j++)
            if (cf_get_flat(idx, r * k + j) != (double)order[j] || cf_get_flat(v, r * k + j) != vals[order[j]]) bad++;
    }
    CHECK(!bad, "%s topk rows %lld len %lld k %lld largest %d sorted %d differs from the reference stable sort",
          cf_dtype_name(dt), (long long)rows, (long long)len, (long long)k, largest, sorted);
    free(vals);
    free(order);
}

static bool same(const cf_tensor *a, const cf_tensor *b)
{
    if (!a || !b || cf_numel(a) != cf_numel(b)) return false;
    for (int64_t i = 0; i < cf_numel(a); i++)
        if (cf_get_flat(a, i) != cf_get_flat(b, i)) return false;
    return true;
}

static void test_threads(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(64, 1000), 9, 9);
    cf_tensor *i1, *i2;
    cf_set_threads(ctx, 1);
    cf_tensor *a = cf_sort(ctx, x, 1, true, &i1);
    cf_set_threads(ctx, 2);
    cf_tensor *b = cf_sort(ctx, x, 1, true, &i2);
    CHECK(same(a, b) && same(i1, i2), "sort differs between 1 and 2 threads");
    bool ok = true;
    for (int64_t r = 0; r < 64 && ok; r++)
        for (int64_t j = 1; j < 1000 && ok; j++) ok = cf_get_flat(b, r * 1000 + j - 1) >= cf_get_flat(b, r * 1000 + j);
    CHECK(ok, "sort descending of 64 x 1000 is not ordered");
}

static void test_backward(cf_ctx *ctx, cf_dtype dt)
{
    cf_tensor *x = vec(ctx, dt, 5, (double[]){1, 5, 3, 4, 2});
    cf_requires_grad_(x, true);
    cf_tensor *v = cf_topk(ctx, x, 2, 0, true, true, NULL);
    CHECK(v && cf_backward(ctx, v, vec(ctx, dt, 2, (double[]){10, 20})) == CF_OK, "topk backward: %s", cf_last_error());
    CHECK(equals(x->grad, 5, (double[]){0, 10, 0, 20, 0}), "%s topk gradient is not scattered to the chosen positions",
          cf_dtype_name(dt));
    /* a fresh leaf: the tape still holds topk, whose output already has a gradient */
    x = vec(ctx, dt, 5, (double[]){1, 5, 3, 4, 2});
    cf_requires_grad_(x, true);
    v = cf_sort(ctx, x, 0, false, NULL);
    CHECK(v && cf_backward(ctx, v, vec(ctx, dt, 5, (double[]){1, 2, 3, 4, 5})) == CF_OK, "sort backward: %s",
          cf_last_error());
    CHECK(equals(x->grad, 5, (double[]){1, 5, 3, 4, 2}), "%s sort gradient is not the inverse permutation",
          cf_dtype_name(dt));
    int64_t before = cf_tape_size(ctx);
    cf_tensor *ai = cf_argsort(ctx, x, 0, false);
    CHECK(ai && !ai->requires_grad && cf_tape_size(ctx) == before, "argsort recorded a node");
    CHECK(cf_grad_enabled(ctx), "argsort left grad mode off");
}

static void expect_error(cf_tensor *t, cf_status st, const char *needle, const char *what)
{
    CHECK(t == NULL && cf_last_status() == st && strstr(cf_last_error(), needle) != NULL,
          "%s: got status %s, message \"%s\"", what, cf_status_name(cf_last_status()), cf_last_error());
    cf_clear_error();
}

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(2, 3), 1, 1), *idx = (cf_tensor *)1;
    expect_error(cf_topk(ctx, x, 4, 1, true, true, &idx), CF_ERR_ARG,
                 "topk: k = 4 is out of range [0, 3] for dim 1 of [2, 3]", "k too large");
    CHECK(idx == NULL, "indices_out is not cleared on error");
    expect_error(cf_topk(ctx, x, -1, 0, true, true, NULL), CF_ERR_ARG, "topk: k = -1 is out of range", "negative k");
    expect_error(cf_sort(ctx, x, 2, false, NULL), CF_ERR_SHAPE, "sort: dim 2 out of range", "bad dim");
    expect_error(cf_argsort(ctx, x, -3, false), CF_ERR_SHAPE, "argsort: dim -3 out of range", "bad argsort dim");
    expect_error(cf_sort(ctx, cf_arange(ctx, CF_I64, 3), 0, false, NULL), CF_ERR_DTYPE, "sort: expected an f32 or f64",
                 "integer input");
    expect_error(cf_topk(ctx, cf_full(ctx, CF_F32, 0, NULL, 1.0), 1, 0, true, true, NULL), CF_ERR_SHAPE,
                 "topk: expected 1 to 8 dims", "scalar input");
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    for (int t = 0; t < 2; t++) {
        cf_dtype dt = t ? CF_F64 : CF_F32;
        test_known(ctx, dt);
        test_backward(ctx, dt);
        test_against_reference(ctx, dt, 7, 300, 5, true, true);    /* insertion path */
        test_against_reference(ctx, dt, 7, 300, 16, false, false); /* insertion path, unsorted */
        test_against_reference(ctx, dt, 7, 300, 100, true, false); /* sort path */
        test_against_reference(ctx, dt, 7, 301, 301, false, true); /* full sort */
        test_against_reference(ctx, dt, 40, 1000, 3, true, true);  /* parallel over rows */
    }
    test_threads(ctx);
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
