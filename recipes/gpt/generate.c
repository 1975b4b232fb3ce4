/* Sampling from the GPT model with a KV cache: temperature, top-k and top-p (nucleus). */
#include "recipes/gpt/model.h"

#include "layers/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Picks a token from one row of logits (a [*, V] arena tensor, f32 or f64). */
static int64_t sample_row(const cf_tensor *logits, int64_t row, int64_t V, const cf_sample_opts *o, double u,
                          cf_sample_cand *cands, float *buf)
{
    for (int64_t v = 0; v < V; v++) buf[v] = (float)cf_get_flat(logits, row * V + v);
    return cf_sample_logits(buf, NULL, V, o->temperature, o->top_k, o->top_p, u, cands);
}

cf_status cf_gpt_generate(cf_ctx *ctx, const cf_gpt *m, const int64_t *prompt, int64_t n_prompt, int64_t n_new,
                          const cf_sample_opts *o, int64_t *out)
{
    const cf_gpt_config *c = &m->cfg;
    if (n_prompt <= 0) return cf_set_error(CF_ERR_ARG, "generate: the prompt is empty");
    int64_t total = n_prompt + n_new;
    /* learned positions stop at seq: past it the context slides (the last seq tokens, recomputed) */
    int64_t window = c->pos == CF_POS_LEARNED ? c->seq : total;
    memmove(out, prompt, sizeof(int64_t) * (size_t)n_prompt); /* out may be prompt itself */
    cf_kv_cache *caches = NULL;
    cf_sample_cand *cands = malloc(sizeof(cf_sample_cand) * (size_t)c->vocab);
    float *row = malloc(sizeof(float) * (size_t)c->vocab);
    if (!cands || !row) {
        free(cands), free(row);
        return cf_set_error(CF_ERR_OOM, "generate: out of memory");
    }
    cf_status st = CF_OK;
    int64_t kvh = c->kv_heads ? c->kv_heads : c->heads;
    if (o->use_cache) {
        caches = calloc((size_t)c->layers, sizeof *caches);
        for (int64_t l = 0; caches && l < c->layers && st == CF_OK; l++)
            st = cf_kv_cache_init(&caches[l], m->wte.weight->dtype, 1, kvh, total < window ? total : window,
                                  c->dim / c->heads);
        for (int64_t l = 0; caches && o->hooks && l < c->layers; l++) caches[l].hook = o->hooks[l];
        if (!caches) st = cf_set_error(CF_ERR_OOM, "generate: out of memory");
    }
    bool prev = cf_set_grad_enabled(ctx, false);
    bool prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_philox_key key = cf_rng_key(o->seed, 0x6e6e);
    int64_t len = n_prompt, fed = 0; /* fed: tokens already in the cache */
    while (st == CF_OK && len < total) {
        bool cached = caches && len <= window; /* the cache holds positions 0..window-1 */
        int64_t from = cached ? fed : (len > window ? len - window : 0), n = len - from;
        cf_tensor *tok = cf_from_data(ctx, CF_I64, CF_SHAPE(1, n), out + from);
        cf_tensor *logits = cf_gpt_logits(ctx, m, tok, cached ? caches : NULL);
        if (!logits) {
            st = cf_last_status();
            break;
        }
        fed = len;
        out[len] = sample_row(logits, n - 1, c->vocab, o, cf_rng_uniform(key, 0, (uint64_t)len), cands, row);
        len++;
        cf_step_reset(ctx);
        if (o->stop && o->stop(o->stop_user, out, len)) break;
    }
    if (o->generated) *o->generated = len - n_prompt;
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev);
    if (caches)
        for (int64_t l = 0; l < c->layers; l++) cf_kv_cache_free(&caches[l]);
    free(caches);
    free(cands);
    free(row);
    return st;
}
