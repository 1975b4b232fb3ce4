/* The shared decoder generation (layers/generate.h) over the Llama / Mistral decoder: KV-cached incremental
 * decoding gives the tokens of recomputing the whole prefix every step (the uncached reference), token for
 * token, with every step's logits within 1e-5 (f32 parameters) and 1e-10 (f64), for grouped-query attention,
 * a sliding window shorter than the prompt and than the generation (the rolling cache), llama3 rope scaling
 * and tied embeddings; the rolling buffer's row moves are checked by value; the GPT runs the same loop. */
#include "tests/check.h"
#include "layers/generate.h"
#include "layers/gpt.h"
#include "layers/llama.h"

#include <stdlib.h>

static cf_ctx *ctx;

enum { MAX_STEPS = 64, VOCAB = 23 };

typedef struct { /* every step's last logits row */
    double rows[MAX_STEPS][VOCAB];
    int64_t n;
} logit_log;

static void keep_logits(void *user, const cf_tensor *logits, int64_t row)
{
    logit_log *g = user;
    if (g->n >= MAX_STEPS) return;
    for (int64_t v = 0; v < VOCAB; v++) g->rows[g->n][v] = cf_get_flat(logits, row * VOCAB + v);
    g->n++;
}

/* Generates n_new tokens after a prompt of n_prompt with and without the cache (greedy and sampled) and
 * compares tokens and logits. */
static void check_cache_matches(const cf_lm *lm, int64_t n_prompt, int64_t n_new, double tol, const char *what)
{
    int64_t prompt[16], a[96], b[96];
    for (int64_t i = 0; i < n_prompt; i++) prompt[i] = (i * 7 + 3) % VOCAB;
    static logit_log la, lb;
    for (int greedy = 0; greedy < 2; greedy++) {
        la.n = lb.n = 0;
        cf_sample_opts o = {.temperature = greedy ? 0 : 1.0, .top_k = 10, .top_p = 0.95, .seed = 5,
                            .use_cache = true, .on_logits = keep_logits, .logits_user = &la};
        CHECK(cf_lm_generate(ctx, lm, prompt, n_prompt, n_new, &o, a) == CF_OK, "%s: %s", what, cf_last_error());
        o.use_cache = false, o.logits_user = &lb;
        CHECK(cf_lm_generate(ctx, lm, prompt, n_prompt, n_new, &o, b) == CF_OK, "%s: %s", what, cf_last_error());
        CHECK(la.n == n_new && lb.n == n_new, "%s: %lld and %lld steps", what, (long long)la.n, (long long)lb.n);
        int64_t same = 0;
        while (same < n_prompt + n_new && a[same] == b[same]) same++;
        CHECK(same == n_prompt + n_new, "%s (%s): cached and uncached tokens differ from position %lld", what,
              greedy ? "greedy" : "sampled", (long long)same);
        double worst = 0, scale = 0;
        for (int64_t s = 0; s < la.n && s < lb.n; s++)
            for (int64_t v = 0; v < VOCAB; v++) {
                worst = fmax(worst, fabs(la.rows[s][v] - lb.rows[s][v]));
                scale = fmax(scale, fabs(lb.rows[s][v]));
            }
        CHECK(worst <= tol, "%s: max |cached - uncached logits| = %g > %g", what, worst, tol);
        CHECK(scale > 0.1, "%s: logits of at most %g test nothing", what, scale);
    }
}

