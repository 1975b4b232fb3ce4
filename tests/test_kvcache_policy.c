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
    /* a long row over a wide range (the vectorised exp, 8-way sums) against libm's softmax */
    double row[301], want[301], got[301], sum = 0, worst = 0;
    for (int j = 0; j < 301; j++) row[j] = 60 * sin(0.37 * j) + (j % 7) * 1e-3 - (j == 5 ? 800 : 0);
    for (int j = 0; j < 301; j++) sum += want[j] = exp((row[j] - 60.0 * 0.9999) / 1.3);
    cf_kv_score_row(row, NULL, 301, 1.3, got);
    for (int j = 0; j < 301; j++) worst = fmax(worst, fabs(got[j] - want[j] / sum) / (want[j] / sum + 1e-300));
    CHECK(worst < 1e-12, "softmax row %g from libm's", worst);
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
        if (vd[i] != (double)at || (s >> at & 1u)) return 0xdeadu; /* a value moved apart from its key, a duplicate */
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

/* Random keys over a long decode: after every step the cache holds min(seen, k) distinct positions (rows in any
 * order), the recent share and the sinks are among them, and keyformer's choice depends on its seed only. */
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
        if (kind == CF_KV_FULL || w > seen) w = seen;
        for (int64_t h = 0; h < H; h++) {
            uint8_t held[64] = {0};
            for (int64_t i = 0; i < c.len; i++) {
                int64_t at = cf_kv_policy_position(&p, 0, h, i);
                if (at < 0 || at >= seen || held[at]) *ok = false; /* a position twice */
                else held[at] = 1;
            }
            for (int64_t at = 0; at < seen; at++) {
                if (at >= seen - w && !held[at]) *ok = false;                     /* recent held */
                if (kind == CF_KV_STREAMING && at < 4 && !held[at]) *ok = false; /* sinks held */
                if (held[at]) hash = (hash ^ (unsigned long long)at) * 1099511628211ull;
            }
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

/* The noise row, eight draws at a time, against its definition draw by draw (cf_rng_uniform, libm's log): odd and
 * even key positions, gaps, a query position past 2^32, a row that is not a multiple of eight. */
static void test_gumbel_row(void)
{
    int64_t pos[203];
    for (int64_t j = 0; j < 203; j++) pos[j] = 3 * j + (j % 5 == 0) + (j > 100 ? 40000 : 0);
    cf_philox_key key = cf_rng_key(7, 0x6b657900u + 3);
    uint64_t qpos[3] = {0, 1234, (1ull << 33) + 5}, bhq[3] = {0, 5, 77};
    double g[203], worst = 0;
    for (int r = 0; r < 3; r++) {
        cf_kv_gumbel_row(key, qpos[r], bhq[r], pos, 203 - 50 * r, g);
        for (int64_t j = 0; j < 203 - 50 * r; j++) {
            double u = cf_rng_uniform(key, qpos[r], (bhq[r] << 32) | (uint64_t)pos[j]);
            u = fmin(fmax(u, 1e-12), 1.0 - 1e-12);
            worst = fmax(worst, fabs(g[j] - -log(-log(u))) / (1 + fabs(g[j])));
        }
    }
    CHECK(worst < 1e-13, "noise %g from -log(-log U)", worst);
}

/* The scores of the fused pass (attend(), reading the attention's own logits) against the reference (after() alone,
 * the logits recomputed from q and the cache, as before the fusion): two caches fed the same random keys and
 * values, a prompt of 20 then 30 decode steps at budget 10, 2 query heads per KV head. After every forward the
 * same positions are held and every score agrees within 1e-6, and the fused output is the sdpa op's. */
static void run_fused_vs_reference(cf_kv_policy_kind kind, cf_dtype dt, uint64_t seed)
{
    int64_t H = 2, Hq = 4, Dh = 8, cap = 64, n0 = 20, steps = 30;
    cf_kv_cache cf, cr;
    CHECK(cf_kv_cache_init(&cf, dt, 1, H, cap, Dh) == CF_OK && cf_kv_cache_init(&cr, dt, 1, H, cap, Dh) == CF_OK);
    cf_kv_policy pf, pr;
    cf_kv_policy_config pc = cfg_of(kind, 10, 0.3, 4);
    pc.seed = seed, pc.steps = steps;
    CHECK(cf_kv_policy_init(&pf, &pc, 2, 1, H, cap) == CF_OK && cf_kv_policy_init(&pr, &pc, 2, 1, H, cap) == CF_OK);
    double worst_score = 0, worst_out = 0;
    bool same_rows = true;
    for (int64_t t = 0; t <= steps; t++) {
        int64_t T = t == 0 ? n0 : 1;
        cf_tensor *k = cf_rand(ctx, dt, 4, (int64_t[]){1, H, T, Dh}, -2, 2, 11, (uint64_t)t);
        cf_tensor *v = cf_rand(ctx, dt, 4, (int64_t[]){1, H, T, Dh}, -1, 1, 12, (uint64_t)t);
        cf_tensor *q = cf_rand(ctx, dt, 4, (int64_t[]){1, Hq, T, Dh}, -2, 2, 13, (uint64_t)t);
        cf_kv_cache *cs[2] = {&cf, &cr};
        for (int c = 0; c < 2; c++) {
            CHECK(cf_copy_(cf_slice(ctx, cs[c]->k, 2, cs[c]->len, cs[c]->len + T, 1), k) == CF_OK);
            CHECK(cf_copy_(cf_slice(ctx, cs[c]->v, 2, cs[c]->len, cs[c]->len + T, 1), v) == CF_OK);
            cs[c]->len += T;
        }
        cf_tensor *y = NULL;
        CHECK(pf.hook.attend(&pf.hook, ctx, &cf, q, &y) == CF_OK && y);
        cf_sdpa_opts o = {.mask = CF_SDPA_CAUSAL};
        cf_tensor *ref = cf_sdpa(ctx, q, cf_slice(ctx, cr.k, 2, 0, cr.len, 1), cf_slice(ctx, cr.v, 2, 0, cr.len, 1), &o);
        for (int64_t i = 0; y && ref && i < cf_numel(y); i++)
            worst_out = fmax(worst_out, fabs(cf_get_flat(y, i) - cf_get_flat(ref, i)));
        CHECK(pf.hook.after(&pf.hook, ctx, &cf, q) == CF_OK && pr.hook.after(&pr.hook, ctx, &cr, q) == CF_OK);
        cf_step_reset(ctx);
        if (cf.len != cr.len || cf.evicted != cr.evicted) same_rows = false;
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < cf.len && i < cr.len; i++) {
                if (cf_kv_policy_position(&pf, 0, h, i) != cf_kv_policy_position(&pr, 0, h, i)) same_rows = false;
                worst_score = fmax(worst_score, fabs(pf.score[h * cap + i] - pr.score[h * cap + i]));
            }
    }
    const char *name = cf_kv_policy_name(kind), *dn = dt == CF_F32 ? "f32" : "f64";
    CHECK(same_rows, "%s %s: the fused pass keeps other positions than the reference", name, dn);
    CHECK(worst_score < 1e-6, "%s %s: scores %g from the reference", name, dn, worst_score);
    CHECK(worst_out < (dt == CF_F32 ? 1e-5 : 1e-12), "%s %s: output %g from the sdpa op", name, dn, worst_out);
    cf_kv_policy_free(&pf), cf_kv_policy_free(&pr);
    cf_kv_cache_free(&cf), cf_kv_cache_free(&cr);
}

