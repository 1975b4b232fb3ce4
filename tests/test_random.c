/* dropout / drop_path: masks reproducible across thread counts and restarts, kept fraction and
 * expectation, backward through the same mask, identity cases, argument errors. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


#define N_BIG 200000 /* above the parallel threshold, so 2 threads really split the loop */

static cf_tensor *ones(cf_ctx *ctx, cf_dtype dt, int64_t n) { return cf_full(ctx, dt, CF_SHAPE(n), 1.0); }

static int64_t count_nonzero(const cf_tensor *t)
{
    int64_t c = 0, n = cf_numel(t);
    for (int64_t i = 0; i < n; i++) c += cf_get_flat(t, i) != 0.0;
    return c;
}

static bool same_values(const cf_tensor *a, const cf_tensor *b)
{
    if (!a || !b || cf_numel(a) != cf_numel(b)) return false;
    for (int64_t i = 0; i < cf_numel(a); i++)
        if (cf_get_flat(a, i) != cf_get_flat(b, i)) return false;
    return true;
}

static void test_fraction_and_expectation(cf_ctx *ctx, cf_dtype dt)
{
    const double p = 0.3;
    cf_tensor *y = cf_dropout(ctx, ones(ctx, dt, N_BIG), p, 7);
    CHECK(y != NULL, "dropout: %s", cf_last_error());
    if (!y) return;
    double kept = (double)count_nonzero(y) / N_BIG, sum = 0;
    bool values_ok = true;
    for (int64_t i = 0; i < N_BIG; i++) {
        double v = cf_get_flat(y, i);
        sum += v;
        if (v != 0.0 && fabs(v - 1.0 / (1.0 - p)) > 1e-6) values_ok = false;
    }
    /* binomial std of the fraction: sqrt(p (1-p) / N) ~ 0.001 */
    CHECK(fabs(kept - (1 - p)) < 0.006, "%s kept fraction %.4f, want ~%.2f", cf_dtype_name(dt), kept, 1 - p);
    CHECK(fabs(sum / N_BIG - 1.0) < 0.01, "%s mean %.4f, want ~1 (expectation preserved)", cf_dtype_name(dt),
          sum / N_BIG);
    CHECK(values_ok, "%s kept values are not 1/(1-p)", cf_dtype_name(dt));
}

static void test_thread_invariance(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(N_BIG), 1, 1);
    cf_set_threads(ctx, 1);
    cf_tensor *a = cf_dropout(ctx, x, 0.5, 3);
    cf_tensor *pa = cf_drop_path(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(64, 4000), 1, 2), 0.5, 4);
    cf_set_threads(ctx, 2);
    cf_tensor *b = cf_dropout(ctx, x, 0.5, 3);
    cf_tensor *pb = cf_drop_path(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(64, 4000), 1, 2), 0.5, 4);
    CHECK(same_values(a, b), "dropout mask differs between 1 and 2 threads");
    CHECK(same_values(pa, pb), "drop_path mask differs between 1 and 2 threads");
    cf_tensor *c = cf_dropout(ctx, x, 0.5, 4);
    CHECK(!same_values(a, c), "another stream gave the same mask");
    uint64_t step = cf_ctx_step(ctx);
    cf_ctx_set_step(ctx, step + 1);
    cf_tensor *d = cf_dropout(ctx, x, 0.5, 3);
    CHECK(!same_values(a, d), "another step gave the same mask");
    cf_ctx_set_step(ctx, step);
}

/* A fresh context with the same seed at the same step (a restart) draws the same mask; another seed does not. */
static void test_restart(void)
{
    cf_ctx *c1 = cf_ctx_new(&(cf_ctx_options){.seed = 42});
    cf_ctx *c2 = cf_ctx_new(&(cf_ctx_options){.seed = 42});
    cf_ctx *c3 = cf_ctx_new(&(cf_ctx_options){.seed = 43});
    for (int i = 0; i < 5; i++) cf_step_reset(c1); /* c1 reaches step 5 by running */
    cf_ctx_set_step(c2, 5);                         /* c2 resumes at step 5 from a checkpoint */
    cf_ctx_set_step(c3, 5);
    cf_tensor *a = cf_dropout(c1, ones(c1, CF_F64, 1000), 0.5, 9);
    cf_tensor *b = cf_dropout(c2, ones(c2, CF_F64, 1000), 0.5, 9);
    cf_tensor *c = cf_dropout(c3, ones(c3, CF_F64, 1000), 0.5, 9);
    CHECK(same_values(a, b), "dropout mask differs after a restart at the same step");
    CHECK(!same_values(a, c), "another seed gave the same mask");
    cf_ctx_free(c1);
    cf_ctx_free(c2);
    cf_ctx_free(c3);
}

/* The mask of element i does not depend on the dtype or on the tensor's size. */
static void test_mask_is_per_index(cf_ctx *ctx)
{
    cf_tensor *a = cf_dropout(ctx, ones(ctx, CF_F32, 37), 0.5, 11);
    cf_tensor *b = cf_dropout(ctx, ones(ctx, CF_F64, 101), 0.5, 11);
    bool ok = a && b;
    for (int64_t i = 0; ok && i < 37; i++) ok = (cf_get_flat(a, i) == 0) == (cf_get_flat(b, i) == 0);
    CHECK(ok, "the mask of an element depends on the dtype or the size");
}

