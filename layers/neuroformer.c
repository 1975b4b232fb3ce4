/* Neuroformer: embeddings, the frame tokens (Conv3d patches), the official block in its self- and
 * cross-attention forms, the history / stimulus / behaviour cross-attention stack, heads, losses, generation
 * with KV caches, attention analysis. */
#include "layers/sample.h"
#include "layers/neuroformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_neuroformer_config cf_neuroformer_defaults(void)
{
    return (cf_neuroformer_config){.block = 32, .prev_block = 64, .dim = 64, .heads = 4, .state_layers = 1,
                                   .hist_layers = 1, .beh_layers = 1, .final_layers = 1, .dropout = 0.1,
                                   .init_std = 0.02, .contrastive = true, .clip_temp = 0.5, .clip_symmetric = true,
                                   .w_id = 0.6, .w_dt = 0.4, .w_clip = 0.25, .w_beh = 1.0, .frame_kernel = {3, 5, 5}};
}

/* ---- construction ---- */

/* Moves a parameter out of the weight-decay group (the official optimiser decays Linear weights of the
 * blocks and heads only). */
static void no_decay(cf_params *ps, const char *name)
{
    char full[2 * CF_PARAM_NAME_MAX];
    if (ps->scope[0]) snprintf(full, sizeof full, "%s.%s", ps->scope, name);
    else snprintf(full, sizeof full, "%s", name);
    cf_param *p = cf_params_find(ps, full);
    if (p) p->decay = false;
}

static cf_status attn_init(cf_nf_attention *a, cf_params *ps, const char *name, const cf_neuroformer_config *c, bool causal)
{
    memset(a, 0, sizeof *a);
    a->heads = c->heads, a->head_dim = c->dim / c->heads, a->dropout = c->dropout, a->causal = causal;
    cf_params_push(ps, "%s", name);
    a->stream = cf_name_hash(ps->scope);
    cf_status st = cf_linear_init(&a->query, ps, "query", c->dim, c->dim, true, c->init_std);
    if (st == CF_OK) st = cf_linear_init(&a->key, ps, "key", c->dim, c->dim, true, c->init_std);
    if (st == CF_OK) st = cf_linear_init(&a->value, ps, "value", c->dim, c->dim, true, c->init_std);
    if (st == CF_OK) st = cf_linear_init(&a->proj, ps, "proj", c->dim, c->dim, true, c->init_std);
    cf_params_pop(ps);
    return st;
}

static cf_status block_init(cf_nf_block *b, cf_params *ps, const char *name, const cf_neuroformer_config *c, bool self,
                            bool causal)
{
    memset(b, 0, sizeof *b);
    b->self = self, b->dropout = c->dropout;
    cf_params_push(ps, "%s", name);
    b->stream = cf_name_hash(ps->scope);
    cf_status st = cf_norm_init(&b->ln1, ps, "ln1", CF_NORM_LAYER, c->dim, true, 1e-5);
    if (st == CF_OK) st = attn_init(&b->attn, ps, "attn", c, causal);
    if (st == CF_OK) st = cf_norm_init(&b->ln2, ps, "ln2", CF_NORM_LAYER, c->dim, true, 1e-5);
    if (st == CF_OK) st = cf_mlp_init(&b->mlp, ps, "mlp", CF_MLP_GELU, c->dim, 4 * c->dim, true, c->init_std, 0);
    if (st == CF_OK) st = cf_norm_init(&b->ln_out, ps, "ln_out", CF_NORM_LAYER, c->dim, true, 1e-5);
    cf_params_pop(ps);
    return st;
}

/* n blocks named group.<i>: self-attention (causal or not) or cross-attention (self false). */
static cf_status blocks_init(cf_nf_block **out, int64_t n, cf_params *ps, const char *group, const cf_neuroformer_config *c,
                             bool self, bool causal)
{
    *out = NULL;
    if (n <= 0) return CF_OK;
    *out = calloc((size_t)n, sizeof **out);
    if (!*out) return cf_set_error(CF_ERR_OOM, "neuroformer: out of memory");
    for (int64_t l = 0; l < n; l++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%lld", group, (long long)l);
        CF_TRY(block_init(&(*out)[l], ps, name, c, self, causal));
    }
    return CF_OK;
}

static cf_status temporal_init(cf_linear_layer *l1, cf_linear_layer *l2, cf_params *ps, const char *name,
                               const cf_neuroformer_config *c)
{
    cf_params_push(ps, "%s", name);
    cf_status st = cf_linear_init(l1, ps, "0", 1, c->dim / 2, true, c->init_std);
    if (st == CF_OK) st = cf_linear_init(l2, ps, "2", c->dim / 2, c->dim, true, c->init_std);
    no_decay(ps, "0.weight");
    no_decay(ps, "2.weight");
    cf_params_pop(ps);
    return st;
}

