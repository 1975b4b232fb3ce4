/* Autoformer's encoder and decoder with trend accumulation (Wu et al., NeurIPS 2021, Sec. 3.1 Eq. 3-4) and
 * the embeddings both forecasters share (layers/autoformer.h). */
#include "layers/autoformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_tensor *cf_circular_conv3(cf_ctx *ctx, cf_tensor *x, cf_tensor *w)
{
    if (!x || !w) return NULL;
    int64_t L = x->shape[1];
    cf_tensor *xt = cf_transpose(ctx, x, 1, 2); /* [B, Cin, L] */
    cf_tensor *parts[3] = {cf_slice(ctx, xt, 2, L - 1, L, 1), xt, cf_slice(ctx, xt, 2, 0, 1, 1)};
    cf_tensor *y = cf_conv1d(ctx, cf_concat(ctx, 3, parts, 2), w, NULL, 1, 0, 1, 1);
    return cf_transpose(ctx, y, 1, 2);
}

cf_status cf_series_embed_init(cf_series_embed *e, cf_params *ps, const char *name, int64_t cin, int64_t F, int64_t D)
{
    memset(e, 0, sizeof *e);
    cf_params_push(ps, "%s", name);
    e->conv = cf_params_add(ps, "value_embedding.tokenConv.weight", CF_SHAPE(D, cin, 3), true);
    /* Kaiming normal, fan_in, gain sqrt(2) (the official TokenEmbedding) */
    cf_status st = e->conv ? cf_init_normal(ps, e->conv, 0, sqrt(2.0 / (double)(3 * cin))) : cf_last_status();
    if (st == CF_OK) st = cf_linear_init(&e->time, ps, "temporal_embedding.embed", F, D, false, 0);
    cf_params_pop(ps);
    return st;
}

cf_tensor *cf_series_embed_fwd(cf_ctx *ctx, const cf_series_embed *e, cf_tensor *x, cf_tensor *mark)
{
    return cf_add(ctx, cf_circular_conv3(ctx, x, e->conv), cf_linear_fwd(ctx, &e->time, mark));
}

cf_tensor *cf_forecast_dec_init(cf_ctx *ctx, cf_tensor *src, int64_t Ol, int64_t O, cf_tensor *fill)
{
    if (!src) return NULL;
    int64_t B = src->shape[0], I = src->shape[1], C = src->shape[2];
    cf_tensor *tail = fill ? cf_expand(ctx, fill, CF_SHAPE(B, O, C)) : cf_zeros(ctx, src->dtype, CF_SHAPE(B, O, C));
    if (Ol == 0) return tail;
    cf_tensor *parts[2] = {cf_slice(ctx, src, 1, I - Ol, I, 1), tail};
    return cf_concat(ctx, 2, parts, 1);
}

/* my_Layernorm: LayerNorm over D, then minus the time mean */
static cf_tensor *season_norm(cf_ctx *ctx, const cf_norm_layer *n, cf_tensor *x)
{
    cf_tensor *h = cf_norm_fwd(ctx, n, x);
    return cf_sub(ctx, h, cf_mean(ctx, h, 1, (int[]){1}, true));
}

static cf_status layer_init(cf_autoformer_layer *l, cf_params *ps, const cf_forecast_config *c, bool decoder)
{
    cf_status st = cf_autocorr_init(&l->self, ps, decoder ? "self_attention" : "attention", c->dim, c->heads, c->factor);
    if (st == CF_OK && decoder) st = cf_autocorr_init(&l->cross, ps, "cross_attention", c->dim, c->heads, c->factor);
    if (st == CF_OK) st = cf_linear_init(&l->ff1, ps, "conv1", c->dim, c->ff, false, 0);
    if (st == CF_OK) st = cf_linear_init(&l->ff2, ps, "conv2", c->ff, c->dim, false, 0);
    if (st == CF_OK && decoder) {
        l->trend_proj = cf_params_add(ps, "projection.weight", CF_SHAPE(c->cin, c->dim, 3), true);
        double bound = 1.0 / sqrt((double)(3 * c->dim)); /* PyTorch's Conv1d default */
        st = l->trend_proj ? cf_init_uniform(ps, l->trend_proj, -bound, bound) : cf_last_status();
    }
    return st;
}

