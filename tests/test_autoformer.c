/* Autoformer's layers (layers/autoformer.h): the moving-average decomposition against hand-computed values;
 * Auto-Correlation against the direct O(L^2) sum and, for q = k = sin(2 pi t / 24) with L = 96, peaking at the
 * delays {0, 24, 48, 72} (Wu et al., NeurIPS 2021, Sec. 3.2); the time-delay aggregation against a hand case,
 * batch-shared in training and per-sample in inference; f64 finite-difference gradients of the decomposition,
 * the correlation and both aggregations; train mode equal to eval mode at batch 1 and each sample's
 * inference independent of its batch; both forecasters' shapes (the decoder longer than the input) and
 * their refusals. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"
#include "layers/autoformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

static cf_ctx *ctx;

static cf_tensor *from(cf_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    cf_tensor *x = cf_empty(ctx, dt, ndim, shape);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int64_t i = 0; x && i < n; i++) cf_set_flat(x, i, v[i]);
    return x;
}

static void test_moving_avg(void)
{
    double v[5] = {1, 2, 3, 4, 5};
    cf_tensor *x = from(CF_F64, CF_SHAPE(1, 5, 1), v);
    cf_tensor *trend, *seas = cf_series_decomp(ctx, x, 3, &trend);
    double k3[5] = {4.0 / 3, 2, 3, 4, 14.0 / 3};
    for (int i = 0; seas && i < 5; i++) {
        CHECK_NEAR(cf_get_flat(trend, i), k3[i], 1e-12);
        CHECK_NEAR(cf_get_flat(seas, i) + cf_get_flat(trend, i), v[i], 1e-12);
    }
    cf_tensor *t5 = cf_moving_avg(ctx, x, 5);
    double k5[5] = {1.6, 2.2, 3, 3.8, 4.4};
    for (int i = 0; t5 && i < 5; i++) CHECK_NEAR(cf_get_flat(t5, i), k5[i], 1e-12);
    CHECK(cf_moving_avg(ctx, x, 4) == NULL);
    CHECK_ERROR_HAS("odd");
    cf_step_reset(ctx);
}

static void test_autocorr_values(void)
{
    int64_t L = 10;
    cf_tensor *q = cf_randn(ctx, CF_F64, CF_SHAPE(2, 3, L), 1, 1), *k = cf_randn(ctx, CF_F64, CF_SHAPE(2, 3, L), 1, 2);
    cf_tensor *r = cf_autocorr(ctx, q, k);
    CHECK(r && r->ndim == 3 && r->shape[2] == L);
    double worst = 0;
    for (int64_t row = 0; r && row < 6; row++)
        for (int64_t tau = 0; tau < L; tau++) {
            double s = 0;
            for (int64_t t = 0; t < L; t++) s += cf_get_flat(q, row * L + (t + tau) % L) * cf_get_flat(k, row * L + t);
            worst = fmax(worst, fabs(s - cf_get_flat(r, row * L + tau)));
        }
    CHECK(worst < 1e-10, "autocorr vs the direct sum: %g", worst);
    /* a daily period in hourly data: R peaks at 0, 24, 48, 72 */
    L = 96;
    double *v = malloc((size_t)L * sizeof *v);
    for (int64_t t = 0; t < L; t++) v[t] = sin(6.283185307179586 * (double)t / 24.0);
    cf_tensor *s = from(CF_F64, CF_SHAPE(1, 1, 1, L), v);
    cf_tensor *R = cf_autocorr(ctx, s, s);
    for (int per = 0; per < 2; per++) {
        int64_t d[4] = {-1, -1, -1, -1};
        CHECK(cf_time_delay_agg(ctx, s, R, 4, per == 1, d) != NULL);
        bool seen[4] = {false, false, false, false};
        for (int i = 0; i < 4; i++)
            if (d[i] >= 0 && d[i] % 24 == 0) seen[d[i] / 24] = true;
        CHECK(seen[0] && seen[1] && seen[2] && seen[3], "delays %lld %lld %lld %lld", (long long)d[0], (long long)d[1],
              (long long)d[2], (long long)d[3]);
    }
    CHECK_NEAR(cf_get_flat(R, 24), (double)L / 2, 1e-9);
    CHECK_NEAR(cf_get_flat(R, 12), -(double)L / 2, 1e-9);
    free(v);
    cf_step_reset(ctx);
}