cf_status cf_neuroformer_init(cf_neuroformer *m, cf_params *ps, const cf_neuroformer_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const cf_neuroformer_config *c = &m->cfg;
    if (c->n_units <= 0 || c->dt_classes <= 0 || c->block < 2 || c->prev_block < 2 || c->dim <= 0 || c->heads <= 0 ||
        c->dim % c->heads || c->dim % 2 || c->state_layers < 0 || c->hist_layers < 0 || c->beh_layers < 0 ||
        c->final_layers < 0 || c->beh_inputs < 0 || !(c->dropout >= 0 && c->dropout < 1) || !(c->clip_temp > 0))
        return cf_set_error(CF_ERR_ARG, "neuroformer: bad config (units %lld, dt classes %lld, block %lld/%lld, dim %lld, "
                            "heads %lld, layers %lld/%lld/%lld/%lld, dropout %g, clip_temp %g): sizes must be positive, "
                            "dim even and divisible by heads, blocks >= 2", (long long)c->n_units,
                            (long long)c->dt_classes, (long long)c->block, (long long)c->prev_block, (long long)c->dim,
                            (long long)c->heads, (long long)c->state_layers, (long long)c->hist_layers,
                            (long long)c->beh_layers, (long long)c->final_layers, c->dropout, c->clip_temp);
    if (c->frame_layers < 0) return cf_set_error(CF_ERR_ARG, "neuroformer: frame_layers %lld (need >= 0)", (long long)c->frame_layers);
    if (c->frame_layers > 0) {
        const int64_t *k = c->frame_kernel;
        if (c->frames < 1 || c->frame_h < 1 || c->frame_w < 1)
            return cf_set_error(CF_ERR_ARG, "neuroformer: frame clip %lld x %lld x %lld (frames x height x width must be "
                                "positive with frame_layers %lld)", (long long)c->frames, (long long)c->frame_h,
                                (long long)c->frame_w, (long long)c->frame_layers);
        if (k[0] < 1 || k[1] < 1 || k[2] < 1 || k[0] > c->frames || k[1] > c->frame_h || k[2] > c->frame_w)
            return cf_set_error(CF_ERR_ARG, "neuroformer: frame kernel %lldx%lldx%lld does not fit the clip of %lld frames of "
                                "%lld x %lld pixels (each side 1..the clip's)", (long long)k[0], (long long)k[1],
                                (long long)k[2], (long long)c->frames, (long long)c->frame_h, (long long)c->frame_w);
        if ((c->frames / k[0]) * (c->frame_h / k[1]) * (c->frame_w / k[2]) > 65536)
            return cf_set_error(CF_ERR_ARG, "neuroformer: frame kernel %lldx%lldx%lld makes more than 65536 frame tokens",
                                (long long)k[0], (long long)k[1], (long long)k[2]);
    }
    m->id_sos = c->n_units, m->id_eos = c->n_units + 1, m->id_pad = c->n_units + 2, m->id_vocab = c->n_units + 3;
    m->dt_sos = c->dt_classes, m->dt_eos = c->dt_classes + 1, m->dt_pad = c->dt_classes + 2, m->dt_vocab = c->dt_classes + 3;
    double std = c->init_std > 0 ? c->init_std : 0.02;
    CF_TRY(cf_embedding_init(&m->tok_emb, ps, "tok_emb", m->id_vocab, c->dim, std));
    CF_TRY(temporal_init(&m->temp1, &m->temp2, ps, "temp_emb", c));
    CF_TRY(temporal_init(&m->temp1_prev, &m->temp2_prev, ps, "temp_emb_prev", c));
    /* learned positions, initialised to zero as in the official code */
    m->pos_emb = cf_params_add(ps, "pos_emb", CF_SHAPE(1, c->block, c->dim), false);
    m->pos_emb_prev = cf_params_add(ps, "pos_emb_prev", CF_SHAPE(1, c->prev_block, c->dim), false);
    if (!m->pos_emb || !m->pos_emb_prev) return cf_last_status();
    CF_TRY(blocks_init(&m->state, c->state_layers, ps, "state_blocks", c, true, true));
    CF_TRY(blocks_init(&m->hist, c->hist_layers, ps, "hist_blocks", c, false, false));
    if (c->frame_layers > 0) {
        /* Conv3d(1 -> C) with PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias */
        const int64_t *k = c->frame_kernel;
        double bound = 1.0 / sqrt((double)(k[0] * k[1] * k[2]));
        m->frame_conv_w = cf_params_add(ps, "frame_emb.conv.weight", CF_SHAPE(c->dim, 1, k[0], k[1], k[2]), true);
        m->frame_conv_b = cf_params_add(ps, "frame_emb.conv.bias", CF_SHAPE(c->dim), false);
        if (!m->frame_conv_w || !m->frame_conv_b) return cf_last_status();
        CF_TRY(cf_init_uniform(ps, m->frame_conv_w, -bound, bound));
        CF_TRY(cf_init_uniform(ps, m->frame_conv_b, -bound, bound));
        CF_TRY(cf_norm_init(&m->frame_ln, ps, "frame_emb.ln", CF_NORM_LAYER, c->dim, true, 1e-5));
        m->frame_tokens = 1 + (c->frames / k[0]) * (c->frame_h / k[1]) * (c->frame_w / k[2]);
        CF_TRY(blocks_init(&m->frame_blocks, c->frame_layers, ps, "frame_blocks", c, true, false));
        CF_TRY(blocks_init(&m->stim, c->frame_layers, ps, "stim_blocks", c, false, false));
    }
    if (c->beh_inputs > 0) {
        CF_TRY(blocks_init(&m->beh, c->beh_layers, ps, "beh_blocks", c, false, false));
        m->beh_w = cf_params_add(ps, "beh_emb.weight", CF_SHAPE(c->beh_inputs, c->dim), false);
        m->beh_b = cf_params_add(ps, "beh_emb.bias", CF_SHAPE(c->beh_inputs, c->dim), false);
        if (!m->beh_w || !m->beh_b) return cf_last_status();
        CF_TRY(cf_init_normal(ps, m->beh_w, 0, std));
    }
    CF_TRY(blocks_init(&m->final, c->final_layers, ps, "final_blocks", c, true, true));
    CF_TRY(cf_linear_init(&m->head_id, ps, "head_id", c->dim, m->id_vocab, false, std));
    CF_TRY(cf_linear_init(&m->head_dt, ps, "head_dt", c->dim, m->dt_vocab, false, std));
    if (c->beh_predict) CF_TRY(cf_linear_init(&m->head_beh, ps, "head_beh", c->dim, 1, true, std));
    if (c->contrastive && (c->beh_inputs > 0 || c->frame_layers > 0)) {
        CF_TRY(cf_linear_init(&m->clip_proj, ps, c->clip_separate ? "clip_proj_id" : "clip_proj", c->dim, c->dim, false, std));
        if (c->clip_separate && c->beh_inputs > 0)
            CF_TRY(cf_linear_init(&m->clip_proj_beh, ps, "clip_proj_beh", c->dim, c->dim, false, std));
        if (c->clip_separate && c->frame_layers > 0)
            CF_TRY(cf_linear_init(&m->clip_proj_frames, ps, "clip_proj_frames", c->dim, c->dim, false, std));
    }
    return CF_OK;
}