/* Both forecasters' last layers -- the encoder's and the decoder's LayerNorm (named "...norm.layernorm" in
 * Autoformer's my_Layernorm) and the projection D -> C -- then the model's name scope is closed; st: so far. */
static cf_status finish_init(cf_params *ps, const char *name, const cf_forecast_config *c, bool season_norm,
                             cf_norm_layer *enc_norm, cf_norm_layer *dec_norm, cf_linear_layer *proj, cf_status st)
{
    const char *leaf = season_norm ? ".layernorm" : "";
    char en[48], dn[48];
    snprintf(en, sizeof en, "encoder.norm%s", leaf);
    snprintf(dn, sizeof dn, "decoder.norm%s", leaf);
    if (st == CF_OK) st = cf_norm_init(enc_norm, ps, en, CF_NORM_LAYER, c->dim, true, 1e-5);
    if (st == CF_OK) st = cf_norm_init(dec_norm, ps, dn, CF_NORM_LAYER, c->dim, true, 1e-5);
    if (st == CF_OK) st = cf_linear_init(proj, ps, "decoder.projection", c->dim, c->cin, true, 0);
    if (*name) cf_params_pop(ps);
    return st;
}

cf_status cf_autoformer_init(cf_autoformer *m, cf_params *ps, const char *name, const cf_forecast_config *c)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    if (c->moving_avg < 1 || c->moving_avg % 2 == 0)
        return cf_set_error(CF_ERR_ARG, "autoformer: moving_avg %lld must be odd (an even kernel shortens the series)",
                            (long long)c->moving_avg);
    m->enc = calloc((size_t)c->enc_layers, sizeof *m->enc);
    m->dec = calloc((size_t)c->dec_layers, sizeof *m->dec);
    if (!m->enc || !m->dec) return cf_set_error(CF_ERR_OOM, "autoformer: out of memory");
    if (*name) cf_params_push(ps, "%s", name);
    m->stream = cf_name_hash(ps->scope);
    cf_status st = cf_series_embed_init(&m->enc_embed, ps, "enc_embedding", c->cin, c->time_features, c->dim);
    if (st == CF_OK) st = cf_series_embed_init(&m->dec_embed, ps, "dec_embedding", c->cin, c->time_features, c->dim);
    for (int64_t i = 0; st == CF_OK && i < c->enc_layers; i++) {
        cf_params_push(ps, "encoder.attn_layers.%lld", (long long)i);
        st = layer_init(&m->enc[i], ps, c, false);
        cf_params_pop(ps);
    }
    for (int64_t i = 0; st == CF_OK && i < c->dec_layers; i++) {
        cf_params_push(ps, "decoder.layers.%lld", (long long)i);
        st = layer_init(&m->dec[i], ps, c, true);
        cf_params_pop(ps);
    }
    return finish_init(ps, name, c, true, &m->enc_norm, &m->dec_norm, &m->proj, st);
}

void cf_autoformer_free(cf_autoformer *m)
{
    free(m->enc);
    free(m->dec);
    m->enc = m->dec = NULL;
}

static cf_tensor *drop(cf_ctx *ctx, const cf_autoformer *m, cf_tensor *x, uint64_t site)
{
    return m->cfg.dropout > 0 ? cf_dropout(ctx, x, m->cfg.dropout, m->stream + site) : x;
}

static cf_tensor *ffn(cf_ctx *ctx, const cf_autoformer *m, const cf_autoformer_layer *l, cf_tensor *x, uint64_t site)
{
    cf_tensor *h = drop(ctx, m, cf_gelu(ctx, cf_linear_fwd(ctx, &l->ff1, x)), site);
    return drop(ctx, m, cf_linear_fwd(ctx, &l->ff2, h), site + 1);
}

