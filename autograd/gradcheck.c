/* The gradient-check harness (see gradcheck.h). */
#include "autograd/gradcheck.h"

#include "autograd/cf_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cf_gc {
    cf_ctx *ctx;
    int target_op;
    bool verbose;
    double eps, atol, rtol, rtol32;
    bool f64_only;
    int cases, failures;
    int64_t hits;
    uint64_t stream;
    int64_t record_from; /* tape position up to which cf_gc_record has counted hits */
    cf_ctx *dev;         /* parity mode: the other backend's context */
    bool bf16;           /* parity mode: also a bf16 pass */
    int64_t dev_hits;
    int skipped;
};

cf_gc *cf_gc_new(cf_ctx *ctx, int target_op, bool verbose)
{
    cf_gc *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->ctx = ctx;
    g->target_op = target_op;
    g->verbose = verbose;
    g->eps = 1e-6, g->atol = 1e-6, g->rtol = 1e-5, g->rtol32 = 2e-3;
    g->stream = 1000;
    return g;
}

void cf_gc_free(cf_gc *g) { free(g); }
int cf_gc_cases(const cf_gc *g) { return g->cases; }
int cf_gc_failures(const cf_gc *g) { return g->failures; }
int64_t cf_gc_target_hits(const cf_gc *g) { return g->hits; }
cf_ctx *cf_gc_ctx(cf_gc *g) { return g->ctx; }
void cf_gc_set_parity(cf_gc *g, cf_ctx *dev) { g->dev = dev; }
void cf_gc_set_parity_bf16(cf_gc *g, bool on) { g->bf16 = on; }
int64_t cf_gc_device_hits(const cf_gc *g) { return g->dev_hits; }
int cf_gc_skipped(const cf_gc *g) { return g->skipped; }
bool cf_gc_parity_mode(const cf_gc *g) { return g->dev != NULL; }

void cf_gc_tolerance(cf_gc *g, double eps, double atol, double rtol)
{
    g->eps = eps, g->atol = atol, g->rtol = rtol;
}

void cf_gc_f64_only(cf_gc *g, bool on) { g->f64_only = on; }

cf_tensor *cf_gc_randn(cf_gc *g, int ndim, const int64_t *shape)
{
    cf_tensor *t = cf_randn(g->ctx, CF_F64, ndim, shape, 1234, g->stream++);
    if (t) t->requires_grad = true;
    return t;
}

cf_tensor *cf_gc_rand(cf_gc *g, int ndim, const int64_t *shape, double lo, double hi)
{
    cf_tensor *t = cf_rand(g->ctx, CF_F64, ndim, shape, lo, hi, 1234, g->stream++);
    if (t) t->requires_grad = true;
    return t;
}

cf_tensor *cf_gc_randn_away(cf_gc *g, int ndim, const int64_t *shape, double margin)
{
    cf_tensor *t = cf_gc_randn(g, ndim, shape);
    if (!t) return NULL;
    int64_t n = cf_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        cf_set_flat(t, i, v >= 0 ? v + margin : v - margin);
    }
    return t;
}

cf_tensor *cf_gc_const(cf_gc *g, cf_dtype dt, int ndim, const int64_t *shape, const double *values)
{
    cf_tensor *t = cf_empty(g->ctx, dt, ndim, shape);
    if (!t) return NULL;
    int64_t n = cf_numel(t);
    for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, values[i]);
    return t;
}

/* sum(out * r), with r drawn from a fixed stream so every evaluation uses the same weights */
static double weighted_sum(const cf_tensor *out, const double *r)
{
    int64_t n = cf_numel(out);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += cf_get_flat(out, i) * r[i];
    return s;
}

static int64_t count_target_on(cf_ctx *ctx, int op, int64_t from)
{
    int64_t hits = 0, n = cf_tape_size(ctx);
    for (int64_t i = from; i < n; i++)
        if ((int)cf_tape_node(ctx, i)->op == op) hits++;
    return hits;
}

static int64_t count_target(cf_gc *g, int64_t from) { return count_target_on(g->ctx, g->target_op, from); }

