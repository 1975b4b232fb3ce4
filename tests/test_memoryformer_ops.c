/* The memory-layer ops against hand-computed cases ("MemoryFormer", Section 3.1): the sign hash (0 hashes
 * to 1, the most significant bit first, table k's rows offset by k 2^tau), both weight forms, the weighted
 * row sum, and the sparse table gradient: a backward writes the rows a batch used and no other (a
 * sentinel in the gradient buffer survives everywhere else), repeated rows add up, and the weight's
 * gradient is the inner product with the chosen row. Argument errors name the op and the value. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/cformer.h"
#include "autograd/ops/memlayer.h"
#include "tests/check.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static double sig(double v) { return 1 / (1 + exp(-v)); }

/* z = [0.5, -1 | 0, -0.25], tau 2: both chunks hash to bits 10 = 2, so rows 0*4 + 2 = 2 and 1*4 + 2 = 6. */
static void test_hand_case(cf_ctx *ctx, cf_dtype dt)
{
    double tol = dt == CF_F32 ? 1e-5 : 1e-12;
    cf_tensor *z = cf_from_data(ctx, CF_F64, CF_SHAPE(1, 4), (double[]){0.5, -1, 0, -0.25});
    z = cf_cast(ctx, z, dt);
    cf_tensor *rows = NULL;
    cf_tensor *w = cf_memlayer_hash(ctx, z, 2, CF_MEMWEIGHT_CODE, 1.0, &rows);
    CHECK(w && rows && w->shape[1] == 2 && rows->shape[1] == 2);
    if (!w || !rows) return;
    CHECK(cf_get_flat(rows, 0) == 2 && cf_get_flat(rows, 1) == 6, "rows %g %g, want 2 6", cf_get_flat(rows, 0),
          cf_get_flat(rows, 1));
    /* code weight: ||z_k||_1 prod sigmoid(2 |z|): 1.5 s(1) s(2) and 0.25 s(0) s(0.5) */
    double w0 = 1.5 * 0.7310585786300049 * 0.8807970779778823, w1 = 0.25 * 0.5 * 0.6224593312018546;
    CHECK_NEAR(cf_get_flat(w, 0), w0, tol);
    CHECK_NEAR(cf_get_flat(w, 1), w1, tol);
    cf_tensor *p = cf_memlayer_hash(ctx, z, 2, CF_MEMWEIGHT_PAPER, 2.0, &rows);
    CHECK(p && cf_get_flat(rows, 0) == 2 && cf_get_flat(rows, 1) == 6);
    if (p) { /* paper weight at t = 2: prod sigmoid(|z|) */
        CHECK_NEAR(cf_get_flat(p, 0), sig(0.5) * sig(1), tol);
        CHECK_NEAR(cf_get_flat(p, 1), 0.5 * sig(0.25), tol);
    }
    /* table[r][c] = 10 r + c: y = w0 [20, 21, 22] + w1 [60, 61, 62] */
    double tv[24];
    for (int i = 0; i < 24; i++) tv[i] = 10 * (i / 3) + i % 3;
    cf_tensor *tab = cf_cast(ctx, cf_from_data(ctx, CF_F64, CF_SHAPE(8, 3), tv), dt);
    cf_tensor *y = cf_memlayer_lookup(ctx, tab, rows, w);
    CHECK(y && y->ndim == 2 && y->shape[0] == 1 && y->shape[1] == 3);
    for (int c = 0; y && c < 3; c++) CHECK_NEAR(cf_get_flat(y, c), w0 * (20 + c) + w1 * (60 + c), 1e3 * tol);
}

/* A persistent table whose gradient buffer holds a sentinel: after backward the rows used hold
 * sentinel + the scatter-add, every other row the sentinel bit for bit. */
