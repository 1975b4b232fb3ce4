/* `model.type: lmuformer`: the LMUFormer network of layers/lmuformer.h as the trainer sees it (Liu et al.,
 * "LMUFormer: Low Complexity Yet Powerful Spiking Model With Legendre Memory Units", ICLR 2024). Batches hold
 * "x" [B, F mels, N frames] and "label" [B]; the loss is BCE-with-logits on one-hot labels (the official
 * recipe) of the sequence's logits. */
#include "recipes/lmuformer/internal.h"

#include "recipes/run/limits.h"

#include <stdlib.h>
#include <string.h>

cf_tensor *cf_lmuf_input(cf_ctx *ctx, const cf_lmuf *m, const cf_batch *b)
{
    cf_tensor *x = cf_batch_get(b, "x");
    if (!x) return NULL;
    if (x->ndim != 3 || x->shape[1] != m->F) {
        cf_set_error(CF_ERR_SHAPE, "lmuformer: batch x must be [rows, %lld mels, frames]", (long long)m->F);
        return NULL;
    }
    cf_dtype dt = m->head_w->dtype;
    return x->dtype == dt ? x : cf_cast(ctx, x, dt);
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_lmuf *m = &((cf_lmuf_model *)mb)->net;
    cf_tensor *x = cf_lmuf_input(ctx, m, b), *y = cf_batch_get(b, "label");
    cf_tensor *lg = x && y ? cf_lmuf_sequence_logits(ctx, m, x) : NULL; /* [B, classes] */
    cf_tensor *onehot = lg ? cf_zeros(ctx, lg->dtype, CF_SHAPE(lg->shape[0], m->classes)) : NULL;
    if (!lg || !onehot) return NULL;
    int64_t correct = 0;
    for (int64_t i = 0; i < lg->shape[0]; i++) {
        int64_t c = (int64_t)cf_get_flat(y, i), best = 0;
        if (c < 0 || c >= m->classes) {
            cf_set_error(CF_ERR_ARG, "lmuformer: label %lld outside [0, %lld)", (long long)c, (long long)m->classes);
            return NULL;
        }
        cf_set_flat(onehot, i * m->classes + c, 1);
        for (int64_t k = 1; k < m->classes; k++)
            if (cf_get_flat(lg, i * m->classes + k) > cf_get_flat(lg, i * m->classes + best)) best = k;
        correct += best == c;
    }
    if (out) cf_metrics_set(out, "acc", (double)correct / (double)lg->shape[0]);
    return cf_bce_with_logits(ctx, lg, onehot, NULL, CF_REDUCTION_MEAN);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *y = cf_batch_get(b, "label");
    return y ? y->shape[0] : 0;
}

/* ---- the model type ---- */

static void free_model(cf_model *mb)
{
    if (!mb) return;
    cf_lmuf_free(&((cf_lmuf_model *)mb)->net);
    free(mb);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    cf_lmuf_model *mm = calloc(1, sizeof *mm);
    if (!mm) {
        cf_set_error(CF_ERR_OOM, "lmuformer: out of memory");
        return NULL;
    }
    mm->base.vt = &cf_lmuformer_model;
    cf_lmuf *m = &mm->net;
    const char *v = cf_recipe_str(r, "model.variant", "lmuformer");
    m->variant = v && strcmp(v, "spiking") == 0 ? CF_LMUF_SPIKING : v && strcmp(v, "lmu_only") == 0 ? CF_LMUF_LMU_ONLY : CF_LMUF_LMUFORMER;
    if (v && m->variant == CF_LMUF_LMUFORMER && strcmp(v, "lmuformer") != 0)
        cf_recipe_fail(r, "model.variant", CF_ERR_ARG, "unknown value '%s' (choose from lmuformer, spiking, lmu_only)", v);
    m->F = cf_recipe_int_in(r, "model.mels", info->units > 0 ? info->units : 32, 1, CF_MAX_DIM);
    m->classes = cf_recipe_int_in(r, "model.classes", info->vocab > 0 ? info->vocab : 10, 2, CF_MAX_VOCAB);
    int64_t frames = info->frames > 0 ? info->frames : 64;
    m->D = cf_recipe_int_in(r, "model.dim", 64, 1, CF_MAX_DIM);
    m->d = cf_recipe_int_in(r, "model.memory", m->variant == CF_LMUF_SPIKING ? 2 * m->D : m->D, 1, 4096);
    m->theta = cf_recipe_float_in(r, "model.theta", (double)frames, 0, 1e9, CF_RANGE_OPEN_LO);
    m->causal = cf_recipe_bool(r, "model.causal", false);
    const char *pool = cf_recipe_str(r, "model.pool", "mean");
    m->pool_last = pool && strcmp(pool, "last") == 0;
    if (pool && !m->pool_last && strcmp(pool, "mean") != 0)
        cf_recipe_fail(r, "model.pool", CF_ERR_ARG, "unknown value '%s' (choose from mean, last)", pool);
    mm->streaming = cf_recipe_bool(r, "eval.streaming", false);
    mm->stream_items = cf_recipe_int_in(r, "eval.streaming_items", 32, 1, CF_MAX_COUNT);
    mm->curve_every = cf_recipe_int_in(r, "eval.curve_every", 4, 1, CF_MAX_SEQ);
    cf_status st = cf_recipe_status(r);
    if (st == CF_OK && info->units > 0 && info->units != m->F)
        st = cf_recipe_fail(r, "model.mels", CF_ERR_ARG, "%lld, but the data has %lld mel bins", (long long)m->F,
                            (long long)info->units);
    if (st == CF_OK && info->vocab > m->classes)
        st = cf_recipe_fail(r, "model.classes", CF_ERR_ARG, "%lld, but the data has labels up to %lld",
                            (long long)m->classes, (long long)info->vocab - 1);
    if (st == CF_OK && mm->streaming && !m->causal)
        st = cf_recipe_fail(r, "eval.streaming", CF_ERR_ARG, "needs model.causal: true (the paper's k=3 convolutions "
                            "padded on both sides look one frame ahead)");
    if (st != CF_OK || cf_lmuf_build(m, ps) != CF_OK) {
        free_model(&mm->base);
        return NULL;
    }
    return &mm->base;
}

const cf_model_vtable cf_lmuformer_model = {
    .name = "lmuformer",
    .summary = "LMUFormer / Spiking LMUFormer / LMU-only keyword spotter (features [mels, frames] -> class)",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_lmuformer_evaluate,
    .free = free_model,
    .eval_split = "test",
};
