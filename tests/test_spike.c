/* heaviside / sign: forward values (0 maps to +1 / 1, NaN passes), the backward against the surrogate
 * formulas at random points, the normalisation (smooth surrogates integrate to 1 for heaviside and 2
 * for sign), strided inputs, kind names, argument errors. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


#define PI 3.14159265358979323846

static double sigmoid(double v) { return 1 / (1 + exp(-v)); }

/* heaviside's surrogate derivative, written out from the header's formulas */
static double d_heaviside(cf_surrogate k, double a, double x)
{
    switch (k) {
    case CF_SURROGATE_STE: return 1;
    case CF_SURROGATE_STE_CLIP: return fabs(x) <= 1;
    case CF_SURROGATE_SIGMOID: return a * sigmoid(a * x) * (1 - sigmoid(a * x));
    case CF_SURROGATE_ATAN: return a / 2 / (1 + pow(PI / 2 * a * x, 2));
    default: return a * fmax(0, 1 - fabs(a * x));
    }
}

static bool is_ste(cf_surrogate k) { return k == CF_SURROGATE_STE || k == CF_SURROGATE_STE_CLIP; }

static cf_tensor *step(cf_ctx *ctx, bool is_sign, cf_tensor *x, cf_surrogate k, double a)
{
    return is_sign ? cf_sign(ctx, x, k, a) : cf_heaviside(ctx, x, k, a);
}

static void test_forward(cf_ctx *ctx, cf_dtype dt)
{
    double v[6] = {-2, -1e-30, 0, 1e-30, 3, NAN};
    cf_tensor *x = cf_empty(ctx, dt, CF_SHAPE(6));
    for (int i = 0; i < 6; i++) cf_set_flat(x, i, v[i]);
    cf_tensor *h = cf_heaviside(ctx, x, CF_SURROGATE_ATAN, 2), *s = cf_sign(ctx, x, CF_SURROGATE_STE, 0);
    double hw[5] = {0, 0, 1, 1, 1}, sw[5] = {-1, -1, 1, 1, 1};
    bool ok = h && s && h->dtype == dt && s->dtype == dt;
    for (int i = 0; ok && i < 5; i++) ok = cf_get_flat(h, i) == hw[i] && cf_get_flat(s, i) == sw[i];
    CHECK(ok, "%s forward values (heaviside(0) = 1, sign(0) = +1)", cf_dtype_name(dt));
    CHECK(h && s && isnan(cf_get_flat(h, 5)) && isnan(cf_get_flat(s, 5)), "%s NaN does not pass through",
          cf_dtype_name(dt));
}

/* backward at random points (and 0, +-1) against g * d(x) */
static void test_backward(cf_ctx *ctx, cf_dtype dt, bool is_sign, cf_surrogate k, double a)
{
    cf_tensor *x = cf_randn(ctx, dt, CF_SHAPE(200), 3, (uint64_t)k * 10 + is_sign);
    cf_set_flat(x, 0, 0), cf_set_flat(x, 1, 1), cf_set_flat(x, 2, -1);
    cf_requires_grad_(x, true);
    cf_tensor *g = cf_randn(ctx, dt, CF_SHAPE(200), 4, (uint64_t)k);
    cf_tensor *y = step(ctx, is_sign, x, k, a);
    CHECK(y && y->requires_grad, "%s was not recorded", is_sign ? "sign" : "heaviside");
    if (!y || cf_backward(ctx, y, g) != CF_OK) return;
    double worst = 0;
    for (int i = 0; i < 200; i++) {
        double xv = cf_get_flat(x, i), d = d_heaviside(k, a, xv) * (is_sign && !is_ste(k) ? 2 : 1);
        double want = cf_get_flat(g, i) * d;
        worst = fmax(worst, fabs(cf_get_flat(x->grad, i) - want) / (1 + fabs(want)));
    }
    CHECK(worst < (dt == CF_F32 ? 1e-5 : 1e-13), "%s %s %s alpha %g: backward off the surrogate by %g",
          cf_dtype_name(dt), is_sign ? "sign" : "heaviside", cf_surrogate_name(k), a, worst);
}