void cf_neuroformer_free(cf_neuroformer *m)
{
    free(m->state);
    free(m->hist);
    free(m->beh);
    free(m->final);
    free(m->frame_blocks);
    free(m->stim);
    m->state = m->hist = m->beh = m->final = m->frame_blocks = m->stim = NULL;
}

/* ---- caches ---- */

cf_status cf_nf_cache_init(cf_nf_cache *c, const cf_neuroformer *m, int64_t batch)
{
    memset(c, 0, sizeof *c);
    const cf_neuroformer_config *k = &m->cfg;
    c->batch = batch;
    c->state = calloc((size_t)(k->state_layers + 1), sizeof *c->state);
    c->final = calloc((size_t)(k->final_layers + 1), sizeof *c->final);
    c->hist = calloc((size_t)(k->hist_layers + 1), sizeof *c->hist);
    c->stim = calloc((size_t)(k->frame_layers + 1), sizeof *c->stim);
    if (!c->state || !c->final || !c->hist || !c->stim) {
        cf_nf_cache_free(c);
        return cf_set_error(CF_ERR_OOM, "neuroformer: out of memory for the KV cache");
    }
    cf_status st = CF_OK;
    for (int64_t l = 0; l < k->state_layers && st == CF_OK; l++, c->n_state++)
        st = cf_kv_cache_init(&c->state[l], CF_F32, batch, k->heads, k->block, k->dim / k->heads);
    for (int64_t l = 0; l < k->final_layers && st == CF_OK; l++, c->n_final++)
        st = cf_kv_cache_init(&c->final[l], CF_F32, batch, k->heads, k->block, k->dim / k->heads);
    for (int64_t l = 0; l < k->hist_layers && st == CF_OK; l++, c->n_hist++)
        st = cf_kv_cache_init(&c->hist[l], CF_F32, batch, k->heads, k->prev_block, k->dim / k->heads);
    for (int64_t l = 0; l < k->frame_layers && st == CF_OK; l++, c->n_stim++)
        st = cf_kv_cache_init(&c->stim[l], CF_F32, batch, k->heads, m->frame_tokens, k->dim / k->heads);
    if (st != CF_OK) cf_nf_cache_free(c);
    return st;
}

void cf_nf_cache_clear(cf_nf_cache *c)
{
    for (int64_t l = 0; l < c->n_state; l++) cf_kv_cache_clear(&c->state[l]);
    for (int64_t l = 0; l < c->n_final; l++) cf_kv_cache_clear(&c->final[l]);
    for (int64_t l = 0; l < c->n_hist; l++) cf_kv_cache_clear(&c->hist[l]);
    for (int64_t l = 0; l < c->n_stim; l++) cf_kv_cache_clear(&c->stim[l]);
}

void cf_nf_cache_free(cf_nf_cache *c)
{
    for (int64_t l = 0; c->state && l < c->n_state; l++) cf_kv_cache_free(&c->state[l]);
    for (int64_t l = 0; c->final && l < c->n_final; l++) cf_kv_cache_free(&c->final[l]);
    for (int64_t l = 0; c->hist && l < c->n_hist; l++) cf_kv_cache_free(&c->hist[l]);
    for (int64_t l = 0; c->stim && l < c->n_stim; l++) cf_kv_cache_free(&c->stim[l]);
    free(c->state);
    free(c->final);
    free(c->hist);
    free(c->stim);
    memset(c, 0, sizeof *c);
}

/* ---- forward ---- */

/* [B, T, H * Dh] as heads [B, H, T, Dh] (a view). */
static cf_tensor *heads_of(cf_ctx *ctx, cf_tensor *x, int64_t H, int64_t Dh)
{
    if (!x) return NULL;
    return cf_transpose(ctx, cf_reshape(ctx, x, CF_SHAPE(x->shape[0], x->shape[1], H, Dh)), 1, 2);
}

/* Adds probs = mean over heads of softmax(q k^T * scale) (PAD keys masked) into *acc, without gradients;
 * *heads (when given) gets the heads' probabilities [B, H, Tq, Tk]. */
static cf_status record_attention(cf_ctx *ctx, cf_tensor *q, cf_tensor *k, cf_tensor *pad, double scale, double weight,
                                  cf_tensor **acc, cf_tensor **heads)
{
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *s = cf_mul_scalar(ctx, cf_matmul(ctx, q, cf_transpose(ctx, k, 2, 3)), scale); /* [B, H, Tq, Tk] */
    if (s && pad) s = cf_masked_fill(ctx, s, cf_reshape(ctx, pad, CF_SHAPE(pad->shape[0], 1, 1, pad->shape[1])), -INFINITY);
    cf_tensor *sm = cf_softmax(ctx, s, -1), *p = cf_mul_scalar(ctx, cf_mean(ctx, sm, CF_DIMS(1), false), weight);
    if (p) *acc = *acc ? cf_add(ctx, *acc, p) : p;
    if (heads) *heads = sm;
    cf_set_grad_enabled(ctx, prev);
    return p && *acc ? CF_OK : cf_last_status();
}

