/* The fused residual add + norm ops (add_layer_norm, add_rms_norm): a 2x3 case worked by hand (forward, and
 * backward through both outputs), agreement with the unfused add + norm on random data (gradients accumulated
 * into existing buffers too), and argument errors. */
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

static cf_tensor *leaf(cf_dtype dt, int nd, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_tensor_alloc(dt, nd, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    cf_requires_grad_(t, true);
    return t;
}

static void expect(const char *what, const cf_tensor *t, const double *want, int64_t n, double tol)
{
    if (!t) {
        CHECK(0, "%s: NULL: %s", what, cf_last_error());
        return;
    }
    CHECK(cf_numel(t) == n, "%s: %lld elements, want %lld", what, (long long)cf_numel(t), (long long)n);
    for (int64_t i = 0; i < n && i < cf_numel(t); i++)
        if (!(fabs(cf_get_flat(t, i) - want[i]) <= tol)) {
            CHECK(0, "%s: element %lld is %.9g, want %.9g", what, (long long)i, cf_get_flat(t, i), want[i]);
            return;
        }
    check_passed++;
}

/* x = [[0, 2, 1], [4, 0, 1]], r = [[1, 0, 2], [-4, 2, 3]]: s = [[1, 2, 3], [0, 2, 4]]. Row 0 has mean 2 and
 * variance 2/3, row 1 mean 2 and variance 8/3, so both rows normalise to xhat = [-a, 0, a] with a = sqrt(3/2)
 * (eps 0), and y = xhat * w + b with w = [1, 2, 3], b = [0.5, 0, -0.5].
 * Backward with dL/dy = [[1, 0, 0], [0, 0, 0]] and dL/ds = [[1, 1, 1], [1, 2, 3]]: row 0's norm gradient is
 * rs (gw - mean(gw) - xhat mean(gw xhat)) with gw = g w = [1, 0, 0]: mean(gw) = 1/3, mean(gw xhat) = -a/3, so
 * rs ([1, 0, 0] - 1/3 + [-a^2, 0, a^2] / 3) = a [1/6, -1/3, 1/6]; row 1's is 0. dL/dx = dL/dr = that + dL/ds.
 * dL/dw = sum over rows of g xhat = [-a, 0, 0]; dL/db = sum of g = [1, 0, 0]. */
static void test_hand_case(cf_ctx *c)
{
    const double a = sqrt(1.5);
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        double tol = dt == CF_F32 ? 2e-6 : 1e-14;
        cf_tensor *x = leaf(dt, CF_SHAPE(2, 3), (double[]){0, 2, 1, 4, 0, 1});
        cf_tensor *r = leaf(dt, CF_SHAPE(2, 3), (double[]){1, 0, 2, -4, 2, 3});
        cf_tensor *w = leaf(dt, CF_SHAPE(3), (double[]){1, 2, 3}), *b = leaf(dt, CF_SHAPE(3), (double[]){0.5, 0, -0.5});
        cf_tensor *s = NULL, *y = cf_add_layer_norm(c, x, r, w, b, 0, &s);
        double yr[3] = {-a + 0.5, 0, 3 * a - 0.5};
        expect("add_layer_norm y", y, (double[]){yr[0], yr[1], yr[2], yr[0], yr[1], yr[2]}, 6, tol * 4);
        expect("add_layer_norm s", s, (double[]){1, 2, 3, 0, 2, 4}, 6, 0);
        cf_tensor *both = cf_concat(c, 2, (cf_tensor *[]){y, s}, 0);
        cf_tensor *seed = from(c, dt, CF_SHAPE(4, 3), (double[]){1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 3});
        CHECK(both && cf_backward(c, both, seed) == CF_OK, "add_layer_norm backward: %s", cf_last_error());
        double gx[6] = {a / 6 + 1, -a / 3 + 1, a / 6 + 1, 1, 2, 3};
        expect("add_layer_norm dx", x->grad, gx, 6, tol * 4);
        expect("add_layer_norm dr", r->grad, gx, 6, tol * 4);
        expect("add_layer_norm dw", w->grad, (double[]){-a, 0, 0}, 3, tol * 4);
        expect("add_layer_norm db", b->grad, (double[]){1, 0, 0}, 3, tol);
        cf_tensor_free(x), cf_tensor_free(r), cf_tensor_free(w), cf_tensor_free(b);
        cf_step_reset(c);

        /* rms: x + r = [[3, 4], [0, 2]]: mean squares 12.5 and 2 */
        cf_tensor *x2 = from(c, dt, CF_SHAPE(2, 2), (double[]){1, 4, -1, 1}), *r2 = from(c, dt, CF_SHAPE(2, 2), (double[]){2, 0, 1, 1});
        cf_tensor *w2 = from(c, dt, CF_SHAPE(2), (double[]){2, 0.5});
        double q = 1 / sqrt(12.5);
        expect("add_rms_norm y", cf_add_rms_norm(c, x2, r2, w2, 0, NULL), (double[]){6 * q, 2 * q, 0, sqrt(2) / 2}, 4, tol);
        cf_step_reset(c);
    }
}