static void test_aggregation_values(void)
{
    double v[4] = {1, 2, 3, 4}, c1[4] = {0, 0, 5, 0}, c2[4] = {0, 1, 5, 0};
    cf_tensor *V = from(CF_F64, CF_SHAPE(1, 1, 1, 4), v);
    int64_t d[2];
    cf_tensor *o = cf_time_delay_agg(ctx, V, from(CF_F64, CF_SHAPE(1, 1, 1, 4), c1), 1, false, d);
    double want1[4] = {3, 4, 1, 2}; /* V[(t + 2) mod 4] */
    CHECK(d[0] == 2);
    for (int i = 0; o && i < 4; i++) CHECK_NEAR(cf_get_flat(o, i), want1[i], 1e-12);
    o = cf_time_delay_agg(ctx, V, from(CF_F64, CF_SHAPE(1, 1, 1, 4), c2), 2, true, d);
    double p0 = 1 / (1 + exp(-4.0)), a[4] = {3, 4, 1, 2}, b[4] = {2, 3, 4, 1};
    CHECK(d[0] == 2 && d[1] == 1);
    for (int i = 0; o && i < 4; i++) CHECK_NEAR(cf_get_flat(o, i), p0 * a[i] + (1 - p0) * b[i], 1e-12);
    /* two samples that prefer different delays: shared in training (the batch mean), per sample in inference */
    double cc[8] = {0, 3, 0, 0, 0, 0, 0, 2}, vv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cf_tensor *C = from(CF_F64, CF_SHAPE(2, 1, 1, 4), cc), *VV = from(CF_F64, CF_SHAPE(2, 1, 1, 4), vv);
    int64_t ds[2], dp[2];
    cf_tensor *shared = cf_time_delay_agg(ctx, VV, C, 1, false, ds), *per = cf_time_delay_agg(ctx, VV, C, 1, true, dp);
    CHECK(ds[0] == 1 && ds[1] == 1 && dp[0] == 1 && dp[1] == 3, "shared %lld %lld, per-sample %lld %lld",
          (long long)ds[0], (long long)ds[1], (long long)dp[0], (long long)dp[1]);
    CHECK(shared && per && cf_get_flat(shared, 4) == 6 && cf_get_flat(per, 4) == 8, "sample 1 rolled by its delay");
    CHECK(cf_time_delay_agg(ctx, VV, C, 5, true, NULL) == NULL);
    CHECK_ERROR_HAS("ntop");
    cf_step_reset(ctx);
}

/* ---- f64 finite differences ---- */
static cf_tensor *gc_decomp(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    (void)user;
    cf_tensor *trend, *s = cf_series_decomp(c, in[0], 5, &trend);
    return cf_add(c, cf_mul_scalar(c, s, 0.7), cf_mul(c, trend, trend));
}
static cf_tensor *gc_autocorr(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    (void)user;
    return cf_autocorr(c, in[0], in[1]);
}
static cf_tensor *gc_agg(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    return cf_time_delay_agg(c, in[0], in[1], 3, user != NULL, NULL);
}
static cf_tensor *gc_ac_layer(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    return cf_autocorr_fwd(c, user, in[0], in[1]);
}

static void gradcheck(const char *op, const char *label, cf_gc_fn fn, const void *user, int n, int ndim,
                      const int64_t *shape)
{
    cf_gc *g = cf_gc_new(ctx, cf_op_lookup(op), false);
    CHECK(g != NULL);
    if (!g) return;
    cf_gc_f64_only(g, true);
    cf_tensor *in[2];
    for (int i = 0; i < n; i++) in[i] = cf_gc_randn(g, ndim, shape);
    CHECK(cf_gc_check(g, label, fn, user, n, in) == CF_OK, "%s: %s", label, cf_last_error());
    CHECK(cf_gc_failures(g) == 0 && cf_gc_target_hits(g) > 0, "%s: %d failures", label, cf_gc_failures(g));
    cf_gc_free(g);
    cf_step_reset(ctx);
}

static void test_gradients(void)
{
    int64_t s3[3] = {2, 9, 3}, s4[4] = {2, 2, 3, 7};
    gradcheck("avg_pool1d", "series_decomp k 5", gc_decomp, NULL, 1, 3, s3);
    gradcheck("rfft", "autocorr L 7", gc_autocorr, NULL, 2, 4, s4);
    gradcheck("roll", "time_delay_agg shared", gc_agg, NULL, 2, 4, s4);
    gradcheck("gather", "time_delay_agg per sample", gc_agg, "", 2, 4, s4);
    /* the layer: queries longer than the keys (zero-padded) and shorter (cut) */
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_autocorr_layer a;
    CHECK(ps && cf_autocorr_init(&a, ps, "ac", 8, 2, 1.0) == CF_OK);
    cf_gc *g = cf_gc_new(ctx, cf_op_lookup("irfft"), false);
    cf_gc_f64_only(g, true);
    cf_tensor *x = cf_gc_randn(g, CF_SHAPE(2, 6, 8)), *m = cf_gc_randn(g, CF_SHAPE(2, 4, 8));
    CHECK(cf_gc_check(g, "autocorr layer L 6, S 4", gc_ac_layer, &a, 2, (cf_tensor *[]){x, m}) == CF_OK, "%s",
          cf_last_error());
    cf_tensor *y = cf_gc_randn(g, CF_SHAPE(2, 4, 8)), *n = cf_gc_randn(g, CF_SHAPE(2, 6, 8));
    CHECK(cf_gc_check(g, "autocorr layer L 4, S 6", gc_ac_layer, &a, 2, (cf_tensor *[]){y, n}) == CF_OK, "%s",
          cf_last_error());
    CHECK(cf_gc_failures(g) == 0);
    cf_gc_free(g);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

/* ---- the forecasters ---- */
static const cf_forecast_config small = {.cin = 2, .time_features = 4, .dim = 8, .heads = 2, .ff = 16,
                                         .enc_layers = 2, .dec_layers = 1, .moving_avg = 5, .factor = 1.0};

static void inputs(int64_t B, int64_t I, int64_t Ld, cf_tensor **x, cf_tensor **xm, cf_tensor **dm, uint64_t seed)
{
    *x = cf_randn(ctx, CF_F64, CF_SHAPE(B, I, 2), seed, 1);
    *xm = cf_mul_scalar(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(B, I, 4), seed, 2), 0.3);
    *dm = cf_mul_scalar(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(B, Ld, 4), seed, 3), 0.3);
}

