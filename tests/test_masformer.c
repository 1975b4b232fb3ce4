/* MASFormer's layers and data (layers/masformer.h, data/text/markov_copy.h):
 *  - local attention of every kind (block, block_prev, window; MHA and grouped-query; one block and several)
 *    equals full attention with the mask of the header's table as an explicit additive bias, forward and
 *    gradients (input, qkv and output projections), in f64 (< 1e-10); and its input gradient matches
 *    central differences;
 *  - the property the paper builds on (Sec. 3): a stack of local layers cannot see farther back than its
 *    layers' spans add up to, and one full layer lets the last token see the first; every layer is causal;
 *  - attention FLOPs: our CPU plan's layout {2, 5} of 6 at n 256, b 16 own+previous is 5/12 of all-full;
 *  - markov_copy: rows are a pure function of (seed, split, index), the span is copied from [0, source_end)
 *    to p >= insert_from, "long_range" marks exactly its second and later tokens, the chain's stationary
 *    conditional entropy matches the rows' empirical bigram entropy, bad sizes are refused by name. */
#include "autograd/cformer.h"
#include "data/text/markov_copy.h"
#include "layers/masformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_ctx *ctx;

/* the header's table, written out */
static bool visible(cf_mas_local kind, int64_t b, int64_t i, int64_t j)
{
    if (j > i) return false;
    switch (kind) {
    case CF_MAS_BLOCK: return i / b == j / b;
    case CF_MAS_BLOCK_PREV: return j / b >= i / b - 1;
    default: return j > i - b;
    }
}

typedef struct {
    cf_params *ps;
    cf_attention a;
    cf_tensor *x;
} attn_case;

static bool setup(attn_case *c, int64_t B, int64_t T, int64_t heads, int64_t kv_heads)
{
    c->ps = cf_params_new(CF_F64, 11);
    cf_attention_config ac = {.dim = 8, .heads = heads, .kv_heads = kv_heads, .bias = true, .mask = CF_ATTN_CAUSAL,
                              .rope = true, .rope_base = 10000.0, .std = 0.6};
    if (!c->ps || cf_attention_init(&c->a, c->ps, "attn", &ac) != CF_OK) return false;
    c->x = cf_tensor_alloc(CF_F64, CF_SHAPE(B, T, 8));
    if (!c->x || cf_copy_(c->x, cf_randn(ctx, CF_F64, CF_SHAPE(B, T, 8), 3, 1)) != CF_OK) return false;
    cf_requires_grad_(c->x, true);
    cf_step_reset(ctx);
    return true;
}

static void teardown(attn_case *c)
{
    cf_tensor_free(c->x);
    cf_params_free(c->ps);
}


static void zero_grads(attn_case *c)
{
    cf_tensor *leaves[4] = {c->x, c->a.qkv.weight, c->a.qkv.bias, c->a.proj.weight};
    for (int i = 0; i < 4; i++)
        if (leaves[i]->grad) cf_fill_(leaves[i]->grad, 0.0);
}

/* out = the attention; values and the gradients of sum(out * r) copied into dst (out first) */
static double *run(attn_case *c, cf_tensor *out, double *dst)
{
    if (!out) return NULL;
    int64_t n = cf_numel(out), at = 0;
    cf_tensor *r = cf_randn(ctx, CF_F64, out->ndim, out->shape, 5, 2);
    zero_grads(c);
    if (cf_backward(ctx, cf_sum(ctx, cf_mul(ctx, out, r), CF_ALL_DIMS, false), NULL) != CF_OK) return NULL;
    for (int64_t i = 0; i < n; i++) dst[at++] = cf_get_flat(out, i);
    cf_tensor *leaves[4] = {c->x, c->a.qkv.weight, c->a.qkv.bias, c->a.proj.weight};
    for (int k = 0; k < 4; k++)
        for (int64_t i = 0; i < cf_numel(leaves[k]); i++) dst[at++] = leaves[k]->grad ? cf_get_flat(leaves[k]->grad, i) : 0;
    cf_step_reset(ctx);
    return dst;
}