static void test_backward(cf_ctx *ctx, cf_dtype dt)
{
    cf_tensor *x = cf_rand(ctx, dt, CF_SHAPE(50, 40), 1.0, 2.0, 5, 5);
    cf_requires_grad_(x, true);
    cf_tensor *y = cf_dropout(ctx, x, 0.25, 12);
    CHECK(y && cf_tape_size(ctx) > 0, "dropout was not recorded");
    if (!y) return;
    cf_tensor *seed = cf_full(ctx, dt, CF_SHAPE(50, 40), 1.0);
    CHECK(cf_backward(ctx, y, seed) == CF_OK, "backward: %s", cf_last_error());
    bool ok = x->grad != NULL;
    for (int64_t i = 0; ok && i < 2000; i++) {
        double want = cf_get_flat(y, i) != 0 ? 1.0 / 0.75 : 0.0;
        ok = fabs(cf_get_flat(x->grad, i) - want) < 1e-6;
    }
    CHECK(ok, "%s dropout gradient is not the forward's mask times 1/(1-p)", cf_dtype_name(dt));
}

static void test_drop_path(cf_ctx *ctx, cf_dtype dt)
{
    const int64_t B = 4000, F = 6;
    const double p = 0.2;
    cf_tensor *x = cf_full(ctx, dt, CF_SHAPE(B, 2, 3), 2.0);
    cf_tensor *y = cf_drop_path(ctx, x, p, 21);
    CHECK(y != NULL, "drop_path: %s", cf_last_error());
    if (!y) return;
    int64_t kept = 0;
    bool whole = true;
    for (int64_t b = 0; b < B; b++) {
        double v0 = cf_get_flat(y, b * F);
        for (int64_t j = 1; j < F; j++) whole &= cf_get_flat(y, b * F + j) == v0;
        if (v0 != 0) {
            kept++;
            whole &= fabs(v0 - 2.0 / (1 - p)) < 1e-6;
        }
    }
    CHECK(whole, "%s drop_path does not keep or drop whole samples scaled by 1/(1-p)", cf_dtype_name(dt));
    /* std of the kept fraction: sqrt(0.16 / 4000) ~ 0.0063 */
    CHECK(fabs((double)kept / B - (1 - p)) < 0.03, "%s drop_path kept %lld of %lld samples, want ~%.0f%%",
          cf_dtype_name(dt), (long long)kept, (long long)B, 100 * (1 - p));
}

static void test_identity(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(8, 3), 1, 3);
    CHECK(cf_dropout(ctx, x, 0.0, 1) == x, "p 0 is not the identity");
    CHECK(cf_drop_path(ctx, x, 0.0, 1) == x, "drop_path p 0 is not the identity");
    cf_set_training(ctx, false);
    CHECK(cf_dropout(ctx, x, 0.7, 1) == x, "eval-mode dropout is not the identity");
    CHECK(cf_drop_path(ctx, x, 0.7, 1) == x, "eval-mode drop_path is not the identity");
    cf_set_training(ctx, true);
    cf_tensor *z = cf_dropout(ctx, x, 1.0, 1);
    CHECK(z && count_nonzero(z) == 0, "p 1 does not zero everything");
}

static void expect_error(cf_tensor *t, cf_status st, const char *needle, const char *what)
{
    CHECK(t == NULL && cf_last_status() == st && strstr(cf_last_error(), needle) != NULL,
          "%s: got status %s, message \"%s\"", what, cf_status_name(cf_last_status()), cf_last_error());
    cf_clear_error();
}

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(4), 1, 4);
    expect_error(cf_dropout(ctx, x, -0.1, 0), CF_ERR_ARG, "dropout: p must be in [0, 1]", "negative p");
    expect_error(cf_dropout(ctx, x, 1.5, 0), CF_ERR_ARG, "dropout: p must be in [0, 1]", "p > 1");
    expect_error(cf_drop_path(ctx, x, NAN, 0), CF_ERR_ARG, "drop_path: p must be in [0, 1]", "NaN p");
    expect_error(cf_dropout(ctx, cf_arange(ctx, CF_I64, 4), 0.5, 0), CF_ERR_DTYPE, "dropout: expected an f32 or f64",
                 "integer input");
    expect_error(cf_drop_path(ctx, cf_full(ctx, CF_F32, 0, NULL, 1.0), 0.5, 0), CF_ERR_SHAPE,
                 "drop_path: x needs a batch dim", "scalar drop_path");
    cf_set_error(CF_ERR_SHAPE, "upstream failure");
    CHECK(cf_dropout(ctx, NULL, 0.5, 0) == NULL && strcmp(cf_last_error(), "upstream failure") == 0,
          "a NULL input does not pass the earlier error through");
    cf_clear_error();
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.seed = 1234});
    if (!ctx) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    test_fraction_and_expectation(ctx, CF_F32);
    test_fraction_and_expectation(ctx, CF_F64);
    test_thread_invariance(ctx);
    test_restart();
    test_mask_is_per_index(ctx);
    test_backward(ctx, CF_F32);
    test_backward(ctx, CF_F64);
    test_drop_path(ctx, CF_F32);
    test_drop_path(ctx, CF_F64);
    test_identity(ctx);
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