/* The official block: x = q + Drop(Wo MHA(LN1(q), kv, kv)); x += Drop(MLP(LN2(x))); LN_out(x). Self blocks take
 * keys and values from their raw input x (appended to cache when given); cross blocks from mem: with a cache
 * they are stored at the first call and reused while the cache holds them (mem may then be NULL). */
static cf_tensor *block_fwd(cf_ctx *ctx, const cf_nf_block *b, cf_tensor *x, cf_tensor *mem, cf_tensor *mem_pad,
                            cf_kv_cache *cache, cf_tensor **rec, double rec_weight, cf_tensor **rec_heads)
{
    bool reuse = !b->self && cache && cache->len > 0;
    if (!x || (!b->self && !mem && !reuse)) return NULL;
    const cf_nf_attention *a = &b->attn;
    int64_t B = x->shape[0], T = x->shape[1], H = a->heads, Dh = a->head_dim;
    cf_tensor *src = b->self ? x : mem;
    cf_tensor *q = heads_of(ctx, cf_linear_fwd(ctx, &a->query, cf_norm_fwd(ctx, &b->ln1, x)), H, Dh);
    cf_tensor *k, *v;
    if (reuse) {
        if (B > cache->k->shape[0]) {
            cf_set_error(CF_ERR_ARG, "neuroformer: the cross-attention cache holds %lld rows, %lld needed",
                         (long long)cache->k->shape[0], (long long)B);
            return NULL;
        }
        k = cf_slice(ctx, cf_slice(ctx, cache->k, 0, 0, B, 1), 2, 0, cache->len, 1);
        v = cf_slice(ctx, cf_slice(ctx, cache->v, 0, 0, B, 1), 2, 0, cache->len, 1);
    } else {
        k = heads_of(ctx, cf_linear_fwd(ctx, &a->key, src), H, Dh);
        v = heads_of(ctx, cf_linear_fwd(ctx, &a->value, src), H, Dh);
    }
    if (!q || !k || !v) return NULL;
    if (cache && !b->self && !reuse) {
        int64_t S = k->shape[2];
        if (S > cache->cap || B > cache->k->shape[0]) {
            cf_set_error(CF_ERR_ARG, "neuroformer: the cross-attention cache holds %lld keys of %lld rows, %lld keys of %lld "
                         "rows needed", (long long)cache->cap, (long long)cache->k->shape[0], (long long)S, (long long)B);
            return NULL;
        }
        cf_tensor *ks = cf_slice(ctx, cf_slice(ctx, cache->k, 0, 0, B, 1), 2, 0, S, 1);
        cf_tensor *vs = cf_slice(ctx, cf_slice(ctx, cache->v, 0, 0, B, 1), 2, 0, S, 1);
        if (!ks || !vs || cf_copy_(ks, k) != CF_OK || cf_copy_(vs, v) != CF_OK) return NULL;
        cache->len = S;
    } else if (cache && b->self) {
        int64_t past = cache->len;
        if (past + T > cache->cap || B > cache->k->shape[0]) {
            cf_set_error(CF_ERR_ARG, "neuroformer: KV cache holds %lld positions of %lld rows, %lld positions of %lld "
                         "rows needed", (long long)cache->cap, (long long)cache->k->shape[0], (long long)(past + T),
                         (long long)B);
            return NULL;
        }
        cf_tensor *kr = cf_slice(ctx, cache->k, 0, 0, B, 1), *vr = cf_slice(ctx, cache->v, 0, 0, B, 1);
        cf_tensor *ks = cf_slice(ctx, kr, 2, past, past + T, 1), *vs = cf_slice(ctx, vr, 2, past, past + T, 1);
        if (!ks || !vs || cf_copy_(ks, k) != CF_OK || cf_copy_(vs, v) != CF_OK) return NULL;
        cache->len = past + T;
        k = cf_slice(ctx, kr, 2, 0, cache->len, 1);
        v = cf_slice(ctx, vr, 2, 0, cache->len, 1);
    }
    if (rec && record_attention(ctx, q, k, b->self ? NULL : mem_pad, 1.0 / sqrt((double)Dh), rec_weight, rec, rec_heads) != CF_OK)
        return NULL;
    cf_sdpa_opts o = {.mask = a->causal ? CF_SDPA_CAUSAL : CF_SDPA_NONE,
                      .key_padding = b->self ? NULL : mem_pad,
                      .dropout = a->dropout,
                      .dropout_stream = a->stream};
    cf_tensor *y = cf_sdpa(ctx, q, k, v, &o);
    y = cf_linear_fwd(ctx, &a->proj, cf_reshape(ctx, cf_transpose(ctx, y, 1, 2), CF_SHAPE(B, T, H * Dh)));
    if (b->dropout > 0) y = cf_dropout(ctx, y, b->dropout, b->stream + 1);
    cf_tensor *f = cf_mlp_fwd(ctx, &b->mlp, cf_add_norm_fwd(ctx, &b->ln2, x, y, &x)); /* x + y, fused with ln2 */
    if (b->dropout > 0) f = cf_dropout(ctx, f, b->dropout, b->stream + 2);
    return cf_add_norm_fwd(ctx, &b->ln_out, x, f, NULL);
}

