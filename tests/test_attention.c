/* cf_sdpa against a naive reference built from matmul / transpose / masked_fill / exp / div (and a
 * softmax written here), forward and backward, in f64 and f32, for every mask kind with T spanning
 * several tiles and not a multiple of the tile size; zero rows where every key is masked; the dropout
 * contract (the mask documented in attention.h); both backward work partitions; argument errors. */
#include "autograd/cformer.h"
#include "autograd/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define EXPECT(cond, ...) \
    do { \
        if (cond) { \
            passed++; \
        } else { \
            failed++; \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__); \
            printf("\n"); \
        } \
    } while (0)

typedef struct {
    const char *label;
    int64_t B, H, Hkv, Tq, Tk, D, Dv;
    cf_sdpa_mask mask;
    int64_t window, block;
    bool attn_mask;  /* a pseudo-random [Tq, Tk] mask with query row 3 fully hidden */
    bool padding;    /* key padding: batch 0 pads its last 9 keys, batch 1 pads everything */
    int bias;        /* 0: none, 1: [H, Tq, Tk], 2: [B, H, Tq, Tk], 3: [B, 1, 1, Tk] */
    double dropout;
    bool transposed; /* q/k/v as transposes of [B, T, H, D] */
    double scale;
} tcase;

static bool am_keep(int64_t i, int64_t j) { return i != 3 && ((i * 131 + j * 71) % 5) != 0; }
static bool is_pad(const tcase *t, int64_t b, int64_t j) { return b == 1 || (b == 0 && j >= t->Tk - 9); }

/* The visibility rule, written from the header's definition. */
static bool visible(const tcase *t, int64_t b, int64_t i, int64_t j)
{
    int64_t p = i + t->Tk - t->Tq;
    bool ok = true;
    switch (t->mask) {
    case CF_SDPA_CAUSAL: ok = j <= p; break;
    case CF_SDPA_WINDOW: ok = j <= p && j > p - t->window; break;
    case CF_SDPA_BLOCK: ok = floor((double)p / t->block) == floor((double)j / t->block); break;
    default: break;
    }
    if (t->attn_mask && !am_keep(i, j)) ok = false;
    if (t->padding && is_pad(t, b, j)) ok = false;
    return ok;
}

static cf_tensor *leaf(cf_ctx *c, cf_dtype dt, int nd, const int64_t *shape, uint64_t stream)
{
    cf_tensor *x = cf_randn(c, dt, nd, shape, 77, stream);
    if (x) cf_requires_grad_(x, true);
    return x;
}

typedef struct {
    cf_tensor *q, *k, *v, *bias;     /* leaves */
    cf_tensor *qv, *kv, *vv;         /* what goes into attention ([B, H, T, D] views) */
    cf_tensor *am, *pad;             /* bool */
    cf_tensor *notkeep;              /* bool [B, H, Tq, Tk], for the reference */
    cf_tensor *rowfix;               /* [B, H, Tq, 1]: 1 where a row sees nothing (keeps 0 / 0 away) */
    cf_tensor *dropmul;              /* [B, H, Tq, Tk] dropout multipliers, or NULL */
    cf_tensor *seed;                 /* the upstream gradient */
} inputs;

