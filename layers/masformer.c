/* MASFormer's stack: GPT blocks whose attention is full causal or local (layers/masformer.h). */
#include "layers/masformer.h"

#include <string.h>

bool cf_mas_local_parse(const char *s, cf_mas_local *out)
{
    static const char *const names[] = {"block", "block_prev", "window"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) return *out = (cf_mas_local)i, true;
    return false;
}

const char *cf_mas_local_name(cf_mas_local k)
{
    return k == CF_MAS_BLOCK ? "block" : k == CF_MAS_BLOCK_PREV ? "block_prev" : "window";
}

cf_status cf_masformer_init(cf_masformer *m, cf_params *ps, const cf_masformer_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->gpt.layers > CF_MAS_MAX_LAYERS)
        return cf_set_error(CF_ERR_ARG, "masformer: %lld layers, at most %d", (long long)cfg->gpt.layers, CF_MAS_MAX_LAYERS);
    if (!cfg->gpt.prenorm) return cf_set_error(CF_ERR_ARG, "masformer: the local layers are pre-LN blocks");
    if (cfg->local_span < 1) return cf_set_error(CF_ERR_ARG, "masformer: local_span must be >= 1");
    return cf_gpt_init(&m->gpt, ps, &cfg->gpt);
}

void cf_masformer_free(cf_masformer *m) { cf_gpt_free(&m->gpt); }

/* [R, S, n*Dh] columns [from, from + n*Dh) as heads [R, n, S, Dh] (views) */
static cf_tensor *split_heads(cf_ctx *ctx, cf_tensor *t, int64_t from, int64_t n, int64_t Dh)
{
    cf_tensor *cols = cf_slice(ctx, t, -1, from, from + n * Dh, 1);
    if (!cols) return NULL;
    return cf_transpose(ctx, cf_reshape(ctx, cols, CF_SHAPE(cols->shape[0], cols->shape[1], n, Dh)), 1, 2);
}

/* bool [R, 2b]: the previous-block half of every sequence's first block (zeros padded in) is padding */
static cf_tensor *first_block_padding(cf_ctx *ctx, int64_t B, int64_t nb, int64_t b)
{
    cf_tensor *pad = cf_zeros(ctx, CF_BOOL, CF_SHAPE(B * nb, 2 * b));
    if (!pad) return NULL;
    for (int64_t s = 0; s < B; s++)
        for (int64_t j = 0; j < b; j++) ((bool *)cf_data(pad))[s * nb * 2 * b + j] = true;
    return pad;
}

cf_tensor *cf_mas_local_attention(cf_ctx *ctx, const cf_attention *a, cf_tensor *x, cf_mas_local kind, int64_t span)
{
    if (!x) return NULL;
    const cf_attention_config *c = &a->cfg;
    if (kind == CF_MAS_WINDOW) { /* the fused op's causal sliding window */
        cf_attention w = *a;
        w.cfg.mask = CF_ATTN_WINDOW, w.cfg.window = span;
        return cf_attention_fwd(ctx, &w, x, NULL, NULL, NULL, NULL);
    }
    int64_t B = x->shape[0], T = x->shape[1], H = c->heads, Hkv = c->kv_heads, Dh = a->head_dim;
    if (T % span) {
        cf_set_error(CF_ERR_SHAPE, "masformer: a sequence of %lld tokens does not cut into blocks of %lld (local_span)",
                     (long long)T, (long long)span);
        return NULL;
    }
    int64_t nb = T / span, R = B * nb, C = (H + 2 * Hkv) * Dh;
    cf_tensor *qkv = cf_linear_fwd(ctx, &a->qkv, x); /* [B, T, C] */
    cf_tensor *blocks = cf_reshape(ctx, qkv, CF_SHAPE(R, span, C));
    cf_tensor *q = split_heads(ctx, blocks, 0, H, Dh), *kv = blocks, *pad = NULL;
    int64_t q_offset = 0, kv_from = H * Dh;
    if (kind == CF_MAS_BLOCK_PREV) {
        /* keys of block k: block k-1 (zeros, masked, for k = 0) then block k */
        cf_tensor *own = cf_slice(ctx, qkv, -1, H * Dh, C, 1); /* [B, T, 2 Hkv Dh] */
        cf_tensor *shifted = cf_slice(ctx, cf_pad(ctx, own, 2, (const int64_t[]){0, 0, span, 0}, 0.0), 1, 0, T, 1);
        cf_tensor *pair[2] = {cf_reshape(ctx, shifted, CF_SHAPE(R, span, 2 * Hkv * Dh)),
                              cf_reshape(ctx, own, CF_SHAPE(R, span, 2 * Hkv * Dh))};
        kv = cf_concat(ctx, 2, pair, 1); /* [R, 2b, 2 Hkv Dh] */
        pad = first_block_padding(ctx, B, nb, span);
        q_offset = span, kv_from = 0;
        if (!pad) return NULL;
    }
    cf_tensor *k = split_heads(ctx, kv, kv_from, Hkv, Dh), *v = split_heads(ctx, kv, kv_from + Hkv * Dh, Hkv, Dh);
    if (c->rope) {
        q = cf_rope(ctx, q, q_offset, c->rope_base);
        k = cf_rope(ctx, k, 0, c->rope_base);
    }
    cf_sdpa_opts o = {.mask = CF_SDPA_CAUSAL, .key_padding = pad, .dropout = c->dropout, .dropout_stream = a->stream};
    cf_tensor *y = cf_sdpa(ctx, q, k, v, &o); /* [R, H, b, Dh] */
    y = cf_reshape(ctx, cf_transpose(ctx, y, 1, 2), CF_SHAPE(B, T, H * Dh));
    return cf_linear_fwd(ctx, &a->proj, y);
}