/* t's values as doubles; a tensor on a device comes to the host in one copy, not element by element */
static void read_f64(cf_ctx *ctx, const cf_tensor *t, double *out)
{
    const cf_tensor *h = t->storage->device == CF_CPU ? t : cf_tensor_to(ctx, t, CF_CPU);
    cf_to_f64_array(h ? h : t, out);
}

/* Forward + backward of fn on ctx (g's own context or, in parity mode, the other backend's) with seed r
 * (filled with fixed random weights when fill_r; allocated first when *r is NULL); output values and input
 * gradients copied to host doubles in g's context's scratch (grads: zeros when none). Runs of the target op
 * are added to *hits. */
static cf_status run_once(cf_gc *g, cf_ctx *ctx, int64_t *hits, cf_gc_fn fn, const void *user, int n,
                          cf_tensor *const *in, double **r, bool fill_r, double **grads, double **out_vals,
                          int64_t *out_n)
{
    cf_ctx *host = g->ctx;
    for (int i = 0; i < n; i++) in[i]->grad = NULL;
    bool prev = cf_set_grad_enabled(ctx, true);
    int64_t tape0 = cf_tape_size(ctx);
    cf_tensor *out = fn(ctx, in, user);
    cf_set_grad_enabled(ctx, prev);
    if (!out) return cf_last_status();
    *hits += count_target_on(ctx, g->target_op, tape0);
    int64_t no = cf_numel(out);
    if (fill_r) {
        if (!*r && !(*r = cf_scratch(host, sizeof(double) * (size_t)(no ? no : 1)))) return cf_last_status();
        cf_philox_key key = cf_rng_key(99, 7);
        for (int64_t i = 0; i < no; i++) (*r)[i] = cf_rng_normal(key, 0, (uint64_t)i);
    }
    *out_n = no;
    if (out_vals) {
        *out_vals = cf_scratch(host, sizeof(double) * (size_t)(no ? no : 1));
        read_f64(ctx, out, *out_vals);
    }
    if (!out->requires_grad) return cf_set_error(CF_ERR_STATE, "gradcheck: the output does not require grad");
    cf_tensor *seed = cf_empty(host, out->dtype, out->ndim, out->shape); /* made on the host, moved once */
    if (!seed) return cf_last_status();
    for (int64_t i = 0; i < no; i++) cf_set_flat(seed, i, (*r)[i]);
    if (cf_ctx_device(ctx) != CF_CPU && !(seed = cf_tensor_to(ctx, seed, cf_ctx_device(ctx)))) return cf_last_status();
    CF_TRY(cf_backward(ctx, out, seed));
    for (int i = 0; i < n; i++) {
        int64_t ni = cf_numel(in[i]);
        grads[i] = cf_scratch(host, sizeof(double) * (size_t)(ni ? ni : 1));
        if (in[i]->grad)
            read_f64(ctx, in[i]->grad, grads[i]);
        else
            memset(grads[i], 0, sizeof(double) * (size_t)ni);
    }
    return CF_OK;
}

static cf_status analytic(cf_gc *g, cf_gc_fn fn, const void *user, int n, cf_tensor *const *in, double *r,
                          bool fill_r, double **grads, double **out_vals, int64_t *out_n)
{
    return run_once(g, g->ctx, &g->hits, fn, user, n, in, &r, fill_r, grads, out_vals, out_n);
}

static cf_status parity_check(cf_gc *g, const char *label, cf_gc_fn fn, const void *user, int n, cf_tensor *const *in);

