/* Multi-head (and grouped-query) attention over the fused sdpa op, with a KV cache for decoding. */
#include "layers/nn.h"

#include <string.h>

bool cf_attn_mask_parse(const char *s, cf_attn_mask *out)
{
    static const struct {
        const char *name;
        cf_attn_mask kind;
    } names[] = {{"full", CF_ATTN_FULL}, {"causal", CF_ATTN_CAUSAL}, {"window", CF_ATTN_WINDOW}, {"block", CF_ATTN_BLOCK}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) return *out = names[i].kind, true;
    return false;
}

cf_status cf_kv_cache_init(cf_kv_cache *c, cf_dtype dt, int64_t batch, int64_t heads, int64_t cap, int64_t head_dim)
{
    c->k = cf_tensor_alloc(dt, CF_SHAPE(batch, heads, cap, head_dim));
    c->v = cf_tensor_alloc(dt, CF_SHAPE(batch, heads, cap, head_dim));
    c->len = 0, c->cap = cap, c->evicted = 0, c->hook = NULL;
    if (!c->k || !c->v) {
        cf_kv_cache_free(c);
        return cf_last_status();
    }
    return CF_OK;
}

void cf_kv_cache_free(cf_kv_cache *c)
{
    cf_tensor_free(c->k);
    cf_tensor_free(c->v);
    c->k = c->v = NULL;
}

cf_status cf_attention_init(cf_attention *a, cf_params *ps, const char *name, const cf_attention_config *cfg)
{
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    if (a->cfg.kv_heads <= 0) a->cfg.kv_heads = cfg->heads;
    if (cfg->heads <= 0 || cfg->dim % cfg->heads || cfg->heads % a->cfg.kv_heads)
        return cf_set_error(CF_ERR_ARG, "%s: dim %lld, heads %lld, kv_heads %lld: dim must divide into heads and "
                            "heads into kv_heads groups", name, (long long)cfg->dim, (long long)cfg->heads,
                            (long long)a->cfg.kv_heads);
    a->head_dim = cfg->dim / cfg->heads;
    int64_t kvdim = a->cfg.kv_heads * a->head_dim;
    cf_params_push(ps, "%s", name);
    a->stream = cf_name_hash(ps->scope);
    cf_status st;
    if (cfg->cross) {
        st = cf_linear_init(&a->q, ps, "q", cfg->dim, cfg->dim, cfg->bias, cfg->std);
        if (st == CF_OK) st = cf_linear_init(&a->kv, ps, "kv", cfg->dim, 2 * kvdim, cfg->bias, cfg->std);
    } else {
        st = cf_linear_init(&a->qkv, ps, "qkv", cfg->dim, cfg->dim + 2 * kvdim, cfg->bias, cfg->std);
    }
    if (st == CF_OK) st = cf_linear_init(&a->proj, ps, "proj", cfg->dim, cfg->dim, cfg->bias, cfg->out_std > 0 ? cfg->out_std : cfg->std);
    cf_params_pop(ps);
    return st;
}

/* [B, T, n*Dh] columns [from, from + n*Dh) as heads [B, n, T, Dh]: views, no copy. */
static cf_tensor *heads_of(cf_ctx *ctx, cf_tensor *proj, int64_t from, int64_t n, int64_t Dh)
{
    cf_tensor *cols = cf_slice(ctx, proj, -1, from, from + n * Dh, 1);
    if (!cols) return NULL;
    cf_tensor *h = cf_reshape(ctx, cols, CF_SHAPE(cols->shape[0], cols->shape[1], n, Dh));
    return cf_transpose(ctx, h, 1, 2);
}

cf_tensor *cf_attention_fwd(cf_ctx *ctx, const cf_attention *a, cf_tensor *x, cf_tensor *mem, cf_tensor *key_padding,
                            cf_tensor *bias, cf_kv_cache *cache)
{
    if (!x) return NULL;
    const cf_attention_config *c = &a->cfg;
    int64_t B = x->shape[0], T = x->shape[1], H = c->heads, Hkv = c->kv_heads, Dh = a->head_dim;
    cf_tensor *q, *k, *v;
    if (c->cross) {
        if (!mem) {
            cf_set_error(CF_ERR_ARG, "cross-attention needs a memory sequence");
            return NULL;
        }
        q = heads_of(ctx, cf_linear_fwd(ctx, &a->q, x), 0, H, Dh);
        cf_tensor *kv = cf_linear_fwd(ctx, &a->kv, mem);
        k = heads_of(ctx, kv, 0, Hkv, Dh);
        v = heads_of(ctx, kv, Hkv * Dh, Hkv, Dh);
    } else {
        cf_tensor *qkv = cf_linear_fwd(ctx, &a->qkv, x);
        q = heads_of(ctx, qkv, 0, H, Dh);
        k = heads_of(ctx, qkv, H * Dh, Hkv, Dh);
        v = heads_of(ctx, qkv, (H + Hkv) * Dh, Hkv, Dh);
    }
    int64_t past = cache ? cache->len : 0, at = cache ? cf_kv_cache_pos(cache) : 0; /* rows held, position */
    if (c->rope && !c->cross) {
        q = cf_rope(ctx, q, at, c->rope_base);
        k = cf_rope(ctx, k, at, c->rope_base);
    }
    if (cache) {
        if (!k || !v) return NULL;
        if (past + T > cache->cap) {
            cf_set_error(CF_ERR_ARG, "attention: KV cache holds %lld positions, %lld needed",
                         (long long)cache->cap, (long long)(past + T));
            return NULL;
        }
        cf_tensor *ks = cf_slice(ctx, cache->k, 2, past, past + T, 1), *vs = cf_slice(ctx, cache->v, 2, past, past + T, 1);
        if (!ks || !vs || cf_copy_(ks, k) != CF_OK || cf_copy_(vs, v) != CF_OK) return NULL;
        cache->len = past + T;
        k = cf_slice(ctx, cache->k, 2, 0, cache->len, 1);
        v = cf_slice(ctx, cache->v, 2, 0, cache->len, 1);
    }
    static const cf_sdpa_mask masks[] = {CF_SDPA_NONE, CF_SDPA_CAUSAL, CF_SDPA_WINDOW, CF_SDPA_BLOCK};
    cf_sdpa_opts o = {.mask = c->cross ? CF_SDPA_NONE : masks[c->mask],
                      .window = c->window,
                      .block = c->block,
                      .key_padding = key_padding,
                      .bias = bias,
                      .dropout = c->dropout,
                      .dropout_stream = a->stream};
    cf_tensor *y = NULL; /* [B, H, T, Dh] */
    bool plain = q && !c->cross && c->mask == CF_ATTN_CAUSAL && !key_padding && !bias &&
                 (c->dropout == 0 || !cf_is_training(ctx)) && !cf_grad_enabled(ctx);
    if (cache && cache->hook && cache->hook->attend && plain && cache->hook->attend(cache->hook, ctx, cache, q, &y) != CF_OK)
        return NULL;
    if (!y) y = cf_sdpa(ctx, q, k, v, &o);
    if (y && cache && cache->hook && cache->hook->after(cache->hook, ctx, cache, q) != CF_OK) return NULL;
    y = cf_reshape(ctx, cf_transpose(ctx, y, 1, 2), CF_SHAPE(B, T, H * Dh));
    return cf_linear_fwd(ctx, &a->proj, y);
}