static cf_tensor *encoder(cf_ctx *ctx, const cf_autoformer *m, cf_tensor *x)
{
    int64_t k = m->cfg.moving_avg;
    for (int64_t i = 0; i < m->cfg.enc_layers; i++) {
        const cf_autoformer_layer *l = &m->enc[i];
        uint64_t s = 16 * (uint64_t)(i + 1);
        x = cf_series_decomp(ctx, cf_add(ctx, x, drop(ctx, m, cf_autocorr_fwd(ctx, &l->self, x, x), s)), k, NULL);
        x = cf_series_decomp(ctx, cf_add(ctx, x, ffn(ctx, m, l, x, s + 1)), k, NULL);
    }
    return season_norm(ctx, &m->enc_norm, x);
}

/* returns the seasonal part; *trend accumulates each layer's projected trends */
static cf_tensor *decoder(cf_ctx *ctx, const cf_autoformer *m, cf_tensor *x, cf_tensor *enc, cf_tensor **trend)
{
    int64_t k = m->cfg.moving_avg;
    for (int64_t i = 0; i < m->cfg.dec_layers; i++) {
        const cf_autoformer_layer *l = &m->dec[i];
        uint64_t s = 1024 + 16 * (uint64_t)i;
        cf_tensor *t1, *t2, *t3;
        x = cf_series_decomp(ctx, cf_add(ctx, x, drop(ctx, m, cf_autocorr_fwd(ctx, &l->self, x, x), s)), k, &t1);
        x = cf_series_decomp(ctx, cf_add(ctx, x, drop(ctx, m, cf_autocorr_fwd(ctx, &l->cross, x, enc), s + 1)), k, &t2);
        x = cf_series_decomp(ctx, cf_add(ctx, x, ffn(ctx, m, l, x, s + 2)), k, &t3);
        cf_tensor *sum = cf_add(ctx, cf_add(ctx, t1, t2), t3);
        *trend = cf_add(ctx, *trend, cf_circular_conv3(ctx, sum, l->trend_proj));
    }
    return cf_linear_fwd(ctx, &m->proj, season_norm(ctx, &m->dec_norm, x));
}

/* checks the shapes both forecasters take; returns Ol or -1 */
static int64_t check_inputs(const char *who, const cf_forecast_config *c, cf_tensor *x, cf_tensor *x_mark,
                            cf_tensor *dec_mark, int64_t O)
{
    if (!x || !x_mark || !dec_mark) return -1;
    int64_t Ol = dec_mark->ndim == 3 ? dec_mark->shape[1] - O : -1;
    if (x->ndim != 3 || x->shape[2] != c->cin || x_mark->ndim != 3 || x_mark->shape[1] != x->shape[1] ||
        x_mark->shape[2] != c->time_features || dec_mark->ndim != 3 || dec_mark->shape[2] != c->time_features ||
        O < 1 || Ol < 0 || Ol > x->shape[1]) {
        cf_set_error(CF_ERR_SHAPE, "%s: x must be [B, I, %lld], x_mark [B, I, %lld] and dec_mark [B, Ol + O, %lld] "
                     "with 0 <= Ol <= I and O = %lld >= 1", who, (long long)c->cin, (long long)c->time_features,
                     (long long)c->time_features, (long long)O);
        return -1;
    }
    return Ol;
}

cf_tensor *cf_autoformer_fwd(cf_ctx *ctx, const cf_autoformer *m, cf_tensor *x, cf_tensor *x_mark,
                             cf_tensor *dec_mark, int64_t O)
{
    int64_t Ol = check_inputs("autoformer", &m->cfg, x, x_mark, dec_mark, O);
    if (Ol < 0) return NULL;
    cf_tensor *trend_in, *seasonal_in = cf_series_decomp(ctx, x, m->cfg.moving_avg, &trend_in);
    cf_tensor *trend = cf_forecast_dec_init(ctx, trend_in, Ol, O, cf_mean(ctx, x, 1, (int[]){1}, true));
    cf_tensor *seasonal = cf_forecast_dec_init(ctx, seasonal_in, Ol, O, NULL);
    cf_tensor *enc = encoder(ctx, m, drop(ctx, m, cf_series_embed_fwd(ctx, &m->enc_embed, x, x_mark), 1));
    cf_tensor *dec = drop(ctx, m, cf_series_embed_fwd(ctx, &m->dec_embed, seasonal, dec_mark), 2);
    cf_tensor *out = cf_add(ctx, decoder(ctx, m, dec, enc, &trend), trend);
    return out ? cf_slice(ctx, out, 1, Ol, Ol + O, 1) : NULL;
}