/* The dt classes as a float column [B, T, 1] of the parameters' dtype (f32, or f64 for gradient checks) for
 * the temporal MLP (the official code embeds the class index as a real number). */
static cf_tensor *dt_column(cf_ctx *ctx, cf_tensor *dt, cf_dtype type)
{
    if (!dt) return NULL;
    int64_t B = dt->shape[0], T = dt->shape[1];
    cf_tensor *col = cf_empty(ctx, type, CF_SHAPE(B, T, 1));
    if (!col) return NULL;
    for (int64_t i = 0; i < B * T; i++) cf_set_flat(col, i, cf_get_flat(dt, i));
    return col;
}

static cf_tensor *embed(cf_ctx *ctx, const cf_neuroformer *m, cf_tensor *id, cf_tensor *dt, const cf_linear_layer *t1,
                        const cf_linear_layer *t2, cf_tensor *pos, int64_t offset, uint64_t stream)
{
    if (!id || !dt) return NULL;
    int64_t T = id->shape[1];
    if (offset + T > pos->shape[1]) {
        cf_set_error(CF_ERR_SHAPE, "neuroformer: positions up to %lld, but the model has %lld", (long long)(offset + T),
                     (long long)pos->shape[1]);
        return NULL;
    }
    cf_tensor *temporal = cf_linear_fwd(ctx, t2, cf_gelu(ctx, cf_linear_fwd(ctx, t1, dt_column(ctx, dt, t1->weight->dtype))));
    cf_tensor *e = cf_add(ctx, cf_add(ctx, cf_embedding_fwd(ctx, &m->tok_emb, id), temporal),
                          cf_slice(ctx, pos, 1, offset, offset + T, 1));
    return m->cfg.dropout > 0 ? cf_dropout(ctx, e, m->cfg.dropout, stream) : e;
}

/* The frame tokens (the official code's Conv3d patches) of a clip [B, 1, F, h, w] with the window's SOS
 * embedding sos [B, 1, C]
 * as token 0, through the frame self-attention blocks: [B, P, C]. */
static cf_tensor *frame_tokens(cf_ctx *ctx, const cf_neuroformer *m, cf_tensor *frames, cf_tensor *sos)
{
    const cf_neuroformer_config *c = &m->cfg;
    if (!sos) return NULL;
    int64_t B = sos->shape[0];
    if (frames->ndim != 5 || frames->shape[0] != B || frames->shape[1] != 1 || frames->shape[2] != c->frames ||
        frames->shape[3] != c->frame_h || frames->shape[4] != c->frame_w) {
        char got[128];
        cf_set_error(CF_ERR_SHAPE, "neuroformer: frames %s, expected [%lld, 1, %lld, %lld, %lld] (batch, 1, frames, height, "
                     "width)", cf_shape_str(frames, got, sizeof got), (long long)B, (long long)c->frames,
                     (long long)c->frame_h, (long long)c->frame_w);
        return NULL;
    }
    static const int channels_last[5] = {0, 2, 3, 4, 1};
    cf_tensor *y = cf_conv3d(ctx, cf_cast(ctx, frames, m->frame_conv_w->dtype), m->frame_conv_w, m->frame_conv_b, NULL);
    y = cf_reshape(ctx, cf_contiguous(ctx, cf_permute(ctx, y, channels_last)), CF_SHAPE(B, m->frame_tokens - 1, c->dim));
    y = cf_relu(ctx, cf_norm_fwd(ctx, &m->frame_ln, y));
    cf_tensor *parts[2] = {sos, y};
    cf_tensor *t = y ? cf_concat(ctx, 2, parts, 1) : NULL;
    if (t && c->dropout > 0) t = cf_dropout(ctx, t, c->dropout, 0x6e670);
    for (int64_t l = 0; l < c->frame_layers; l++) t = block_fwd(ctx, &m->frame_blocks[l], t, NULL, NULL, NULL, NULL, 0, NULL);
    return t;
}

