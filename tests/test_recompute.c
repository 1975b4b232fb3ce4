/* Recomputed segments (autograd/recompute.h): losses and gradients bit for bit equal to plain training in f32
 * and f64 with dropout inside, flat and nested; tensors reached through user; gradient-final hooks; the arena
 * really reuses the freed intermediates; finite differences through the segment node; errors. */
#include "autograd/cf_node.h"
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"
#include "tests/check.h"

#include <stdlib.h>

static cf_ctx *ctx;

/* A residual MLP layer with dropout and drop-path: x + drop_path(W2 dropout(gelu(W1 x + b1)) + b2), and a gate
 * tensor g that a segment reaches through user (not in[]): its output is then multiplied by g. */
typedef struct net {
    cf_tensor *w1, *b1, *w2, *b2;
    cf_tensor *gate; /* NULL, or an arena tensor with history that the segments read through user */
    double p;
} net;

static cf_tensor *layer(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    const net *m = user;
    cf_tensor *h = cf_dropout(c, cf_gelu(c, cf_linear(c, in[0], m->w1, m->b1)), m->p, 77);
    cf_tensor *y = cf_add(c, in[0], cf_drop_path(c, cf_linear(c, h, m->w2, m->b2), m->p, 78));
    return m->gate ? cf_mul(c, y, m->gate) : y;
}

/* Two layers recomputed inside one segment: the nested case. */
static cf_tensor *two_layers(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    cf_tensor *y = cf_recompute(c, layer, user, 1, in);
    return cf_recompute(c, layer, user, 1, &y);
}

enum { PLAIN, FLAT, NESTED };

static cf_tensor *param(cf_dtype dt, int ndim, const int64_t *shape, uint64_t stream)
{
    cf_tensor *t = cf_tensor_alloc(dt, ndim, shape);
    cf_copy_(t, cf_mul_scalar(ctx, cf_randn(ctx, dt, ndim, shape, 5, stream), 0.3));
    cf_requires_grad_(t, true);
    cf_step_reset(ctx);
    return t;
}

static net make_net(cf_dtype dt, int64_t d, int64_t hidden, double p)
{
    return (net){param(dt, CF_SHAPE(hidden, d), 1), param(dt, CF_SHAPE(hidden), 2), param(dt, CF_SHAPE(d, hidden), 3),
                 param(dt, CF_SHAPE(d), 4), NULL, p};
}

static void free_net(net *m)
{
    cf_tensor_free(m->w1), cf_tensor_free(m->b1), cf_tensor_free(m->w2), cf_tensor_free(m->b2);
}

/* One step of `depth` layers: the loss, the gradients of the parameters and of the input leaf, flattened
 * into out (f64 holds every f32 exactly). Returns the values written. */
static int64_t run_step(net *m, int mode, int depth, int64_t rows, bool with_gate, double *out)
{
    int64_t d = m->w1->shape[1];
    cf_dtype dt = m->w1->dtype;
    cf_tensor *x0 = cf_randn(ctx, dt, CF_SHAPE(rows, d), 9, 100 + cf_ctx_step(ctx));
    x0->requires_grad = true; /* an arena leaf */
    cf_tensor *x = cf_mul_scalar(ctx, x0, 1.5); /* a tensor with history entering the first segment */
    cf_tensor *gate_leaf = NULL;
    m->gate = NULL;
    if (with_gate) {
        gate_leaf = cf_full(ctx, dt, CF_SHAPE(d), 0.9);
        gate_leaf->requires_grad = true;
        m->gate = cf_mul_scalar(ctx, gate_leaf, 1.1);
    }
    for (int l = 0; l < depth; l++) {
        if (mode == PLAIN)
            x = layer(ctx, m, 1, &x);
        else if (mode == FLAT)
            x = cf_recompute(ctx, layer, m, 1, &x);
        else if (l % 2 == 0)
            x = cf_recompute(ctx, two_layers, m, 1, &x), l++;
    }
    cf_tensor *loss = cf_sum(ctx, cf_mul(ctx, x, x), 0, NULL, false);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK, "mode %d: %s", mode, cf_last_error());
    if (!loss) return 0;
    int64_t k = 0;
    out[k++] = cf_item(loss);
    cf_tensor *gs[] = {m->w1->grad, m->b1->grad, m->w2->grad, m->b2->grad, x0->grad, gate_leaf ? gate_leaf->grad : NULL};
    for (int i = 0; i < 6; i++) {
        if (!gs[i]) continue;
        cf_to_f64_array(gs[i], out + k);
        k += cf_numel(gs[i]);
    }
    cf_zero_grad(m->w1), cf_zero_grad(m->b1), cf_zero_grad(m->w2), cf_zero_grad(m->b2);
    cf_step_reset(ctx);
    return k;
}

