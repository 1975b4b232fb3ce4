/* Gradient checks of heaviside and sign. Their forward is piecewise constant, so central differences
 * see zero and cannot check a surrogate backward. Each case instead runs the op on the tape inside a
 * small graph, out = step(x) * w, and compares x's gradient with r * w * d(x) computed here from the
 * surrogate formulas in ops/spike.h (and the forward with the step), in f64 and f32; cf_gc_record
 * reports the verdict. Points include 0 and +-1, where the step and the clipped STE switch. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

#include <math.h>
#include <stdio.h>

#define PI 3.14159265358979323846

static double surrogate(cf_surrogate kind, double a, double x, bool is_sign)
{
    double d;
    switch (kind) {
    case CF_SURROGATE_STE: return 1;
    case CF_SURROGATE_STE_CLIP: return fabs(x) <= 1 ? 1 : 0;
    case CF_SURROGATE_SIGMOID: d = a * exp(-a * x) / ((1 + exp(-a * x)) * (1 + exp(-a * x))); break;
    case CF_SURROGATE_ATAN: d = a / (2 * (1 + (PI / 2 * a * x) * (PI / 2 * a * x))); break;
    default: d = fmax(0, a * (1 - a * fabs(x))); break;
    }
    return is_sign ? 2 * d : d;
}

static bool run_case(cf_gc *g, bool is_sign, cf_surrogate kind, double alpha, cf_dtype dt)
{
    cf_ctx *ctx = cf_gc_ctx(g);
    const int64_t n = 24;
    cf_tensor *x64 = cf_gc_randn(g, CF_SHAPE(4, 6));
    cf_set_flat(x64, 0, 0.0), cf_set_flat(x64, 1, 1.0), cf_set_flat(x64, 2, -1.0), cf_set_flat(x64, 3, 0.1);
    cf_tensor *x = cf_empty(ctx, dt, CF_SHAPE(4, 6));
    cf_tensor *w = cf_empty(ctx, dt, CF_SHAPE(4, 6)), *r = cf_empty(ctx, dt, CF_SHAPE(4, 6));
    if (!x || !w || !r) return false;
    cf_copy_(x, x64);
    cf_copy_(w, cf_randn(ctx, CF_F64, CF_SHAPE(4, 6), 77, 1));
    cf_copy_(r, cf_randn(ctx, CF_F64, CF_SHAPE(4, 6), 77, 2));
    cf_requires_grad_(x, true);
    cf_tensor *y = is_sign ? cf_sign(ctx, x, kind, alpha) : cf_heaviside(ctx, x, kind, alpha);
    cf_tensor *out = cf_mul(ctx, y, w);
    if (!out || cf_backward(ctx, out, r) != CF_OK || !x->grad) {
        fprintf(stderr, "  forward/backward: %s\n", cf_last_error());
        return false;
    }
    double tol = dt == CF_F32 ? 1e-5 : 1e-12;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double xv = cf_get_flat(x, i);
        double fwd = xv >= 0 ? 1 : (is_sign ? -1 : 0);
        double want = cf_get_flat(r, i) * cf_get_flat(w, i) * surrogate(kind, alpha, xv, is_sign);
        double got = cf_get_flat(x->grad, i);
        bool ok = cf_get_flat(y, i) == fwd && fabs(got - want) <= tol * (1 + fabs(want));
        if (!ok && bad++ < 3)
            fprintf(stderr, "  x %.6g: forward %g (want %g), grad %.10g (want %.10g)\n", xv, cf_get_flat(y, i), fwd, got,
                    want);
    }
    return bad == 0;
}

/* Parity mode only (the cross-backend test): the op itself as the case's output, so both backends' forward
 * and surrogate backward are compared; finite differences do not apply, hence not in the gradient check.
 * The input holds the switch points 0 and +-1, and the second case reads it transposed (strided). */
typedef struct {
    bool is_sign, transposed;
    cf_surrogate kind;
    double alpha;
} parity_case;

static cf_tensor *parity_fn(cf_ctx *ctx, cf_tensor *const *in, const void *user)
{
    const parity_case *c = user;
    cf_tensor *x = c->transposed ? cf_transpose(ctx, in[0], 0, 1) : in[0];
    return c->is_sign ? cf_sign(ctx, x, c->kind, c->alpha) : cf_heaviside(ctx, x, c->kind, c->alpha);
}

static cf_status check_parity(cf_gc *g, bool is_sign, const double *alphas)
{
    cf_status st = CF_OK;
    for (int k = 0; k < CF_SURROGATE_COUNT; k++)
        for (int t = 0; t < 2; t++) {
            cf_tensor *x = cf_gc_randn(g, CF_SHAPE(4, 6));
            if (!x) return cf_last_status();
            cf_set_flat(x, 0, 0.0), cf_set_flat(x, 1, 1.0), cf_set_flat(x, 2, -1.0), cf_set_flat(x, 3, 0.1);
            parity_case c = {is_sign, t == 1, (cf_surrogate)k, alphas[k]};
            char label[96];
            snprintf(label, sizeof label, "%s surrogate, alpha %g%s", cf_surrogate_name((cf_surrogate)k), alphas[k],
                     t ? ", transposed input" : "");
            if (cf_gc_check(g, label, parity_fn, &c, 1, &x) != CF_OK) st = CF_ERR_INTERNAL;
        }
    return st;
}

static cf_status check_all(cf_gc *g, bool is_sign)
{
    static const double alphas[CF_SURROGATE_COUNT] = {1, 1, 4, 2, 0.8};
    if (cf_gc_parity_mode(g)) return check_parity(g, is_sign, alphas);
    cf_status st = CF_OK;
    for (int k = 0; k < CF_SURROGATE_COUNT; k++)
        for (int d = 0; d < 2; d++) {
            cf_dtype dt = d ? CF_F32 : CF_F64;
            char label[96];
            snprintf(label, sizeof label, "%s surrogate, alpha %g, %s", cf_surrogate_name((cf_surrogate)k), alphas[k],
                     cf_dtype_name(dt));
            if (cf_gc_record(g, label, run_case(g, is_sign, (cf_surrogate)k, alphas[k], dt)) != CF_OK)
                st = CF_ERR_INTERNAL;
        }
    return st;
}

CF_GRADCHECK(heaviside) { return check_all(g, false); }
CF_GRADCHECK(sign) { return check_all(g, true); }