cf_status cf_neuroformer_forward(cf_ctx *ctx, const cf_neuroformer *m, const cf_nf_inputs *in, cf_nf_cache *cache,
                                 cf_nf_attn_record *rec, cf_nf_outputs *out)
{
    memset(out, 0, sizeof *out);
    if (rec) {
        rec->probs = NULL;
        for (int l = 0; l < CF_NF_REC_LAYERS; l++) rec->heads[l] = NULL;
    }
    const cf_neuroformer_config *c = &m->cfg;
    if (!in->id || !in->dt || !in->prev_id || !in->prev_dt) return cf_set_error(CF_ERR_ARG, "neuroformer: missing inputs");
    if (in->id->ndim != 2 || in->prev_id->ndim != 2 || !cf_same_shape(in->id, in->dt) ||
        !cf_same_shape(in->prev_id, in->prev_dt) || in->prev_id->shape[0] != in->id->shape[0])
        return cf_set_error(CF_ERR_SHAPE, "neuroformer: id/dt must be [B, T] and prev_id/prev_dt [B, Tp] with the same B");
    if (c->beh_inputs > 0 && (!in->beh || in->beh->ndim != 2 || in->beh->shape[1] != c->beh_inputs))
        return cf_set_error(CF_ERR_SHAPE, "neuroformer: the model takes %lld behaviour inputs per window; the batch has %s",
                            (long long)c->beh_inputs, in->beh ? "another shape" : "none");
    int64_t offset = cache ? cf_nf_cache_len(cache) : 0;
    /* with a cache, the cross-attention keys and values come from it after the window's first step */
    bool hist_cached = cache && cache->n_hist > 0 && cache->hist[0].len > 0 && !rec;
    bool stim_cached = cache && cache->n_stim > 0 && cache->stim[0].len > 0;
    cf_tensor *x = embed(ctx, m, in->id, in->dt, &m->temp1, &m->temp2, m->pos_emb, offset, 0x6e66e);
    cf_tensor *mem = NULL, *ftok = NULL;
    if (c->hist_layers > 0 && !hist_cached)
        mem = embed(ctx, m, in->prev_id, in->prev_dt, &m->temp1_prev, &m->temp2_prev, m->pos_emb_prev, 0, 0x6e66f);
    if (mem && in->prev_gate) { /* attribution: each past token's embedding scaled by its gate */
        if (in->prev_gate->ndim != 2 || in->prev_gate->shape[0] != mem->shape[0] || in->prev_gate->shape[1] != mem->shape[1])
            return cf_set_error(CF_ERR_SHAPE, "neuroformer: prev_gate must be [B, Tp] as prev_id");
        mem = cf_mul(ctx, mem, cf_reshape(ctx, cf_cast(ctx, in->prev_gate, mem->dtype), CF_SHAPE(mem->shape[0], mem->shape[1], 1)));
    }
    if (c->frame_layers > 0 && !stim_cached) {
        if (!in->frames) return cf_set_error(CF_ERR_ARG, "neuroformer: the model has %lld frame layers but no frames were "
                                             "given", (long long)c->frame_layers);
        if (offset != 0)
            return cf_set_error(CF_ERR_ARG, "neuroformer: the frame tokens need the window's SOS token (position 0), but the "
                                "cache is at position %lld without the frames' keys and values", (long long)offset);
        if (!(ftok = frame_tokens(ctx, m, in->frames, cf_slice(ctx, x, 1, 0, 1, 1)))) return cf_last_status();
    }
    for (int64_t l = 0; l < c->state_layers; l++)
        x = block_fwd(ctx, &m->state[l], x, NULL, NULL, cache ? &cache->state[l] : NULL, NULL, 0, NULL);
    cf_tensor *acc = NULL;
    for (int64_t l = 0; l < c->hist_layers; l++)
        x = block_fwd(ctx, &m->hist[l], x, mem, in->prev_pad, cache && !rec ? &cache->hist[l] : NULL, rec ? &acc : NULL,
                      1.0 / (double)c->hist_layers, rec && rec->want_heads && l < CF_NF_REC_LAYERS ? &rec->heads[l] : NULL);
    for (int64_t l = 0; l < c->frame_layers; l++)
        x = block_fwd(ctx, &m->stim[l], x, ftok, NULL, cache ? &cache->stim[l] : NULL, NULL, 0, NULL);
    cf_tensor *btok = NULL;
    if (c->beh_inputs > 0) {
        int64_t B = in->beh->shape[0];
        cf_tensor *v = cf_reshape(ctx, cf_cast(ctx, in->beh, m->beh_w->dtype), CF_SHAPE(B, c->beh_inputs, 1));
        btok = cf_add(ctx, cf_mul(ctx, v, m->beh_w), m->beh_b); /* [B, k, C] */
        for (int64_t l = 0; l < c->beh_layers; l++) x = block_fwd(ctx, &m->beh[l], x, btok, NULL, NULL, NULL, 0, NULL);
    }
    for (int64_t l = 0; l < c->final_layers; l++)
        x = block_fwd(ctx, &m->final[l], x, NULL, NULL, cache ? &cache->final[l] : NULL, NULL, 0, NULL);
    out->x = x;
    out->beh_tokens = btok;
    out->frame_tokens = ftok;
    out->id_logits = cf_linear_fwd(ctx, &m->head_id, x);
    out->dt_logits = cf_linear_fwd(ctx, &m->head_dt, x);
    if (rec) rec->probs = acc;
    if (!out->id_logits || !out->dt_logits || (rec && c->hist_layers > 0 && !acc)) return cf_last_status();
    return CF_OK;
}

/* ---- losses ---- */

/* Mean of x [B, T, C] over each row's real tokens (inputs that are not PAD): [B, C]. */
static cf_tensor *pool_tokens(cf_ctx *ctx, const cf_neuroformer *m, cf_tensor *x, cf_tensor *id)
{
    if (!x) return NULL;
    int64_t B = id->shape[0], T = id->shape[1];
    cf_tensor *w = cf_empty(ctx, x->dtype, CF_SHAPE(B, T, 1));
    if (!w) return NULL;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t t = 0; t < T; t++) n += cf_get_flat(id, b * T + t) != (double)m->id_pad;
        for (int64_t t = 0; t < T; t++)
            cf_set_flat(w, b * T + t, cf_get_flat(id, b * T + t) != (double)m->id_pad ? 1.0f / (float)(n ? n : 1) : 0.0f);
    }
    return cf_sum(ctx, cf_mul(ctx, x, w), CF_DIMS(1), false);
}

static cf_tensor *l2_normalize(cf_ctx *ctx, cf_tensor *z)
{
    return cf_mul(ctx, z, cf_rsqrt(ctx, cf_add_scalar(ctx, cf_sum(ctx, cf_mul(ctx, z, z), CF_DIMS(-1), true), 1e-12)));
}