/* Three steps (three dropout masks) of plain, flat and nested recomputation: equal bit for bit. */
static void check_bit_identical(cf_dtype dt, bool with_gate)
{
    enum { D = 12, H = 40, ROWS = 6, DEPTH = 4, MAX = 4 * (D * H + H + H * D + D) };
    net m = make_net(dt, D, H, 0.25);
    double *ref = malloc(sizeof(double) * MAX), *got = malloc(sizeof(double) * MAX);
    uint64_t step0 = cf_ctx_step(ctx);
    for (int mode = FLAT; mode <= NESTED; mode++) {
        cf_ctx_set_step(ctx, step0);
        for (int s = 0; s < 3; s++) {
            uint64_t at = cf_ctx_step(ctx);
            int64_t n_ref = run_step(&m, PLAIN, DEPTH, ROWS, with_gate, ref);
            cf_ctx_set_step(ctx, at); /* the same step: the same masks */
            int64_t n_got = run_step(&m, mode, DEPTH, ROWS, with_gate, got);
            CHECK(n_ref > 1 + 2 * D * H && n_ref == n_got, "%lld values against %lld", (long long)n_got, (long long)n_ref);
            CHECK(n_ref == n_got && memcmp(ref, got, sizeof(double) * (size_t)n_ref) == 0,
                  "%s mode %d step %d: recomputed loss or gradients differ (loss %.17g vs %.17g)",
                  cf_dtype_name(dt), mode, s, got[0], ref[0]);
        }
    }
    free(ref);
    free(got);
    free_net(&m);
}

static void test_bit_identical_f32(void) { check_bit_identical(CF_F32, false); }
static void test_bit_identical_f64(void) { check_bit_identical(CF_F64, false); }
static void test_tensor_through_user(void) { check_bit_identical(CF_F32, true); }

/* The dropout masks really differ across steps and with the mask off the loss changes: the comparisons above
 * see dropout at work. */
static void test_dropout_is_live(void)
{
    net m = make_net(CF_F32, 8, 16, 0.5);
    double a[2000], b[2000];
    uint64_t at = cf_ctx_step(ctx);
    run_step(&m, FLAT, 2, 4, false, a);
    cf_ctx_set_step(ctx, at);
    m.p = 0.0;
    run_step(&m, FLAT, 2, 4, false, b);
    CHECK(a[0] != b[0], "dropout 0.5 and 0 give the same loss %g", a[0]);
    free_net(&m);
}

static int hook_calls;
static double hook_seen;
static void on_final(cf_tensor *leaf, void *user)
{
    (void)user;
    hook_calls++;
    hook_seen = cf_get_flat(leaf->grad, 3);
}

/* A parameter used only inside segments gets its gradient-final hook once, with the final gradient. */
static void test_hooks(void)
{
    net m = make_net(CF_F64, 6, 10, 0.1);
    double buf[2000];
    for (int mode = PLAIN; mode <= NESTED; mode++) {
        cf_set_grad_hook(m.w1, on_final, NULL);
        hook_calls = 0;
        /* run_step zeroes the grads after reading them: read the hook's view against the value it saw */
        int64_t n = run_step(&m, mode, 4, 3, false, buf);
        CHECK(n > 1 && hook_calls == 1, "mode %d: %d hook calls", mode, hook_calls);
        CHECK(hook_seen == buf[1 + 3], "mode %d: the hook saw %.17g, the final gradient is %.17g", mode, hook_seen, buf[4]);
    }
    cf_set_grad_hook(m.w1, NULL, NULL);
    free_net(&m);
}