static void test_sparse_rows(cf_ctx *ctx, cf_dtype dt)
{
    const int64_t N = 5, K = 3, tau = 2, R = K << tau, D = 4;
    const double sentinel = 7.25;
    cf_tensor *tab = cf_tensor_alloc(dt, CF_SHAPE(R, D));
    cf_tensor *grad = cf_tensor_alloc(dt, CF_SHAPE(R, D));
    cf_tensor *rnd = cf_randn(ctx, CF_F64, CF_SHAPE(R, D), 11, 1);
    for (int64_t i = 0; i < R * D; i++) cf_set_flat(tab, i, cf_get_flat(rnd, i)), cf_set_flat(grad, i, sentinel);
    cf_requires_grad_(tab, true);
    tab->grad = grad;
    cf_tensor *z = cf_cast(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(N, K * tau), 12, 1), dt);
    cf_tensor *G = cf_cast(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(N, D), 13, 1), dt);
    cf_tensor *rows = NULL;
    cf_tensor *w = cf_memlayer_hash(ctx, z, tau, CF_MEMWEIGHT_CODE, 1.0, &rows);
    cf_tensor *y = w ? cf_memlayer_lookup(ctx, tab, rows, w) : NULL;
    CHECK(y && cf_backward(ctx, y, G) == CF_OK);
    if (!y) goto done;
    double want[12 * 4] = {0};
    bool used[12] = {false};
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t r = (int64_t)cf_get_flat(rows, n * K + k);
            CHECK(r >= k << tau && r < (k + 1) << tau, "row %lld of chunk %lld is outside table %lld", (long long)r,
                  (long long)k, (long long)k);
            used[r] = true;
            for (int64_t c = 0; c < D; c++) want[r * D + c] += cf_get_flat(w, n * K + k) * cf_get_flat(G, n * D + c);
        }
    int unused = 0;
    for (int64_t r = 0; r < R; r++) {
        unused += !used[r];
        for (int64_t c = 0; c < D; c++) {
            double got = cf_get_flat(grad, r * D + c);
            if (used[r])
                CHECK_NEAR(got, sentinel + want[r * D + c], dt == CF_F32 ? 1e-5 : 1e-12);
            else
                CHECK(got == sentinel, "unused row %lld column %lld was written: %g", (long long)r, (long long)c, got);
        }
    }
    CHECK(unused > 0, "the case should leave some rows unused");
done:
    cf_step_reset(ctx);
    cf_tensor_free(tab);
}

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *rows = NULL, *z = cf_zeros(ctx, CF_F64, CF_SHAPE(2, 6));
    CHECK(!cf_memlayer_hash(ctx, z, 4, CF_MEMWEIGHT_CODE, 1, &rows) && strstr(cf_last_error(), "multiple of tau"));
    CHECK(!cf_memlayer_hash(ctx, z, 0, CF_MEMWEIGHT_CODE, 1, &rows) && strstr(cf_last_error(), "tau = 0"));
    CHECK(!cf_memlayer_hash(ctx, z, 3, CF_MEMWEIGHT_CODE, 0, &rows) && strstr(cf_last_error(), "temperature"));
    CHECK(!cf_memlayer_hash(ctx, z, 3, CF_MEMWEIGHT_CODE, 1, NULL) && strstr(cf_last_error(), "rows_out"));
    cf_tensor *tab = cf_zeros(ctx, CF_F64, CF_SHAPE(4, 2)), *w = cf_zeros(ctx, CF_F64, CF_SHAPE(2, 2));
    cf_tensor *bad = cf_from_data(ctx, CF_F64, CF_SHAPE(2, 2), (double[]){0, 1, 4, 2});
    CHECK(!cf_memlayer_lookup(ctx, tab, cf_cast(ctx, bad, CF_I64), w) && strstr(cf_last_error(), "row 4") &&
          strstr(cf_last_error(), "position 2"));
    CHECK(!cf_memlayer_lookup(ctx, tab, bad, w) && strstr(cf_last_error(), "memlayer_lookup"));
    cf_memweight k;
    CHECK(cf_memweight_parse("paper", &k) && k == CF_MEMWEIGHT_PAPER && !cf_memweight_parse("dense", &k));
    cf_step_reset(ctx);
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) return 1;
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F32 : CF_F64;
        test_hand_case(ctx, dt);
        cf_step_reset(ctx);
        test_sparse_rows(ctx, dt);
    }
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
