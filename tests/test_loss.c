/* Forward values of the losses against hand-computed cases (cross entropy of known logits, label
 * smoothing, ignore_index counts, soft targets, the class-dim layouts), known gradients, that cross
 * entropy is one fused node, and the error messages for bad shapes, dtypes, options and class indices. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


static void check_values(const char *what, const cf_tensor *t, const double *want, int64_t n, double tol)
{
    if (!t) {
        CHECK(false, "%s: NULL (%s)", what, cf_last_error());
        return;
    }
    CHECK(cf_numel(t) == n, "%s: %lld elements, want %lld", what, (long long)cf_numel(t), (long long)n);
    if (cf_numel(t) != n) return;
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        bool ok = isnan(want[i]) ? isnan(v) : fabs(v - want[i]) <= tol * (1 + fabs(want[i]));
        CHECK(ok, "%s[%lld] = %.10g, want %.10g", what, (long long)i, v, want[i]);
    }
}

static void check_scalar(const char *what, const cf_tensor *t, double want, double tol)
{
    CHECK(!t || t->ndim == 0, "%s: a reduced loss is 0-dim, got %d dims", what, t ? t->ndim : -1);
    check_values(what, t, &want, 1, tol);
}

static void check_error(const char *what, const cf_tensor *t, const char *needle)
{
    CHECK(!t && strstr(cf_last_error(), needle), "%s: want an error containing \"%s\", got %s \"%s\"", what, needle,
          t ? "a tensor" : "NULL", cf_last_error());
    cf_clear_error();
}

static cf_tensor *vec(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_empty(ctx, dt, ndim, shape);
    for (int64_t i = 0; t && i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    return t;
}

static cf_ce_opts ce(cf_reduction r, int64_t ignore, double eps)
{
    return (cf_ce_opts){.reduction = r, .ignore_index = ignore, .label_smoothing = eps};
}

/* logits [[1, 2, 3], [1, 1, 1]] with targets [2, 0]:
 *   row 0: lse = log(e + e^2 + e^3) = 3.40760596444, loss = lse - 3 = 0.40760596444
 *   row 1: lse = 1 + log 3, loss = log 3 = 1.09861228867 */
#define LSE0 3.40760596444438
#define L0 0.40760596444438
#define LOG3 1.09861228866811