/* The arena high-water of one step of a deep stack, in a context of its own. */
static size_t high_water(int mode, size_t *used_after_forward, uint64_t *allocs_growth)
{
    cf_ctx *saved = ctx;
    ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .arena_bytes = 1 << 16});
    net m = make_net(CF_F32, 32, 256, 0.1);
    enum { DEPTH = 8, ROWS = 64 };
    uint64_t allocs = 0;
    for (int s = 0; s < 3; s++) {
        if (s == 2) allocs = cf_ctx_arena_system_allocs(ctx);
        cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(ROWS, 32), 3, 4);
        x->requires_grad = true;
        for (int l = 0; l < DEPTH; l++) x = mode == PLAIN ? layer(ctx, &m, 1, &x) : cf_recompute(ctx, layer, &m, 1, &x);
        *used_after_forward = cf_ctx_arena_used(ctx);
        cf_tensor *loss = cf_sum(ctx, cf_mul(ctx, x, x), 0, NULL, false);
        CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK, "%s", cf_last_error());
        cf_zero_grad(m.w1), cf_zero_grad(m.b1), cf_zero_grad(m.w2), cf_zero_grad(m.b2);
        cf_step_reset(ctx);
    }
    *allocs_growth = cf_ctx_arena_system_allocs(ctx) - allocs;
    size_t hw = cf_ctx_arena_high_water(ctx);
    free_net(&m);
    cf_ctx_free(ctx);
    ctx = saved;
    return hw;
}

/* Recomputation frees the segments' intermediates: the forward keeps a small fraction of what plain training
 * keeps, the high-water (forward plus one segment's recomputation) is far lower, and later steps ask the
 * system for nothing. */
static void test_memory_goes_away(void)
{
    size_t fwd_plain, fwd_rc;
    uint64_t grow_plain, grow_rc;
    size_t hw_plain = high_water(PLAIN, &fwd_plain, &grow_plain), hw_rc = high_water(FLAT, &fwd_rc, &grow_rc);
    /* per layer, plain keeps four [64, 256] tensors (linear, gelu, dropout) and more; recomputation one [64, 32] */
    CHECK(fwd_rc * 8 < fwd_plain, "forward keeps %zu bytes recomputed, %zu plain", fwd_rc, fwd_plain);
    CHECK(hw_rc * 3 < hw_plain, "high-water %zu bytes recomputed, %zu plain", hw_rc, hw_plain);
    CHECK(grow_plain == 0 && grow_rc == 0, "the arena grew in steady state: %llu, %llu", (unsigned long long)grow_plain,
          (unsigned long long)grow_rc);
}

/* Finite differences through the segment node, flat and nested, f64 (and f32 against f64). */
static cf_tensor *gc_seg(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    (void)user, (void)n;
    return cf_mul(c, cf_tanh(c, cf_matmul(c, in[0], in[1])), in[2]);
}

static cf_tensor *gc_nested(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    cf_tensor *y = cf_recompute(c, gc_seg, user, n, in);
    cf_tensor *in2[3] = {y, in[1], in[2]};
    return cf_recompute(c, gc_seg, user, 3, in2);
}

static cf_tensor *gc_flat(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    (void)user;
    return cf_recompute(c, gc_seg, NULL, 3, in);
}

static cf_tensor *gc_outer(cf_ctx *c, cf_tensor *const *in, const void *user)
{
    (void)user;
    return cf_recompute(c, gc_nested, NULL, 3, in);
}

static void test_gradcheck(void)
{
    cf_gc *g = cf_gc_new(ctx, CF_OP_RECOMPUTE, false);
    cf_tensor *in[3] = {cf_gc_randn(g, CF_SHAPE(3, 4)), cf_gc_randn(g, CF_SHAPE(4, 4)), cf_gc_randn(g, CF_SHAPE(3, 4))};
    cf_gc_check(g, "flat", gc_flat, NULL, 3, in);
    cf_gc_check(g, "nested", gc_outer, NULL, 3, in);
    CHECK(cf_gc_cases(g) == 2 && cf_gc_failures(g) == 0, "%d of %d cases failed", cf_gc_failures(g), cf_gc_cases(g));
    CHECK(cf_gc_target_hits(g) > 0, "the cases never recorded a recompute node");
    cf_gc_free(g);
    cf_step_reset(ctx);
}

static int calls;
static cf_tensor *unstable(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    (void)user, (void)n;
    return calls++ == 0 ? cf_mul_scalar(c, in[0], 2.0) : cf_sum(c, in[0], 0, NULL, false);
}

