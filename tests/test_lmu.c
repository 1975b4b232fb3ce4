/* The LMU memory and the LIF neuron (layers/lmu.h, layers/lif.h):
 *   - the ZOH discretisation against published check values;
 *   - parallel (FFT) == recurrent memory and LMU cell, outputs AND gradients (f32 < 1e-5, f64 < 1e-10);
 *   - the recurrent form streamed one frame at a time with carried state == the parallel form;
 *   - f64 finite-difference gradient checks of the parallel memory and the cell;
 *   - LIF forward, hard and soft reset, surrogate gradient (detached and not) against hand-computed values;
 *   - LIF streamed one frame at a time == one call over the sequence. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"
#include "layers/lif.h"
#include "layers/lmu.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

static cf_ctx *ctx;

static double max_diff(const cf_tensor *a, const cf_tensor *b)
{
    double w = 0;
    for (int64_t i = 0; i < cf_numel(a); i++) w = fmax(w, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    return w;
}

static void test_discretize(void)
{
    double a[32 * 32], b[32];
    CHECK(cf_lmu_discretize(16, 32, a, b) == CF_OK);
    CHECK(fabs(b[0] - 0.0311) < 5e-5 && fabs(b[1] + 0.0912) < 5e-5 && fabs(b[2] - 0.1413) < 5e-5,
          "d=16 theta=32: Bbar[:3] = %.5f %.5f %.5f, want 0.0311 -0.0912 0.1413", b[0], b[1], b[2]);
    CHECK(cf_lmu_discretize(32, 64, a, b) == CF_OK);
    CHECK(fabs(b[0] - 0.0156) < 5e-5 && fabs(b[1] + 0.0461) < 5e-5 && fabs(b[2] - 0.0746) < 5e-5,
          "d=32 theta=64: Bbar[:3] = %.5f %.5f %.5f, want 0.0156 -0.0461 0.0746", b[0], b[1], b[2]);
    CHECK(cf_lmu_discretize(0, 32, a, b) != CF_OK && cf_lmu_discretize(4, 0, a, b) != CF_OK, "bad order/theta accepted");
}

/* the cell's output and every gradient (x and parameters) under upstream r, in one mode */
typedef struct grads {
    cf_tensor *h, *gx, *g[4];
} grads;

static grads run_cell(cf_lmu_cell *c, cf_tensor *x, cf_tensor *r, cf_lmu_mode mode)
{
    cf_tensor *ps[4] = {c->wu, c->bu, c->wh, c->bh};
    for (int i = 0; i < 4; i++) cf_zero_grad(ps[i]);
    cf_zero_grad(x);
    grads out = {0};
    out.h = cf_lmu_cell_fwd(ctx, c, x, mode, NULL);
    if (!out.h || cf_backward(ctx, out.h, r) != CF_OK) return out;
    out.gx = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_copy_(out.gx, x->grad);
    for (int i = 0; i < 4; i++) {
        out.g[i] = cf_empty(ctx, ps[i]->dtype, ps[i]->ndim, ps[i]->shape);
        cf_copy_(out.g[i], ps[i]->grad);
    }
    return out;
}