static double max_diff(cf_tensor *a, cf_tensor *b, int64_t off_b, int64_t n)
{
    double d = a && b ? 0 : INFINITY;
    for (int64_t i = 0; a && b && i < n; i++) d = fmax(d, fabs(cf_get_flat(a, i) - cf_get_flat(b, off_b + i)));
    return d;
}

static void test_train_equals_eval(void)
{
    cf_params *ps = cf_params_new(CF_F64, 7);
    cf_autoformer m;
    CHECK(cf_autoformer_init(&m, ps, "", &small) == CF_OK);
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *x, *xm, *dm;
    inputs(3, 24, 20, &x, &xm, &dm, 11);
    cf_tensor *x0 = cf_slice(ctx, x, 0, 1, 2, 1), *xm0 = cf_slice(ctx, xm, 0, 1, 2, 1), *dm0 = cf_slice(ctx, dm, 0, 1, 2, 1);
    cf_set_training(ctx, true);
    cf_tensor *train1 = cf_autoformer_fwd(ctx, &m, x0, xm0, dm0, 8), *train3 = cf_autoformer_fwd(ctx, &m, x, xm, dm, 8);
    cf_set_training(ctx, false);
    cf_tensor *eval1 = cf_autoformer_fwd(ctx, &m, x0, xm0, dm0, 8), *eval3 = cf_autoformer_fwd(ctx, &m, x, xm, dm, 8);
    CHECK(eval1 && eval1->shape[0] == 1 && eval1->shape[1] == 8 && eval1->shape[2] == 2);
    CHECK(max_diff(train1, eval1, 0, 16) < 1e-12, "batch 1: train %g from eval", max_diff(train1, eval1, 0, 16));
    /* inference: a sample's forecast does not depend on its batch; training shares the delays, so it does */
    CHECK(max_diff(eval1, eval3, 16, 16) < 1e-12, "eval: sample 1 alone vs in a batch of 3");
    CHECK(max_diff(train1, train3, 16, 16) > 1e-9, "train: delays shared across the batch");
    cf_set_grad_enabled(ctx, prev);
    cf_set_training(ctx, true);
    cf_autoformer_free(&m);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

static void test_forecasters(void)
{
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_autoformer a;
    cf_vanilla_forecaster v;
    cf_forecast_config c = small;
    CHECK(cf_autoformer_init(&a, ps, "auto", &c) == CF_OK && cf_vanilla_forecaster_init(&v, ps, "vanilla", &c) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    /* the decoder (4 + 12 steps) longer than the input (8): the cross-correlation zero-pads the keys */
    cf_tensor *x, *xm, *dm;
    inputs(2, 8, 16, &x, &xm, &dm, 5);
    cf_tensor *ya = cf_autoformer_fwd(ctx, &a, x, xm, dm, 12), *yv = cf_vanilla_forecaster_fwd(ctx, &v, x, xm, dm, 12);
    CHECK(ya && yv && ya->shape[1] == 12 && yv->shape[1] == 12 && ya->shape[2] == 2 && yv->shape[2] == 2);
    cf_tensor *loss = ya && yv ? cf_add(ctx, cf_mean(ctx, cf_mul(ctx, ya, ya), 0, NULL, false),
                                        cf_mean(ctx, cf_mul(ctx, yv, yv), 0, NULL, false)) : NULL;
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK);
    double gsum = 0;
    for (int i = 0; i < ps->count; i++)
        if (ps->items[i].value->grad) gsum += fabs(cf_get_flat(ps->items[i].value->grad, 0));
    CHECK(gsum > 0, "gradients reach the parameters");
    /* refusals */
    CHECK(cf_autoformer_fwd(ctx, &a, x, xm, dm, 20) == NULL);
    CHECK_ERROR_HAS("0 <= Ol <= I");
    CHECK(cf_vanilla_forecaster_fwd(ctx, &v, xm, xm, dm, 12) == NULL);
    CHECK_ERROR_HAS("x must be [B, I, 2]");
    cf_autoformer b;
    c.moving_avg = 4;
    CHECK(cf_autoformer_init(&b, ps, "even", &c) != CF_OK);
    CHECK_ERROR_HAS("moving_avg 4 must be odd");
    cf_autoformer_free(&b);
    cf_autoformer_free(&a);
    cf_vanilla_forecaster_free(&v);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    if (!ctx) return 1;
    RUN(test_moving_avg);
    RUN(test_autocorr_values);
    RUN(test_aggregation_values);
    RUN(test_gradients);
    RUN(test_train_equals_eval);
    RUN(test_forecasters);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
