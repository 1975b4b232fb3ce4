/* Sampling from a decoder LM (layers/generate.h): temperature, top-k and top-p (nucleus), with KV caches that
 * slide past a learned-position context or roll with a sliding attention window. */
#include "layers/generate.h"

#include "layers/sample.h"

#include <stdlib.h>
#include <string.h>

void cf_kv_cache_drop_oldest(cf_kv_cache *c, int64_t n)
{
    if (n <= 0) return;
    if (n > c->len) n = c->len;
    int64_t rows = c->k->shape[0] * c->k->shape[1], keep = c->len - n;
    size_t row = (size_t)c->k->shape[3] * cf_dtype_size(c->k->dtype);
    char *kd = cf_data(c->k), *vd = cf_data(c->v);
    for (int64_t bh = 0; bh < rows; bh++) {
        size_t base = (size_t)(bh * c->cap) * row;
        memmove(kd + base, kd + base + (size_t)n * row, (size_t)keep * row);
        memmove(vd + base, vd + base + (size_t)n * row, (size_t)keep * row);
    }
    c->len = keep, c->evicted += n;
    cf_bump_version(c->k);
    cf_bump_version(c->v);
}

/* Picks a token from one row of logits (a [*, V] arena tensor, f32 or f64). */
static int64_t sample_row(const cf_tensor *logits, int64_t row, int64_t V, const cf_sample_opts *o, double u,
                          cf_sample_cand *cands, float *buf)
{
    for (int64_t v = 0; v < V; v++) buf[v] = (float)cf_get_flat(logits, row * V + v);
    return cf_sample_logits(buf, NULL, V, o->temperature, o->top_k, o->top_p, u, cands);
}

/* One cache per layer, each of cap positions (NULL with the error set when out of memory). */
static cf_kv_cache *caches_new(const cf_lm *lm, int64_t cap, cf_kv_hook **hooks)
{
    cf_kv_cache *caches = calloc((size_t)lm->layers, sizeof *caches);
    if (!caches) {
        cf_set_error(CF_ERR_OOM, "generate: out of memory");
        return NULL;
    }
    for (int64_t l = 0; l < lm->layers; l++) {
        if (cf_kv_cache_init(&caches[l], lm->dtype, 1, lm->kv_heads, cap, lm->head_dim) != CF_OK) {
            for (int64_t j = 0; j < l; j++) cf_kv_cache_free(&caches[j]);
            free(caches);
            return NULL;
        }
        if (hooks) caches[l].hook = hooks[l];
    }
    return caches;
}

cf_status cf_lm_generate(cf_ctx *ctx, const cf_lm *lm, const int64_t *prompt, int64_t n_prompt, int64_t n_new,
                         const cf_sample_opts *o, int64_t *out)
{
    if (n_prompt <= 0) return cf_set_error(CF_ERR_ARG, "generate: the prompt is empty");
    int64_t total = n_prompt + n_new;
    /* learned positions stop at context: past it the context slides (the last `context` tokens, recomputed) */
    int64_t ctx_len = lm->context > 0 ? lm->context : total;
    int64_t cap = total < ctx_len ? total : ctx_len;
    /* a sliding window needs only its last `window` keys once the prompt is in: a rolling buffer */
    if (lm->window > 0 && lm->context <= 0) {
        int64_t need = n_prompt > lm->window ? n_prompt : lm->window;
        if (need < cap) cap = need;
    }
    memmove(out, prompt, sizeof(int64_t) * (size_t)n_prompt); /* out may be prompt itself */
    cf_sample_cand *cands = malloc(sizeof(cf_sample_cand) * (size_t)lm->vocab);
    float *row = malloc(sizeof(float) * (size_t)lm->vocab);
    cf_kv_cache *caches = o->use_cache && cands && row ? caches_new(lm, cap, o->hooks) : NULL;
    if (!cands || !row) {
        free(cands), free(row);
        return cf_set_error(CF_ERR_OOM, "generate: out of memory");
    }
    cf_status st = o->use_cache && !caches ? cf_last_status() : CF_OK;
    bool prev = cf_set_grad_enabled(ctx, false);
    bool prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_philox_key key = cf_rng_key(o->seed, 0x6e6e);
    int64_t len = n_prompt, fed = 0; /* fed: tokens already in the cache */
    while (st == CF_OK && len < total) {
        bool cached = caches && len <= ctx_len; /* the cache holds positions 0..ctx_len-1 */
        int64_t from = cached ? fed : (len > ctx_len ? len - ctx_len : 0), n = len - from;
        for (int64_t l = 0; cached && l < lm->layers; l++)
            if (caches[l].len + n > caches[l].cap) cf_kv_cache_drop_oldest(&caches[l], caches[l].len + n - caches[l].cap);
        cf_tensor *tok = cf_from_data(ctx, CF_I64, CF_SHAPE(1, n), out + from);
        cf_tensor *logits = lm->logits(ctx, lm->net, tok, cached ? caches : NULL);
        if (!logits) {
            st = cf_last_status();
            break;
        }
        if (o->on_logits) o->on_logits(o->logits_user, logits, n - 1);
        fed = len;
        out[len] = sample_row(logits, n - 1, lm->vocab, o, cf_rng_uniform(key, 0, (uint64_t)len), cands, row);
        len++;
        cf_step_reset(ctx);
        if (o->stop && o->stop(o->stop_user, out, len)) break;
    }
    if (o->generated) *o->generated = len - n_prompt;
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev);
    if (caches)
        for (int64_t l = 0; l < lm->layers; l++) cf_kv_cache_free(&caches[l]);
    free(caches);
    free(cands);
    free(row);
    return st;
}