static void check_against_dense(cf_mas_local kind, int64_t B, int64_t T, int64_t span, int64_t heads, int64_t kv_heads)
{
    attn_case c = {0};
    CHECK(setup(&c, B, T, heads, kv_heads), "setup: %s", cf_last_error());
    size_t n = (size_t)(B * T * 8 + cf_numel(c.a.qkv.weight) + cf_numel(c.a.qkv.bias) + cf_numel(c.a.proj.weight) + B * T * 8);
    double *got = calloc(n, sizeof *got), *want = calloc(n, sizeof *want);
    cf_tensor *bias = cf_zeros(ctx, CF_F64, CF_SHAPE(1, 1, T, T));
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) cf_set_flat(bias, i * T + j, visible(kind, span, i, j) ? 0.0 : -1e9);
    bool ok = run(&c, cf_attention_fwd(ctx, &c.a, c.x, NULL, NULL, bias, NULL), want) != NULL;
    ok = ok && run(&c, cf_mas_local_attention(ctx, &c.a, c.x, kind, span), got) != NULL;
    double diff = 0;
    for (size_t i = 0; ok && i < n; i++) diff = fmax(diff, fabs(got[i] - want[i]));
    CHECK(ok && diff < 1e-10, "%s T %lld span %lld heads %lld/%lld: max |local - dense| %.3g (%s)", cf_mas_local_name(kind),
          (long long)T, (long long)span, (long long)heads, (long long)kv_heads, diff, ok ? "values and gradients" : cf_last_error());
    free(got);
    free(want);
    teardown(&c);
}

static void test_local_equals_masked_dense(void)
{
    for (int k = CF_MAS_BLOCK; k <= CF_MAS_WINDOW; k++) {
        check_against_dense((cf_mas_local)k, 2, 12, 4, 2, 2);
        check_against_dense((cf_mas_local)k, 2, 12, 3, 2, 1);  /* grouped-query */
        check_against_dense((cf_mas_local)k, 1, 6, 6, 2, 2);   /* one block */
        check_against_dense((cf_mas_local)k, 1, 130, 10, 2, 2); /* past one 64-row tile of the fused op */
    }
    /* the error names the span */
    attn_case c = {0};
    CHECK(setup(&c, 1, 10, 2, 2));
    CHECK(cf_mas_local_attention(ctx, &c.a, c.x, CF_MAS_BLOCK_PREV, 4) == NULL);
    CHECK_ERROR_HAS("local_span");
    cf_step_reset(ctx);
    teardown(&c);
}

/* d sum(out * r) / dx against central differences, block_prev across three blocks */
static void test_local_gradient_fd(void)
{
    attn_case c = {0};
    CHECK(setup(&c, 1, 9, 2, 2), "setup: %s", cf_last_error());
    cf_tensor *r = cf_tensor_alloc(CF_F64, CF_SHAPE(1, 9, 8));
    cf_copy_(r, cf_randn(ctx, CF_F64, CF_SHAPE(1, 9, 8), 8, 8));
    zero_grads(&c);
    cf_tensor *out = cf_mas_local_attention(ctx, &c.a, c.x, CF_MAS_BLOCK_PREV, 3);
    CHECK(out && cf_backward(ctx, cf_sum(ctx, cf_mul(ctx, out, r), CF_ALL_DIMS, false), NULL) == CF_OK);
    double analytic[72];
    for (int i = 0; i < 72; i++) analytic[i] = cf_get_flat(c.x->grad, i);
    cf_step_reset(ctx);
    bool prev = cf_set_grad_enabled(ctx, false);
    double worst = 0, eps = 1e-6;
    for (int i = 0; i < 72; i += 5) {
        double x0 = cf_get_flat(c.x, i), f[2];
        for (int s = 0; s < 2; s++) {
            cf_set_flat(c.x, i, x0 + (s ? -eps : eps));
            f[s] = cf_get_flat(cf_sum(ctx, cf_mul(ctx, cf_mas_local_attention(ctx, &c.a, c.x, CF_MAS_BLOCK_PREV, 3), r), CF_ALL_DIMS, false), 0);
            cf_step_reset(ctx);
        }
        cf_set_flat(c.x, i, x0);
        worst = fmax(worst, fabs((f[0] - f[1]) / (2 * eps) - analytic[i]) / (1e-6 + fabs(analytic[i])));
    }
    cf_set_grad_enabled(ctx, prev);
    CHECK(worst < 1e-5, "block_prev: worst relative gradient error %.3g", worst);
    cf_tensor_free(r);
    teardown(&c);
}

/* logits at `at` change when token `from` does (B = 1, T = 48) */
static bool sees(const cf_masformer *m, int64_t from, int64_t at)
{
    int64_t ids[48];
    for (int i = 0; i < 48; i++) ids[i] = (i * 7 + 3) % 11;
    double before[11];
    cf_tensor *lg = cf_masformer_logits(ctx, m, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 48), ids));
    for (int k = 0; lg && k < 11; k++) before[k] = cf_get_flat(lg, at * 11 + k);
    cf_step_reset(ctx);
    ids[from] = (ids[from] + 5) % 11;
    lg = cf_masformer_logits(ctx, m, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 48), ids));
    double diff = 0;
    for (int k = 0; lg && k < 11; k++) diff = fmax(diff, fabs(cf_get_flat(lg, at * 11 + k) - before[k]));
    cf_step_reset(ctx);
    return diff > 1e-9;
}