static bool make_inputs(cf_ctx *c, const tcase *t, cf_dtype dt, inputs *in)
{
    int64_t B = t->B, H = t->H, Hk = t->Hkv, Tq = t->Tq, Tk = t->Tk;
    memset(in, 0, sizeof *in);
    if (t->transposed) {
        in->q = leaf(c, dt, CF_SHAPE(B, Tq, H, t->D), 1);
        in->k = leaf(c, dt, CF_SHAPE(B, Tk, Hk, t->D), 2);
        in->v = leaf(c, dt, CF_SHAPE(B, Tk, Hk, t->Dv), 3);
        in->qv = cf_transpose(c, in->q, 1, 2), in->kv = cf_transpose(c, in->k, 1, 2), in->vv = cf_transpose(c, in->v, 1, 2);
    } else {
        in->qv = in->q = leaf(c, dt, CF_SHAPE(B, H, Tq, t->D), 1);
        in->kv = in->k = leaf(c, dt, CF_SHAPE(B, Hk, Tk, t->D), 2);
        in->vv = in->v = leaf(c, dt, CF_SHAPE(B, Hk, Tk, t->Dv), 3);
    }
    if (t->bias == 1) in->bias = leaf(c, dt, CF_SHAPE(H, Tq, Tk), 4);
    if (t->bias == 2) in->bias = leaf(c, dt, CF_SHAPE(B, H, Tq, Tk), 4);
    if (t->bias == 3) in->bias = leaf(c, dt, CF_SHAPE(B, 1, 1, Tk), 4);
    uint8_t *am = malloc((size_t)(Tq * Tk)), *pad = malloc((size_t)(B * Tk)), *nk = malloc((size_t)(B * H * Tq * Tk));
    double *fix = malloc(sizeof(double) * (size_t)(B * H * Tq)), *mul = malloc(sizeof(double) * (size_t)(B * H * Tq * Tk));
    float *u = malloc(sizeof(float) * (size_t)(B * H * Tq * Tk));
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++) am[i * Tk + j] = am_keep(i, j);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Tk; j++) pad[b * Tk + j] = is_pad(t, b, j);
    if (t->dropout > 0)
        cf_rng_uniform_f32(cf_rng_key(cf_ctx_seed(c), 9), cf_ctx_step(c), u, B * H * Tq * Tk);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tq; i++) {
                int64_t row = (b * H + h) * Tq + i, seen = 0;
                for (int64_t j = 0; j < Tk; j++) {
                    bool vis = visible(t, b, i, j);
                    nk[row * Tk + j] = !vis;
                    seen += vis;
                    mul[row * Tk + j] = u[row * Tk + j] < t->dropout ? 0.0 : 1.0 / (1.0 - t->dropout);
                }
                fix[row] = seen ? 0.0 : 1.0;
            }
    if (t->attn_mask) in->am = cf_from_data(c, CF_BOOL, CF_SHAPE(Tq, Tk), am);
    if (t->padding) in->pad = cf_from_data(c, CF_BOOL, CF_SHAPE(B, Tk), pad);
    in->notkeep = cf_from_data(c, CF_BOOL, CF_SHAPE(B, H, Tq, Tk), nk);
    cf_tensor *fix64 = cf_from_data(c, CF_F64, CF_SHAPE(B, H, Tq, 1), fix);
    in->rowfix = cf_empty(c, dt, CF_SHAPE(B, H, Tq, 1));
    cf_copy_(in->rowfix, fix64);
    if (t->dropout > 0) {
        cf_tensor *m64 = cf_from_data(c, CF_F64, CF_SHAPE(B, H, Tq, Tk), mul);
        in->dropmul = cf_empty(c, dt, CF_SHAPE(B, H, Tq, Tk));
        cf_copy_(in->dropmul, m64);
    }
    in->seed = cf_randn(c, dt, CF_SHAPE(B, H, Tq, t->Dv), 78, 5);
    free(am), free(pad), free(nk), free(fix), free(mul), free(u);
    return in->q && in->k && in->v && in->seed && (!t->bias || in->bias);
}

static cf_sdpa_opts opts_of(const tcase *t, const inputs *in)
{
    cf_sdpa_opts o = {0};
    o.scale = t->scale;
    o.mask = t->mask, o.window = t->window, o.block = t->block;
    o.attn_mask = in->am, o.key_padding = in->pad, o.bias = in->bias;
    o.dropout = t->dropout, o.dropout_stream = 9;
    return o;
}

