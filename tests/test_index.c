/* Forward values of the index ops against hand-computed (PyTorch documentation) cases, the summed
 * backward of repeated ids, determinism of the scatters across thread counts, and the errors for
 * out-of-range indices and bad shapes. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static cf_tensor *from(cf_ctx *c, cf_dtype dt, int nd, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_empty(c, dt, nd, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    return t;
}

static void expect(const char *what, const cf_tensor *t, const double *want, int64_t n)
{
    if (!t) {
        CHECK(0, "%s: NULL result: %s", what, cf_last_error());
        return;
    }
    CHECK(cf_numel(t) == n, "%s: %lld elements, want %lld", what, (long long)cf_numel(t), (long long)n);
    if (cf_numel(t) != n) return;
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        if (!(fabs(v - want[i]) <= 1e-6 * (1 + fabs(want[i])))) {
            CHECK(0, "%s: element %lld is %.9g, want %.9g", what, (long long)i, v, want[i]);
            return;
        }
    }
    check_passed++;
}

static void expect_shape(const char *what, const cf_tensor *t, int nd, const int64_t *shape)
{
    bool ok = t && t->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == shape[i];
    char b[128];
    CHECK(ok, "%s: shape %s", what, t ? cf_shape_str(t, b, sizeof b) : cf_last_error());
}

static void expect_error(const char *what, const cf_tensor *r, cf_status st, const char *p1, const char *p2,
                         const char *p3)
{
    const char *msg = cf_last_error();
    CHECK(r == NULL, "%s: expected an error, got a result", what);
    CHECK(cf_last_status() == st, "%s: status %s, want %s (%s)", what, cf_status_name(cf_last_status()),
          cf_status_name(st), msg);
    const char *parts[3] = {p1, p2, p3};
    for (int i = 0; i < 3; i++)
        if (parts[i]) CHECK(strstr(msg, parts[i]) != NULL, "%s: message \"%s\" lacks \"%s\"", what, msg, parts[i]);
    cf_clear_error();
}

static void test_embedding(cf_ctx *c)
{
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        cf_tensor *w = cf_tensor_alloc(dt, CF_SHAPE(4, 2));
        for (int i = 0; i < 8; i++) cf_set_flat(w, i, (i / 2) * 10 + i % 2);
        cf_requires_grad_(w, true);
        cf_tensor *ids = from(c, CF_I64, CF_SHAPE(2, 2), (double[]){3, 1, 1, 0});
        cf_tensor *y = cf_embedding(c, w, ids);
        expect_shape("embedding shape", y, CF_SHAPE(2, 2, 2));
        expect("embedding rows", y, (double[]){30, 31, 10, 11, 10, 11, 0, 1}, 8);
        /* backward: id 1 appears twice, so its row gets the sum of both output gradients; row 2 none */
        cf_tensor *seed = from(c, dt, CF_SHAPE(2, 2, 2), (double[]){1, 2, 3, 4, 5, 6, 7, 8});
        CHECK(cf_backward(c, y, seed) == CF_OK, "embedding backward: %s", cf_last_error());
        expect("embedding grad, repeated ids summed", w->grad, (double[]){7, 8, 3 + 5, 4 + 6, 0, 0, 1, 2}, 8);
        /* a second step accumulates into the persistent grad */
        cf_step_reset(c);
        cf_tensor *y2 = cf_embedding(c, w, from(c, CF_I64, CF_SHAPE(3), (double[]){2, 2, 2}));
        CHECK(y2 && cf_backward(c, y2, cf_full(c, dt, CF_SHAPE(3, 2), 1.0)) == CF_OK, "embedding 2: %s", cf_last_error());
        expect("embedding grad accumulates", w->grad, (double[]){7, 8, 8, 10, 3, 3, 1, 2}, 8);
        cf_tensor_free(w);
        cf_step_reset(c);
    }
}