/* ---- the vanilla Transformer ---- */

cf_status cf_vanilla_forecaster_init(cf_vanilla_forecaster *m, cf_params *ps, const char *name,
                                     const cf_forecast_config *c)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->enc = calloc((size_t)c->enc_layers, sizeof *m->enc);
    m->dec = calloc((size_t)c->dec_layers, sizeof *m->dec);
    if (!m->enc || !m->dec) return cf_set_error(CF_ERR_OOM, "transformer forecaster: out of memory");
    if (*name) cf_params_push(ps, "%s", name);
    m->stream = cf_name_hash(ps->scope);
    cf_block_config bc = {.dim = c->dim, .heads = c->heads, .hidden = c->ff, .mlp = CF_MLP_GELU, .norm = CF_NORM_LAYER,
                          .bias = true, .mask = CF_ATTN_FULL, .dropout = c->dropout, .eps = 1e-5};
    cf_status st = cf_series_embed_init(&m->enc_embed, ps, "enc_embedding", c->cin, c->time_features, c->dim);
    if (st == CF_OK) st = cf_series_embed_init(&m->dec_embed, ps, "dec_embedding", c->cin, c->time_features, c->dim);
    for (int64_t i = 0; st == CF_OK && i < c->enc_layers; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "encoder.attn_layers.%lld", (long long)i);
        st = cf_block_init(&m->enc[i], ps, nm, &bc);
    }
    bc.cross = true, bc.mask = CF_ATTN_CAUSAL;
    for (int64_t i = 0; st == CF_OK && i < c->dec_layers; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "decoder.layers.%lld", (long long)i);
        st = cf_block_init(&m->dec[i], ps, nm, &bc);
    }
    return finish_init(ps, name, c, false, &m->enc_norm, &m->dec_norm, &m->proj, st);
}

void cf_vanilla_forecaster_free(cf_vanilla_forecaster *m)
{
    free(m->enc);
    free(m->dec);
    m->enc = m->dec = NULL;
}

/* DataEmbedding: value + sinusoidal position + time features, then dropout */
static cf_tensor *embed_pos(cf_ctx *ctx, const cf_vanilla_forecaster *m, const cf_series_embed *e, cf_tensor *x,
                            cf_tensor *mark, uint64_t site)
{
    cf_tensor *h = cf_series_embed_fwd(ctx, e, x, mark);
    if (!h) return NULL;
    h = cf_add(ctx, h, cf_sinusoidal_positions(ctx, h->dtype, 0, h->shape[1], h->shape[2]));
    return m->cfg.dropout > 0 ? cf_dropout(ctx, h, m->cfg.dropout, m->stream + site) : h;
}

cf_tensor *cf_vanilla_forecaster_fwd(cf_ctx *ctx, const cf_vanilla_forecaster *m, cf_tensor *x, cf_tensor *x_mark,
                                     cf_tensor *dec_mark, int64_t O)
{
    int64_t Ol = check_inputs("transformer forecaster", &m->cfg, x, x_mark, dec_mark, O);
    if (Ol < 0) return NULL;
    cf_tensor *enc = embed_pos(ctx, m, &m->enc_embed, x, x_mark, 1);
    for (int64_t i = 0; i < m->cfg.enc_layers; i++) enc = cf_block_fwd(ctx, &m->enc[i], enc, NULL, NULL, NULL, NULL);
    enc = cf_norm_fwd(ctx, &m->enc_norm, enc);
    cf_tensor *dec = embed_pos(ctx, m, &m->dec_embed, cf_forecast_dec_init(ctx, x, Ol, O, NULL), dec_mark, 2);
    for (int64_t i = 0; i < m->cfg.dec_layers; i++) dec = cf_block_fwd(ctx, &m->dec[i], dec, NULL, enc, NULL, NULL);
    cf_tensor *out = cf_linear_fwd(ctx, &m->proj, cf_norm_fwd(ctx, &m->dec_norm, dec));
    return out ? cf_slice(ctx, out, 1, Ol, Ol + O, 1) : NULL;
}