static void test_cross_entropy(cf_ctx *ctx, cf_dtype dt)
{
    double tol = dt == CF_F32 ? 2e-6 : 1e-11;
    static const double lv[] = {1, 2, 3, 1, 1, 1}, tv[] = {2, 0}, tiv[] = {2, -100}, tall[] = {-100, -100};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 3), lv), *t = vec(ctx, CF_I64, CF_SHAPE(2), tv);
    cf_tensor *ti = vec(ctx, CF_I64, CF_SHAPE(2), tiv), *ta = vec(ctx, CF_I64, CF_SHAPE(2), tall);
    check_scalar("ce mean (defaults)", cf_cross_entropy(ctx, x, t, NULL), (L0 + LOG3) / 2, tol);
    cf_ce_opts sum = ce(CF_REDUCTION_SUM, -100, 0), none = ce(CF_REDUCTION_NONE, -100, 0);
    check_scalar("ce sum", cf_cross_entropy(ctx, x, t, &sum), L0 + LOG3, tol);
    double per[] = {L0, LOG3};
    check_values("ce none", cf_cross_entropy(ctx, x, t, &none), per, 2, tol);

    /* ignore_index: mean over the one counted target; none holds 0 at the ignored one */
    check_scalar("ce ignore mean", cf_cross_entropy(ctx, x, ti, NULL), L0, tol);
    check_scalar("ce ignore sum", cf_cross_entropy(ctx, x, ti, &sum), L0, tol);
    double per_i[] = {L0, 0};
    check_values("ce ignore none", cf_cross_entropy(ctx, x, ti, &none), per_i, 2, tol);
    cf_ce_opts ign0 = ce(CF_REDUCTION_MEAN, 0, 0); /* ignore class 0: row 1 drops */
    check_scalar("ce ignore_index 0", cf_cross_entropy(ctx, x, t, &ign0), L0, tol);
    check_scalar("ce all ignored: NaN, as PyTorch", cf_cross_entropy(ctx, x, ta, NULL), NAN, 0);

    /* label smoothing 0.1: (1 - eps)(lse - x_t) + eps (lse - mean(x)) */
    cf_ce_opts ls = ce(CF_REDUCTION_MEAN, -100, 0.1);
    double s0 = 0.9 * L0 + 0.1 * (LSE0 - 2), s1 = LOG3; /* uniform logits: every class costs log 3 */
    CHECK(fabs(s0 - 0.50760596444438) < 1e-12, "hand value of the smoothed row 0");
    check_scalar("ce label smoothing 0.1", cf_cross_entropy(ctx, x, t, &ls), (s0 + s1) / 2, tol);
    check_scalar("ce label smoothing with ignore", cf_cross_entropy(ctx, x, ti, &ls), s0, tol);

    /* soft targets: one-hot rows equal the hard loss; [0.25, 0.25, 0.5] costs lse - 2.25 */
    static const double onehot[] = {0, 0, 1, 1, 0, 0}, pv[] = {0.25, 0.25, 0.5, 1, 0, 0};
    cf_tensor *p1 = vec(ctx, dt, CF_SHAPE(2, 3), onehot), *p2 = vec(ctx, dt, CF_SHAPE(2, 3), pv);
    check_scalar("ce one-hot soft targets", cf_cross_entropy(ctx, x, p1, NULL), (L0 + LOG3) / 2, tol);
    double soft_per[] = {LSE0 - 2.25, LOG3};
    check_values("ce soft targets none", cf_cross_entropy(ctx, x, p2, &none), soft_per, 2, tol);
    check_scalar("ce one-hot soft targets, smoothing", cf_cross_entropy(ctx, x, p1, &ls), (s0 + s1) / 2, tol);

    /* gradient of the mean: (softmax - onehot) / count; row 1's softmax is 1/3 each */
    cf_tensor *w = vec(ctx, dt, CF_SHAPE(2, 3), lv);
    cf_requires_grad_(w, true);
    int64_t tape0 = cf_tape_size(ctx);
    cf_tensor *loss = cf_cross_entropy(ctx, w, t, NULL);
    CHECK(cf_tape_size(ctx) == tape0 + 1, "cross entropy is one fused node (tape grew by %lld)",
          (long long)(cf_tape_size(ctx) - tape0));
    CHECK(cf_backward(ctx, loss, NULL) == CF_OK, "ce backward: %s", cf_last_error());
    double e1 = exp(1.0), e2 = exp(2.0), e3 = exp(3.0), z = e1 + e2 + e3;
    double gw[] = {e1 / z / 2, e2 / z / 2, (e3 / z - 1) / 2, -1.0 / 3, 1.0 / 6, 1.0 / 6};
    check_values("ce grad", w->grad, gw, 6, tol);
    /* with smoothing and an ignored row: (softmax - 0.9 onehot - 0.1/3) / 1, zeros for the ignored row */
    cf_tensor *v = vec(ctx, dt, CF_SHAPE(2, 3), lv);
    cf_requires_grad_(v, true);
    CHECK(cf_backward(ctx, cf_cross_entropy(ctx, v, ti, &ls), NULL) == CF_OK, "ce backward: %s", cf_last_error());
    double gv[] = {e1 / z - 0.1 / 3, e2 / z - 0.1 / 3, e3 / z - 0.9 - 0.1 / 3, 0, 0, 0};
    check_values("ce grad with smoothing and ignore", v->grad, gv, 6, tol);
}

/* The class-dim-1 layout [N, C, d], the class-last layout [N, d, C] and flattened [N*d, C] agree. */
static void test_layouts(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(2, 4, 3), 5, 6); /* [N=2, C=4, d=3] */
    static const double tv[] = {0, 3, 1, 2, 2, 0};
    cf_tensor *t = vec(ctx, CF_I64, CF_SHAPE(2, 3), tv);
    cf_ce_opts none = ce(CF_REDUCTION_NONE, -100, 0.05);
    cf_tensor *a = cf_cross_entropy(ctx, x, t, &none);
    cf_tensor *xl = cf_permute(ctx, x, (const int[]){0, 2, 1}); /* [2, 3, 4], class last, a strided view */
    cf_tensor *b = cf_cross_entropy_last(ctx, xl, t, &none);
    cf_tensor *c = cf_cross_entropy(ctx, cf_reshape(ctx, cf_contiguous(ctx, xl), CF_SHAPE(6, 4)),
                                    cf_reshape(ctx, t, CF_SHAPE(6)), &none);
    double va[6], vb[6], vc[6];
    if (a && b && c) {
        cf_to_f64_array(a, va), cf_to_f64_array(b, vb), cf_to_f64_array(c, vc);
        CHECK(a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3, "none keeps the target's shape [2, 3]");
        check_values("class last = class dim 1", b, va, 6, 1e-12);
        check_values("flattened [6, 4] = class dim 1", c, va, 6, 1e-12);
    } else {
        CHECK(false, "layouts: %s", cf_last_error());
    }
    /* one sample: logits [C] with a 0-dim target */
    static const double lv[] = {1, 2, 3}, t0[] = {2};
    cf_tensor *one = cf_cross_entropy(ctx, vec(ctx, CF_F64, CF_SHAPE(3), lv), vec(ctx, CF_I64, 0, NULL, t0), NULL);
    check_scalar("ce of one sample [C]", one, L0, 1e-11);
}

