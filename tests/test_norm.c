/* Forward values of the norm ops against hand-computed cases, batch_norm's running-stat update,
 * numerics (large offsets in f32), determinism across thread counts, and argument errors. */
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

/* t's values equal want[] within tol. */
static void expect(const char *what, const cf_tensor *t, const double *want, int64_t n, double tol)
{
    if (!t) {
        CHECK(0, "%s: NULL result: %s", what, cf_last_error());
        return;
    }
    CHECK(cf_numel(t) == n, "%s: %lld elements, want %lld", what, (long long)cf_numel(t), (long long)n);
    if (cf_numel(t) != n) return;
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        if (!(fabs(v - want[i]) <= tol)) {
            CHECK(0, "%s: element %lld is %.9g, want %.9g", what, (long long)i, v, want[i]);
            return;
        }
    }
    check_passed++;
}

/* The last call failed with status st and a message containing each of the given pieces. */
static void expect_error(const char *what, const cf_tensor *r, cf_status st, const char *p1, const char *p2)
{
    const char *msg = cf_last_error();
    CHECK(r == NULL, "%s: expected an error, got a result", what);
    CHECK(cf_last_status() == st, "%s: status %s, want %s (%s)", what, cf_status_name(cf_last_status()),
          cf_status_name(st), msg);
    CHECK(strstr(msg, p1) != NULL, "%s: message \"%s\" lacks \"%s\"", what, msg, p1);
    if (p2) CHECK(strstr(msg, p2) != NULL, "%s: message \"%s\" lacks \"%s\"", what, msg, p2);
    cf_clear_error();
}

static void test_layer_norm(cf_ctx *c)
{
    /* row [1, 2, 3, 4]: mean 2.5, variance 1.25; (x - 2.5) / sqrt(1.25) */
    const double k = 1 / sqrt(1.25);
    const double plain[4] = {-1.5 * k, -0.5 * k, 0.5 * k, 1.5 * k};
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        double tol = dt == CF_F32 ? 1e-6 : 1e-14;
        cf_tensor *x = from(c, dt, CF_SHAPE(1, 4), (double[]){1, 2, 3, 4});
        expect("layer_norm row", cf_layer_norm(c, x, 1, NULL, NULL, 0), plain, 4, tol);
        cf_tensor *w = from(c, dt, CF_SHAPE(4), (double[]){1, 2, -1, 0.5});
        cf_tensor *b = from(c, dt, CF_SHAPE(4), (double[]){0, 1, 2, 3});
        double aff[4];
        for (int i = 0; i < 4; i++) aff[i] = plain[i] * cf_get_flat(w, i) + cf_get_flat(b, i);
        expect("layer_norm row, affine", cf_layer_norm(c, x, 1, w, b, 0), aff, 4, tol * 4);
        /* eps enters under the root: var 1.25 + 0.75 = 2 */
        const double e[4] = {-1.5 / sqrt(2), -0.5 / sqrt(2), 0.5 / sqrt(2), 1.5 / sqrt(2)};
        expect("layer_norm eps", cf_layer_norm(c, x, 1, NULL, NULL, 0.75), e, 4, tol);
        /* two dims normalised together equal one flattened row */
        cf_tensor *x2 = from(c, dt, CF_SHAPE(1, 2, 2), (double[]){1, 2, 3, 4});
        expect("layer_norm over 2 dims", cf_layer_norm(c, x2, 2, NULL, NULL, 0), plain, 4, tol);
    }
    /* a large common offset in f32: sum(x^2) - n mean^2 would lose every digit here */
    cf_tensor *big = from(c, CF_F32, CF_SHAPE(4), (double[]){10001, 10002, 10003, 10004});
    expect("layer_norm f32 offset 1e4", cf_layer_norm(c, big, 1, NULL, NULL, 0), plain, 4, 1e-3);
    /* a long row (several statistics chunks), constant plus a +-1 pattern: mean 7, std 1 */
    int64_t n = 10000;
    cf_tensor *row = cf_empty(c, CF_F32, 1, &n);
    double *want = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) cf_set_flat(row, i, 7 + (i % 2 ? 1 : -1)), want[i] = i % 2 ? 1 : -1;
    expect("layer_norm long row", cf_layer_norm(c, row, 1, NULL, NULL, 0), want, n, 1e-5);
    free(want);
}