/* softmax over the last dim that gives 0 on rows whose scores are all -inf */
static cf_tensor *ref_softmax(cf_ctx *c, cf_tensor *s, cf_tensor *rowfix)
{
    int64_t n = cf_numel(s), cols = s->shape[s->ndim - 1], rows = cols ? n / cols : 0;
    cf_tensor *mx = cf_empty(c, s->dtype, CF_SHAPE(s->shape[0], s->shape[1], s->shape[2], 1));
    for (int64_t r = 0; r < rows; r++) {
        double m = -INFINITY;
        for (int64_t j = 0; j < cols; j++) m = fmax(m, cf_get_flat(s, r * cols + j));
        cf_set_flat(mx, r, isfinite(m) ? m : 0.0); /* a constant shift: it cancels in the ratio */
    }
    cf_tensor *e = cf_exp(c, cf_sub(c, s, mx));
    cf_tensor *sum = cf_matmul(c, e, cf_full(c, s->dtype, CF_SHAPE(cols, 1), 1.0));
    return cf_div(c, e, cf_add(c, sum, rowfix));
}

/* k or v [B, Hkv, T, D] repeated to [B, H, T, D]: query head h reads kv head h / (H / Hkv) */
static cf_tensor *repeat_heads(cf_ctx *c, cf_tensor *x, int64_t H)
{
    int64_t B = x->shape[0], Hk = x->shape[1], T = x->shape[2], D = x->shape[3];
    if (Hk == H) return x;
    cf_tensor *e = cf_expand(c, cf_unsqueeze(c, x, 2), CF_SHAPE(B, Hk, H / Hk, T, D));
    return cf_reshape(c, e, CF_SHAPE(B, H, T, D));
}

static cf_tensor *reference(cf_ctx *c, const tcase *t, const inputs *in)
{
    double scale = t->scale != 0 ? t->scale : 1.0 / sqrt((double)t->D);
    cf_tensor *k = repeat_heads(c, in->kv, t->H), *v = repeat_heads(c, in->vv, t->H);
    cf_tensor *s = cf_mul_scalar(c, cf_matmul(c, in->qv, cf_transpose(c, k, -1, -2)), scale);
    if (in->bias) s = cf_add(c, s, in->bias);
    s = cf_masked_fill(c, s, in->notkeep, -INFINITY);
    cf_tensor *p = ref_softmax(c, s, in->rowfix);
    if (in->dropmul) p = cf_mul(c, p, in->dropmul);
    return cf_matmul(c, p, v);
}

static double *values(const cf_tensor *t)
{
    if (!t) return NULL;
    double *v = malloc(sizeof(double) * (size_t)(cf_numel(t) + 1));
    cf_to_f64_array(t, v);
    return v;
}

/* max |a - b| / (1 + max |b|), and whether a has NaNs */
static double rel_diff(const double *a, const double *b, int64_t n, bool *nan)
{
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] != a[i]) *nan = true;
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return d / (1 + s);
}