static void test_nll(cf_ctx *ctx, cf_dtype dt)
{
    static const double lp[] = {-1, -2, -3, -4}, tv[] = {1, 0}, tiv[] = {1, -100};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 2), lp), *t = vec(ctx, CF_I64, CF_SHAPE(2), tv);
    cf_ce_opts sum = ce(CF_REDUCTION_SUM, -100, 0), none = ce(CF_REDUCTION_NONE, -100, 0);
    check_scalar("nll mean", cf_nll_loss(ctx, x, t, NULL), 2.5, 1e-12);
    check_scalar("nll sum", cf_nll_loss(ctx, x, t, &sum), 5, 1e-12);
    double per[] = {2, 3};
    check_values("nll none", cf_nll_loss(ctx, x, t, &none), per, 2, 1e-12);
    check_scalar("nll ignore mean", cf_nll_loss(ctx, x, vec(ctx, CF_I64, CF_SHAPE(2), tiv), NULL), 2, 1e-12);
    /* nll of log_softmax is cross entropy */
    static const double lv[] = {1, 2, 3, 1, 1, 1}, t2[] = {2, 0};
    cf_tensor *l = vec(ctx, dt, CF_SHAPE(2, 3), lv), *tt = vec(ctx, CF_I64, CF_SHAPE(2), t2);
    check_scalar("nll(log_softmax) = cross entropy", cf_nll_loss(ctx, cf_log_softmax(ctx, l, 1), tt, NULL),
                 (L0 + LOG3) / 2, dt == CF_F32 ? 2e-6 : 1e-11);
    /* gradient: -g / count at the target */
    cf_tensor *w = vec(ctx, dt, CF_SHAPE(2, 2), lp);
    cf_requires_grad_(w, true);
    CHECK(cf_backward(ctx, cf_nll_loss(ctx, w, t, NULL), NULL) == CF_OK, "nll backward: %s", cf_last_error());
    double gw[] = {0, -0.5, -0.5, 0};
    check_values("nll grad", w->grad, gw, 4, 0);
}

static void test_regression_losses(cf_ctx *ctx, cf_dtype dt)
{
    static const double xv[] = {1, 2, 3}, yv[] = {1, 1, 1};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(3), xv), *y = vec(ctx, dt, CF_SHAPE(3), yv);
    check_scalar("mse mean", cf_mse_loss(ctx, x, y, CF_REDUCTION_MEAN), 5.0 / 3, 1e-7);
    check_scalar("mse sum", cf_mse_loss(ctx, x, y, CF_REDUCTION_SUM), 5, 1e-12);
    double sq[] = {0, 1, 4}, ab[] = {0, 1, 2};
    check_values("mse none", cf_mse_loss(ctx, x, y, CF_REDUCTION_NONE), sq, 3, 1e-12);
    check_scalar("l1 mean", cf_l1_loss(ctx, x, y, CF_REDUCTION_MEAN), 1, 1e-12);
    check_values("l1 none", cf_l1_loss(ctx, x, y, CF_REDUCTION_NONE), ab, 3, 1e-12);
    /* l1's subgradient at x == y is 0; the target gets the opposite gradient */
    cf_tensor *w = vec(ctx, dt, CF_SHAPE(3), xv), *u = vec(ctx, dt, CF_SHAPE(3), yv);
    cf_requires_grad_(w, true);
    cf_requires_grad_(u, true);
    CHECK(cf_backward(ctx, cf_l1_loss(ctx, w, u, CF_REDUCTION_MEAN), NULL) == CF_OK, "l1 backward");
    double gw[] = {0, 1.0 / 3, 1.0 / 3}, gu[] = {0, -1.0 / 3, -1.0 / 3};
    check_values("l1 grad x (0 at the kink)", w->grad, gw, 3, 1e-7);
    check_values("l1 grad y", u->grad, gu, 3, 1e-7);
}