cf_status cf_gc_check(cf_gc *g, const char *label, cf_gc_fn fn, const void *user, int n, cf_tensor *const *in)
{
    cf_ctx *ctx = g->ctx;
    g->cases++;
    if (!cf_inputs_ok(n, in)) {
        g->failures++;
        fprintf(stderr, "  [%s] FAIL: could not build inputs: %s\n", label, cf_last_error());
        return CF_ERR_ARG;
    }
    if (n > 16) return cf_set_error(CF_ERR_ARG, "gradcheck: at most 16 inputs");
    if (g->dev) return parity_check(g, label, fn, user, n, in);
    /* the output size is unknown until the first run: allocate r generously after a dry run */
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *probe = fn(ctx, in, user);
    cf_set_grad_enabled(ctx, prev);
    if (!probe) {
        g->failures++;
        fprintf(stderr, "  [%s] FAIL: forward: %s\n", label, cf_last_error());
        return cf_last_status();
    }
    int64_t no = cf_numel(probe);
    double *r = cf_scratch(ctx, sizeof(double) * (size_t)(no ? no : 1));
    double *ana[16] = {0}, *ref_out = NULL;
    cf_status st = analytic(g, fn, user, n, in, r, true, ana, &ref_out, &no);
    if (st != CF_OK) {
        g->failures++;
        fprintf(stderr, "  [%s] FAIL: forward/backward: %s\n", label, cf_last_error());
        return st;
    }

    /* central differences */
    double max_abs = 0, max_rel = 0;
    int bad = 0;
    prev = cf_set_grad_enabled(ctx, false);
    for (int i = 0; i < n && st == CF_OK; i++) {
        if (!in[i]->requires_grad) continue;
        int64_t ni = cf_numel(in[i]);
        for (int64_t j = 0; j < ni; j++) {
            double orig = cf_get_flat(in[i], j);
            double s[2];
            for (int k = 0; k < 2; k++) {
                cf_set_flat(in[i], j, orig + (k ? -g->eps : g->eps));
                cf_arena_mark m = cf_arena_get_mark(cf_ctx_arena(ctx));
                cf_tensor *o = fn(ctx, in, user);
                s[k] = o ? weighted_sum(o, r) : NAN;
                cf_arena_rewind(cf_ctx_arena(ctx), m);
            }
            cf_set_flat(in[i], j, orig);
            double num = (s[0] - s[1]) / (2 * g->eps), an = ana[i][j];
            double err = fabs(num - an), rel = err / (fabs(num) > 1e-12 ? fabs(num) : 1e-12);
            if (err > max_abs) max_abs = err;
            if (err > g->atol && rel > max_rel) max_rel = rel;
            if (!(err <= g->atol + g->rtol * fabs(num))) {
                if (bad < 5)
                    fprintf(stderr, "  [%s] input %d element %lld: analytic %.10g numeric %.10g\n", label, i,
                            (long long)j, an, num);
                bad++;
            }
        }
    }
    cf_set_grad_enabled(ctx, prev);

    /* f32 agreement: same case in f32, outputs and grads close to the f64 ones */
    int bad32 = 0;
    if (!g->f64_only && bad == 0) {
        cf_tensor *in32[16];
        for (int i = 0; i < n; i++) {
            if (in[i]->dtype == CF_F64) {
                in32[i] = cf_empty(ctx, CF_F32, in[i]->ndim, in[i]->shape);
                if (!in32[i]) return cf_last_status();
                cf_copy_(in32[i], in[i]);
                in32[i]->requires_grad = in[i]->requires_grad;
            } else {
                in32[i] = in[i];
            }
        }
        double *g32[16] = {0}, *out32 = NULL;
        int64_t no32;
        st = analytic(g, fn, user, n, in32, r, false, g32, &out32, &no32);
        if (st != CF_OK) {
            fprintf(stderr, "  [%s] FAIL: f32 run: %s\n", label, cf_last_error());
            bad32++;
        } else {
            double scale = 0;
            for (int64_t k = 0; k < no; k++) scale = fmax(scale, fabs(ref_out[k]));
            for (int64_t k = 0; k < no; k++)
                if (!(fabs(out32[k] - ref_out[k]) <= g->rtol32 * (1 + scale))) {
                    if (bad32 < 3)
                        fprintf(stderr, "  [%s] f32 output %lld: %.8g vs f64 %.8g\n", label, (long long)k, out32[k],
                                ref_out[k]);
                    bad32++;
                }
            for (int i = 0; i < n; i++) {
                if (!in[i]->requires_grad) continue;
                int64_t ni = cf_numel(in[i]);
                double gs = 0;
                for (int64_t k = 0; k < ni; k++) gs = fmax(gs, fabs(ana[i][k]));
                for (int64_t k = 0; k < ni; k++)
                    if (!(fabs(g32[i][k] - ana[i][k]) <= g->rtol32 * (1 + gs))) {
                        if (bad32 < 3)
                            fprintf(stderr, "  [%s] f32 grad of input %d element %lld: %.8g vs f64 %.8g\n", label, i,
                                    (long long)k, g32[i][k], ana[i][k]);
                        bad32++;
                    }
            }
        }
    }

    bool ok = bad == 0 && bad32 == 0;
    if (!ok) g->failures++;
    if (g->verbose || !ok)
        fprintf(ok ? stdout : stderr, "  [%s] %s  max abs err %.3g, max rel err %.3g%s\n", label, ok ? "ok" : "FAIL",
                max_abs, max_rel, bad32 ? ", f32 mismatch" : "");
    return ok ? CF_OK : cf_set_error(CF_ERR_INTERNAL, "gradcheck %s failed", label);
}