static cf_tensor *residual(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *fx, uint64_t site)
{
    if (b->cfg.dropout > 0) fx = cf_dropout(ctx, fx, b->cfg.dropout, b->stream + site);
    return cf_add(ctx, x, fx);
}

/* a pre-LN block (layers/block.c) with local attention */
static cf_tensor *local_block(cf_ctx *ctx, const cf_masformer *m, const cf_block *b, cf_tensor *x)
{
    x = residual(ctx, b, x, cf_mas_local_attention(ctx, &b->attn, cf_norm_fwd(ctx, &b->ln1, x), m->cfg.local, m->cfg.local_span), 1);
    return residual(ctx, b, x, cf_mlp_fwd(ctx, &b->mlp, cf_norm_fwd(ctx, &b->ln2, x)), 3);
}

cf_tensor *cf_masformer_logits(cf_ctx *ctx, const cf_masformer *m, cf_tensor *tokens)
{
    if (!tokens) return NULL;
    const cf_gpt_config *c = &m->gpt.cfg;
    if (tokens->ndim != 2 || (c->pos == CF_POS_LEARNED && tokens->shape[1] > c->seq)) {
        char s[128];
        cf_set_error(CF_ERR_SHAPE, "masformer: tokens must be [batch, time] with time <= %lld learned positions, got %s",
                     (long long)c->seq, cf_shape_str(tokens, s, sizeof s));
        return NULL;
    }
    int64_t T = tokens->shape[1];
    cf_tensor *x = cf_embedding_fwd(ctx, &m->gpt.wte, tokens);
    if (c->pos == CF_POS_LEARNED) x = cf_add(ctx, x, cf_slice(ctx, m->gpt.wpe.weight, 0, 0, T, 1));
    else if (c->pos == CF_POS_SINUSOIDAL) x = cf_add(ctx, x, cf_sinusoidal_positions(ctx, m->gpt.wte.weight->dtype, 0, T, c->dim));
    if (c->dropout > 0) x = cf_dropout(ctx, x, c->dropout, 0x5eed);
    for (int64_t l = 0; l < c->layers; l++)
        x = m->cfg.full[l] ? cf_block_fwd(ctx, &m->gpt.blocks[l], x, NULL, NULL, NULL, NULL)
                           : local_block(ctx, m, &m->gpt.blocks[l], x);
    x = cf_norm_fwd(ctx, &m->gpt.ln_f, x);
    return c->tie ? cf_linear(ctx, x, m->gpt.wte.weight, NULL) : cf_linear_fwd(ctx, &m->gpt.head, x);
}

static double layer_flops(const cf_masformer_config *c, bool full, int64_t n)
{
    double d = (double)c->gpt.dim, N = (double)n, b = (double)(c->local_span < n ? c->local_span : n);
    if (full) return 4.0 * N * N * d;
    return (c->local == CF_MAS_BLOCK_PREV ? 8.0 : 4.0) * N * b * d;
}

double cf_masformer_attn_flops(const cf_masformer_config *c, int64_t n)
{
    double f = 0;
    for (int64_t l = 0; l < c->gpt.layers; l++) f += layer_flops(c, c->full[l], n);
    return f;
}

double cf_masformer_attn_flops_full(const cf_masformer_config *c, int64_t n)
{
    return (double)c->gpt.layers * layer_flops(c, true, n);
}