/* The contrastive loss of one modality pair: z_id [B, C] against z_other [B, C] projected by proj_other. */
static cf_tensor *contrastive(cf_ctx *ctx, const cf_neuroformer *m, cf_tensor *z_id, cf_tensor *z_other,
                              const cf_linear_layer *proj_other)
{
    const cf_neuroformer_config *c = &m->cfg;
    cf_tensor *a = l2_normalize(ctx, cf_linear_fwd(ctx, &m->clip_proj, z_id));
    cf_tensor *b = l2_normalize(ctx, cf_linear_fwd(ctx, c->clip_separate ? proj_other : &m->clip_proj, z_other));
    cf_tensor *s = cf_mul_scalar(ctx, cf_matmul(ctx, a, cf_transpose(ctx, b, 0, 1)), 1.0 / c->clip_temp); /* [B, B] */
    if (!s) return NULL;
    cf_tensor *labels = cf_arange(ctx, CF_I64, s->shape[0]);
    cf_tensor *l = cf_cross_entropy_last(ctx, s, labels, NULL);
    if (!c->clip_symmetric) return l;
    cf_tensor *lt = cf_cross_entropy_last(ctx, cf_contiguous(ctx, cf_transpose(ctx, s, 0, 1)), labels, NULL);
    return cf_mul_scalar(ctx, cf_add(ctx, l, lt), 0.5);
}

cf_status cf_neuroformer_loss(cf_ctx *ctx, const cf_neuroformer *m, const cf_nf_inputs *in, cf_tensor *id_target,
                              cf_tensor *dt_target, cf_tensor *beh_target, cf_nf_losses *out)
{
    memset(out, 0, sizeof *out);
    const cf_neuroformer_config *c = &m->cfg;
    cf_nf_outputs o;
    CF_TRY(cf_neuroformer_forward(ctx, m, in, NULL, NULL, &o));
    out->id = cf_cross_entropy_last(ctx, o.id_logits, id_target, NULL);
    out->dt = cf_cross_entropy_last(ctx, o.dt_logits, dt_target, NULL);
    if (!out->id || !out->dt) return cf_last_status();
    bool clip_beh = c->contrastive && c->beh_inputs > 0 && o.beh_tokens;
    bool clip_frames = c->contrastive && c->frame_layers > 0 && o.frame_tokens, clip = clip_beh || clip_frames;
    double ce_scale = clip ? 1.0 - c->w_clip : 1.0;
    cf_tensor *total = cf_add(ctx, cf_mul_scalar(ctx, out->id, c->w_id * ce_scale), cf_mul_scalar(ctx, out->dt, c->w_dt * ce_scale));
    cf_tensor *pooled = (clip || (c->beh_predict && beh_target)) ? pool_tokens(ctx, m, o.x, in->id) : NULL;
    if (clip) {
        /* the mean over the modality pairs (id, behaviour) and (id, frames) */
        cf_tensor *lb = clip_beh ? contrastive(ctx, m, pooled, cf_mean(ctx, o.beh_tokens, CF_DIMS(1), false), &m->clip_proj_beh)
                                 : NULL;
        cf_tensor *lf = clip_frames ? contrastive(ctx, m, pooled, cf_mean(ctx, o.frame_tokens, CF_DIMS(1), false),
                                                  &m->clip_proj_frames)
                                    : NULL;
        out->clip = lb && lf ? cf_mul_scalar(ctx, cf_add(ctx, lb, lf), 0.5) : clip_beh ? lb : lf;
        total = cf_add(ctx, total, cf_mul_scalar(ctx, out->clip, c->w_clip));
        if (!out->clip) return cf_last_status();
    }
    if (c->beh_predict) {
        if (!pooled) pooled = pool_tokens(ctx, m, o.x, in->id);
        cf_tensor *pred = cf_linear_fwd(ctx, &m->head_beh, pooled);
        out->beh_pred = pred ? cf_reshape(ctx, pred, CF_SHAPE(pred->shape[0])) : NULL;
        if (!out->beh_pred) return cf_last_status();
        if (beh_target) {
            out->beh = cf_mse_loss(ctx, out->beh_pred, cf_reshape(ctx, cf_cast(ctx, beh_target, CF_F32), CF_SHAPE(-1)),
                                   CF_REDUCTION_MEAN);
            total = cf_add(ctx, total, cf_mul_scalar(ctx, out->beh, c->w_beh));
            if (!out->beh) return cf_last_status();
        }
    }
    out->total = total;
    return total ? CF_OK : cf_last_status();
}

/* ---- generation ---- */

/* Draws one class from logits[0..V) restricted to allowed classes with the options' temperature, top-k and
 * top-p; u is the uniform. */
static int64_t sample(const float *logits, const bool *allowed, int64_t V, const cf_nf_sample_opts *o, double u,
                      cf_sample_cand *cands)
{
    return cf_sample_logits(logits, allowed, V, o->temperature, o->top_k, o->top_p, u, cands);
}