/* Only the parameters require grad: their gradients are sum(g * xhat) and sum(g) over rows. */
static void test_param_grads(cf_ctx *c)
{
    const double k = 1 / sqrt(1.25);
    cf_tensor *x = from(c, CF_F64, CF_SHAPE(2, 4), (double[]){1, 2, 3, 4, 4, 3, 2, 1});
    cf_tensor *w = cf_tensor_alloc(CF_F64, CF_SHAPE(4)), *b = cf_tensor_alloc(CF_F64, CF_SHAPE(4));
    cf_fill_(w, 1.0);
    cf_requires_grad_(w, true), cf_requires_grad_(b, true);
    cf_tensor *y = cf_layer_norm(c, x, 1, w, b, 0);
    cf_tensor *seed = from(c, CF_F64, CF_SHAPE(2, 4), (double[]){1, 1, 1, 1, 2, 2, 2, 2});
    CHECK(y && cf_backward(c, y, seed) == CF_OK, "layer_norm param grads: %s", cf_last_error());
    /* row 1's xhat is row 0's reversed, weighted by 2 */
    expect("layer_norm weight grad", w->grad, (double[]){-1.5 * k + 3 * k, -0.5 * k + k, 0.5 * k - k, 1.5 * k - 3 * k},
           4, 1e-12);
    expect("layer_norm bias grad", b->grad, (double[]){3, 3, 3, 3}, 4, 1e-12);
    CHECK(x->grad == NULL, "layer_norm: no grad for an input that does not require it");
    cf_zero_grad(w), cf_zero_grad(b);
    /* batch_norm eval, weight 1: weight grad sum(g * (x - rm) / sqrt(rv)) per channel, bias grad sum(g) */
    cf_tensor *x2 = from(c, CF_F64, CF_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    cf_tensor *w2 = cf_tensor_alloc(CF_F64, CF_SHAPE(2)), *b2 = cf_tensor_alloc(CF_F64, CF_SHAPE(2));
    cf_fill_(w2, 1.0);
    cf_requires_grad_(w2, true), cf_requires_grad_(b2, true);
    cf_tensor *rm = from(c, CF_F64, CF_SHAPE(2), (double[]){1, 0}), *rv = from(c, CF_F64, CF_SHAPE(2), (double[]){4, 1});
    cf_tensor *z = cf_batch_norm(c, x2, w2, b2, rm, rv, false, 0.1, 0);
    CHECK(z && cf_backward(c, z, cf_full(c, CF_F64, CF_SHAPE(2, 2), 1.0)) == CF_OK, "batch_norm eval param grads: %s",
          cf_last_error());
    expect("batch_norm eval weight grad", w2->grad, (double[]){(0 + 2) / 2.0, 2 + 4}, 2, 1e-12);
    expect("batch_norm eval bias grad", b2->grad, (double[]){2, 2}, 2, 1e-12);
    cf_tensor_free(w), cf_tensor_free(b), cf_tensor_free(w2), cf_tensor_free(b2);
    cf_step_reset(c);
}

static void test_rms_norm(cf_ctx *c)
{
    /* [3, 4]: mean square 12.5 */
    double r = 1 / sqrt(12.5);
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        double tol = dt == CF_F32 ? 1e-6 : 1e-14;
        cf_tensor *x = from(c, dt, CF_SHAPE(2, 2), (double[]){3, 4, 0, 2});
        expect("rms_norm", cf_rms_norm(c, x, NULL, 0), (double[]){3 * r, 4 * r, 0, sqrt(2)}, 4, tol);
        cf_tensor *w = from(c, dt, CF_SHAPE(2), (double[]){2, 0.5});
        expect("rms_norm weight", cf_rms_norm(c, x, w, 0), (double[]){6 * r, 2 * r, 0, sqrt(2) / 2}, 4, tol);
        /* eps: [0, 2] has mean square 2; + 2 = 4 */
        expect("rms_norm eps", cf_rms_norm(c, x, NULL, 2), (double[]){3 / sqrt(14.5), 4 / sqrt(14.5), 0, 1}, 4, tol);
    }
}