/* Runs the fused op and the reference with the same upstream gradient; compares output and grads. */
static void check_case(cf_ctx *c, const tcase *t, cf_dtype dt)
{
    inputs in;
    if (!make_inputs(c, t, dt, &in)) {
        EXPECT(0, "%s: inputs: %s", t->label, cf_last_error());
        return;
    }
    cf_tensor *leaves[4] = {in.q, in.k, in.v, in.bias};
    int nl = in.bias ? 4 : 3;
    cf_sdpa_opts o = opts_of(t, &in);
    cf_set_threads(c, 0);
    cf_tensor *y = cf_sdpa(c, in.qv, in.kv, in.vv, &o);
    if (!y || cf_backward(c, y, in.seed) != CF_OK) {
        EXPECT(0, "%s: fused: %s", t->label, cf_last_error());
        return;
    }
    /* the reference runs on one thread: its many small elementwise loops gain nothing from more, and
     * on a busy machine threads spinning at their barriers would dominate the test's time */
    cf_set_threads(c, 1);
    double *yf = values(y), *gf[4];
    for (int i = 0; i < nl; i++) gf[i] = values(leaves[i]->grad);
    /* the tape keeps the fused graph; without its gradients the second backward passes over it */
    for (int i = 0; i < nl; i++) cf_zero_grad(leaves[i]);
    y->grad = NULL;
    if (t->transposed) in.qv->grad = in.kv->grad = in.vv->grad = NULL;
    cf_tensor *yr = reference(c, t, &in);
    if (!yr || cf_backward(c, yr, in.seed) != CF_OK) {
        EXPECT(0, "%s: reference: %s", t->label, cf_last_error());
        return;
    }
    double *yrv = values(yr), tol = dt == CF_F64 ? 1e-11 : 2e-5;
    bool nan = false;
    double e = rel_diff(yf, yrv, cf_numel(y), &nan);
    EXPECT(e <= tol && !nan, "%s (%s): output differs from the reference by %.3g%s", t->label, cf_dtype_name(dt), e,
           nan ? " (NaN)" : "");
    const char *names[4] = {"q", "k", "v", "bias"};
    for (int i = 0; i < nl; i++) {
        double *gr = values(leaves[i]->grad);
        nan = false;
        e = rel_diff(gf[i], gr, cf_numel(leaves[i]), &nan);
        EXPECT(e <= tol * 4 && !nan, "%s (%s): d%s differs from the reference by %.3g%s", t->label, cf_dtype_name(dt),
               names[i], e, nan ? " (NaN)" : "");
        free(gr);
    }
    /* rows that see no key: exactly zero output, and no gradient reaches their query */
    int64_t bad = 0, empty = 0;
    const uint8_t *nk = cf_data(in.notkeep);
    for (int64_t b = 0; b < t->B; b++)
        for (int64_t h = 0; h < t->H; h++)
            for (int64_t i = 0; i < t->Tq; i++) {
                int64_t row = (b * t->H + h) * t->Tq + i, j = 0;
                while (j < t->Tk && nk[row * t->Tk + j]) j++;
                if (j < t->Tk) continue;
                empty++;
                for (int64_t d = 0; d < t->Dv; d++) bad += yf[row * t->Dv + d] != 0;
                for (int64_t d = 0; d < t->D; d++) {
                    int64_t qi = t->transposed ? ((b * t->Tq + i) * t->H + h) * t->D + d : row * t->D + d;
                    bad += gf[0][qi] != 0;
                }
            }
    EXPECT(bad == 0, "%s (%s): %lld nonzero values in %lld rows that see no key", t->label, cf_dtype_name(dt),
           (long long)bad, (long long)empty);
    free(yf), free(yrv);
    for (int i = 0; i < nl; i++) free(gf[i]);
    cf_set_threads(c, 0);
    cf_step_reset(c);
}

/* Both backward partitions (one pass per kv head; split passes over key and query blocks, whose
 * query-block items here also own a bias shared across the batch) give the same gradients. */
static void check_partitions(cf_ctx *c)
{
    tcase t = {"partitions", 2, 2, 1, 200, 200, 16, 16, CF_SDPA_CAUSAL, 0, 0, false, false, 1, 0.1, false, 0};
    double *g[2][4] = {{0}};
    int64_t n[4];
    uint64_t step = cf_ctx_step(c);
    for (int pass = 0; pass < 2; pass++) {
        cf_ctx_set_step(c, step); /* the same dropout mask in both */
        cf_set_threads(c, pass == 0 ? 1 : 4); /* 1 thread: one pass; 4 threads for 2 kv heads: split */
        inputs in;
        make_inputs(c, &t, CF_F64, &in);
        cf_sdpa_opts o = opts_of(&t, &in);
        cf_tensor *y = cf_sdpa(c, in.qv, in.kv, in.vv, &o);
        if (!y || cf_backward(c, y, in.seed) != CF_OK) {
            EXPECT(0, "partitions: %s", cf_last_error());
            return;
        }
        cf_tensor *l[4] = {in.q, in.k, in.v, in.bias};
        for (int i = 0; i < 4; i++) g[pass][i] = values(l[i]->grad), n[i] = cf_numel(l[i]);
        cf_step_reset(c);
    }
    cf_set_threads(c, 0);
    for (int i = 0; i < 4; i++) {
        bool nan = false;
        double e = rel_diff(g[1][i], g[0][i], n[i], &nan);
        EXPECT(e < 1e-12 && !nan, "partitions: gradient %d differs by %.3g between 1 and 4 threads", i, e);
        free(g[0][i]), free(g[1][i]);
    }
}