static void test_picks(cf_ctx *c)
{
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        cf_tensor *x = from(c, dt, CF_SHAPE(3, 2), (double[]){1, 2, 3, 4, 5, 6});
        cf_tensor *i3 = from(c, CF_I64, CF_SHAPE(3), (double[]){2, 0, 2});
        expect("index_select dim 0", cf_index_select(c, x, 0, i3), (double[]){5, 6, 1, 2, 5, 6}, 6);
        cf_tensor *i2 = from(c, CF_I64, CF_SHAPE(3), (double[]){1, 1, 0});
        cf_tensor *s1 = cf_index_select(c, x, -1, i2);
        expect_shape("index_select dim -1 shape", s1, CF_SHAPE(3, 3));
        expect("index_select dim -1", s1, (double[]){2, 2, 1, 4, 4, 3, 6, 6, 5}, 9);

        /* torch.gather(t, 1, [[0, 0], [1, 0]]) with t = [[1, 2], [3, 4]] is [[1, 1], [4, 3]] */
        cf_tensor *t = from(c, dt, CF_SHAPE(2, 2), (double[]){1, 2, 3, 4});
        cf_tensor *gi = from(c, CF_I64, CF_SHAPE(2, 2), (double[]){0, 0, 1, 0});
        expect("gather dim 1", cf_gather(c, t, 1, gi), (double[]){1, 1, 4, 3}, 4);
        expect("gather dim 0", cf_gather(c, t, 0, gi), (double[]){1, 2, 3, 2}, 4);

        /* torch.zeros(3, 5).scatter_add_(0, [[0, 1, 2, 0, 0], [0, 1, 2, 2, 2]], torch.ones(2, 5)) */
        cf_tensor *z = cf_zeros(c, dt, CF_SHAPE(3, 5));
        cf_tensor *si = from(c, CF_I64, CF_SHAPE(2, 5), (double[]){0, 1, 2, 0, 0, 0, 1, 2, 2, 2});
        cf_tensor *src = cf_full(c, dt, CF_SHAPE(2, 5), 1.0);
        expect("scatter_add dim 0", cf_scatter_add(c, z, 0, si, src),
               (double[]){2, 0, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 2, 1, 1}, 15);
        /* repeated positions along dim 1 accumulate, and x is kept */
        cf_tensor *x2 = from(c, dt, CF_SHAPE(1, 3), (double[]){100, 200, 300});
        cf_tensor *ri = from(c, CF_I64, CF_SHAPE(1, 4), (double[]){2, 2, 0, 2});
        cf_tensor *rs = from(c, dt, CF_SHAPE(1, 4), (double[]){1, 2, 3, 4});
        expect("scatter_add repeats", cf_scatter_add(c, x2, 1, ri, rs), (double[]){103, 200, 307}, 3);

        /* torch.ones(5, 3).index_add_(0, [0, 4, 2], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]) */
        cf_tensor *ones = cf_full(c, dt, CF_SHAPE(5, 3), 1.0);
        cf_tensor *ai = from(c, CF_I64, CF_SHAPE(3), (double[]){0, 4, 2});
        cf_tensor *as = from(c, dt, CF_SHAPE(3, 3), (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
        expect("index_add", cf_index_add(c, ones, 0, ai, as, 1.0),
               (double[]){2, 3, 4, 1, 1, 1, 8, 9, 10, 1, 1, 1, 5, 6, 7}, 15);
        cf_tensor *ri2 = from(c, CF_I64, CF_SHAPE(3), (double[]){1, 1, 1});
        expect("index_add repeats, alpha 2", cf_index_add(c, ones, 0, ri2, as, 2.0),
               (double[]){1, 1, 1, 25, 31, 37, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 15);
        cf_step_reset(c);
    }
}

/* The scatters of embedding, index_select, gather and index_add give the same bits on 1 and 2 threads,
 * and match a serial double-precision sum. */
static void test_determinism(cf_ctx *c)
{
    const int64_t V = 50, D = 96, K = 4000;
    double *ref[4] = {0};
    for (int threads = 1; threads <= 2; threads++) {
        cf_set_threads(c, threads);
        cf_tensor *w = cf_randn(c, CF_F32, CF_SHAPE(V, D), 9, 1);
        cf_tensor *s = cf_randn(c, CF_F32, CF_SHAPE(K, D), 9, 2);
        cf_tensor *ids = cf_empty(c, CF_I64, CF_SHAPE(K));
        for (int64_t k = 0; k < K; k++) cf_set_flat(ids, k, (double)((k * 7919 + k / 3) % V));
        cf_tensor *gidx = cf_empty(c, CF_I64, CF_SHAPE(K, D));
        for (int64_t e = 0; e < K * D; e++) cf_set_flat(gidx, e, (double)((e * 31 + e / 7) % V));
        cf_requires_grad_(w, true);
        cf_tensor *x = cf_randn(c, CF_F32, CF_SHAPE(V, D), 9, 3), *src = cf_randn(c, CF_F32, CF_SHAPE(K, D), 9, 4);
        cf_requires_grad_(x, true);
        cf_tensor *parts[4] = {cf_embedding(c, w, ids), cf_index_select(c, w, 0, ids), cf_gather(c, w, 0, gidx),
                               cf_index_add(c, x, 0, ids, src, 0.5)};
        cf_tensor *sum = cf_add(c, cf_add(c, parts[0], parts[1]), parts[2]);
        CHECK(sum && cf_backward(c, sum, s) == CF_OK, "determinism: %s", cf_last_error());
        cf_tensor *vals[4] = {w->grad, parts[0], parts[2], parts[3]};
        for (int k = 0; k < 4; k++) {
            int64_t n = vals[k] ? cf_numel(vals[k]) : 0;
            double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
            if (vals[k]) cf_to_f64_array(vals[k], v);
            if (threads == 1) {
                ref[k] = v;
            } else {
                CHECK(n && memcmp(v, ref[k], sizeof(double) * (size_t)n) == 0, "result %d differs between 1 and 2 threads",
                      k);
                free(v);
            }
        }
        if (threads == 1) {
            /* serial reference of the weight gradient */
            double *want = calloc((size_t)(V * D), sizeof(double));
            for (int64_t k = 0; k < K; k++)
                for (int64_t j = 0; j < D; j++) {
                    int64_t r = (int64_t)cf_get_flat(ids, k);
                    want[r * D + j] += 2 * cf_get_flat(s, k * D + j);
                    want[(int64_t)cf_get_flat(gidx, k * D + j) * D + j] += cf_get_flat(s, k * D + j);
                }
            double err = 0;
            for (int64_t e = 0; e < V * D; e++) err = fmax(err, fabs(ref[0][e] - want[e]));
            CHECK(err < 1e-3, "scatter sums differ from the serial reference by %g", err);
            free(want);
        }
        cf_step_reset(c);
    }
    for (int k = 0; k < 4; k++) free(ref[k]);
    cf_set_threads(c, 0);
}

static void test_errors(cf_ctx *c)
{
    cf_tensor *w = cf_zeros(c, CF_F32, CF_SHAPE(4, 3));
    cf_tensor *bad = from(c, CF_I64, CF_SHAPE(2, 3), (double[]){0, 1, 2, 7, 3, 1});
    expect_error("embedding id too large", cf_embedding(c, w, bad), CF_ERR_ARG, "embedding: index 7",
                 "position [1, 0]", "[0, 4)");
    cf_tensor *neg = from(c, CF_I64, CF_SHAPE(3), (double[]){0, -1, 2});
    expect_error("embedding negative id", cf_embedding(c, w, neg), CF_ERR_ARG, "index -1", "position [1]", "[0, 4)");
    expect_error("embedding f32 ids", cf_embedding(c, w, cf_zeros(c, CF_F32, CF_SHAPE(2))), CF_ERR_DTYPE, "embedding",
                 "i64", NULL);
    expect_error("embedding 1-D weight", cf_embedding(c, cf_zeros(c, CF_F32, CF_SHAPE(4)), neg), CF_ERR_SHAPE,
                 "embedding", "[V, D]", NULL);

    cf_tensor *i5 = from(c, CF_I64, CF_SHAPE(2), (double[]){1, 3});
    expect_error("index_select out of range", cf_index_select(c, w, 1, i5), CF_ERR_ARG, "index_select: index 3",
                 "position [1]", "[0, 3) (dim 1 of input [4, 3] f32)");
    expect_error("index_select 2-D index", cf_index_select(c, w, 0, bad), CF_ERR_SHAPE, "index_select", "1-D", NULL);
    expect_error("index_select bad dim", cf_index_select(c, w, 2, i5), CF_ERR_SHAPE, "index_select", "dim 2", NULL);

    cf_tensor *g_ok = from(c, CF_I64, CF_SHAPE(1, 2), (double[]){0, 5});
    expect_error("gather out of range", cf_gather(c, w, 0, g_ok), CF_ERR_ARG, "gather: index 5", "position [0, 1]",
                 "[0, 4)");
    cf_tensor *g_big = cf_zeros(c, CF_I64, CF_SHAPE(2, 4));
    expect_error("gather index too large", cf_gather(c, w, 0, g_big), CF_ERR_SHAPE, "gather", "in dim 1 (4 > 3)", NULL);
    expect_error("gather ndim", cf_gather(c, w, 0, i5), CF_ERR_SHAPE, "gather", "number of dims", NULL);

    cf_tensor *src = cf_zeros(c, CF_F32, CF_SHAPE(1, 2));
    expect_error("scatter_add out of range", cf_scatter_add(c, w, 1, g_ok, src), CF_ERR_ARG, "scatter_add: index 5",
                 "position [0, 1]", "[0, 3)");
    expect_error("scatter_add src smaller than index", cf_scatter_add(c, w, 0, g_ok, cf_zeros(c, CF_F32, CF_SHAPE(1, 1))),
                 CF_ERR_SHAPE, "scatter_add", "larger than src", NULL);
    expect_error("scatter_add src dtype", cf_scatter_add(c, w, 0, g_ok, cf_zeros(c, CF_F64, CF_SHAPE(1, 2))),
                 CF_ERR_DTYPE, "scatter_add", "dtypes differ", NULL);

    cf_tensor *as = cf_zeros(c, CF_F32, CF_SHAPE(2, 3));
    expect_error("index_add out of range", cf_index_add(c, w, 0, from(c, CF_I64, CF_SHAPE(2), (double[]){4, 0}), as, 1),
                 CF_ERR_ARG, "index_add: index 4", "position [0]", "[0, 4)");
    expect_error("index_add src shape", cf_index_add(c, w, 0, i5, cf_zeros(c, CF_F32, CF_SHAPE(2, 2)), 1), CF_ERR_SHAPE,
                 "index_add: src [2, 2]", "dim 0 of size 2", NULL);
    /* nothing was written by the failed calls: a later valid call works */
    CHECK(cf_embedding(c, w, i5) != NULL, "valid call after errors: %s", cf_last_error());
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    if (!c) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    test_embedding(c);
    test_picks(c);
    test_determinism(c);
    test_errors(c);
    cf_ctx_free(c);
    TEST_MAIN_END();
}
