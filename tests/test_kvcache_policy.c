/* The KV-cache eviction policies (layers/kvcache_policy.h): the sets each policy keeps on hand-made score
 * sequences; the score row and the temperature schedule by hand; the hook on a hand-made one-dimensional cache
 * (logits = keys) over a prompt pass and decode steps, values moving with their keys; the budget held after
 * every step on random caches; and a GPT decoding through the cache with the `full` policy, or a budget that
 * never binds, bit-identical to plain decoding (while a binding budget changes the logits). */
#include "autograd/cformer.h"
#include "layers/gpt.h"
#include "layers/kvcache_policy.h"
#include "tests/check.h"

#include <stdlib.h>

static cf_ctx *ctx;

static cf_kv_policy_config cfg_of(cf_kv_policy_kind kind, int64_t k, double recent, int64_t sinks)
{
    cf_kv_policy_config c = cf_kv_policy_defaults();
    c.kind = kind, c.budget = k, c.recent = recent, c.sinks = sinks;
    return c;
}

/* The rows keep[] marks, as a bit set. */
static unsigned kept_set(const uint8_t *keep, int64_t n)
{
    unsigned s = 0;
    for (int64_t i = 0; i < n; i++)
        if (keep[i]) s |= 1u << i;
    return s;
}

#define BITS5(a, b, c, d, e) ((1u << (a)) | (1u << (b)) | (1u << (c)) | (1u << (d)) | (1u << (e)))

static void test_select_by_hand(void)
{
    int64_t pos[10];
    for (int i = 0; i < 10; i++) pos[i] = 100 + i;
    double score[10] = {5, 1, 9, 2, 9, 0, 7, 3, 100, 100};
    uint8_t keep[10];
    cf_kv_policy_config c = cfg_of(CF_KV_WINDOW, 4, 0.3, 4);
    cf_kv_select(&c, pos, score, 10, keep);
    CHECK(kept_set(keep, 10) == 0x3c0u, "window keeps rows 6..9, got %#x", kept_set(keep, 10));
    c = cfg_of(CF_KV_STREAMING, 5, 0.3, 2);
    cf_kv_select(&c, pos, score, 10, keep);
    CHECK(kept_set(keep, 10) == BITS5(0, 1, 7, 8, 9), "streaming: 2 sinks + last 3, got %#x", kept_set(keep, 10));
    c = cfg_of(CF_KV_STREAMING, 3, 0.3, 4); /* fewer slots than sinks: the first k */
    cf_kv_select(&c, pos, score, 10, keep);
    CHECK(kept_set(keep, 10) == 0x7u, "streaming with k < sinks keeps the first k, got %#x", kept_set(keep, 10));
    /* h2o / keyformer: k 5, recent 0.4 -> w 2 (rows 8, 9), then the top 3 of rows 0..7: 9 (row 2), 9 (row 4,
     * the later of a tie comes second), 7 (row 6) */
    for (int kind = CF_KV_H2O; kind <= CF_KV_KEYFORMER; kind++) {
        c = cfg_of((cf_kv_policy_kind)kind, 5, 0.4, 4);
        cf_kv_select(&c, pos, score, 10, keep);
        CHECK(kept_set(keep, 10) == BITS5(2, 4, 6, 8, 9), "%s: got %#x", cf_kv_policy_name(c.kind), kept_set(keep, 10));
    }
    /* ties keep the earlier position: rows 2 and 4 tie at 9, one slot left after the recent row */
    double tie[10] = {0, 0, 9, 0, 9, 0, 0, 0, 0, 0};
    c = cfg_of(CF_KV_H2O, 2, 0.5, 4); /* w = 1 */
    cf_kv_select(&c, pos, tie, 10, keep);
    CHECK(kept_set(keep, 10) == ((1u << 2) | (1u << 9)), "tie: got %#x", kept_set(keep, 10));
    c = cfg_of(CF_KV_H2O, 2, 0.0, 4);
    cf_kv_select(&c, pos, tie, 10, keep);
    CHECK(kept_set(keep, 10) == ((1u << 2) | (1u << 4)), "recent 0: the top 2 only, got %#x", kept_set(keep, 10));
    c = cfg_of(CF_KV_H2O, 2, 0.3, 4); /* w = floor(0.6) = 0 */
    cf_kv_select(&c, pos, tie, 10, keep);
    CHECK(kept_set(keep, 10) == ((1u << 2) | (1u << 4)), "w truncates to 0, got %#x", kept_set(keep, 10));
    c = cfg_of(CF_KV_KEYFORMER, 3, 1.0, 4);
    cf_kv_select(&c, pos, score, 10, keep);
    CHECK(kept_set(keep, 10) == 0x380u, "recent 1: the window, got %#x", kept_set(keep, 10));
    /* within budget, or full: everything */
    c = cfg_of(CF_KV_H2O, 10, 0.3, 4);
    cf_kv_select(&c, pos, score, 10, keep);
    CHECK(kept_set(keep, 10) == 0x3ffu);
    c = cfg_of(CF_KV_FULL, 2, 0.3, 4);
    cf_kv_select(&c, pos, score, 10, keep);
    CHECK(kept_set(keep, 10) == 0x3ffu);
    /* a long row (the heap path of the ranking): top 10 of 400 by score, no recent share */
    int64_t n = 400;
    double *s = malloc(sizeof *s * (size_t)n);
    uint8_t *kp = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) s[i] = (double)((i * 37) % 400);
    c = cfg_of(CF_KV_KEYFORMER, 10, 0.0, 4);
    cf_kv_select(&c, NULL, s, n, kp);
    int64_t count = 0, wrong = 0;
    for (int64_t i = 0; i < n; i++) count += kp[i], wrong += kp[i] && s[i] < 390;
    CHECK(count == 10 && wrong == 0, "top 10 of 400: %lld kept, %lld below the cut", (long long)count, (long long)wrong);
    free(s), free(kp);
}