cf_status cf_neuroformer_generate(cf_ctx *ctx, const cf_neuroformer *m, int64_t B, const int64_t *prev_id,
                                  const int64_t *prev_dt, const bool *prev_pad, const float *beh, const float *frames,
                                  const uint64_t *keys, const cf_nf_sample_opts *o, cf_nf_cache *cache, int64_t *ids,
                                  int64_t *dts, int64_t *n)
{
    const cf_neuroformer_config *c = &m->cfg;
    int64_t T = c->block, Tp = c->prev_block, k = c->beh_inputs;
    if (B <= 0 || !prev_id || !prev_dt || !keys || !o || !ids || !dts || !n || (k > 0 && !beh) || (c->frame_layers > 0 && !frames))
        return cf_set_error(CF_ERR_ARG, "neuroformer generate: bad arguments");
    if (o->use_cache && cache && cache->batch < B)
        return cf_set_error(CF_ERR_ARG, "neuroformer generate: the cache holds %lld rows, %lld asked", (long long)cache->batch,
                            (long long)B);
    int64_t dt_max = o->dt_max >= 0 && o->dt_max < c->dt_classes ? o->dt_max : c->dt_classes - 1;
    int64_t V = m->id_vocab > m->dt_vocab ? m->id_vocab : m->dt_vocab;
    int64_t *cur_id = malloc(sizeof(int64_t) * (size_t)(B * T)), *cur_dt = malloc(sizeof(int64_t) * (size_t)(B * T));
    bool *done = calloc((size_t)B, sizeof(bool)), *allow_id = calloc((size_t)m->id_vocab, 1), *allow_dt = calloc((size_t)m->dt_vocab, 1);
    cf_sample_cand *cands = malloc(sizeof(cf_sample_cand) * (size_t)V);
    float *row = malloc(sizeof(float) * (size_t)V);
    cf_nf_cache own = {0};
    cf_status st = CF_OK;
    if (!cur_id || !cur_dt || !done || !allow_id || !allow_dt || !cands || !row) st = cf_set_error(CF_ERR_OOM, "neuroformer generate: out of memory");
    if (st == CF_OK && o->use_cache && !cache) {
        st = cf_nf_cache_init(&own, m, B);
        cache = &own;
    }
    if (st == CF_OK) {
        for (int64_t v = 0; v < c->n_units; v++) allow_id[v] = true;
        allow_id[m->id_eos] = true;
        for (int64_t v = 0; v <= dt_max; v++) allow_dt[v] = true;
        for (int64_t b = 0; b < B; b++) cur_id[b * T] = m->id_sos, cur_dt[b * T] = 0, n[b] = 0;
        if (o->use_cache) cf_nf_cache_clear(cache);
    }
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    int64_t active = B;
    for (int64_t i = 0; st == CF_OK && i < T - 1 && active > 0; i++) {
        /* tokens 0..i are known; with the cache only token i is new */
        int64_t from = o->use_cache ? i : 0, len = i + 1 - from;
        cf_tensor *tid = cf_empty(ctx, CF_I64, CF_SHAPE(B, len)), *tdt = cf_empty(ctx, CF_I64, CF_SHAPE(B, len));
        if (!tid || !tdt) {
            st = cf_last_status();
            break;
        }
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < len; t++) {
                ((int64_t *)cf_data(tid))[b * len + t] = cur_id[b * T + from + t];
                ((int64_t *)cf_data(tdt))[b * len + t] = cur_dt[b * T + from + t];
            }
        cf_nf_inputs in = {.id = tid, .dt = tdt, .prev_id = cf_from_data(ctx, CF_I64, CF_SHAPE(B, Tp), prev_id),
                           .prev_dt = cf_from_data(ctx, CF_I64, CF_SHAPE(B, Tp), prev_dt),
                           .prev_pad = prev_pad ? cf_from_data(ctx, CF_BOOL, CF_SHAPE(B, Tp), prev_pad) : NULL,
                           .beh = k > 0 ? cf_from_data(ctx, CF_F32, CF_SHAPE(B, k), beh) : NULL};
        /* with the cache the frames are read once, at the first step (their keys and values are kept) */
        if (c->frame_layers > 0 && (i == 0 || !o->use_cache))
            in.frames = cf_from_data(ctx, CF_F32, CF_SHAPE(B, 1, c->frames, c->frame_h, c->frame_w), frames);
        cf_nf_outputs out;
        st = cf_neuroformer_forward(ctx, m, &in, o->use_cache ? cache : NULL, NULL, &out);
        if (st != CF_OK) break;
        const float *li = cf_data(out.id_logits), *ld = cf_data(out.dt_logits); /* fresh contiguous outputs */
        for (int64_t b = 0; b < B; b++) {
            int64_t nid = m->id_eos, ndt = m->dt_eos;
            if (!done[b]) {
                cf_philox_key key = cf_rng_key(o->seed, keys[b]);
                memcpy(row, li + (b * len + len - 1) * m->id_vocab, sizeof(float) * (size_t)m->id_vocab);
                nid = sample(row, allow_id, m->id_vocab, o, cf_rng_uniform(key, (uint64_t)i, 0), cands);
                if (nid == m->id_eos) {
                    done[b] = true, active--;
                } else {
                    memcpy(row, ld + (b * len + len - 1) * m->dt_vocab, sizeof(float) * (size_t)m->dt_vocab);
                    ndt = sample(row, allow_dt, m->dt_vocab, o, cf_rng_uniform(key, (uint64_t)i, 1), cands);
                    ids[b * (T - 1) + n[b]] = nid, dts[b * (T - 1) + n[b]] = ndt, n[b]++;
                }
            }
            cur_id[b * T + i + 1] = nid, cur_dt[b * T + i + 1] = ndt;
        }
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    if (own.state || own.final || own.hist || own.stim) cf_nf_cache_free(&own);
    free(cur_id);
    free(cur_dt);
    free(done);
    free(allow_id);
    free(allow_dt);
    free(cands);
    free(row);
    return st;
}

/* ---- connectivity ---- */

void cf_nf_accumulate_attention(const float *att, const int64_t *targets, int64_t Tq, const int64_t *prev_id, int64_t Tp,
                                int64_t n_units, double *A, double *n_target, double *n_source)
{
    for (int64_t k = 0; k < Tp; k++)
        if (prev_id[k] >= 0 && prev_id[k] < n_units) n_source[prev_id[k]] += 1;
    for (int64_t q = 0; q < Tq; q++) {
        int64_t y = targets[q];
        if (y < 0 || y >= n_units) continue;
        n_target[y] += 1;
        for (int64_t k = 0; k < Tp; k++) {
            int64_t x = prev_id[k];
            if (x >= 0 && x < n_units) A[y * n_units + x] += att[q * Tp + k];
        }
    }
}
