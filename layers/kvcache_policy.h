/* KV-cache eviction policies for decoding at a fixed cache budget (Keyformer: "KV Cache Reduction through Key
 * Tokens Selection for Efficient Generative Inference", Adnan et al., MLSys 2024, Sections 3-4), with the
 * baselines the paper compares against:
 *
 *   full       keep every position (no hook is installed: plain decoding, bit for bit)
 *   window     keep the last k positions
 *   streaming  attention sinks + recent (StreamingLLM, Xiao et al. 2023): the first `sinks` positions and the
 *              last k - sinks
 *   h2o        heavy hitters + recent (H2O, Zhang et al. 2023): keep the last w = floor(k * recent) positions and,
 *              of the others, the k - w with the largest accumulated attention sum_i softmax(x_i)_j
 *   keyformer  as h2o, but the accumulated score is the Gumbel-softmax of the logits (Keyformer Section 3.3,
 *              Eq. 3): f_ij = softmax_j((x_ij + g_ij) / tau_t), g = -log(-log U), U ~ U(0,1) seeded, with the
 *              temperature schedule tau_t = tau_init + t (tau_end - tau_init) / steps (Section 3.4), t = 0 for
 *              the prompt pass and + 1 per decode step.
 *
 * x_ij = q_i . k_j / sqrt(Dh) over the cached keys a query may see (its own position and earlier). h2o and
 * keyformer read these logits from the attention pass itself: their hook's attend() runs the cache's causal
 * attention (one pass over the cached keys per query row: logits, softmax, the weighted sum of values) and scores
 * each row as it goes, so nothing recomputes q . k; for h2o the attention's softmax row is the score row. Where the
 * attention cannot hand the pass over (a bias, key padding, grad on: layers/nn.h), after() computes the logits
 * from q and the cache instead, the same definitions. Scores are
 * kept per sequence and per KV head (the query heads of a GQA group add theirs), so each head keeps its own
 * positions. Eviction runs after every forward through the cache, once its queries have attended: the prompt
 * pass attends to all n prompt positions, then the cache drops to k; each decode step attends to the k kept
 * positions plus the new one, then drops back to k. A new position's score starts at its own f. Evicted
 * positions are gone for good. An evicted row's slot takes a kept row from the end of the cache, so after the
 * first eviction the rows are in no particular order (a decode step's query sees every cached row, so the order
 * does not matter to the attention; a forward's new rows are appended after all cached ones, so its causal mask
 * holds) and one row moves per eviction; keys keep the rotation of their original positions (RoPE is applied
 * before caching). Selection goes by the positions: the sinks are the `sinks` oldest, the recent share the
 * positions within w of the newest.
 *
 * Usage, one policy per layer's cache:
 *
 *     cf_kv_policy pol[L];
 *     cf_kv_policy_config pc = cf_kv_policy_defaults();
 *     pc.kind = CF_KV_KEYFORMER, pc.budget = cf_kv_budget(n_prompt, 0.4), pc.steps = n_new;
 *     for (l...) { cf_kv_policy_init(&pol[l], &pc, l, 1, kv_heads, cap); caches[l].hook = &pol[l].hook; }
 *     ... cf_gpt_logits(ctx, gpt, prompt, caches); then one token per step ...
 *     for (l...) cf_kv_policy_free(&pol[l]);
 */
#ifndef CF_KVCACHE_POLICY_H
#define CF_KVCACHE_POLICY_H

#include "autograd/rng.h"
#include "layers/nn.h"

typedef enum cf_kv_policy_kind { CF_KV_FULL, CF_KV_WINDOW, CF_KV_STREAMING, CF_KV_H2O, CF_KV_KEYFORMER } cf_kv_policy_kind;
bool cf_kv_policy_parse(const char *s, cf_kv_policy_kind *out); /* "full", "window", "streaming", "h2o", "keyformer" */
const char *cf_kv_policy_name(cf_kv_policy_kind k);
#define CF_KV_POLICY_NAMES "full, window, streaming, h2o, keyformer"

