/* Sampling from a decoder language model with KV caches, one loop for every decoder (the GPT of layers/gpt.h,
 * the Llama / Mistral of layers/llama.h): a cf_lm names the model's cached logits function and the facts the
 * loop needs (vocabulary, cache shape, context limit, attention window).
 *
 *     cf_lm lm = cf_llama_lm(&net);                       // or cf_gpt_lm(&gpt)
 *     cf_sample_opts o = {.temperature = 0, .top_p = 1, .use_cache = true};
 *     int64_t out[n_prompt + n_new];
 *     if (cf_lm_generate(ctx, &lm, prompt, n_prompt, n_new, &o, out) != CF_OK) ...;
 *
 * Invariants of logits(ctx, net, tokens [1, T], caches): with caches (one per layer, cap positions each) the
 * T tokens follow the cache_pos(caches[0]) positions already fed, at those absolute positions, and their keys
 * and values are appended; without caches the tokens sit at positions 0 .. T-1. The two agree: generating with
 * use_cache gives the tokens (and, within rounding, the logits) of recomputing the whole prefix every step. */
#ifndef CF_GENERATE_H
#define CF_GENERATE_H

#include "layers/nn.h"

typedef cf_tensor *(*cf_lm_cached_fn)(cf_ctx *ctx, const void *net, cf_tensor *tokens, cf_kv_cache *caches);

typedef struct cf_lm {
    const void *net;
    cf_lm_cached_fn logits;  /* tokens i64 [1, T] -> logits [1, T, vocab] (see above) */
    int64_t vocab, layers, kv_heads, head_dim;
    cf_dtype dtype;          /* of the caches (the model's parameters) */
    int64_t context;         /* > 0: the model has this many positions (learned ones): past it the last `context`
                              * tokens are recomputed without the cache each step; 0: unbounded */
    int64_t window;          /* > 0: every query sees its `window` most recent keys (Mistral's sliding window):
                              * the caches keep only those (a rolling buffer), so memory stays bounded */
} cf_lm;

typedef struct cf_sample_opts {
    double temperature; /* 0: greedy */
    int64_t top_k;      /* 0: off */
    double top_p;       /* 1: off */
    uint64_t seed;
    bool use_cache;     /* false recomputes the whole prefix each token (the reference path) */
    cf_kv_hook **hooks; /* with use_cache: one eviction hook per layer (layers/kvcache_policy.h); NULL keeps all */
    /* optional: called after each new token with the sequence so far (prompt included); true ends the
     * generation there. *generated (when non-NULL) gets the number of tokens produced. */
    bool (*stop)(void *user, const int64_t *tokens, int64_t len);
    void *stop_user;
    int64_t *generated;
    /* optional (tests): called with each step's logits [1, n, vocab] before the token is drawn */
    void (*on_logits)(void *user, const cf_tensor *logits, int64_t row);
    void *logits_user;
} cf_sample_opts;

/* Appends up to n_new sampled tokens (fewer when o->stop ends it) to prompt[0..n_prompt) into out (room for
 * n_prompt + n_new entries; out may be prompt). Runs without gradients; the arena is reset between tokens. */
cf_status cf_lm_generate(cf_ctx *ctx, const cf_lm *lm, const int64_t *prompt, int64_t n_prompt, int64_t n_new,
                         const cf_sample_opts *o, int64_t *out);

/* Drops the n oldest positions of c (its rows move to the front; evicted grows by n, so the next position is
 * unchanged): the rolling buffer of a sliding-window cache. */
void cf_kv_cache_drop_oldest(cf_kv_cache *c, int64_t n);

#endif