static void test_score_and_tau(void)
{
    double x[2] = {0, log(3.0)}, f[2];
    cf_kv_score_row(x, NULL, 2, 1.0, f);
    CHECK_NEAR(f[0], 0.25, 1e-15);
    CHECK_NEAR(f[1], 0.75, 1e-15);
    cf_kv_score_row(x, NULL, 2, 2.0, f); /* softmax(x / 2): 1 : sqrt(3) */
    CHECK_NEAR(f[1], sqrt(3.0) / (1 + sqrt(3.0)), 1e-15);
    double g[2] = {log(3.0), 0}; /* noise that cancels the logits: uniform */
    cf_kv_score_row(x, g, 2, 1.5, f);
    CHECK_NEAR(f[0], 0.5, 1e-15);
    double big[3] = {-1e300, 2, 2};
    cf_kv_score_row(big, NULL, 3, 1.0, big); /* in place, no overflow */
    CHECK(big[0] == 0 && fabs(big[1] - 0.5) < 1e-15);
    cf_kv_policy_config c = cf_kv_policy_defaults();
    CHECK_NEAR(cf_kv_tau(&c, 0), 1.0, 0);
    CHECK_NEAR(cf_kv_tau(&c, 64), 1.5, 1e-15);
    CHECK_NEAR(cf_kv_tau(&c, 128), 2.0, 1e-15);
    CHECK(cf_kv_budget(384, 0.2) == 76 && cf_kv_budget(10, 0.6) == 6 && cf_kv_budget(3, 0.1) == 1);
    cf_kv_policy_kind k;
    CHECK(cf_kv_policy_parse("streaming", &k) && k == CF_KV_STREAMING);
    CHECK(!cf_kv_policy_parse("h20", &k) && !cf_kv_policy_parse(NULL, &k));
    CHECK(strcmp(cf_kv_policy_name(CF_KV_KEYFORMER), "keyformer") == 0);
}

/* A one-head cache with Dh = 1 and queries of 1: the logits are the keys. v = the position, so a kept row's
 * value tells where it came from. Appends keys[0..T) as the attention layer would, then runs the hook. */
static cf_status feed(cf_kv_cache *c, const double *keys, int64_t T)
{
    double *kd = cf_data(c->k), *vd = cf_data(c->v);
    for (int64_t i = 0; i < T; i++) kd[c->len + i] = keys[i], vd[c->len + i] = (double)(cf_kv_cache_pos(c) + i);
    c->len += T;
    double ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    cf_tensor *q = cf_from_data(ctx, CF_F64, CF_SHAPE(1, 1, T, 1), ones);
    cf_status st = c->hook->after(c->hook, ctx, c, q);
    cf_step_reset(ctx);
    return st;
}

