/* The AxFormer encoder (layers/axformer.h): post-LN layers with removable layers, blocks and heads and
 * per-layer hard attention. */
#include "layers/axformer.h"

#include "autograd/ops/hardattn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static cf_tensor *frozen(cf_params *ps, const char *name, int ndim, const int64_t *shape, double value)
{
    cf_tensor *t = cf_params_add(ps, name, ndim, shape, false);
    if (!t || cf_init_constant(t, value) != CF_OK || cf_requires_grad_(t, false) != CF_OK) return NULL;
    return t;
}

cf_status cf_axf_init(cf_axformer *m, cf_params *ps, const cf_axf_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->layers < 1 || cfg->layers > CF_AXF_MAX_LAYERS || cfg->heads < 1 || cfg->dim % cfg->heads != 0)
        return cf_set_error(CF_ERR_ARG, "axformer: layers = %lld must be in [1, %d] and dim = %lld a multiple of "
                            "heads = %lld", (long long)cfg->layers, CF_AXF_MAX_LAYERS, (long long)cfg->dim,
                            (long long)cfg->heads);
    m->head_dim = cfg->dim / cfg->heads;
    double std = cfg->init_std > 0 ? cfg->init_std : 0.02;
    CF_TRY(cf_embedding_init(&m->tok, ps, "enc.tok", cfg->vocab, cfg->dim, std));
    CF_TRY(cf_embedding_init(&m->pos, ps, "enc.pos", cfg->seq, cfg->dim, std));
    CF_TRY(cf_norm_init(&m->ln_emb, ps, "enc.ln_emb", CF_NORM_LAYER, cfg->dim, true, 1e-12));
    for (int64_t l = 0; l < cfg->layers; l++) {
        cf_axf_layer *y = &m->layer[l];
        cf_params_push(ps, "enc.layers.%lld", (long long)l);
        CF_TRY(cf_linear_init(&y->qkv, ps, "attn.qkv", cfg->dim, 3 * cfg->dim, true, std));
        CF_TRY(cf_linear_init(&y->proj, ps, "attn.proj", cfg->dim, cfg->dim, true, std));
        CF_TRY(cf_norm_init(&y->ln1, ps, "ln1", CF_NORM_LAYER, cfg->dim, true, 1e-12));
        CF_TRY(cf_mlp_init(&y->ffn, ps, "ffn", CF_MLP_GELU, cfg->dim, cfg->hidden, true, std, std));
        CF_TRY(cf_norm_init(&y->ln2, ps, "ln2", CF_NORM_LAYER, cfg->dim, true, 1e-12));
        cf_params_pop(ps);
    }
    m->layer_mask = frozen(ps, "axf.layer_mask", CF_SHAPE(cfg->layers), 1);
    m->attn_mask = frozen(ps, "axf.attn_mask", CF_SHAPE(cfg->layers), 1);
    m->ffn_mask = frozen(ps, "axf.ffn_mask", CF_SHAPE(cfg->layers), 1);
    m->head_mask = frozen(ps, "axf.head_mask", CF_SHAPE(cfg->layers, cfg->heads), 1);
    m->hard_k = frozen(ps, "axf.hard_k", CF_SHAPE(cfg->layers), 0);
    if (!m->layer_mask || !m->attn_mask || !m->ffn_mask || !m->head_mask || !m->hard_k) return cf_last_status();
    return CF_OK;
}

static cf_tensor *switch_tensor(const cf_axformer *m, cf_axf_switch s)
{
    cf_tensor *t[] = {m->layer_mask, m->attn_mask, m->ffn_mask, m->head_mask, m->hard_k};
    return t[s];
}

static bool switch_index(const cf_axformer *m, cf_axf_switch s, int64_t l, int64_t h, int64_t *flat)
{
    if ((int)s < 0 || s > CF_AXF_HARD || l < 0 || l >= m->cfg.layers) return false;
    if (s != CF_AXF_HEAD) return *flat = l, true;
    if (h < 0 || h >= m->cfg.heads) return false;
    return *flat = l * m->cfg.heads + h, true;
}

double cf_axf_get(const cf_axformer *m, cf_axf_switch s, int64_t l, int64_t h)
{
    int64_t i;
    return switch_index(m, s, l, h, &i) ? cf_get_flat(switch_tensor(m, s), i) : NAN;
}

cf_status cf_axf_set(cf_axformer *m, cf_axf_switch s, int64_t l, int64_t h, double value)
{
    int64_t i;
    if (!switch_index(m, s, l, h, &i))
        return cf_set_error(CF_ERR_ARG, "axformer: switch %d of layer %lld head %lld is out of range", (int)s,
                            (long long)l, (long long)h);
    bool ok = s == CF_AXF_HARD ? value >= 0 && value == floor(value) && value <= (double)m->cfg.seq
                               : value == 0 || value == 1;
    if (!ok) return cf_set_error(CF_ERR_ARG, "axformer: value %g is not valid for switch %d", value, (int)s);
    cf_set_flat(switch_tensor(m, s), i, value);
    return CF_OK;
}

static bool on(const cf_axformer *m, cf_axf_switch s, int64_t l, int64_t h) { return cf_axf_get(m, s, l, h) != 0; }

static int64_t heads_kept(const cf_axformer *m, int64_t l)
{
    int64_t n = 0;
    for (int64_t h = 0; h < m->cfg.heads; h++) n += on(m, CF_AXF_HEAD, l, h);
    return n;
}