static void check_llama(cf_dtype dt, double tol)
{
    struct {
        const char *what;
        int64_t heads, kv_heads, window, n_prompt, n_new;
        bool tie, llama3;
    } cases[] = {
        {"GQA 4/2, full causal", 4, 2, 0, 5, 30, false, false},
        {"GQA 4/1, window 3 < prompt 6", 4, 1, 3, 6, 30, false, false},
        {"MHA, window 7 > prompt 2, < generation", 2, 2, 7, 2, 40, true, false},
        {"GQA 4/2, window 5, llama3 scaling, tied", 4, 2, 5, 9, 25, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cf_params *ps = cf_params_new(dt, 3 + i);
        cf_llama_config c = cf_llama_defaults();
        c.vocab = VOCAB, c.dim = 16, c.layers = 2, c.heads = cases[i].heads, c.kv_heads = cases[i].kv_heads;
        c.hidden = 24, c.max_seq = 64, c.sliding_window = cases[i].window, c.tie = cases[i].tie;
        c.init_std = 0.4; /* logits of order 1 and more: sampling and the tolerance mean something */
        if (cases[i].llama3)
            c.rope_scaling = (cf_rope_scaling){.kind = CF_ROPE_SCALE_LLAMA3, .factor = 4, .low_freq_factor = 1,
                                               .high_freq_factor = 4, .original_max_pos = 16};
        cf_llama m;
        CHECK(cf_llama_init(&m, ps, &c) == CF_OK, "%s", cf_last_error());
        cf_lm lm = cf_llama_lm(&m);
        CHECK(lm.kv_heads == cases[i].kv_heads && lm.window == cases[i].window && lm.context == 0);
        char what[160];
        snprintf(what, sizeof what, "llama %s, %s", cases[i].what, dt == CF_F32 ? "f32" : "f64");
        check_cache_matches(&lm, cases[i].n_prompt, cases[i].n_new, tol, what);
        cf_llama_free(&m);
        cf_params_free(ps);
    }
}

/* The cached path is not the uncached one in disguise: a cache that forgets the absolute position (RoPE at
 * 0 for every new token) changes the logits, so the comparison above can fail. */
static void test_positions_matter(void)
{
    cf_params *ps = cf_params_new(CF_F64, 9);
    cf_llama_config c = cf_llama_defaults();
    c.vocab = VOCAB, c.dim = 16, c.layers = 1, c.heads = 2, c.hidden = 24, c.init_std = 0.4;
    cf_llama m;
    CHECK(cf_llama_init(&m, ps, &c) == CF_OK);
    cf_kv_cache cache;
    CHECK(cf_kv_cache_init(&cache, CF_F64, 1, 2, 8, 8) == CF_OK);
    int64_t ids[4] = {1, 5, 9, 2};
    cf_tensor *all = cf_llama_logits(ctx, &m, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 4), ids), NULL);
    cf_llama_logits(ctx, &m, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 3), ids), &cache);
    cf_tensor *last = cf_llama_logits(ctx, &m, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 1), ids + 3), &cache);
    double d = 0;
    for (int64_t v = 0; v < VOCAB; v++) d = fmax(d, fabs(cf_get_flat(last, v) - cf_get_flat(all, 3 * VOCAB + v)));
    CHECK(d < 1e-12, "incremental token 3: %g from the full forward", d);
    cache.len = 3, cache.evicted = -3; /* the same rows, but the next token believed at position 0 */
    cf_tensor *wrong = cf_llama_logits(ctx, &m, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 1), ids + 3), &cache);
    d = 0;
    for (int64_t v = 0; v < VOCAB; v++) d = fmax(d, fabs(cf_get_flat(wrong, v) - cf_get_flat(all, 3 * VOCAB + v)));
    CHECK(d > 1e-3, "a wrong rotary position changed the logits by only %g", d);
    cf_step_reset(ctx);
    cf_kv_cache_free(&cache);
    cf_llama_free(&m);
    cf_params_free(ps);
}

/* cf_kv_cache_drop_oldest moves rows 2.. of every head to the front and keeps the next position. */
static void test_drop_oldest(void)
{
    cf_kv_cache c;
    CHECK(cf_kv_cache_init(&c, CF_F32, 1, 2, 5, 3) == CF_OK);
    float *k = cf_data(c.k), *v = cf_data(c.v);
    for (int i = 0; i < 2 * 5 * 3; i++) k[i] = (float)i, v[i] = (float)(100 + i);
    c.len = 4;
    cf_kv_cache_drop_oldest(&c, 2);
    CHECK(c.len == 2 && c.evicted == 2 && cf_kv_cache_pos(&c) == 4);
    for (int h = 0; h < 2; h++)
        for (int r = 0; r < 2; r++)
            for (int d = 0; d < 3; d++) {
                int at = (h * 5 + r) * 3 + d, from = (h * 5 + r + 2) * 3 + d;
                CHECK(k[at] == (float)from && v[at] == (float)(100 + from), "head %d row %d col %d", h, r, d);
            }
    cf_kv_cache_free(&c);
}

/* The GPT runs the same loop (learned positions: the context slides past seq). */
static void test_gpt(void)
{
    cf_params *ps = cf_params_new(CF_F32, 4);
    cf_gpt_config c = cf_gpt_defaults();
    c.vocab = VOCAB, c.seq = 12, c.dim = 16, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.hidden = 32, c.init_std = 0.4;
    cf_gpt m;
    CHECK(cf_gpt_init(&m, ps, &c) == CF_OK);
    cf_lm lm = cf_gpt_lm(&m);
    CHECK(lm.context == 12 && lm.kv_heads == 2 && lm.head_dim == 4 && lm.window == 0);
    check_cache_matches(&lm, 4, 20, 1e-5, "gpt, learned positions sliding");
    cf_gpt_free(&m);
    cf_params_free(ps);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.seed = 1});
    check_llama(CF_F32, 1e-5);
    check_llama(CF_F64, 1e-10);
    test_positions_matter();
    test_drop_oldest();
    test_gpt();
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
