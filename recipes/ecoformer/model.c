/* `model.type: ecoformer`: a small transformer classifier of pixel sequences whose attention is softmax or
 * EcoFormer's (Liu et al., NeurIPS 2022, Sec. 3; keys in recipes/ecoformer/model.h). */
#include "recipes/ecoformer/model.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_eco_classifier net;
} eco_model;

/* The 2-D sine-cosine table (as MAE's): channels [0, D/2) encode the row, [D/2, D) the column, each as
 * D/4 sin/cos pairs of frequencies 10000^(-4i/D). */
static void pos_sincos2d(cf_tensor *pos, int64_t side, int64_t D)
{
    int64_t half = D / 2;
    for (int64_t t = 0; t < side * side; t++)
        for (int64_t part = 0; part < 2; part++) {
            double coord = (double)(part ? t % side : t / side);
            for (int64_t i = 0; i + 1 < half; i += 2) {
                double a = coord * exp(-log(10000.0) * (double)i / (double)half);
                cf_set_flat(pos, t * D + part * half + i, sin(a));
                cf_set_flat(pos, t * D + part * half + i + 1, cos(a));
            }
        }
    cf_bump_version(pos);
}

static cf_status classifier_init(cf_eco_classifier *m, cf_params *ps, const cf_eco_classifier_config *c)
{
    m->cfg = *c;
    int64_t L = c->layers;
    m->ln1 = calloc((size_t)L, sizeof *m->ln1), m->ln2 = calloc((size_t)L, sizeof *m->ln2);
    m->attn = calloc((size_t)L, sizeof *m->attn), m->mlp = calloc((size_t)L, sizeof *m->mlp);
    if (!m->ln1 || !m->ln2 || !m->attn || !m->mlp) return cf_set_error(CF_ERR_OOM, "ecoformer: out of memory");
    CF_TRY(cf_linear_init(&m->embed, ps, "embed", 1, c->dim, true, 0));
    m->pos = cf_params_add(ps, "pos", CF_SHAPE(c->seq, c->dim), false);
    if (!m->pos) return cf_last_status();
    if (c->pos_sincos) {
        pos_sincos2d(m->pos, c->side, c->dim);
    } else {
        CF_TRY(cf_init_normal(ps, m->pos, 0, c->pos_std));
    }
    for (int64_t l = 0; l < L; l++) {
        cf_params_push(ps, "blocks.%lld", (long long)l);
        cf_status st = cf_norm_init(&m->ln1[l], ps, "ln1", CF_NORM_LAYER, c->dim, true, 1e-5);
        if (st == CF_OK) st = cf_eco_attention_init(&m->attn[l], ps, "attn", &c->attn);
        if (st == CF_OK) st = cf_norm_init(&m->ln2[l], ps, "ln2", CF_NORM_LAYER, c->dim, true, 1e-5);
        if (st == CF_OK) st = cf_mlp_init(&m->mlp[l], ps, "mlp", CF_MLP_GELU, c->dim, c->hidden, true, 0, 0);
        cf_params_pop(ps);
        CF_TRY(st);
    }
    CF_TRY(cf_norm_init(&m->ln_f, ps, "ln_f", CF_NORM_LAYER, c->dim, true, 1e-5));
    return cf_linear_init(&m->head, ps, "head", c->dim, c->classes, true, 0);
}

static void classifier_free(cf_eco_classifier *m)
{
    free(m->ln1), free(m->ln2), free(m->attn), free(m->mlp);
}

