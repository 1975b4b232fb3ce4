/* The fused linear_gelu op: forward and backward against hand-computed values, and the same bits as the
 * unfused cf_gelu(cf_linear(...)) in f32 and f64 (the layers switch to it automatically, so a model must
 * train as before), with and without a bias; the errors name the op. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static cf_tensor *from(cf_ctx *c, cf_dtype dt, int nd, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_empty(c, dt, nd, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    return t;
}

static void expect(const char *what, const cf_tensor *t, const double *want, int64_t n, double tol)
{
    if (!t || cf_numel(t) != n) {
        CHECK(0, "%s: %s", what, t ? "wrong size" : cf_last_error());
        return;
    }
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(cf_get_flat(t, i) - want[i]) <= tol)) {
            CHECK(0, "%s: element %lld is %.12g, want %.12g", what, (long long)i, cf_get_flat(t, i), want[i]);
            return;
        }
    check_passed++;
}

static bool same_bits(const cf_tensor *a, const cf_tensor *b)
{
    if (!a || !b || cf_numel(a) != cf_numel(b)) return false;
    for (int64_t i = 0; i < cf_numel(a); i++) {
        double x = cf_get_flat(a, i), y = cf_get_flat(b, i);
        if (memcmp(&x, &y, sizeof x) != 0) return false;
    }
    return true;
}

/* x = [1, 2], w = [[1, 0], [0, 1], [1, 1]], b = [0, -1, 0.5]: pre-activation [1, 1, 3.5];
 * gelu(1) = 0.841344746068543, gelu(3.5) = 3.49918579822338; gelu'(1) = 1.08331547058769,
 * gelu'(3.5) = 1.00282176035362 (Phi(x) + x phi(x)). With the loss sum(y): db = gelu'(pre),
 * dx = sum_j gelu'(pre_j) w[j, :] = [g1 + g35, g1 + g35], dw[j, :] = gelu'(pre_j) x. */
static void test_hand_case(cf_ctx *c)
{
    const double g1 = 1.08331547058769, g35 = 1.00282176035362;
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        double tol = dt == CF_F32 ? 2e-6 : 1e-12;
        cf_tensor *x = from(c, dt, CF_SHAPE(1, 2), (double[]){1, 2});
        cf_tensor *w = from(c, dt, CF_SHAPE(3, 2), (double[]){1, 0, 0, 1, 1, 1});
        cf_tensor *b = from(c, dt, CF_SHAPE(3), (double[]){0, -1, 0.5});
        cf_requires_grad_(x, true), cf_requires_grad_(w, true), cf_requires_grad_(b, true);
        cf_tensor *y = cf_linear_gelu(c, x, w, b);
        expect("forward", y, (double[]){0.841344746068543, 0.841344746068543, 3.49918579822338}, 3, tol);
        CHECK(cf_backward(c, cf_sum(c, y, CF_ALL_DIMS, false), NULL) == CF_OK, "backward: %s", cf_last_error());
        expect("bias grad", b->grad, (double[]){g1, g1, g35}, 3, tol);
        expect("input grad", x->grad, (double[]){g1 + g35, g1 + g35}, 2, tol);
        expect("weight grad", w->grad, (double[]){g1, 2 * g1, g1, 2 * g1, g35, 2 * g35}, 6, tol);
        cf_step_reset(c);
    }
}

/* Fused and unfused on the same random operands: equal outputs and gradients, bit for bit. */
static void test_same_as_unfused(cf_ctx *c)
{
    for (int dt = CF_F32; dt <= CF_F64; dt++)
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            cf_tensor *res[2][4] = {{0}};
            for (int fused = 0; fused <= 1; fused++) {
                cf_tensor *x = cf_randn(c, dt, CF_SHAPE(2, 7, 16), 11, 0), *w = cf_randn(c, dt, CF_SHAPE(24, 16), 12, 0);
                cf_tensor *b = with_bias ? cf_randn(c, dt, CF_SHAPE(24), 13, 0) : NULL;
                cf_requires_grad_(x, true), cf_requires_grad_(w, true);
                if (b) cf_requires_grad_(b, true);
                cf_tensor *y = fused ? cf_linear_gelu(c, x, w, b) : cf_gelu(c, cf_linear(c, x, w, b));
                cf_tensor *up = cf_randn(c, dt, CF_SHAPE(2, 7, 24), 14, 0); /* a non-uniform upstream gradient */
                CHECK(cf_backward(c, cf_sum(c, cf_mul(c, y, up), CF_ALL_DIMS, false), NULL) == CF_OK, "backward: %s", cf_last_error());
                res[fused][0] = y, res[fused][1] = x->grad, res[fused][2] = w->grad, res[fused][3] = b ? b->grad : y;
            }
            static const char *names[4] = {"output", "input grad", "weight grad", "bias grad"};
            for (int k = 0; k < 4; k++)
                CHECK(same_bits(res[0][k], res[1][k]), "%s %s bias: fused %s differs from gelu(linear)",
                      dt == CF_F32 ? "f32" : "f64", with_bias ? "with" : "without", names[k]);
            cf_step_reset(c);
        }
}

static void test_errors(cf_ctx *c)
{
    cf_tensor *x = cf_zeros(c, CF_F32, CF_SHAPE(2, 3)), *w = cf_zeros(c, CF_F32, CF_SHAPE(4, 5));
    CHECK(cf_linear_gelu(c, x, w, NULL) == NULL && strstr(cf_last_error(), "linear_gelu: input [2, 3] f32 does not fit weight"),
          "shape error: %s", cf_last_error());
    cf_clear_error();
    cf_tensor *w2 = cf_zeros(c, CF_F32, CF_SHAPE(4, 3)), *b = cf_zeros(c, CF_F32, CF_SHAPE(5));
    CHECK(cf_linear_gelu(c, x, w2, b) == NULL && strstr(cf_last_error(), "linear_gelu: bias [5] f32 does not fit"),
          "bias error: %s", cf_last_error());
    cf_clear_error();
    cf_step_reset(c);
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    if (!c) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    test_hand_case(c);
    test_same_as_unfused(c);
    test_errors(c);
    cf_ctx_free(c);
    TEST_MAIN_END();
}