static cf_tensor *failing(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    (void)user, (void)n;
    cf_tensor *big = cf_mul_scalar(c, in[0], 2.0);
    (void)big;
    cf_set_error(CF_ERR_ARG, "failing segment");
    return NULL;
}

/* The same tensor twice among the inputs: fn still sees in[0] and in[1] by position, and the gradient is the sum. */
static cf_tensor *weighted(cf_ctx *c, void *user, int n, cf_tensor *const *in)
{
    (void)user, (void)n;
    return cf_add(c, cf_mul_scalar(c, in[0], 2.0), cf_mul_scalar(c, cf_mul(c, in[1], in[2]), 3.0));
}

static void test_repeated_input(void)
{
    cf_tensor *x = cf_from_data(ctx, CF_F64, CF_SHAPE(2), (const double[]){1.0, -2.0});
    cf_tensor *w = cf_from_data(ctx, CF_F64, CF_SHAPE(2), (const double[]){0.5, 4.0});
    x->requires_grad = w->requires_grad = true;
    cf_tensor *in[3] = {x, x, w}; /* 2x + 3 x w */
    cf_tensor *loss = cf_sum(ctx, cf_recompute(ctx, weighted, NULL, 3, in), 0, NULL, false);
    CHECK(loss && cf_item(loss) == 2 * (1.0 - 2.0) + 3 * (0.5 - 8.0));
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK, "%s", cf_last_error());
    CHECK(x->grad && cf_get_flat(x->grad, 0) == 2 + 3 * 0.5 && cf_get_flat(x->grad, 1) == 2 + 3 * 4.0);
    CHECK(w->grad && cf_get_flat(w->grad, 0) == 3 * 1.0 && cf_get_flat(w->grad, 1) == 3 * -2.0);
    cf_step_reset(ctx);
}

static void test_errors(void)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(4, 3), 1, 1);
    x->requires_grad = true;
    CHECK(!cf_recompute(ctx, NULL, NULL, 1, &x));
    CHECK_ERROR_HAS("fn is NULL");
    cf_tensor *none = NULL;
    CHECK(!cf_recompute(ctx, unstable, NULL, 1, &none));
    /* a segment that fails leaves the arena where it was */
    size_t before = cf_ctx_arena_used(ctx);
    CHECK(!cf_recompute(ctx, failing, NULL, 1, &x));
    CHECK_ERROR_HAS("failing segment");
    CHECK(cf_ctx_arena_used(ctx) == before, "%zu bytes used, %zu before", cf_ctx_arena_used(ctx), before);
    /* a segment that gives another shape when rerun: backward names it */
    calls = 0;
    cf_tensor *y = cf_recompute(ctx, unstable, NULL, 1, &x);
    cf_tensor *loss = cf_sum(ctx, y, 0, NULL, false);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_ERR_STATE);
    CHECK_ERROR_HAS("recompute: the segment's output is");
    cf_step_reset(ctx);
    /* grad mode off: fn runs plainly, nothing is recorded */
    bool prev = cf_set_grad_enabled(ctx, false);
    calls = 0;
    cf_tensor *z = cf_recompute(ctx, unstable, NULL, 1, &x);
    CHECK(z && !z->node && cf_tape_size(ctx) == 0);
    cf_set_grad_enabled(ctx, prev);
    cf_step_reset(ctx);
}

static void test_mode_parse(void)
{
    cf_recompute_mode m = CF_RECOMPUTE_NONE;
    CHECK(cf_recompute_mode_parse("block", &m) && m == CF_RECOMPUTE_BLOCK);
    CHECK(cf_recompute_mode_parse("attention", &m) && m == CF_RECOMPUTE_ATTENTION);
    CHECK(cf_recompute_mode_parse("none", &m) && m == CF_RECOMPUTE_NONE);
    CHECK(!cf_recompute_mode_parse("blocks", &m));
    CHECK(cf_recompute_mode_of(ctx) == CF_RECOMPUTE_NONE);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .seed = 11, .arena_bytes = 1 << 20});
    if (!ctx) return 1;
    RUN(test_bit_identical_f32);
    RUN(test_bit_identical_f64);
    RUN(test_tensor_through_user);
    RUN(test_dropout_is_live);
    RUN(test_hooks);
    RUN(test_memory_goes_away);
    RUN(test_gradcheck);
    RUN(test_repeated_input);
    RUN(test_errors);
    RUN(test_mode_parse);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