static void check_dropout(cf_ctx *c)
{
    cf_tensor *q = cf_randn(c, CF_F32, CF_SHAPE(1, 2, 70, 8), 1, 1), *k = cf_randn(c, CF_F32, CF_SHAPE(1, 2, 80, 8), 1, 2);
    cf_tensor *v = cf_randn(c, CF_F32, CF_SHAPE(1, 2, 80, 8), 1, 3);
    cf_sdpa_opts o = {.dropout = 0.5, .dropout_stream = 3};
    double *a = values(cf_sdpa(c, q, k, v, &o)), *b = values(cf_sdpa(c, q, k, v, &o));
    int64_t n = 2 * 70 * 8;
    EXPECT(memcmp(a, b, sizeof(double) * (size_t)n) == 0, "dropout: two calls in one step differ");
    cf_ctx_set_step(c, cf_ctx_step(c) + 1);
    double *s2 = values(cf_sdpa(c, q, k, v, &o));
    o.dropout_stream = 4;
    double *st = values(cf_sdpa(c, q, k, v, &o));
    bool nan = false;
    EXPECT(rel_diff(a, s2, n, &nan) > 1e-3, "dropout: the next step draws the same mask");
    EXPECT(rel_diff(s2, st, n, &nan) > 1e-3, "dropout: another stream draws the same mask");
    cf_set_training(c, false);
    double *ev = values(cf_sdpa(c, q, k, v, &o));
    cf_set_training(c, true);
    o.dropout = 0;
    double *nd = values(cf_sdpa(c, q, k, v, &o));
    EXPECT(memcmp(ev, nd, sizeof(double) * (size_t)n) == 0, "dropout: applied in eval mode");
    free(a), free(b), free(s2), free(st), free(ev), free(nd);
    cf_step_reset(c);
}

/* Degenerate sizes: no keys gives zeros and zero gradients, no queries an empty output. */
static void check_empty(cf_ctx *c)
{
    cf_tensor *q = cf_randn(c, CF_F32, CF_SHAPE(1, 2, 3, 4), 1, 1), *k = cf_zeros(c, CF_F32, CF_SHAPE(1, 2, 0, 4));
    cf_tensor *v = cf_zeros(c, CF_F32, CF_SHAPE(1, 2, 0, 5));
    cf_requires_grad_(q, true);
    cf_tensor *y = cf_sdpa(c, q, k, v, NULL);
    bool ok = y && y->shape[3] == 5 && cf_backward(c, y, cf_full(c, CF_F32, CF_SHAPE(1, 2, 3, 5), 1.0)) == CF_OK;
    for (int64_t i = 0; ok && i < 30; i++) ok = cf_get_flat(y, i) == 0;
    for (int64_t i = 0; ok && i < 24; i++) ok = cf_get_flat(q->grad, i) == 0;
    EXPECT(ok, "Tk = 0: expected zero output and gradient (%s)", cf_last_error());
    y = cf_sdpa(c, cf_zeros(c, CF_F32, CF_SHAPE(1, 2, 0, 4)), cf_zeros(c, CF_F32, CF_SHAPE(1, 2, 3, 4)),
                cf_zeros(c, CF_F32, CF_SHAPE(1, 2, 3, 4)), &(cf_sdpa_opts){.mask = CF_SDPA_CAUSAL});
    EXPECT(y && cf_numel(y) == 0, "Tq = 0: expected an empty output (%s)", cf_last_error());
    cf_step_reset(c);
}

static void expect_error(cf_ctx *c, const char *what, cf_tensor *q, cf_tensor *k, cf_tensor *v, const cf_sdpa_opts *o,
                         cf_status want)
{
    cf_clear_error();
    cf_tensor *y = cf_sdpa(c, q, k, v, o);
    EXPECT(!y && cf_last_status() == want, "%s: expected %s, got %s (%s)", what, cf_status_name(want),
           y ? "a tensor" : cf_status_name(cf_last_status()), cf_last_error());
    if (!y && strncmp(cf_last_error(), "sdpa", 4) != 0 && want != CF_ERR_ARG)
        EXPECT(0, "%s: message does not name the op: %s", what, cf_last_error());
}