/* The kept heads' rows of W_QKV (rows = true) or columns of W_O, as an i64 index. */
static cf_tensor *kept_index(cf_ctx *ctx, const cf_axformer *m, int64_t l, bool rows)
{
    int64_t D = m->cfg.dim, Dh = m->head_dim, n = 0, parts = rows ? 3 : 1;
    cf_tensor *t = cf_empty(ctx, CF_I64, CF_SHAPE(parts * heads_kept(m, l) * Dh));
    if (!t) return NULL;
    int64_t *idx = cf_data(t);
    for (int64_t p = 0; p < parts; p++)
        for (int64_t h = 0; h < m->cfg.heads; h++)
            if (on(m, CF_AXF_HEAD, l, h))
                for (int64_t i = 0; i < Dh; i++) idx[n++] = p * D + h * Dh + i;
    return t;
}

/* MHA over the kept heads of layer l: x [B, T, D] -> [B, T, D]. */
static cf_tensor *attention(cf_ctx *ctx, const cf_axformer *m, int64_t l, cf_tensor *x, double *flops)
{
    const cf_axf_layer *y = &m->layer[l];
    int64_t B = x->shape[0], T = x->shape[1], D = m->cfg.dim, Dh = m->head_dim, H = heads_kept(m, l);
    if (H == 0) return cf_add(ctx, cf_mul_scalar(ctx, x, 0), y->proj.bias); /* no head left: W_O's bias */
    cf_tensor *wqkv = y->qkv.weight, *bqkv = y->qkv.bias, *wo = y->proj.weight;
    if (H < m->cfg.heads) {
        cf_tensor *rows = kept_index(ctx, m, l, true), *cols = kept_index(ctx, m, l, false);
        wqkv = cf_index_select(ctx, wqkv, 0, rows);
        bqkv = cf_index_select(ctx, bqkv, 0, rows);
        wo = cf_index_select(ctx, wo, 1, cols);
    }
    cf_tensor *qkv = cf_reshape(ctx, cf_linear(ctx, x, wqkv, bqkv), CF_SHAPE(B, T, 3, H, Dh));
    qkv = cf_permute(ctx, qkv, (int[]){2, 0, 3, 1, 4}); /* [3, B, H, T, Dh] */
    cf_tensor *q = cf_squeeze(ctx, cf_narrow(ctx, qkv, 0, 0, 1), 0);
    cf_tensor *k = cf_squeeze(ctx, cf_narrow(ctx, qkv, 0, 1, 1), 0);
    cf_tensor *v = cf_squeeze(ctx, cf_narrow(ctx, qkv, 0, 2, 1), 0);
    int64_t hard = (int64_t)cf_axf_get(m, CF_AXF_HARD, l, 0);
    cf_tensor *o;
    if (hard > 0) {
        cf_tensor *s = cf_mul_scalar(ctx, cf_matmul(ctx, q, cf_transpose(ctx, k, -2, -1)), 1.0 / sqrt((double)Dh));
        o = cf_matmul(ctx, cf_topk_softmax(ctx, s, hard), v);
    } else {
        o = cf_sdpa(ctx, q, k, v, NULL);
    }
    o = cf_reshape(ctx, cf_contiguous(ctx, cf_transpose(ctx, o, 1, 2)), CF_SHAPE(B, T, H * Dh));
    if (flops) *flops += 2.0 * (double)(B * T) * (double)(3 * H * Dh * D + 2 * T * H * Dh + H * Dh * D);
    return cf_linear(ctx, o, wo, y->proj.bias);
}

cf_tensor *cf_axf_fwd(cf_ctx *ctx, const cf_axformer *m, cf_tensor *ids, double *flops)
{
    if (!ids) return NULL;
    const cf_axf_config *c = &m->cfg;
    if (ids->ndim != 2 || ids->dtype != CF_I64 || ids->shape[1] > c->seq || ids->shape[1] < 1) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "axformer: ids must be i64 [batch, time] with 1 <= time <= %lld, got %s",
                     (long long)c->seq, cf_shape_str(ids, b, sizeof b));
        return NULL;
    }
    int64_t B = ids->shape[0], T = ids->shape[1];
    cf_tensor *h = cf_add(ctx, cf_embedding_fwd(ctx, &m->tok, ids), cf_slice(ctx, m->pos.weight, 0, 0, T, 1));
    h = cf_norm_fwd(ctx, &m->ln_emb, h);
    for (int64_t l = 0; l < c->layers && h; l++) {
        const cf_axf_layer *y = &m->layer[l];
        if (!on(m, CF_AXF_LAYER, l, 0)) continue;
        if (on(m, CF_AXF_ATTN, l, 0)) h = cf_norm_fwd(ctx, &y->ln1, cf_add(ctx, h, attention(ctx, m, l, h, flops)));
        if (on(m, CF_AXF_FFN, l, 0)) {
            h = cf_norm_fwd(ctx, &y->ln2, cf_add(ctx, h, cf_mlp_fwd(ctx, &y->ffn, h)));
            if (flops) *flops += 4.0 * (double)(B * T) * (double)(c->dim * c->hidden);
        }
    }
    return h;
}

int64_t cf_axf_active_params(const cf_axformer *m)
{
    const cf_axf_config *c = &m->cfg;
    int64_t D = c->dim, n = (c->vocab + c->seq) * D + 2 * D;
    for (int64_t l = 0; l < c->layers; l++) {
        if (!on(m, CF_AXF_LAYER, l, 0)) continue;
        int64_t hd = heads_kept(m, l) * m->head_dim;
        if (on(m, CF_AXF_ATTN, l, 0)) n += 3 * hd * D + 3 * hd + hd * D + D + 2 * D;
        if (on(m, CF_AXF_FFN, l, 0)) n += 2 * D * c->hidden + c->hidden + D + 2 * D;
    }
    return n;
}