static void test_batch_norm(cf_ctx *c)
{
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        double tol = dt == CF_F32 ? 1e-6 : 1e-13;
        /* [N=4, C=2]: channel 0 = 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3);
         * channel 1 = 2, 2, 2, 6 (mean 3, biased var 3, unbiased 4) */
        cf_tensor *x = from(c, dt, CF_SHAPE(4, 2), (double[]){1, 2, 2, 2, 3, 2, 4, 6});
        cf_tensor *rm = cf_tensor_alloc(dt, CF_SHAPE(2)), *rv = cf_tensor_alloc(dt, CF_SHAPE(2));
        cf_fill_(rv, 1.0);
        cf_tensor *w = from(c, dt, CF_SHAPE(2), (double[]){2, 1});
        cf_tensor *b = from(c, dt, CF_SHAPE(2), (double[]){0, -1});
        cf_tensor *y = cf_batch_norm(c, x, w, b, rm, rv, true, 0.1, 0);
        double a0 = 2 / sqrt(1.25), a1 = 1 / sqrt(3.0);
        expect("batch_norm training output", y,
               (double[]){-1.5 * a0, -a1 - 1, -0.5 * a0, -a1 - 1, 0.5 * a0, -a1 - 1, 1.5 * a0, 3 * a1 - 1}, 8, tol * 4);
        expect("batch_norm running_mean after one step", rm, (double[]){0.25, 0.3}, 2, tol);
        expect("batch_norm running_var after one step (unbiased)", rv, (double[]){0.9 + 0.1 * 5 / 3.0, 0.9 + 0.4}, 2,
               tol);
        /* a second step moves them again: 0.9 * old + 0.1 * batch */
        cf_batch_norm(c, x, w, b, rm, rv, true, 0.1, 0);
        expect("batch_norm running_mean after two steps", rm, (double[]){0.9 * 0.25 + 0.25, 0.9 * 0.3 + 0.3}, 2, tol);
        /* eval: the running statistics normalise */
        double m0 = cf_get_flat(rm, 0), m1 = cf_get_flat(rm, 1), v0 = cf_get_flat(rv, 0), v1 = cf_get_flat(rv, 1);
        cf_tensor *ye = cf_batch_norm(c, x, w, b, rm, rv, false, 0.1, 1e-5);
        double want[8];
        for (int i = 0; i < 4; i++) {
            want[2 * i] = (cf_get_flat(x, 2 * i) - m0) / sqrt(v0 + 1e-5) * 2;
            want[2 * i + 1] = (cf_get_flat(x, 2 * i + 1) - m1) / sqrt(v1 + 1e-5) - 1;
        }
        expect("batch_norm eval output", ye, want, 8, tol * 8);
        CHECK(cf_get_flat(rm, 0) == m0 && cf_get_flat(rv, 1) == v1, "batch_norm eval must not touch running stats");
        /* momentum 1 replaces the running stats by the batch's */
        cf_batch_norm(c, x, NULL, NULL, rm, rv, true, 1.0, 0);
        expect("batch_norm momentum 1", rv, (double[]){5 / 3.0, 4}, 2, tol);
        /* [N, C, L]: statistics span N and L */
        cf_tensor *x3 = from(c, dt, CF_SHAPE(2, 1, 2), (double[]){1, 2, 3, 4});
        expect("batch_norm [N, C, L]", cf_batch_norm(c, x3, NULL, NULL, NULL, NULL, true, 0.1, 0),
               (double[]){-1.5 / sqrt(1.25), -0.5 / sqrt(1.25), 0.5 / sqrt(1.25), 1.5 / sqrt(1.25)}, 4, tol);
        cf_tensor_free(rm);
        cf_tensor_free(rv);
    }

    /* training with grad: the running stats update, stay grad-free, and backward still works */
    cf_tensor *x = cf_tensor_alloc(CF_F64, CF_SHAPE(3, 2));
    for (int i = 0; i < 6; i++) cf_set_flat(x, i, i * i);
    cf_requires_grad_(x, true);
    cf_tensor *rm = cf_tensor_alloc(CF_F64, CF_SHAPE(2)), *rv = cf_tensor_alloc(CF_F64, CF_SHAPE(2));
    cf_tensor *y = cf_batch_norm(c, x, NULL, NULL, rm, rv, true, 0.5, 1e-5);
    CHECK(y && y->requires_grad && !rm->requires_grad && !rv->requires_grad, "batch_norm: grad flags");
    CHECK(y && cf_backward(c, y, cf_full(c, CF_F64, CF_SHAPE(3, 2), 1.0)) == CF_OK, "batch_norm backward: %s",
          cf_last_error());
    /* d/dx of sum(xhat) is 0 in training (the mean absorbs a uniform shift) */
    expect("batch_norm grad of sum", x->grad, (double[]){0, 0, 0, 0, 0, 0}, 6, 1e-9);
    cf_tensor_free(x);
    cf_tensor_free(rm);
    cf_tensor_free(rv);
}