static void check_errors(cf_ctx *c)
{
    cf_tensor *q = cf_zeros(c, CF_F32, CF_SHAPE(2, 4, 5, 8)), *k = cf_zeros(c, CF_F32, CF_SHAPE(2, 2, 6, 8));
    cf_tensor *v = cf_zeros(c, CF_F32, CF_SHAPE(2, 2, 6, 3));
    cf_sdpa_opts o = {0};
    cf_tensor *y = cf_sdpa(c, q, k, v, NULL);
    EXPECT(y && y->ndim == 4 && y->shape[0] == 2 && y->shape[1] == 4 && y->shape[2] == 5 && y->shape[3] == 3,
           "GQA shapes: %s", cf_last_error());
    expect_error(c, "q 3-D", cf_zeros(c, CF_F32, CF_SHAPE(4, 5, 8)), k, v, &o, CF_ERR_SHAPE);
    expect_error(c, "batch mismatch", cf_zeros(c, CF_F32, CF_SHAPE(3, 4, 5, 8)), k, v, &o, CF_ERR_SHAPE);
    expect_error(c, "D mismatch", cf_zeros(c, CF_F32, CF_SHAPE(2, 4, 5, 7)), k, v, &o, CF_ERR_SHAPE);
    expect_error(c, "H not a multiple of Hkv", cf_zeros(c, CF_F32, CF_SHAPE(2, 3, 5, 8)), k, v, &o, CF_ERR_SHAPE);
    expect_error(c, "v's Tk differs", q, k, cf_zeros(c, CF_F32, CF_SHAPE(2, 2, 7, 3)), &o, CF_ERR_SHAPE);
    expect_error(c, "v's heads differ", q, k, cf_zeros(c, CF_F32, CF_SHAPE(2, 1, 6, 3)), &o, CF_ERR_SHAPE);
    expect_error(c, "dtype mix", q, cf_zeros(c, CF_F64, CF_SHAPE(2, 2, 6, 8)), v, &o, CF_ERR_DTYPE);
    expect_error(c, "integer q", cf_zeros(c, CF_I32, CF_SHAPE(2, 4, 5, 8)), k, v, &o, CF_ERR_DTYPE);
    expect_error(c, "NULL input", NULL, k, v, &o, CF_ERR_ARG);
    o.attn_mask = cf_zeros(c, CF_BOOL, CF_SHAPE(5, 7));
    expect_error(c, "attn_mask [Tq, Tk+1]", q, k, v, &o, CF_ERR_SHAPE);
    o.attn_mask = cf_zeros(c, CF_F32, CF_SHAPE(5, 6));
    expect_error(c, "float attn_mask", q, k, v, &o, CF_ERR_DTYPE);
    o.attn_mask = cf_zeros(c, CF_BOOL, CF_SHAPE(2, 4, 5, 6));
    EXPECT(cf_sdpa(c, q, k, v, &o) != NULL, "attn_mask [B, H, Tq, Tk]: %s", cf_last_error());
    o.attn_mask = NULL;
    o.key_padding = cf_zeros(c, CF_BOOL, CF_SHAPE(2, 5));
    expect_error(c, "key_padding [B, Tk-1]", q, k, v, &o, CF_ERR_SHAPE);
    o.key_padding = NULL;
    o.bias = cf_zeros(c, CF_F32, CF_SHAPE(3, 5, 6));
    expect_error(c, "bias with 3 heads", q, k, v, &o, CF_ERR_SHAPE);
    o.bias = cf_zeros(c, CF_F64, CF_SHAPE(5, 6));
    expect_error(c, "f64 bias on f32", q, k, v, &o, CF_ERR_DTYPE);
    o.bias = NULL;
    o.dropout = 1.0;
    expect_error(c, "dropout 1", q, k, v, &o, CF_ERR_ARG);
    o.dropout = 0;
    o.mask = CF_SDPA_WINDOW;
    expect_error(c, "window 0", q, k, v, &o, CF_ERR_ARG);
    o.mask = CF_SDPA_BLOCK;
    expect_error(c, "block 0", q, k, v, &o, CF_ERR_ARG);
    o.mask = (cf_sdpa_mask)17;
    expect_error(c, "unknown mask kind", q, k, v, &o, CF_ERR_ARG);
    o.mask = CF_SDPA_NONE;
    o.scale = NAN;
    expect_error(c, "NaN scale", q, k, v, &o, CF_ERR_ARG);
    cf_step_reset(c);
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(&(cf_ctx_options){.arena_bytes = 16u << 20});
    if (!c) {
        printf("ctx: %s\n", cf_last_error());
        return 1;
    }
    /* sizes span 3-4 tiles of 64 and are not multiples of it, so skipped, full and partial tiles and
     * the online softmax across tiles all occur */
    const tcase cases[] = {
        {"no mask", 2, 2, 2, 130, 130, 8, 8, CF_SDPA_NONE, 0, 0, false, false, 0, 0, false, 0},
        {"causal", 1, 2, 2, 160, 160, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, false, 0, 0, false, 0},
        {"causal, KV cache Tq < Tk", 1, 2, 2, 70, 193, 8, 4, CF_SDPA_CAUSAL, 0, 0, false, false, 0, 0, false, 0},
        {"causal, Tq > Tk", 1, 2, 2, 150, 90, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, false, 0, 0, false, 0},
        {"window 37", 1, 2, 2, 200, 200, 8, 8, CF_SDPA_WINDOW, 37, 0, false, false, 0, 0, false, 0},
        {"window 100, offset", 1, 2, 2, 90, 210, 8, 8, CF_SDPA_WINDOW, 100, 0, false, false, 0, 0, false, 0},
        {"block-local 50", 1, 2, 2, 171, 171, 8, 8, CF_SDPA_BLOCK, 0, 50, false, false, 0, 0, false, 0},
        {"block-local 70, offset", 1, 2, 2, 100, 190, 8, 8, CF_SDPA_BLOCK, 0, 70, false, false, 0, 0, false, 0},
        {"attn_mask with an empty row", 2, 2, 2, 130, 140, 8, 8, CF_SDPA_NONE, 0, 0, true, false, 0, 0, false, 0},
        {"attn_mask and window", 1, 2, 2, 130, 130, 8, 8, CF_SDPA_WINDOW, 20, 0, true, false, 0, 0, false, 0},
        {"key padding, batch 1 all pad", 2, 2, 2, 100, 140, 8, 8, CF_SDPA_NONE, 0, 0, false, true, 0, 0, false, 0},
        {"key padding and causal", 2, 2, 2, 140, 140, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, true, 0, 0, false, 0},
        {"bias [H, Tq, Tk], causal", 2, 2, 2, 130, 130, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, false, 1, 0, false, 0},
        {"bias [B, H, Tq, Tk], window", 2, 2, 2, 140, 140, 8, 8, CF_SDPA_WINDOW, 30, 0, false, false, 2, 0, false, 0},
        {"bias [B, 1, 1, Tk]", 2, 2, 2, 90, 140, 8, 8, CF_SDPA_NONE, 0, 0, false, false, 3, 0, false, 0.3},
        {"dropout 0.2, causal", 1, 2, 2, 150, 150, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, false, 0, 0.2, false, 0},
        {"GQA 4/2, window", 1, 4, 2, 150, 150, 8, 8, CF_SDPA_WINDOW, 60, 0, false, false, 0, 0, false, 0},
        {"GQA 4/1, bias [H, Tq, Tk]", 2, 4, 1, 100, 100, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, false, 1, 0, false, 0},
        {"transposed q/k/v, causal", 2, 2, 2, 140, 140, 8, 8, CF_SDPA_CAUSAL, 0, 0, false, false, 0, 0, true, 0},
        {"everything", 2, 4, 2, 100, 150, 8, 6, CF_SDPA_WINDOW, 80, 0, true, true, 1, 0.1, true, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case(c, &cases[i], CF_F64);
        check_case(c, &cases[i], CF_F32);
    }
    check_partitions(c);
    check_dropout(c);
    check_empty(c);
    check_errors(c);
    cf_ctx_free(c);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