static unsigned positions(const cf_kv_policy *p, const cf_kv_cache *c)
{
    unsigned s = 0;
    const double *vd = cf_data(c->v);
    for (int64_t i = 0; i < c->len; i++) {
        int64_t at = cf_kv_policy_position(p, 0, 0, i);
        if (vd[i] != (double)at || (i && at <= cf_kv_policy_position(p, 0, 0, i - 1))) return 0xdeadu; /* moved apart */
        s |= 1u << at;
    }
    return s;
}

/* Keys prompt[0..5) then one step of key 0, at budget k with recent share `recent` (streaming: 1 sink). */
static void run_keys(cf_kv_policy_kind kind, const double *prompt, int64_t k, double recent, unsigned after_prompt,
                     unsigned after_step, uint64_t seed)
{
    cf_kv_cache c;
    CHECK(cf_kv_cache_init(&c, CF_F64, 1, 1, 16, 1) == CF_OK);
    cf_kv_policy p;
    cf_kv_policy_config pc = cfg_of(kind, k, recent, 1);
    pc.seed = seed;
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 1, 16) == CF_OK);
    c.hook = &p.hook;
    double next[1] = {0};
    CHECK(feed(&c, prompt, 5) == CF_OK);
    CHECK(c.len == k && c.evicted == 5 - k && cf_kv_cache_pos(&c) == 5);
    CHECK(positions(&p, &c) == after_prompt, "%s after the prompt: %#x, expected %#x", cf_kv_policy_name(kind),
          positions(&p, &c), after_prompt);
    CHECK(feed(&c, next, 1) == CF_OK);
    CHECK(c.len == k && c.evicted == 6 - k && cf_kv_cache_pos(&c) == 6);
    CHECK(positions(&p, &c) == after_step, "%s after a step: %#x, expected %#x", cf_kv_policy_name(kind),
          positions(&p, &c), after_step);
    cf_kv_policy_free(&p);
    cf_kv_cache_free(&c);
}

static void run_hand_cache(cf_kv_policy_kind kind, double scale, unsigned after_prompt, unsigned after_step, uint64_t seed)
{
    double prompt[5] = {3 * scale, 0, 0, 2 * scale, 0};
    run_keys(kind, prompt, 3, 0.34, after_prompt, after_step, seed);
}

static void test_hook_by_hand(void)
{
    /* keys 3, 0, 0, 2, 0 at positions 0..4, budget 3: */
    run_hand_cache(CF_KV_WINDOW, 1, 0x1cu, 0x38u, 0);    /* {2,3,4} then {3,4,5} */
    run_hand_cache(CF_KV_STREAMING, 1, 0x19u, 0x31u, 0); /* sink 0 + {3,4}, then sink 0 + {4,5} */
    /* h2o: recent {4}, then the two heaviest of 0..3 by accumulated softmax: 0 and 3; after the step the
     * recent is 5 and 0, 3 still lead 4 */
    run_hand_cache(CF_KV_H2O, 1, 0x19u, 0x29u, 0);
    /* keyformer with logits far apart picks the same keys whatever the noise */
    run_hand_cache(CF_KV_KEYFORMER, 20, 0x19u, 0x29u, 7);
    run_hand_cache(CF_KV_KEYFORMER, 20, 0x19u, 0x29u, 8);
    /* the score accumulates over query rows: key 0 (logit 1) is seen by every row and sums to about 2.87, key 3
     * (logit 1.5) by two rows, about 0.88; the last row alone would rank 3 first. Budget 2, recent 1. */
    double early[5] = {1, 0, 0, 1.5, 0};
    run_keys(CF_KV_H2O, early, 2, 0.5, 0x11u, 0x21u, 0);
}

/* Random keys over a long decode: after every step the cache holds min(seen, k) rows in position order, the
 * recent share and the sinks are in it, and keyformer's choice depends on its seed only. */