/* The fused op and cf_add + the norm give one result: outputs and every gradient, with x also read by a later op
 * (so its gradient exists when the fused backward runs and is added to) and y and s both used. */
static void test_matches_unfused(cf_ctx *c, bool center)
{
    const char *name = center ? "add_layer_norm" : "add_rms_norm";
    int64_t M = 37, D = 24;
    cf_tensor *p[4], *q[4]; /* x, r, w, b for the fused and the unfused run */
    for (int k = 0; k < 4; k++) {
        int64_t shape[2] = {k < 2 ? M : D, D};
        int nd = k < 2 ? 2 : 1;
        cf_tensor *t = cf_randn(c, CF_F64, nd, k < 2 ? shape : shape + 1, 7, (uint64_t)k);
        p[k] = cf_tensor_alloc(CF_F64, nd, t->shape), q[k] = cf_tensor_alloc(CF_F64, nd, t->shape);
        cf_copy_(p[k], t), cf_copy_(q[k], t);
        cf_requires_grad_(p[k], true), cf_requires_grad_(q[k], true);
    }
    cf_tensor *gy = cf_randn(c, CF_F64, CF_SHAPE(M, D), 8, 0), *gs = cf_randn(c, CF_F64, CF_SHAPE(M, D), 8, 1);
    cf_tensor *gx = cf_randn(c, CF_F64, CF_SHAPE(M, D), 8, 2);
    cf_tensor *out[2][2];
    for (int run = 0; run < 2; run++) {
        cf_tensor **t = run ? q : p, *s = NULL, *y;
        if (run == 0)
            y = center ? cf_add_layer_norm(c, t[0], t[1], t[2], t[3], 1e-5, &s) : cf_add_rms_norm(c, t[0], t[1], t[2], 1e-5, &s);
        else
            s = cf_add(c, t[0], t[1]), y = center ? cf_layer_norm(c, s, 1, t[2], t[3], 1e-5) : cf_rms_norm(c, s, t[2], 1e-5);
        cf_tensor *loss = cf_add(c, cf_add(c, cf_sum(c, cf_mul(c, y, gy), 0, NULL, false), cf_sum(c, cf_mul(c, s, gs), 0, NULL, false)),
                                 cf_sum(c, cf_mul(c, t[0], gx), 0, NULL, false));
        CHECK(loss && cf_backward(c, loss, NULL) == CF_OK, "%s run %d: %s", name, run, cf_last_error());
        out[run][0] = y, out[run][1] = s;
    }
    const char *what[] = {"y", "s", "dx", "dr", "dw", "db"};
    for (int k = 0; k < 6; k++) {
        if (!center && k == 5) break;
        const cf_tensor *a = k < 2 ? out[0][k] : p[k - 2]->grad, *b = k < 2 ? out[1][k] : q[k - 2]->grad;
        double worst = a && b ? 0 : INFINITY;
        for (int64_t i = 0; a && b && i < cf_numel(a); i++) worst = fmax(worst, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
        CHECK(worst <= 1e-12, "%s: %s differs from the unfused ops by %g", name, what[k], worst);
    }
    for (int k = 0; k < 4; k++) cf_tensor_free(p[k]), cf_tensor_free(q[k]);
    cf_step_reset(c);
}

static void test_errors(cf_ctx *c)
{
    cf_tensor *x = cf_zeros(c, CF_F32, CF_SHAPE(2, 3)), *r = cf_zeros(c, CF_F32, CF_SHAPE(3, 2));
    cf_tensor *w = cf_zeros(c, CF_F32, CF_SHAPE(2)), *x64 = cf_zeros(c, CF_F64, CF_SHAPE(2, 3));
    cf_tensor *s = x;
    CHECK(!cf_add_layer_norm(c, x, r, NULL, NULL, 1e-5, &s) && strstr(cf_last_error(), "does not have the shape"),
          "shape mismatch: %s", cf_last_error());
    CHECK(s == NULL, "a failed call leaves *sum_out NULL");
    cf_clear_error();
    CHECK(!cf_add_layer_norm(c, x, x64, NULL, NULL, 1e-5, NULL) && strstr(cf_last_error(), "dtypes differ"),
          "dtype mismatch: %s", cf_last_error());
    cf_clear_error();
    CHECK(!cf_add_rms_norm(c, x, x, NULL, 1e-5, NULL) && strstr(cf_last_error(), "one tensor"), "x + x: %s",
          cf_last_error());
    cf_clear_error();
    CHECK(!cf_add_rms_norm(c, x, cf_zeros(c, CF_F32, CF_SHAPE(2, 3)), w, 1e-5, NULL) &&
              strstr(cf_last_error(), "add_rms_norm: weight"),
          "weight shape: %s", cf_last_error());
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
    test_matches_unfused(c, true);
    test_matches_unfused(c, false);
    test_errors(c);
    cf_ctx_free(c);
    TEST_MAIN_END();
}