static void test_bce_focal(cf_ctx *ctx, cf_dtype dt)
{
    double tol = dt == CF_F32 ? 2e-6 : 1e-11;
    static const double xv[] = {0, 100, -100, 2}, yv[] = {1, 0, 1, 0.5};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(4), xv), *y = vec(ctx, dt, CF_SHAPE(4), yv);
    double sp2 = log1p(exp(-2.0)); /* softplus(-2) = 0.126928011 */
    double bce[] = {log(2.0), 100, 100, 1 + sp2};
    check_values("bce_with_logits none (stable at +-100)", cf_bce_with_logits(ctx, x, y, NULL, CF_REDUCTION_NONE), bce,
                 4, tol);
    check_scalar("bce_with_logits mean", cf_bce_with_logits(ctx, x, y, NULL, CF_REDUCTION_MEAN),
                 (log(2.0) + 200 + 1 + sp2) / 4, tol);
    static const double pw3[] = {3};
    cf_tensor *pw = vec(ctx, dt, CF_SHAPE(1), pw3);
    double bpw[] = {3 * log(2.0), 100, 300, 1 + 2 * sp2}; /* log weight 1 + (pw - 1) y */
    check_values("bce_with_logits pos_weight 3", cf_bce_with_logits(ctx, x, y, pw, CF_REDUCTION_NONE), bpw, 4, tol);
    /* its gradient stays finite at +-100: sigmoid(x) - y */
    cf_tensor *w = vec(ctx, dt, CF_SHAPE(4), xv);
    cf_requires_grad_(w, true);
    CHECK(cf_backward(ctx, cf_bce_with_logits(ctx, w, y, NULL, CF_REDUCTION_SUM), NULL) == CF_OK, "bce backward");
    double gw[] = {-0.5, 1, -1, 1 / (1 + exp(-2.0)) - 0.5};
    check_values("bce grad", w->grad, gw, 4, tol);

    /* focal, torchvision defaults alpha 0.25, gamma 2:
     *   x 0, y 1: p_t 0.5 -> 0.25 * log 2 * 0.25;  x 0, y 0: alpha_t 0.75 -> 0.75 * log 2 * 0.25;
     *   x 2, y 1: p_t = sigmoid(2) -> 0.25 * softplus(-2) * (1 - sigmoid(2))^2 */
    static const double fx[] = {0, 0, 2}, fy[] = {1, 0, 1};
    cf_tensor *a = vec(ctx, dt, CF_SHAPE(3), fx), *b = vec(ctx, dt, CF_SHAPE(3), fy);
    double q2 = 1 - 1 / (1 + exp(-2.0));
    double fl[] = {0.25 * log(2.0) * 0.25, 0.75 * log(2.0) * 0.25, 0.25 * sp2 * q2 * q2};
    CHECK(fabs(fl[0] - 0.0433216988) < 1e-9, "hand value of focal(0, 1)");
    check_values("focal none", cf_sigmoid_focal_loss(ctx, a, b, 0.25, 2, CF_REDUCTION_NONE), fl, 3, tol);
    check_scalar("focal sum", cf_sigmoid_focal_loss(ctx, a, b, 0.25, 2, CF_REDUCTION_SUM), fl[0] + fl[1] + fl[2], tol);
    double fl_noalpha[] = {log(2.0) * 0.25, log(2.0) * 0.25, sp2 * q2 * q2};
    check_values("focal alpha -1", cf_sigmoid_focal_loss(ctx, a, b, -1, 2, CF_REDUCTION_NONE), fl_noalpha, 3, tol);
    double fl_g0[] = {log(2.0), log(2.0), sp2}; /* gamma 0, no alpha: plain bce */
    check_values("focal gamma 0 = bce", cf_sigmoid_focal_loss(ctx, a, b, -1, 0, CF_REDUCTION_NONE), fl_g0, 3, tol);
}

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *x = cf_zeros(ctx, CF_F32, CF_SHAPE(2, 3));
    static const double bad[] = {2, 3}, neg[] = {-1, 0}, bad2[] = {0, 1, 5, 0};
    check_error("class index too large", cf_cross_entropy(ctx, x, vec(ctx, CF_I64, CF_SHAPE(2), bad), NULL),
                "cross_entropy: target 3 at position [1] is out of range for 3 classes");
    check_error("negative class index", cf_cross_entropy(ctx, x, vec(ctx, CF_I64, CF_SHAPE(2), neg), NULL),
                "cross_entropy: target -1 at position [0] is out of range for 3 classes (valid: 0..2, or "
                "ignore_index -100)");
    cf_tensor *x3 = cf_zeros(ctx, CF_F32, CF_SHAPE(2, 3, 2));
    check_error("class index in [N, C, d]", cf_cross_entropy(ctx, x3, vec(ctx, CF_I64, CF_SHAPE(2, 2), bad2), NULL),
                "cross_entropy: target 5 at position [1, 0] is out of range for 3 classes");
    check_error("nll class index", cf_nll_loss(ctx, x, vec(ctx, CF_I64, CF_SHAPE(2), bad), NULL),
                "nll_loss: target 3 at position [1] is out of range for 3 classes");
    check_error("target shape", cf_cross_entropy(ctx, x, cf_zeros(ctx, CF_I64, CF_SHAPE(3)), NULL),
                "cross_entropy: target [3] i64 does not match logits [2, 3] f32 (expected target shape [2]");
    check_error("class-last target shape", cf_cross_entropy_last(ctx, x3, cf_zeros(ctx, CF_I64, CF_SHAPE(2, 2)), NULL),
                "cross_entropy_last: target [2, 2] i64 does not match logits [2, 3, 2] f32 (expected target shape "
                "[2, 3]");
    check_error("target dtype", cf_cross_entropy(ctx, x, cf_zeros(ctx, CF_I32, CF_SHAPE(2)), NULL),
                "must hold i64 class indices");
    check_error("soft target shape", cf_cross_entropy(ctx, x, cf_zeros(ctx, CF_F32, CF_SHAPE(2, 4)), NULL),
                "cross_entropy: probability target [2, 4] f32 does not match logits [2, 3] f32");
    check_error("soft target dtype", cf_cross_entropy(ctx, x, cf_zeros(ctx, CF_F64, CF_SHAPE(2, 3)), NULL),
                "cross_entropy: dtypes differ");
    cf_ce_opts ls = ce(CF_REDUCTION_MEAN, -100, 1.5), nls = ce(CF_REDUCTION_MEAN, -100, 0.1);
    cf_ce_opts badred = ce((cf_reduction)7, -100, 0);
    cf_tensor *t = cf_zeros(ctx, CF_I64, CF_SHAPE(2));
    check_error("label smoothing range", cf_cross_entropy(ctx, x, t, &ls), "label_smoothing must be in [0, 1]");
    check_error("nll label smoothing", cf_nll_loss(ctx, x, t, &nls), "nll_loss: label_smoothing is a cross_entropy");
    check_error("bad reduction", cf_cross_entropy(ctx, x, t, &badred), "cross_entropy: unknown reduction 7");
    check_error("logits dtype", cf_cross_entropy(ctx, cf_zeros(ctx, CF_I64, CF_SHAPE(2, 3)), t, NULL),
                "cross_entropy: expected an f32 or f64 tensor");
    check_error("0-dim logits", cf_cross_entropy(ctx, cf_zeros(ctx, CF_F32, 0, NULL), t, NULL), "need a class dim");
    cf_tensor *a = cf_zeros(ctx, CF_F32, CF_SHAPE(3)), *b = cf_zeros(ctx, CF_F32, CF_SHAPE(2));
    check_error("mse shapes", cf_mse_loss(ctx, a, b, CF_REDUCTION_MEAN),
                "mse_loss: target [2] f32 does not match input [3] f32");
    check_error("l1 dtypes", cf_l1_loss(ctx, a, cf_zeros(ctx, CF_F64, CF_SHAPE(3)), CF_REDUCTION_MEAN),
                "l1_loss: dtypes differ");
    check_error("pos_weight shape", cf_bce_with_logits(ctx, x, x, b, CF_REDUCTION_MEAN),
                "bce_with_logits: pos_weight [2] f32 does not broadcast to input [2, 3] f32");
    check_error("focal gamma", cf_sigmoid_focal_loss(ctx, a, a, 0.25, -1, CF_REDUCTION_NONE),
                "sigmoid_focal_loss: need gamma >= 0");
    check_error("NULL target", cf_mse_loss(ctx, a, NULL, CF_REDUCTION_MEAN), "input 1 is NULL");
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        printf("no context: %s\n", cf_last_error());
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        cf_dtype dt = k ? CF_F64 : CF_F32;
        test_cross_entropy(ctx, dt);
        test_nll(ctx, dt);
        test_regression_losses(ctx, dt);
        test_bce_focal(ctx, dt);
        cf_step_reset(ctx);
    }
    test_layouts(ctx);
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