static void test_group_norm(cf_ctx *c)
{
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        double tol = dt == CF_F32 ? 1e-6 : 1e-14;
        /* [1, 4, 1] in 2 groups: {1, 2} and {3, 5} */
        cf_tensor *x = from(c, dt, CF_SHAPE(1, 4, 1), (double[]){1, 2, 3, 5});
        expect("group_norm 2 groups", cf_group_norm(c, x, 2, NULL, NULL, 0), (double[]){-1, 1, -1, 1}, 4, tol);
        cf_tensor *w = from(c, dt, CF_SHAPE(4), (double[]){1, 2, 3, 4});
        cf_tensor *b = from(c, dt, CF_SHAPE(4), (double[]){0, 0, 1, 1});
        expect("group_norm affine per channel", cf_group_norm(c, x, 2, w, b, 0), (double[]){-1, 2, -2, 5}, 4, tol);
        /* one group: layer norm over C and the spatial dims */
        cf_tensor *x2 = from(c, dt, CF_SHAPE(1, 2, 2), (double[]){1, 2, 3, 4});
        double k = 1 / sqrt(1.25);
        expect("group_norm 1 group", cf_group_norm(c, x2, 1, NULL, NULL, 0),
               (double[]){-1.5 * k, -0.5 * k, 0.5 * k, 1.5 * k}, 4, tol);
    }
}