static void test_fused_scores(void)
{
    for (int kind = CF_KV_H2O; kind <= CF_KV_KEYFORMER; kind++) {
        run_fused_vs_reference((cf_kv_policy_kind)kind, CF_F32, 3);
        run_fused_vs_reference((cf_kv_policy_kind)kind, CF_F64, 4);
    }
    /* the policies that score nothing leave the attention to the sdpa op */
    cf_kv_cache c;
    cf_kv_cache_init(&c, CF_F32, 1, 1, 8, 2);
    cf_kv_policy p;
    cf_kv_policy_config pc = cfg_of(CF_KV_WINDOW, 4, 0.3, 4);
    CHECK(cf_kv_policy_init(&p, &pc, 0, 1, 1, 8) == CF_OK);
    c.len = 1;
    cf_tensor *y = (cf_tensor *)1;
    CHECK(p.hook.attend(&p.hook, ctx, &c, cf_zeros(ctx, CF_F32, CF_SHAPE(1, 1, 1, 2)), &y) == CF_OK && y == NULL);
    cf_step_reset(ctx);
    cf_kv_policy_free(&p);
    cf_kv_cache_free(&c);
}

/* Teacher-forced decoding of a small random RoPE GPT: the logits of every step, with the given policy (NULL: no
 * hook at all); fused false takes the policy's attend() away (the sdpa op runs, after() scores from q and the
 * cache: the reference). kept (NULL: not wanted) receives the positions held by every layer and KV head after
 * every step, [steps + 1][L][H][n0 + steps], -1 past the cache's length. */