cf_tensor *cf_eco_classifier_logits(cf_ctx *ctx, cf_eco_classifier *m, cf_tensor *pixels, cf_eco_probe *probes)
{
    const cf_eco_classifier_config *c = &m->cfg;
    if (!pixels || pixels->ndim != 2 || pixels->shape[1] != c->seq) {
        cf_set_error(CF_ERR_SHAPE, "ecoformer: pixels must be [B, %lld]", (long long)c->seq);
        return NULL;
    }
    int64_t B = pixels->shape[0];
    cf_tensor *x = cf_linear_fwd(ctx, &m->embed, cf_reshape(ctx, cf_cast(ctx, pixels, m->pos->dtype), CF_SHAPE(B, c->seq, 1)));
    x = cf_add(ctx, x, m->pos);
    const cf_hash_learn_opts *learn = c->attn.hashed ? &c->learn : NULL;
    if (learn && cf_is_training(ctx)) {
        if (c->hash_every > 0 && m->train_forwards > 0 && m->train_forwards % c->hash_every == 0)
            for (int64_t l = 0; l < c->layers; l++) cf_kernel_hash_forget(&m->attn[l].hash);
        m->train_forwards++;
    }
    for (int64_t l = 0; l < c->layers && x; l++) {
        cf_tensor *a = cf_eco_attention_fwd(ctx, &m->attn[l], cf_norm_fwd(ctx, &m->ln1[l], x), learn,
                                            probes ? &probes[l] : NULL);
        if (!a) return NULL;
        x = cf_add(ctx, x, a);
        x = cf_add(ctx, x, cf_mlp_fwd(ctx, &m->mlp[l], cf_norm_fwd(ctx, &m->ln2[l], x)));
    }
    static const int tokens[] = {1};
    return cf_linear_fwd(ctx, &m->head, cf_mean(ctx, cf_norm_fwd(ctx, &m->ln_f, x), 1, tokens, false));
}

cf_attn_cost cf_eco_classifier_cost(const cf_eco_classifier *m, bool attention_only)
{
    const cf_eco_classifier_config *c = &m->cfg;
    int64_t H = c->heads, N = c->seq, C = c->dim / c->heads;
    cf_attn_cost one = c->attn.hashed ? cf_ecoformer_attn_cost(H, N, C, c->attn.bits, c->attn.anchors)
                                      : cf_softmax_attn_cost(H, N, C);
    double L = (double)c->layers, macs = 0;
    if (!attention_only) {
        double n = (double)N, d = (double)c->dim;
        double projections = c->attn.hashed ? 3 : 4; /* qk, v, proj (+ k for softmax) */
        macs = n * d + L * (projections * n * d * d + 2 * n * d * (double)c->hidden) + d * (double)c->classes;
    }
    double muls = L * one.muls + macs, adds = L * one.adds + macs;
    return (cf_attn_cost){muls, adds, 3.7 * muls + 0.9 * adds};
}

/* ---- recipe ---- */

static bool choice(cf_recipe *r, const char *key, const char *dflt, const char *a, const char *b, bool *is_b)
{
    const char *s = cf_recipe_str(r, key, dflt);
    if (!s) return false;
    if (strcmp(s, a) && strcmp(s, b)) {
        cf_recipe_fail(r, key, CF_ERR_ARG, "unknown value '%s' (choose from %s, %s)", s, a, b);
        return false;
    }
    *is_b = strcmp(s, b) == 0;
    return true;
}