/* d = 64, theta = N = 128, x [4, 32, 128] */
static void test_parallel_equals_recurrent_dt(cf_dtype dt)
{
    double tol = dt == CF_F32 ? 1e-5 : 1e-10;
    cf_params *ps = cf_params_new(dt, 7);
    cf_lmu_cell c;
    CHECK(ps && cf_lmu_cell_init(&c, ps, "lmu", 32, 64, 128, 16) == CF_OK);
    cf_tensor *x = cf_empty(ctx, dt, CF_SHAPE(4, 32, 128)), *r = cf_empty(ctx, dt, CF_SHAPE(4, 16, 128));
    cf_copy_(x, cf_randn(ctx, CF_F64, CF_SHAPE(4, 32, 128), 1, 11));
    cf_copy_(r, cf_randn(ctx, CF_F64, CF_SHAPE(4, 16, 128), 1, 12));
    cf_requires_grad_(x, true);
    /* the memory alone */
    cf_tensor *u = cf_relu(ctx, cf_narrow(ctx, x, 1, 0, 1));
    u = cf_squeeze(ctx, u, 1);
    cf_tensor *mp = cf_lmu_memory_fwd(ctx, &c.mem, u, CF_LMU_PARALLEL, NULL);
    cf_tensor *mr = cf_lmu_memory_fwd(ctx, &c.mem, u, CF_LMU_RECURRENT, NULL);
    CHECK(mp && mr && mp->shape[1] == 64 && mp->shape[2] == 128, "memory shapes");
    double dm = mp && mr ? max_diff(mp, mr) : INFINITY;
    CHECK(dm < tol, "%s memory: parallel vs recurrent max |diff| %.3g >= %g", cf_dtype_name(dt), dm, tol);
    /* the cell, forward and backward */
    grads p = run_cell(&c, x, r, CF_LMU_PARALLEL), q = run_cell(&c, x, r, CF_LMU_RECURRENT);
    CHECK(p.g[3] && q.g[3], "cell forward/backward: %s", cf_last_error());
    if (p.g[3] && q.g[3]) {
        double dh = max_diff(p.h, q.h), dg = max_diff(p.gx, q.gx);
        for (int i = 0; i < 4; i++) {
            /* parameter gradients sum over B*N terms: compare relative to their scale */
            double sc = 0;
            for (int64_t k = 0; k < cf_numel(p.g[i]); k++) sc = fmax(sc, fabs(cf_get_flat(p.g[i], k)));
            dg = fmax(dg, max_diff(p.g[i], q.g[i]) / fmax(1, sc));
        }
        CHECK(dh < tol, "%s cell output: parallel vs recurrent max |diff| %.3g", cf_dtype_name(dt), dh);
        CHECK(dg < tol, "%s cell gradients: parallel vs recurrent max |diff| %.3g", cf_dtype_name(dt), dg);
    }
    /* streaming: the recurrent form one frame at a time with a carried state == the parallel form */
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *state = NULL;
    double ds = 0;
    for (int64_t t = 0; t < 128 && p.h; t++) {
        cf_tensor *ht = cf_lmu_cell_fwd(ctx, &c, cf_narrow(ctx, x, 2, t, 1), CF_LMU_RECURRENT, &state);
        if (!ht) {
            ds = INFINITY;
            break;
        }
        ds = fmax(ds, max_diff(ht, cf_contiguous(ctx, cf_narrow(ctx, p.h, 2, t, 1))));
    }
    CHECK(ds < tol, "%s streamed cell vs parallel max |diff| %.3g", cf_dtype_name(dt), ds);
    CHECK(cf_lmu_cell_fwd(ctx, &c, x, CF_LMU_PARALLEL, &state) == NULL, "the parallel form took a state");
    cf_set_grad_enabled(ctx, prev);
    cf_tensor_free(state);
    cf_lmu_cell_free(&c);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

static void test_parallel_equals_recurrent(void)
{
    test_parallel_equals_recurrent_dt(CF_F32);
    test_parallel_equals_recurrent_dt(CF_F64);
}

/* finite differences of the parallel memory (and its recurrent twin) in f64 */
static cf_lmu_memory gc_mem;
static cf_tensor *gc_memory(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    return cf_lmu_memory_fwd(c, &gc_mem, in[0], user ? CF_LMU_RECURRENT : CF_LMU_PARALLEL, NULL);
}

static void test_gradcheck(void)
{
    cf_gc *g = cf_gc_new(ctx, cf_op_lookup("rfft"), false);
    CHECK(g && cf_lmu_memory_init(&gc_mem, CF_F64, 6, 9) == CF_OK);
    cf_gc_f64_only(g, true);
    cf_tensor *u = cf_gc_randn(g, CF_SHAPE(2, 11));
    CHECK(cf_gc_check(g, "lmu memory parallel", gc_memory, NULL, 1, &u) == CF_OK, "%s", cf_last_error());
    CHECK(cf_gc_check(g, "lmu memory recurrent", gc_memory, &gc_mem, 1, &u) == CF_OK, "%s", cf_last_error());
    CHECK(cf_gc_failures(g) == 0 && cf_gc_target_hits(g) > 0, "gradcheck failures %d", cf_gc_failures(g));
    cf_lmu_memory_free(&gc_mem);
    cf_gc_free(g);
    cf_step_reset(ctx);
}

static cf_tensor *seq(cf_dtype dt, int n, const double *v)
{
    cf_tensor *x = cf_empty(ctx, dt, CF_SHAPE(1, n));
    for (int i = 0; i < n; i++) cf_set_flat(x, i, v[i]);
    cf_requires_grad_(x, true);
    return x;
}

static void test_lif_forward(void)
{
    /* tau 2: H = V/2 + X/2. Hard reset: H = .75 .575 1.5375(fire) .05 .975 ; x = 2 from rest sits at threshold. */
    double xv[6] = {1.5, 0.4, 2.5, 0.1, 1.9, 2.0};
    cf_lif_config c = cf_lif_default();
    cf_tensor *s = cf_lif_fwd(ctx, &c, seq(CF_F64, 6, xv), NULL);
    double hard[6] = {0, 0, 1, 0, 0, 1};
    bool ok = s != NULL;
    for (int i = 0; ok && i < 6; i++) ok = cf_get_flat(s, i) == hard[i];
    CHECK(ok, "hard reset spikes");
    /* soft reset: after the spike V = 0.5375, H = .31875, 1.109375 (fire), then V = .109375, H = 1.0546875 */
    c.reset = CF_LIF_RESET_SOFT;
    cf_lif_state st = {0};
    s = cf_lif_fwd(ctx, &c, seq(CF_F64, 6, xv), &st);
    double soft[6] = {0, 0, 1, 0, 1, 1};
    ok = s != NULL;
    for (int i = 0; ok && i < 6; i++) ok = cf_get_flat(s, i) == soft[i];
    CHECK(ok, "soft reset spikes");
    CHECK(st.v && fabs(cf_get_flat(st.v, 0) - 0.0546875) < 1e-15, "soft reset final membrane %g",
          st.v ? cf_get_flat(st.v, 0) : NAN);
    cf_lif_state_free(&st);
    /* threshold 0.5 and a reset to -0.25 */
    c = cf_lif_threshold(0.5);
    c.v_reset = -0.25;
    double x2[2] = {1.0, 1.0}; /* H0 = -0.25 + (1 + 0)/2 = .25 no; H1 = .25 + (1 - .25 + -.25)/2 = .5 fire */
    s = cf_lif_fwd(ctx, &c, seq(CF_F64, 2, x2), NULL);
    CHECK(s && cf_get_flat(s, 0) == 0 && cf_get_flat(s, 1) == 1, "v_reset -0.25, threshold 0.5");
    cf_step_reset(ctx);
}

static double sg(double z)
{
    double q = 1 / (1 + exp(-4 * z));
    return 4 * q * (1 - q);
}

static void test_lif_gradient(void)
{
    cf_lif_config c = cf_lif_default();
    /* no spike: x = (1.2, 1.0): H0 = .6, V0 = .6, H1 = .8; loss = S0 + S1 */
    double a[2] = {1.2, 1.0};
    cf_tensor *x = seq(CF_F64, 2, a), *s = cf_lif_fwd(ctx, &c, x, NULL);
    CHECK(s && cf_backward(ctx, cf_sum(ctx, s, 0, NULL, false), NULL) == CF_OK);
    double g0 = 0.5 * sg(-0.4) + 0.25 * sg(-0.2), g1 = 0.5 * sg(-0.2);
    CHECK(x->grad && fabs(cf_get_flat(x->grad, 0) - g0) < 1e-14 && fabs(cf_get_flat(x->grad, 1) - g1) < 1e-14,
          "no-spike gradient (%g %g), want (%g %g)", x->grad ? cf_get_flat(x->grad, 0) : NAN,
          x->grad ? cf_get_flat(x->grad, 1) : NAN, g0, g1);
    /* a spike at t0: x = (3, 1): H0 = 1.5, S0 = 1, V0 = 0, H1 = .5. Detached: dV0/dH0 = 1 - S0 = 0. */
    double b[2] = {3.0, 1.0};
    for (int detach = 0; detach < 2; detach++) {
        c.detach_reset = detach;
        x = seq(CF_F64, 2, b);
        s = cf_lif_fwd(ctx, &c, x, NULL);
        CHECK(s && cf_backward(ctx, cf_sum(ctx, s, 0, NULL, false), NULL) == CF_OK);
        double dv = detach ? 0 : -1.5 * sg(0.5); /* 1 - S0 - H0 dS0/dH0 */
        double want = 0.5 * sg(0.5) + 0.5 * sg(-0.5) * 0.5 * dv;
        CHECK(x->grad && fabs(cf_get_flat(x->grad, 0) - want) < 1e-14, "detach_reset %d: grad %g want %g", detach,
              x->grad ? cf_get_flat(x->grad, 0) : NAN, want);
    }
    cf_step_reset(ctx);
}

static void test_lif_streaming(void)
{
    cf_lif_config c = cf_lif_default();
    cf_tensor *x = cf_mul_scalar(ctx, cf_randn(ctx, CF_F32, CF_SHAPE(3, 4, 40), 5, 3), 1.5);
    cf_tensor *whole = cf_lif_fwd(ctx, &c, x, NULL);
    cf_lif_state st = {0};
    int bad = 0, fired = 0;
    for (int64_t t = 0; t < 40 && whole; t++) {
        cf_tensor *s = cf_lif_fwd(ctx, &c, cf_narrow(ctx, x, 2, t, 1), &st);
        cf_tensor *w = cf_contiguous(ctx, cf_narrow(ctx, whole, 2, t, 1));
        if (!s || max_diff(s, w) != 0) bad++;
        for (int64_t i = 0; s && i < cf_numel(s); i++) fired += cf_get_flat(s, i) != 0;
    }
    CHECK(whole && bad == 0 && fired > 0, "streamed LIF differs at %d of 40 frames (%d spikes)", bad, fired);
    CHECK(cf_lif_fwd(ctx, &c, cf_randn(ctx, CF_F32, CF_SHAPE(2, 4, 1), 1, 1), &st) == NULL, "mismatched state taken");
    cf_lif_state_free(&st);
    cf_step_reset(ctx);
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    if (!ctx) return 1;
    RUN(test_discretize);
    RUN(test_parallel_equals_recurrent);
    RUN(test_gradcheck);
    RUN(test_lif_forward);
    RUN(test_lif_gradient);
    RUN(test_lif_streaming);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