static void test_receptive_field(void)
{
    bool prev = cf_set_grad_enabled(ctx, false);
    for (int k = CF_MAS_BLOCK; k <= CF_MAS_WINDOW; k++) {
        cf_masformer_config c = {.gpt = cf_gpt_defaults(), .local = (cf_mas_local)k, .local_span = 4};
        c.gpt.vocab = 11, c.gpt.seq = 48, c.gpt.dim = 8, c.gpt.layers = 3, c.gpt.heads = 2, c.gpt.hidden = 16;
        c.gpt.pos = CF_POS_ROPE, c.gpt.init_std = 0.5;
        /* three local layers reach back at most 3 * 7 = 21 tokens (block_prev: 2b - 1 per layer) */
        cf_params *ps = cf_params_new(CF_F64, 4);
        cf_masformer m;
        CHECK(ps && cf_masformer_init(&m, ps, &c) == CF_OK, "init: %s", cf_last_error());
        const char *name = cf_mas_local_name((cf_mas_local)k);
        CHECK(!sees(&m, 0, 47), "%s: all-local layers see 47 tokens back", name);
        CHECK(sees(&m, 46, 47), "%s: the previous token is not seen", name);
        CHECK(!sees(&m, 30, 29), "%s: a local stack sees the future", name);
        m.cfg.full[1] = true; /* one full layer in the middle */
        CHECK(sees(&m, 0, 47), "%s: a full layer does not carry the first token to the last", name);
        CHECK(!sees(&m, 30, 29), "%s: with a full layer the stack sees the future", name);
        cf_masformer_free(&m);
        cf_params_free(ps);
    }
    cf_set_grad_enabled(ctx, prev);
}

static void test_flops(void)
{
    cf_masformer_config c = {.gpt = cf_gpt_defaults(), .local = CF_MAS_BLOCK_PREV, .local_span = 16};
    c.gpt.layers = 6, c.gpt.dim = 64;
    c.full[1] = c.full[4] = true;
    CHECK_NEAR(cf_masformer_attn_flops(&c, 256) / cf_masformer_attn_flops_full(&c, 256), (2 * 256 + 4 * 32) / (6.0 * 256), 1e-15);
    CHECK_NEAR(cf_masformer_attn_flops_full(&c, 256), 6 * 4.0 * 256 * 256 * 64, 1e-3);
    c.local = CF_MAS_BLOCK;
    CHECK_NEAR(cf_masformer_attn_flops(&c, 256), 2 * 4.0 * 256 * 256 * 64 + 4 * 4.0 * 256 * 16 * 64, 1e-3);
    /* the paper's 1.3B setting, 4 full of 24, n 8192, b 1024 own block: 27% (our CPU plan) */
    cf_masformer_config p = {.gpt = cf_gpt_defaults(), .local = CF_MAS_BLOCK, .local_span = 1024};
    p.gpt.layers = 24, p.gpt.dim = 2048;
    for (int l = 0; l < 4; l++) p.full[l] = true;
    CHECK_NEAR(cf_masformer_attn_flops(&p, 8192) / cf_masformer_attn_flops_full(&p, 8192), (4 * 8192 + 20 * 1024) / (24.0 * 8192), 1e-15);
}

static cf_markov_copy_config small_chain(void)
{
    cf_markov_copy_config c = cf_markov_copy_defaults();
    c.vocab = 16, c.branching = 3, c.seq = 128, c.size = 400, c.span = 10, c.source_end = 40, c.insert_from = 70, c.seed = 5;
    return c;
}