static cf_status decode_with(const cf_gpt *g, const cf_kv_policy_config *pc, bool fused, int64_t n0, int64_t steps,
                             double *out, int64_t *kept)
{
    int64_t L = g->cfg.layers, V = g->cfg.vocab, toks[64];
    for (int64_t i = 0; i < n0 + steps; i++) toks[i] = (i * 7 + 3) % V;
    cf_kv_cache caches[2];
    cf_kv_policy pol[2];
    for (int64_t l = 0; l < L; l++) {
        CF_TRY(cf_kv_cache_init(&caches[l], CF_F32, 1, g->cfg.heads, n0 + steps, g->cfg.dim / g->cfg.heads));
        if (pc) {
            CF_TRY(cf_kv_policy_init(&pol[l], pc, l, 1, g->cfg.heads, n0 + steps));
            if (!fused) pol[l].hook.attend = NULL;
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
        int64_t H = g->cfg.heads, cap = n0 + steps;
        for (int64_t l = 0; kept && pc && l < L; l++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = 0; i < cap; i++)
                    kept[((t * L + l) * H + h) * cap + i] = i < caches[l].len ? cf_kv_policy_position(&pol[l], 0, h, i) : -1;
        cf_step_reset(ctx);
    }
    cf_set_grad_enabled(ctx, prev);
    for (int64_t l = 0; l < L; l++) {
        if (pc) cf_kv_policy_free(&pol[l]);
        cf_kv_cache_free(&caches[l]);
    }
    return st;
}

static cf_status decode(const cf_gpt *g, const cf_kv_policy_config *pc, int64_t n0, int64_t steps, double *out)
{
    return decode_with(g, pc, true, n0, steps, out, NULL);
}

/* max |a - b| / (1 + |a|) over n values */
static double max_rel(const double *a, const double *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]) / (1 + fabs(a[i])));
    return m;
}

/* A small random RoPE GPT (vocab 17, d 16, 2 layers, 2 heads) on fresh parameters of the given seed. */
static cf_params *small_gpt(cf_gpt *g, uint64_t seed)
{
    cf_params *ps = cf_params_new(CF_F32, seed);
    cf_gpt_config gc = cf_gpt_defaults();
    gc.vocab = 17, gc.seq = 64, gc.dim = 16, gc.layers = 2, gc.heads = 2, gc.hidden = 32, gc.pos = CF_POS_ROPE;
    CHECK(cf_gpt_init(g, ps, &gc) == CF_OK);
    return ps;
}