typedef struct cf_kv_policy_config {
    cf_kv_policy_kind kind;
    int64_t budget;           /* k >= 1: positions kept after each forward (ignored by full) */
    double recent;            /* h2o, keyformer: share of k always kept as the most recent, w = floor(k recent) */
    int64_t sinks;            /* streaming: leading positions always kept (StreamingLLM: 4) */
    double tau_init, tau_end; /* keyformer temperature schedule (paper: 1 -> 2) */
    int64_t steps;            /* keyformer: decode steps the schedule spans (> 0) */
    uint64_t seed;            /* keyformer: the Gumbel noise */
} cf_kv_policy_config;

/* full, budget 1, recent 0.3, sinks 4, tau 1 -> 2 over 128 steps, seed 0. */
cf_kv_policy_config cf_kv_policy_defaults(void);

/* The budget k = floor(n_prompt * frac) for a cache fraction of the prompt, at least 1. */
int64_t cf_kv_budget(int64_t n_prompt, double frac);

typedef struct cf_kv_policy {
    cf_kv_hook hook; /* install as cache->hook */
    cf_kv_policy_config cfg;
    int64_t layer, batch, heads, cap; /* heads: the cache's KV heads */
    int64_t *pos;                     /* [batch, heads, cap]: original position of each cached row */
    double *score;                    /* [batch, heads, cap]: accumulated score of each cached row */
    int64_t step;                     /* forwards seen (0 during the prompt pass) */
    double *scratch;                  /* [4 cap]: one row of logits, noise, weights */
    uint8_t *keep;                    /* [cap] */
    struct cf_kv_ranked *rank;        /* [cap]: selection's sort buffer (no allocation per step) */
    bool attended;                    /* this forward's rows were admitted and scored by attend() */
    cf_philox_key key;                /* keyformer: the layer's noise stream */
} cf_kv_policy;

/* For a cache of [batch, heads, cap, Dh] (cf_kv_cache_init's sizes; heads = KV heads), empty when the policy first
 * runs; layer seeds the noise. The hook refuses a cache of other sizes. cf_kv_policy_free frees it. */
cf_status cf_kv_policy_init(cf_kv_policy *p, const cf_kv_policy_config *cfg, int64_t layer, int64_t batch,
                           int64_t heads, int64_t cap);
void cf_kv_policy_free(cf_kv_policy *p);
/* The original position of row i of (sequence b, KV head h): what a test inspects. */
static inline int64_t cf_kv_policy_position(const cf_kv_policy *p, int64_t b, int64_t h, int64_t i)
{
    return p->pos[(b * p->heads + h) * p->cap + i];
}

/* ---- the pieces, pure functions (tested on hand-made scores) ---- */

/* Which of n cached rows (original positions pos[], distinct, in any order; NULL: row i is position i) the policy
 * keeps: keep[i] = 1 for min(n, k) rows: the positions less than oldest + head (the sinks: streaming's
 * min(sinks, k)), those greater than newest - tail (the recent: window k, streaming k - head, h2o and keyformer
 * w) and, for h2o and keyformer, the k - w others with the largest score[] (ties keep the earlier position).
 * Exactly k when the positions within tail of the newest and head of the oldest are all there, as in a policy's
 * cache. */
void cf_kv_select(const cf_kv_policy_config *cfg, const int64_t *pos, const double *score, int64_t n, uint8_t *keep);

/* One query row's score over n visible logits x: softmax(x / tau), with Gumbel noise g added to x first when
 * g is not NULL. f may alias x. */
void cf_kv_score_row(const double *x, const double *g, int64_t n, double tau, double *f);

/* Keyformer's Gumbel noise for one query row (query position qpos of sequence-and-query-head bhq = b Hq + hq) over
 * m keys at original positions pos[]: g_j = -log(-log U_j), U_j = cf_rng_uniform(key, qpos, bhq << 32 | pos[j])
 * clamped to [1e-12, 1 - 1e-12], one draw per (sequence, query head, query position, key position); the policy's
 * key is cf_rng_key(seed, 0x6b657900 + layer). Computed 32 draws at a time. */
void cf_kv_gumbel_row(cf_philox_key key, uint64_t qpos, uint64_t bhq, const int64_t *pos, int64_t m, double *g);

/* tau_t of the keyformer schedule at step t (t may run past steps: the schedule keeps rising). */
double cf_kv_tau(const cf_kv_policy_config *cfg, int64_t t);

#endif
