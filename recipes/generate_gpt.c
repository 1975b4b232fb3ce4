/* Sampling from the GPT model with a KV cache: temperature, top-k and top-p (nucleus). */
#include "model_gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double p;
    int64_t id;
} cand;

static int by_prob_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Picks a token from one row of logits; cands is scratch of V entries. */
static int64_t sample_row(const cf_tensor *logits, int64_t row, int64_t V, const cf_sample_opts *o, double u,
                          cand *cands)
{
    double mx = -INFINITY;
    int64_t best = 0;
    for (int64_t v = 0; v < V; v++) {
        double l = cf_get_flat(logits, row * V + v);
        if (l > mx) mx = l, best = v;
    }
    if (o->temperature <= 0) return best;
    double sum = 0;
    for (int64_t v = 0; v < V; v++) {
        cands[v].id = v;
        cands[v].p = exp((cf_get_flat(logits, row * V + v) - mx) / o->temperature);
        sum += cands[v].p;
    }
    qsort(cands, (size_t)V, sizeof *cands, by_prob_desc);
    int64_t keep = V;
    if (o->top_k > 0 && o->top_k < keep) keep = o->top_k;
    if (o->top_p > 0 && o->top_p < 1) {
        double acc = 0;
        for (int64_t i = 0; i < keep; i++) {
            acc += cands[i].p / sum;
            if (acc >= o->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double kept = 0;
    for (int64_t i = 0; i < keep; i++) kept += cands[i].p;
    double target = u * kept, acc = 0;
    for (int64_t i = 0; i < keep; i++) {
        acc += cands[i].p;
        if (acc >= target) return cands[i].id;
    }
    return cands[keep - 1].id;
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
    cand *cands = malloc(sizeof(cand) * (size_t)c->vocab);
    if (!cands) return cf_set_error(CF_ERR_OOM, "generate: out of memory");
    cf_status st = CF_OK;
    int64_t kvh = c->kv_heads ? c->kv_heads : c->heads;
    if (o->use_cache) {
        caches = calloc((size_t)c->layers, sizeof *caches);
        for (int64_t l = 0; caches && l < c->layers && st == CF_OK; l++)
            st = cf_kv_cache_init(&caches[l], m->wte.weight->dtype, 1, kvh, total < window ? total : window,
                                  c->dim / c->heads);
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
        out[len] = sample_row(logits, n - 1, c->vocab, o, cf_rng_uniform(key, 0, (uint64_t)len), cands);
        len++;
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev);
    if (caches)
        for (int64_t l = 0; l < c->layers; l++) cf_kv_cache_free(&caches[l]);
    free(caches);
    free(cands);
    return st;
}