static void test_full_is_plain_decoding(void)
{
    cf_gpt g;
    cf_params *ps = small_gpt(&g, 3);
    int64_t n0 = 12, steps = 10, V = g.cfg.vocab;
    double *plain = calloc((size_t)((steps + 1) * V), sizeof(double)), *with = calloc((size_t)((steps + 1) * V), sizeof(double));
    CHECK(decode(&g, NULL, n0, steps, plain) == CF_OK);
    cf_kv_policy_config pc = cfg_of(CF_KV_FULL, 4, 0.3, 4);
    CHECK(decode(&g, &pc, n0, steps, with) == CF_OK);
    CHECK(memcmp(plain, with, sizeof(double) * (size_t)((steps + 1) * V)) == 0, "full: bit-identical to no policy");
    for (int kind = CF_KV_WINDOW; kind <= CF_KV_KEYFORMER; kind++) {
        pc = cfg_of((cf_kv_policy_kind)kind, n0 + steps, 0.3, 4); /* a budget that never binds */
        /* window and streaming leave the attention to the sdpa op: bit for bit; h2o and keyformer run it themselves
         * (f64 sums over the f32 cache) and read its logits: the same up to the op's f32 rounding */
        bool own = pc.kind == CF_KV_H2O || pc.kind == CF_KV_KEYFORMER;
        CHECK(decode(&g, &pc, n0, steps, with) == CF_OK);
        double d = max_rel(plain, with, (steps + 1) * V);
        CHECK(own ? d < 1e-5 : d == 0, "%s at a budget that never binds: %g from plain decoding", cf_kv_policy_name(pc.kind), d);
        pc.budget = 4; /* binds: the prompt's prediction is the same (eviction follows the attention), the rest not */
        CHECK(decode(&g, &pc, n0, steps, with) == CF_OK);
        d = max_rel(plain, with, V);
        CHECK(own ? d < 1e-5 : d == 0, "%s: the prompt's prediction %g from plain decoding", cf_kv_policy_name(pc.kind), d);
        CHECK(memcmp(plain + 2 * V, with + 2 * V, sizeof(double) * (size_t)V) != 0, "%s at budget 4 changes decoding",
              cf_kv_policy_name(pc.kind));
    }
    free(plain), free(with);
    cf_gpt_free(&g);
    cf_params_free(ps);
}

/* A small GPT's decode at binding budgets: the fused pass evicts exactly what the reference (sdpa, then the scores
 * recomputed from q) evicts, every layer and KV head after every step, and its logits agree. */
static void test_fused_decode_evicts_the_same(void)
{
    cf_gpt g;
    cf_params *ps = small_gpt(&g, 5);
    int64_t n0 = 16, steps = 12, V = g.cfg.vocab, cap = n0 + steps, nk = (steps + 1) * 2 * 2 * cap;
    double *a = calloc((size_t)((steps + 1) * V), sizeof(double)), *b = calloc((size_t)((steps + 1) * V), sizeof(double));
    int64_t *ka = calloc((size_t)nk, sizeof(int64_t)), *kb = calloc((size_t)nk, sizeof(int64_t));
    for (int kind = CF_KV_H2O; kind <= CF_KV_KEYFORMER; kind++)
        for (int64_t k = 5; k <= 9; k += 4) {
            cf_kv_policy_config pc = cfg_of((cf_kv_policy_kind)kind, k, 0.3, 4);
            pc.steps = steps, pc.seed = 5;
            CHECK(decode_with(&g, &pc, true, n0, steps, a, ka) == CF_OK);
            CHECK(decode_with(&g, &pc, false, n0, steps, b, kb) == CF_OK);
            CHECK(memcmp(ka, kb, sizeof(int64_t) * (size_t)nk) == 0, "%s at budget %lld: other positions evicted",
                  cf_kv_policy_name(pc.kind), (long long)k);
            double d = max_rel(b, a, (steps + 1) * V);
            CHECK(d < 1e-5, "%s at budget %lld: logits %g from the reference", cf_kv_policy_name(pc.kind), (long long)k, d);
        }
    free(a), free(b), free(ka), free(kb);
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
    RUN(test_gumbel_row);
    RUN(test_fused_scores);
    RUN(test_fused_decode_evicts_the_same);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