cf_status cf_gc_record(cf_gc *g, const char *label, bool ok)
{
    if (g->dev) { /* parity mode: the case checked itself on the CPU only */
        g->skipped++;
        return CF_OK;
    }
    g->cases++;
    int64_t n = cf_tape_size(g->ctx);
    if (g->record_from > n) g->record_from = 0;
    g->hits += count_target(g, g->record_from);
    g->record_from = n;
    if (!ok) g->failures++;
    if (g->verbose || !ok)
        fprintf(ok ? stdout : stderr, "  [%s] %s  (checked by the case itself)\n", label, ok ? "ok" : "FAIL");
    return ok ? CF_OK : cf_set_error(CF_ERR_INTERNAL, "gradcheck %s failed", label);
}

/* ---- parity mode ---- */

/* t on dev with the same strides and offset: its whole storage is copied, then viewed alike. */
static cf_tensor *to_device_alike(cf_ctx *dev, const cf_tensor *t)
{
    int64_t elems = (int64_t)(t->storage->nbytes / cf_dtype_size(t->dtype));
    cf_tensor *base = cf_empty(dev, t->dtype, 1, &elems);
    if (!base || cf_tensor_backend(base)->from_host(base->storage->data, t->storage->data, t->storage->nbytes) != CF_OK)
        return NULL;
    cf_tensor *v = cf_view_raw(dev, base, t->ndim, t->shape, t->stride, t->offset);
    if (v) v->requires_grad = t->requires_grad;
    return v;
}

/* One backend's run of a parity case: output values and input gradients as host doubles. */
typedef struct parity_run {
    double *out, *grad[16];
    int64_t n_out;
} parity_run;

/* Counts mismatches of got against want (n values), printing the first few. */
static int parity_compare(const char *label, const char *what, int idx, const double *want, const double *got,
                          int64_t n, double tol, int printed)
{
    double scale = 0;
    for (int64_t k = 0; k < n; k++) scale = fmax(scale, fabs(want[k]));
    int bad = 0;
    for (int64_t k = 0; k < n; k++)
        if (!(fabs(got[k] - want[k]) <= tol * (1 + scale))) { /* NaN (poison) fails too */
            if (printed + bad < 4)
                fprintf(stderr, "  [%s] %s %d element %lld: device %.10g, cpu %.10g\n", label, what, idx, (long long)k,
                        got[k], want[k]);
            bad++;
        }
    return bad;
}

/* A contiguous copy of t in dt on the host (the grad flag kept); NULL with the error set. */
static cf_tensor *host_copy_as(cf_gc *g, const cf_tensor *t, cf_dtype dt)
{
    cf_tensor *c = cf_empty(g->ctx, dt, t->ndim, t->shape);
    if (!c || cf_copy_(c, t) != CF_OK) return NULL;
    c->requires_grad = t->requires_grad;
    return c;
}

/* The inputs of one pass: the CPU's (cin) and what goes to the device (dev_src: the same, except in the bf16
 * pass, where the device gets bf16 inputs and the CPU runs f32 on the same rounded values). */