/* Weight and input gradients of layer_norm and batch_norm are the same bits on 1 and 2 threads. */
static void test_determinism(cf_ctx *c)
{
    int64_t M = 400, D = 96; /* above CF_PAR_MIN elements, so the loops do run in parallel */
    double *ref[3] = {0};
    for (int threads = 1; threads <= 2; threads++) {
        cf_set_threads(c, threads);
        cf_tensor *x = cf_randn(c, CF_F32, CF_SHAPE(M, D), 5, 1), *s = cf_randn(c, CF_F32, CF_SHAPE(M, D), 5, 2);
        cf_tensor *w = cf_randn(c, CF_F32, CF_SHAPE(D), 5, 3), *b = cf_randn(c, CF_F32, CF_SHAPE(D), 5, 4);
        cf_requires_grad_(x, true), cf_requires_grad_(w, true), cf_requires_grad_(b, true);
        cf_tensor *y = cf_layer_norm(c, x, 1, w, b, 1e-5);
        cf_tensor *x4 = cf_reshape(c, x, CF_SHAPE(40, 10, 6, 16));
        cf_tensor *z = cf_batch_norm(c, x4, NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
        cf_tensor *sum = cf_add(c, y, cf_reshape(c, z, CF_SHAPE(M, D)));
        CHECK(sum && cf_backward(c, sum, s) == CF_OK, "determinism: %s", cf_last_error());
        cf_tensor *gs[3] = {x->grad, w->grad, b->grad};
        for (int k = 0; k < 3; k++) {
            int64_t n = cf_numel(gs[k]);
            double *v = malloc(sizeof(double) * (size_t)n);
            cf_to_f64_array(gs[k], v);
            if (threads == 1) {
                ref[k] = v;
            } else {
                CHECK(memcmp(v, ref[k], sizeof(double) * (size_t)n) == 0, "grad %d differs between 1 and 2 threads", k);
                free(v);
            }
        }
        cf_step_reset(c);
    }
    for (int k = 0; k < 3; k++) free(ref[k]);
    cf_set_threads(c, 0);
}

static void test_errors(cf_ctx *c)
{
    cf_tensor *x = cf_zeros(c, CF_F32, CF_SHAPE(2, 3, 4));
    cf_tensor *w5 = cf_zeros(c, CF_F32, CF_SHAPE(5)), *w4 = cf_zeros(c, CF_F32, CF_SHAPE(4));
    cf_tensor *w3 = cf_zeros(c, CF_F32, CF_SHAPE(3)), *d3 = cf_zeros(c, CF_F64, CF_SHAPE(3));
    expect_error("layer_norm weight shape", cf_layer_norm(c, x, 1, w5, NULL, 1e-5), CF_ERR_SHAPE, "layer_norm: weight",
                 "[4]");
    expect_error("layer_norm bias shape", cf_layer_norm(c, x, 2, NULL, w4, 1e-5), CF_ERR_SHAPE, "layer_norm: bias",
                 "[3, 4]");
    expect_error("layer_norm norm_ndim", cf_layer_norm(c, x, 4, NULL, NULL, 1e-5), CF_ERR_SHAPE, "layer_norm",
                 "last 4 dims");
    expect_error("layer_norm eps", cf_layer_norm(c, x, 1, NULL, NULL, -1), CF_ERR_ARG, "layer_norm", "eps");
    expect_error("layer_norm int input", cf_layer_norm(c, cf_zeros(c, CF_I64, CF_SHAPE(2)), 1, NULL, NULL, 0),
                 CF_ERR_DTYPE, "layer_norm", "i64");
    expect_error("rms_norm weight shape", cf_rms_norm(c, x, w3, 1e-5), CF_ERR_SHAPE, "rms_norm: weight", "[4]");
    expect_error("batch_norm weight dtype", cf_batch_norm(c, x, d3, NULL, NULL, NULL, true, 0.1, 1e-5), CF_ERR_DTYPE,
                 "batch_norm: weight", "f64");
    expect_error("batch_norm running_var shape", cf_batch_norm(c, x, NULL, NULL, w3, w4, true, 0.1, 1e-5), CF_ERR_SHAPE,
                 "batch_norm: running_var", "[3]");
    expect_error("batch_norm one running stat", cf_batch_norm(c, x, NULL, NULL, w3, NULL, true, 0.1, 1e-5), CF_ERR_ARG,
                 "batch_norm", "both");
    cf_tensor *rg = cf_zeros(c, CF_F32, CF_SHAPE(3));
    cf_requires_grad_(rg, true);
    expect_error("batch_norm running stat with grad", cf_batch_norm(c, x, NULL, NULL, rg, w3, true, 0.1, 1e-5),
                 CF_ERR_ARG, "batch_norm", "must not require grad");
    expect_error("batch_norm one value per channel",
                 cf_batch_norm(c, cf_zeros(c, CF_F32, CF_SHAPE(1, 3)), NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
                 CF_ERR_SHAPE, "batch_norm", "fewer than 2 values per channel");
    expect_error("batch_norm 1-D input", cf_batch_norm(c, w3, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), CF_ERR_SHAPE,
                 "batch_norm", "[N, C, ...]");
    expect_error("group_norm groups", cf_group_norm(c, x, 2, NULL, NULL, 1e-5), CF_ERR_SHAPE, "group_norm",
                 "2 groups do not divide the 3 channels");
    expect_error("group_norm weight shape", cf_group_norm(c, x, 3, w4, NULL, 1e-5), CF_ERR_SHAPE, "group_norm: weight",
                 "[3]");
    /* a NULL input (an earlier failure) propagates */
    cf_set_error(CF_ERR_SHAPE, "earlier failure");
    expect_error("NULL input", cf_layer_norm(c, NULL, 1, NULL, NULL, 0), CF_ERR_SHAPE, "earlier failure", NULL);
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    if (!c) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    test_layer_norm(c);
    test_rms_norm(c);
    test_param_grads(c);
    test_batch_norm(c);
    test_group_norm(c);
    cf_step_reset(c);
    test_determinism(c);
    test_errors(c);
    cf_ctx_free(c);
    TEST_MAIN_END();
}