static cf_status config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_eco_classifier_config *c)
{
    memset(c, 0, sizeof *c);
    bool random = false;
    choice(r, "model.attention", "ecoformer", "softmax", "ecoformer", &c->attn.hashed);
    choice(r, "model.hash", "ksh", "ksh", "random", &random);
    c->seq = info->seq;
    c->dim = cf_recipe_int_in(r, "model.dim", 64, 1, CF_MAX_DIM);
    c->heads = cf_recipe_int_in(r, "model.heads", 2, 1, CF_MAX_DIM);
    c->layers = cf_recipe_int_in(r, "model.layers", 2, 1, CF_MAX_LAYERS);
    c->hidden = c->dim * cf_recipe_int_in(r, "model.mlp_ratio", 2, 1, 64);
    c->classes = cf_recipe_int_in(r, "model.classes", 4, 2, 1 << 20);
    c->attn.dim = c->dim, c->attn.heads = c->heads;
    c->attn.bits = cf_recipe_int_in(r, "model.bits", 16, 1, 1024);
    c->attn.anchors = cf_recipe_int_in(r, "model.anchors", 25, 1, 1 << 16);
    c->attn.code_compat = cf_recipe_bool(r, "model.code_compat", false);
    c->attn.logit_bound = cf_recipe_float_in(r, "model.logit_bound", 0, 0, 1e3, CF_RANGE_CLOSED);
    c->learn = (cf_hash_learn_opts)CF_HASH_LEARN_DEFAULTS;
    c->learn.learn_proj = !random;
    c->learn.topk = cf_recipe_int_in(r, "model.topk", 10, 1, CF_MAX_SEQ);
    c->learn.iters = cf_recipe_int_in(r, "model.hash_iters", 100, 0, 1 << 20);
    c->learn.lr = cf_recipe_float_in(r, "model.hash_lr", 5e-4, 0, 1e3, CF_RANGE_CLOSED);
    c->learn.momentum = cf_recipe_float_in(r, "model.hash_momentum", 0.9, 0, 1, CF_RANGE_OPEN_HI);
    c->learn.max_rows = cf_recipe_int_in(r, "model.hash_rows", 0, 0, CF_MAX_ROWS);
    c->learn.seed = (uint64_t)cf_recipe_int_in(r, "model.hash_seed", 1, 0, CF_MAX_SEED);
    c->hash_every = cf_recipe_int_in(r, "model.hash_every", 0, 0, 1 << 30);
    c->pos_std = cf_recipe_float_in(r, "model.pos_std", 0.02, 0, 1e3, CF_RANGE_CLOSED);
    choice(r, "model.pos_init", "normal", "normal", "sincos2d", &c->pos_sincos);
    CF_TRY(cf_recipe_status(r));
    if (c->dim % c->heads)
        return cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%lld does not divide model.dim (%lld)", (long long)c->heads,
                              (long long)c->dim);
    for (c->side = 1; c->side * c->side < c->seq; c->side++) {}
    if (c->side * c->side != c->seq) c->side = 0;
    if (c->pos_sincos && (!c->side || c->dim % 4))
        return cf_recipe_fail(r, "model.pos_init", CF_ERR_ARG, "sincos2d needs square images (the data's %lld tokens) "
                              "and model.dim divisible by 4 (%lld)", (long long)c->seq, (long long)c->dim);
    if (c->seq < 1)
        return cf_recipe_fail(r, "data.type", CF_ERR_ARG, "the data gives no sequence length (use data.type: lra_shapes)");
    if (info->vocab > c->classes)
        return cf_recipe_fail(r, "model.classes", CF_ERR_ARG, "%lld is fewer than the data's %lld classes",
                              (long long)c->classes, (long long)info->vocab);
    if (c->attn.hashed && c->attn.logit_bound > 0)
        return cf_recipe_fail(r, "model.logit_bound", CF_ERR_ARG, "bounds softmax attention's logits; model.attention "
                              "is ecoformer (its weights are bounded by model.bits)");
    if (c->attn.hashed && (c->attn.anchors > c->seq || 2 * c->learn.topk > c->seq))
        return cf_recipe_fail(r, "model.anchors", CF_ERR_ARG, "anchors (%lld) and 2 x topk (%lld) must not exceed the "
                              "%lld tokens", (long long)c->attn.anchors, (long long)(2 * c->learn.topk),
                              (long long)c->seq);
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    eco_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "ecoformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_ecoformer_model;
    cf_eco_classifier_config c;
    cf_status st = config_from_recipe(r, info, &c);
    c.auc_rows = cf_recipe_int_in(r, "eval.auc_rows", 64, 0, CF_MAX_ROWS);
    if (st == CF_OK) st = cf_recipe_status(r);
    if (st != CF_OK || classifier_init(&m->net, ps, &c) != CF_OK) {
        classifier_free(&m->net);
        free(m);
        return NULL;
    }
    return &m->base;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    eco_model *m = (eco_model *)mb;
    cf_tensor *label = cf_batch_get(b, "label");
    cf_tensor *logits = cf_eco_classifier_logits(ctx, &m->net, cf_batch_get(b, "pixels"), NULL);
    if (!logits || !label) return NULL;
    if (out) cf_metrics_set(out, "acc", (double)cf_eco_correct(logits, label) / (double)label->shape[0]);
    return cf_cross_entropy(ctx, logits, label, NULL);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "label");
    return t ? t->shape[0] : 0;
}

static void free_model(cf_model *mb)
{
    eco_model *m = (eco_model *)mb;
    classifier_free(&m->net);
    free(m);
}

cf_eco_classifier *cf_eco_classifier_of(cf_model *m)
{
    return m && m->vt == &cf_ecoformer_model ? &((eco_model *)m)->net : NULL;
}

const cf_model_vtable cf_ecoformer_model = {
    .name = "ecoformer",
    .summary = "pixel-sequence classifier with softmax or EcoFormer (kernelized-hash binary) attention",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_ecoformer_evaluate,
    .free = free_model,
    .eval_split = "test",
};