static cf_status pass_inputs(cf_gc *g, cf_dtype dt, int n, cf_tensor *const *in, cf_tensor **cin, cf_tensor **dev_src)
{
    for (int i = 0; i < n; i++) {
        cin[i] = dev_src[i] = in[i];
        if (in[i]->dtype != CF_F64 || dt == CF_F64) continue;
        if (!(dev_src[i] = host_copy_as(g, in[i], dt))) return cf_last_status();
        cin[i] = dev_src[i];
        if (dt == CF_BF16 && !(cin[i] = host_copy_as(g, dev_src[i], CF_F32))) return cf_last_status();
    }
    return CF_OK;
}

static cf_status parity_check(cf_gc *g, const char *label, cf_gc_fn fn, const void *user, int n, cf_tensor *const *in)
{
    int bad = 0;
    const cf_dtype dts[3] = {CF_F64, CF_F32, CF_BF16};
    /* bf16: 8 significant bits, so a few roundings of the inputs, intermediates and outputs */
    const double tols[3] = {1e-9, 2e-4, 3e-2};
    int passes = g->f64_only ? 1 : g->bf16 ? 3 : 2;
    for (int d = 0; d < passes && bad == 0; d++) {
        cf_dtype dt = dts[d];
        double tol = tols[d];
        cf_tensor *cin[16], *din[16], *dsrc[16];
        size_t in_bytes = 0;
        CF_TRY(pass_inputs(g, dt, n, in, cin, dsrc));
        for (int i = 0; i < n; i++) in_bytes += dsrc[i]->storage->nbytes;
        parity_run want, got;
        double *r = NULL;
        int64_t cpu_hits = 0;
        size_t used0 = cf_arena_used(cf_ctx_arena(g->ctx));
        cf_status st = run_once(g, g->ctx, &cpu_hits, fn, user, n, cin, &r, true, want.grad, &want.out, &want.n_out);
        size_t cpu_bytes = cf_arena_used(cf_ctx_arena(g->ctx)) - used0;
        /* NaN bytes over the memory the device run allocates next (arena memory is never cleared): twice
         * what the CPU run took, which allocates alike, and the inputs */
        cf_step_reset(g->dev);
        /* the RNG coordinates of the CPU run, so both backends draw the same dropout masks */
        cf_ctx_set_seed(g->dev, cf_ctx_seed(g->ctx));
        cf_ctx_set_step(g->dev, cf_ctx_step(g->ctx));
        if (st == CF_OK) st = cf_ctx_poison_arena(g->dev, 2 * (cpu_bytes + in_bytes) + ((size_t)1 << 16));
        for (int i = 0; i < n && st == CF_OK; i++)
            if (!(din[i] = to_device_alike(g->dev, dsrc[i]))) st = cf_last_status();
        if (st == CF_OK)
            st = run_once(g, g->dev, &g->dev_hits, fn, user, n, din, &r, false, got.grad, &got.out, &got.n_out);
        if (st != CF_OK) {
            fprintf(stderr, "  [%s] FAIL (%s): %s\n", label, cf_dtype_name(dt), cf_last_error());
            bad++;
            break;
        }
        if (got.n_out != want.n_out) {
            fprintf(stderr, "  [%s] FAIL (%s): %lld outputs on the device, %lld on the cpu\n", label, cf_dtype_name(dt),
                    (long long)got.n_out, (long long)want.n_out);
            bad++;
            break;
        }
        bad += parity_compare(label, "output", 0, want.out, got.out, want.n_out, tol, bad);
        for (int i = 0; i < n; i++)
            if (in[i]->requires_grad)
                bad += parity_compare(label, "grad of input", i, want.grad[i], got.grad[i], cf_numel(in[i]), tol, bad);
        if (bad) fprintf(stderr, "  [%s] FAIL (%s): %d values differ\n", label, cf_dtype_name(dt), bad);
    }
    if (bad) g->failures++;
    if (g->verbose && !bad) printf("  [%s] ok (device matches cpu)\n", label);
    return bad ? cf_set_error(CF_ERR_INTERNAL, "parity %s failed", label) : CF_OK;
}