/* sum of d(x) dx over a wide grid: 1 for heaviside's smooth surrogates, 2 for sign's */
static void test_normalisation(cf_ctx *ctx, bool is_sign, cf_surrogate k, double a)
{
    const int64_t n = 40001;
    const double lo = -400, dx = 0.02;
    cf_tensor *x = cf_empty(ctx, CF_F64, CF_SHAPE(n));
    for (int64_t i = 0; i < n; i++) cf_set_flat(x, i, lo + dx * (double)i);
    cf_requires_grad_(x, true);
    cf_tensor *y = step(ctx, is_sign, x, k, a);
    if (!y || cf_backward(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(n), 1.0)) != CF_OK) {
        CHECK(0, "normalisation run: %s", cf_last_error());
        return;
    }
    double area = 0;
    for (int64_t i = 0; i < n; i++) area += cf_get_flat(x->grad, i) * dx;
    /* the jump of the step, less atan's slowly decaying tails outside the grid */
    double want = (is_sign ? 2 : 1) * (k == CF_SURROGATE_ATAN ? 2 / PI * atan(PI / 2 * a * -lo) : 1);
    CHECK(fabs(area - want) < 1e-4 * want, "%s %s alpha %g integrates to %.5f, want %g", is_sign ? "sign" : "heaviside",
          cf_surrogate_name(k), a, area, want);
}

static void test_strided(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(3, 4), 5, 5);
    cf_requires_grad_(x, true);
    cf_tensor *xt = cf_transpose(ctx, x, 0, 1);
    cf_tensor *y = cf_sign(ctx, xt, CF_SURROGATE_SIGMOID, 3);
    bool ok = y && cf_backward(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(4, 3), 1.0)) == CF_OK;
    for (int64_t i = 0; ok && i < 3; i++)
        for (int64_t j = 0; ok && j < 4; j++) {
            double xv = cf_get_flat(x, i * 4 + j);
            ok = cf_get_flat(y, j * 3 + i) == (xv >= 0 ? 1 : -1) &&
                 fabs(cf_get_flat(x->grad, i * 4 + j) - 2 * d_heaviside(CF_SURROGATE_SIGMOID, 3, xv)) < 1e-13;
        }
    CHECK(ok, "sign of a transposed view");
}

static void expect_error(cf_tensor *t, cf_status st, const char *needle, const char *what)
{
    CHECK(t == NULL && cf_last_status() == st && strstr(cf_last_error(), needle) != NULL,
          "%s: got status %s, message \"%s\"", what, cf_status_name(cf_last_status()), cf_last_error());
    cf_clear_error();
}

static void test_names_and_errors(cf_ctx *ctx)
{
    bool ok = true;
    for (int k = 0; k < CF_SURROGATE_COUNT; k++) {
        cf_surrogate p;
        ok &= cf_surrogate_parse(cf_surrogate_name((cf_surrogate)k), &p) && p == (cf_surrogate)k;
    }
    cf_surrogate p;
    CHECK(ok && !cf_surrogate_parse("fast_sigmoid", &p) && strcmp(cf_surrogate_name(CF_SURROGATE_COUNT), "?") == 0,
          "surrogate names do not round-trip");
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(3), 1, 1);
    expect_error(cf_heaviside(ctx, x, CF_SURROGATE_ATAN, 0), CF_ERR_ARG,
                 "heaviside: surrogate atan needs a finite alpha > 0, got 0", "zero alpha");
    expect_error(cf_sign(ctx, x, CF_SURROGATE_TRIANGLE, INFINITY), CF_ERR_ARG, "sign: surrogate triangle needs a finite",
                 "infinite alpha");
    expect_error(cf_sign(ctx, x, (cf_surrogate)17, 1), CF_ERR_ARG, "sign: unknown surrogate kind 17", "bad kind");
    expect_error(cf_heaviside(ctx, cf_arange(ctx, CF_I32, 3), CF_SURROGATE_STE, 1), CF_ERR_DTYPE,
                 "heaviside: expected an f32 or f64", "integer input");
    CHECK(cf_sign(ctx, x, CF_SURROGATE_STE, -5) != NULL, "STE must ignore alpha");
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    static const double alphas[] = {0.5, 2, 5};
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        test_forward(ctx, dt);
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < CF_SURROGATE_COUNT; k++)
                for (int a = 0; a < 3; a++) {
                    test_backward(ctx, dt, s, (cf_surrogate)k, alphas[a]);
                    cf_step_reset(ctx); /* a fresh tape: backward walks every earlier node with a gradient */
                }
    }
    for (int s = 0; s < 2; s++)
        for (int k = CF_SURROGATE_SIGMOID; k < CF_SURROGATE_COUNT; k++)
            for (int a = 0; a < 3; a++) {
                test_normalisation(ctx, s, (cf_surrogate)k, alphas[a]);
                cf_step_reset(ctx);
            }
    test_strided(ctx);
    test_names_and_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