static unsigned long long run_random(cf_kv_policy_kind kind, int64_t k, uint64_t seed, bool *ok)
{
    int64_t H = 2, Dh = 4, cap = 64, n0 = 20, steps = 40;
    cf_kv_cache c;
    cf_kv_cache_init(&c, CF_F32, 1, H, cap, Dh);
    cf_kv_policy p;
    cf_kv_policy_config pc = cfg_of(kind, k, 0.3, 4);
    pc.seed = seed, pc.steps = steps;
    cf_kv_policy_init(&p, &pc, 3, 1, H, cap);
    c.hook = &p.hook;
    cf_philox_key key = cf_rng_key(99, 1);
    unsigned long long hash = 1469598103934665603ull;
    *ok = true;
    for (int64_t t = 0; t <= steps; t++) {
        int64_t T = t == 0 ? n0 : 1, first = cf_kv_cache_pos(&c);
        float *kd = cf_data(c.k);
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T * Dh; i++)
                kd[(h * cap + c.len) * Dh + i] = (float)(4 * cf_rng_uniform(key, (uint64_t)(first * Dh + i), (uint64_t)h) - 2);
        c.len += T;
        cf_tensor *q = cf_rand(ctx, CF_F32, 4, (int64_t[]){1, 4, T, Dh}, -2, 2, 5, (uint64_t)t); /* 2 query heads per KV head */
        if (c.hook->after(c.hook, ctx, &c, q) != CF_OK) *ok = false;
        cf_step_reset(ctx);
        int64_t seen = first + T, want = kind == CF_KV_FULL || seen < k ? seen : k;
        if (c.len != want || cf_kv_cache_pos(&c) != seen) *ok = false;
        int64_t w = kind == CF_KV_WINDOW ? k : kind == CF_KV_STREAMING ? k - 4 : (int64_t)floor(k * 0.3 + 1e-9);
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < c.len; i++) {
                int64_t at = cf_kv_policy_position(&p, 0, h, i);
                if (i && at <= cf_kv_policy_position(&p, 0, h, i - 1)) *ok = false;
                if (kind != CF_KV_FULL && c.len - i <= w && at != seen - (c.len - i)) *ok = false; /* recent held */
                if (kind == CF_KV_STREAMING && i < 4 && at != i) *ok = false;                     /* sinks held */
                hash = (hash ^ (unsigned long long)at) * 1099511628211ull;
            }
    }
    cf_kv_policy_free(&p);
    cf_kv_cache_free(&c);
    return hash;
}

static void test_budget_held(void)
{
    for (int kind = CF_KV_FULL; kind <= CF_KV_KEYFORMER; kind++)
        for (int64_t k = 5; k <= 25; k += 10) {
            bool ok;
            run_random((cf_kv_policy_kind)kind, k, 1, &ok);
            CHECK(ok, "%s at budget %lld: the cache broke its contract", cf_kv_policy_name((cf_kv_policy_kind)kind),
                  (long long)k);
        }
    bool ok;
    unsigned long long a = run_random(CF_KV_KEYFORMER, 10, 1, &ok), b = run_random(CF_KV_KEYFORMER, 10, 1, &ok);
    unsigned long long c = run_random(CF_KV_KEYFORMER, 10, 2, &ok), d = run_random(CF_KV_H2O, 10, 1, &ok);
    CHECK(a == b, "keyformer is deterministic given its seed");
    CHECK(a != c, "keyformer's noise depends on the seed");
    CHECK(a != d, "keyformer's noise changes what h2o keeps");
}

static void test_bad_arguments(void)
{
    cf_kv_cache c;
    cf_kv_cache_init(&c, CF_F32, 1, 1, 8, 2);
    cf_kv_policy p;
    cf_kv_policy_config pc = cfg_of(CF_KV_H2O, 0, 0.3, 4);
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 1, 8) == CF_ERR_ARG);
    CHECK_ERROR_HAS("budget 0");
    pc = cfg_of(CF_KV_H2O, 4, 1.5, 4);
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 1, 8) == CF_ERR_ARG);
    pc = cfg_of(CF_KV_H2O, 4, 0.3, 4);
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 0, 8) == CF_ERR_ARG);
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 1, 8) == CF_OK);
    c.hook = &p.hook;
    c.len = 3; /* two rows held before its first forward of one */
    cf_tensor *q = cf_zeros(ctx, CF_F32, CF_SHAPE(1, 1, 1, 2));
    CHECK(c.hook->after(c.hook, ctx, &c, q) == CF_ERR_ARG);
    CHECK_ERROR_HAS("empty cache");
    c.len = 1;
    q = cf_zeros(ctx, CF_F32, CF_SHAPE(2, 1, 1, 2)); /* two sequences for a cache of one */
    CHECK(c.hook->after(c.hook, ctx, &c, q) == CF_ERR_SHAPE);
    cf_step_reset(ctx);
    cf_kv_policy_free(&p);
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 1, 16) == CF_OK); /* made for another cache */
    CHECK(c.hook->after(&p.hook, ctx, &c, q) == CF_ERR_SHAPE);
    CHECK_ERROR_HAS("used on another");
    cf_step_reset(ctx);
    cf_kv_policy_free(&p);
    cf_kv_cache_free(&c);
}