static void test_markov_copy_rows(void)
{
    cf_markov_copy_config c = small_chain();
    cf_dataset *tr = cf_markov_copy_open(&c, "train"), *va = cf_markov_copy_open(&c, "val");
    CHECK(tr && va, "%s", cf_last_error());
    if (!tr || !va) return;
    CHECK(tr->info.vocab == 16 && tr->info.seq == 128 && tr->len == 400);
    cf_batch b = {0};
    CHECK(cf_dataset_make_batch(tr, 2, &b) == CF_OK);
    int64_t x[129], y[129], s, p, s2, p2, differ = 0;
    for (int64_t idx = 0; idx < 50; idx++) {
        CHECK(cf_markov_copy_row(tr, idx, x, &s, &p) == CF_OK);
        CHECK(cf_markov_copy_row(tr, idx, y, &s2, &p2) == CF_OK && s == s2 && p == p2 && !memcmp(x, y, sizeof x),
              "row %lld is not reproducible", (long long)idx);
        CHECK(s >= 0 && s + c.span <= c.source_end && p >= c.insert_from && p + c.span <= c.seq + 1,
              "row %lld: source %lld, destination %lld", (long long)idx, (long long)s, (long long)p);
        CHECK(!memcmp(x + p, x + s, (size_t)c.span * sizeof *x), "row %lld: the span is not copied", (long long)idx);
        CHECK(cf_markov_copy_row(va, idx, y, NULL, NULL) == CF_OK);
        differ += memcmp(x, y, sizeof x) != 0;
        CHECK(cf_dataset_get(tr, idx, &b, 1) == CF_OK);
        cf_tensor *tok = cf_batch_get(&b, "tokens"), *tgt = cf_batch_get(&b, "targets"), *lr = cf_batch_get(&b, "long_range");
        int64_t marked = 0, wrong = 0;
        for (int64_t t = 0; t < c.seq; t++) {
            bool want = t >= p && t <= p + c.span - 2, got = cf_get_flat(lr, 128 + t) != 0;
            marked += got, wrong += want != got;
            wrong += cf_get_flat(tok, 128 + t) != (double)x[t] || cf_get_flat(tgt, 128 + t) != (double)x[t + 1];
        }
        CHECK(marked == c.span - 1 && wrong == 0, "row %lld: %lld long-range targets, %lld wrong fields", (long long)idx,
              (long long)marked, (long long)wrong);
    }
    CHECK(differ == 50, "train and val share %lld of 50 rows", (long long)(50 - differ));
    cf_batch_free(&b);
    cf_dataset_free(tr);
    cf_dataset_free(va);
}

/* the rows' empirical H(next | prev) outside the copies against the stationary value; one successor: 0 */
static void test_markov_copy_entropy(void)
{
    for (int64_t branching = 1; branching <= 3; branching += 2) {
        cf_markov_copy_config c = small_chain();
        c.branching = branching, c.size = 2000;
        cf_dataset *ds = cf_markov_copy_open(&c, "train");
        CHECK(ds != NULL, "%s", cf_last_error());
        if (!ds) return;
        static double count[16][16];
        memset(count, 0, sizeof count);
        int64_t x[129], p;
        for (int64_t idx = 0; idx < c.size; idx++) {
            cf_markov_copy_row(ds, idx, x, NULL, &p);
            for (int64_t t = 1; t <= c.seq; t++)
                if (t < p || t >= p + c.span) count[x[t - 1]][x[t]] += 1;
        }
        double h = 0, total = 0;
        for (int a = 0; a < 16; a++) {
            double row = 0;
            for (int k = 0; k < 16; k++) row += count[a][k], total += count[a][k];
            for (int k = 0; k < 16; k++)
                if (count[a][k] > 0) h -= count[a][k] * log(count[a][k] / row);
        }
        h /= total;
        double want = cf_markov_copy_entropy(ds);
        CHECK(fabs(h - want) < 0.02, "branching %lld: empirical bigram entropy %.4f, stationary %.4f", (long long)branching, h, want);
        if (branching == 1) CHECK_NEAR(want, 0.0, 1e-12);
        else CHECK(want > 0.5 && want < log(3.0), "entropy %.4f of 3 successors", want);
        cf_dataset_free(ds);
    }
}

static void test_markov_copy_errors(void)
{
    cf_markov_copy_config c = small_chain();
    c.insert_from = 120;
    CHECK(cf_markov_copy_open(&c, "train") == NULL);
    CHECK_ERROR_HAS("insert_from + span must be <= seq + 1");
    c = small_chain(), c.source_end = 5;
    CHECK(cf_markov_copy_open(&c, "train") == NULL);
    CHECK_ERROR_HAS("source_end must be >= span");
    c = small_chain(), c.branching = 17;
    CHECK(cf_markov_copy_open(&c, "train") == NULL);
    CHECK_ERROR_HAS("branching");
    CHECK(isnan(cf_markov_copy_entropy(NULL)));
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    RUN(test_local_equals_masked_dense);
    RUN(test_local_gradient_fd);
    RUN(test_receptive_field);
    RUN(test_flops);
    RUN(test_markov_copy_rows);
    RUN(test_markov_copy_entropy);
    RUN(test_markov_copy_errors);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