/* Teacher-forced decoding of a small random RoPE GPT: the logits of every step, with the given policy (NULL: no
 * hook at all). */
static cf_status decode(const cf_gpt *g, const cf_kv_policy_config *pc, int64_t n0, int64_t steps, double *out)
{
    int64_t L = g->cfg.layers, V = g->cfg.vocab, toks[64];
    for (int64_t i = 0; i < n0 + steps; i++) toks[i] = (i * 7 + 3) % V;
    cf_kv_cache caches[2];
    cf_kv_policy pol[2];
    for (int64_t l = 0; l < L; l++) {
        CF_TRY(cf_kv_cache_init(&caches[l], CF_F32, 1, g->cfg.heads, n0 + steps, g->cfg.dim / g->cfg.heads));
        if (pc) {
            CF_TRY(cf_kv_policy_init(&pol[l], pc, l, 1, g->cfg.heads, n0 + steps));
            caches[l].hook = &pol[l].hook;
        }
    }
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_status st = CF_OK;
    for (int64_t t = 0; t <= steps && st == CF_OK; t++) {
        int64_t from = t ? n0 + t - 1 : 0, T = t ? 1 : n0;
        cf_tensor *lg = cf_gpt_logits(ctx, g, cf_from_data(ctx, CF_I64, CF_SHAPE(1, T), toks + from), caches);
        if (!lg) st = cf_last_status();
        for (int64_t v = 0; lg && v < V; v++) out[t * V + v] = cf_get_flat(lg, (T - 1) * V + v);
        cf_step_reset(ctx);
    }
    cf_set_grad_enabled(ctx, prev);
    for (int64_t l = 0; l < L; l++) {
        if (pc) cf_kv_policy_free(&pol[l]);
        cf_kv_cache_free(&caches[l]);
    }
    return st;
}

static void test_full_is_plain_decoding(void)
{
    cf_params *ps = cf_params_new(CF_F32, 3);
    cf_gpt g;
    cf_gpt_config gc = cf_gpt_defaults();
    gc.vocab = 17, gc.seq = 64, gc.dim = 16, gc.layers = 2, gc.heads = 2, gc.hidden = 32, gc.pos = CF_POS_ROPE;
    CHECK(cf_gpt_init(&g, ps, &gc) == CF_OK);
    int64_t n0 = 12, steps = 10, V = gc.vocab;
    double *plain = calloc((size_t)((steps + 1) * V), sizeof(double)), *with = calloc((size_t)((steps + 1) * V), sizeof(double));
    CHECK(decode(&g, NULL, n0, steps, plain) == CF_OK);
    cf_kv_policy_config pc = cfg_of(CF_KV_FULL, 4, 0.3, 4);
    CHECK(decode(&g, &pc, n0, steps, with) == CF_OK);
    CHECK(memcmp(plain, with, sizeof(double) * (size_t)((steps + 1) * V)) == 0, "full: bit-identical to no policy");
    for (int kind = CF_KV_WINDOW; kind <= CF_KV_KEYFORMER; kind++) {
        pc = cfg_of((cf_kv_policy_kind)kind, n0 + steps, 0.3, 4); /* a budget that never binds */
        CHECK(decode(&g, &pc, n0, steps, with) == CF_OK);
        CHECK(memcmp(plain, with, sizeof(double) * (size_t)((steps + 1) * V)) == 0, "%s at a budget that never binds",
              cf_kv_policy_name(pc.kind));
        pc.budget = 4; /* binds: the prompt's prediction is the same (eviction follows the attention), the rest not */
        CHECK(decode(&g, &pc, n0, steps, with) == CF_OK);
        CHECK(memcmp(plain, with, sizeof(double) * (size_t)V) == 0);
        CHECK(memcmp(plain + 2 * V, with + 2 * V, sizeof(double) * (size_t)V) != 0, "%s at budget 4 changes decoding",
              cf_kv_policy_name(pc.kind));
    }
    free(plain), free(with);
    cf_gpt_free(&g);
    cf_params_free(ps);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.seed = 1});
    RUN(test_select_by_hand);
    RUN(test_score_and_tau);
    RUN(test_hook_by_hand);
    RUN(test_budget_held);
    RUN(test_bad_arguments);
    RUN(test_full_is_plain_decoding);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
