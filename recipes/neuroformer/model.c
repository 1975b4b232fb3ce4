/* `model.type: neuroformer`: the model from its recipe keys (sizes of the vocabularies from the data), its
 * loss on a batch of the spikes dataset, and the registration of the model and the dataset. */
#include "recipes/neuroformer/internal.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nf_shuffle_prev(int64_t *prev_id, const int64_t *prev_dt, int64_t rows, int64_t Tp, int n_units, uint64_t seed)
{
    int perm[4096];
    if (n_units > 4096) return;
    for (int64_t r = 0; r < rows; r++) {
        int64_t *id = prev_id + r * Tp;
        const int64_t *dt = prev_dt + r * Tp;
        uint64_t h = 1469598103934665603ull; /* FNV-1a over the window's tokens */
        for (int64_t k = 0; k < Tp; k++) h = (h ^ (uint64_t)id[k]) * 1099511628211ull, h = (h ^ (uint64_t)dt[k]) * 1099511628211ull;
        cf_philox_key key = cf_rng_key(seed, h);
        for (int u = 0; u < n_units; u++) perm[u] = u;
        for (int u = n_units - 1; u > 0; u--) {
            int j = (int)(cf_rng_uniform(key, 0, (uint64_t)u) * (double)(u + 1));
            if (j > u) j = u;
            int t = perm[u];
            perm[u] = perm[j], perm[j] = t;
        }
        for (int64_t k = 0; k < Tp; k++)
            if (id[k] >= 0 && id[k] < n_units) id[k] = perm[id[k]];
    }
}

static cf_status fail_recipe(cf_recipe *r, const char *key, const char *what)
{
    return cf_recipe_fail(r, key, cf_last_status() != CF_OK ? cf_last_status() : CF_ERR_ARG, "%s: %s", what, cf_last_error());
}

static cf_status read_config(cf_recipe *r, nf_model *m, cf_neuroformer_config *c, const cf_data_info *info)
{
    CF_TRY(cf_spike_source_from_recipe(r, &m->src));
    if (info->units < 1) return cf_recipe_fail(r, "data.type", CF_ERR_ARG, "neuroformer needs spike data (data.type: spikes)");
    cf_spike_token_config *t = &m->src.opts.tokens;
    cf_status st = cf_spike_vocab_make((int)info->units, t, &m->vocab);
    m->beh_total = info->channels;
    const char *predict = cf_recipe_str(r, "model.predict", NULL);
    bool beh_inputs = cf_recipe_bool(r, "model.behavior_inputs", true);
    m->predict_col = -1;
    if (st == CF_OK && predict) {
        for (int j = 0; j < m->beh_total; j++)
            if (strcmp(info->channel_names[j], predict) == 0) m->predict_col = j;
        if (m->predict_col < 0) {
            char names[512] = "";
            for (int j = 0; j < m->beh_total; j++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? ", " : "", info->channel_names[j]);
            st = cf_recipe_fail(r, "model.predict", CF_ERR_ARG, "no behaviour variable '%s' in %s (it has: %s)", predict,
                                m->src.path, m->beh_total ? names : "none");
        }
    }
    int n_units = (int)info->units;
    /* the frames (model.frame_layers > 0): their size sets the model's clip */
    int64_t frame_h = info->frame_h, frame_w = info->frame_w;
    if (st == CF_OK && t->frames > 0 && (info->frames != t->frames || frame_h < 1 || frame_w < 1))
        st = cf_recipe_fail(r, "model.frame_layers", CF_ERR_ARG, "the data has no clips of %d frames", t->frames);
    if (st != CF_OK) return cf_recipe_status(r) != CF_OK ? cf_recipe_status(r) : fail_recipe(r, "data.window.curr", "tokens");
    if (m->beh_total > NF_MAX_BEH) return cf_recipe_fail(r, "data.behavior", CF_ERR_ARG, "at most %d behaviour variables", NF_MAX_BEH);
    m->n_in = 0;
    for (int j = 0; beh_inputs && j < m->beh_total; j++)
        if (j != m->predict_col) m->in_cols[m->n_in++] = j;

    *c = cf_neuroformer_defaults();
    c->n_units = n_units;
    c->dt_classes = m->vocab.dt_max + 1;
    c->block = t->block_size, c->prev_block = t->prev_block_size;
    /* a stack may have no layers (0); dim even and divisible by heads is checked below */
    c->dim = cf_recipe_int_in(r, "model.dim", c->dim, 2, CF_MAX_DIM);
    c->heads = cf_recipe_int_in(r, "model.heads", c->heads, 1, CF_MAX_DIM);
    c->state_layers = cf_recipe_int_in(r, "model.state_layers", c->state_layers, 0, CF_MAX_LAYERS);
    c->hist_layers = cf_recipe_int_in(r, "model.hist_layers", c->hist_layers, 0, CF_MAX_LAYERS);
    c->beh_layers = cf_recipe_int_in(r, "model.beh_layers", c->beh_layers, 0, CF_MAX_LAYERS);
    c->final_layers = cf_recipe_int_in(r, "model.final_layers", c->final_layers, 0, CF_MAX_LAYERS);
    c->dropout = cf_recipe_float_in(r, "model.dropout", c->dropout, 0, 1, CF_RANGE_OPEN_HI);
    c->init_std = cf_recipe_float_in(r, "model.init_std", c->init_std, 0, INFINITY, CF_RANGE_OPEN_HI);
    c->contrastive = cf_recipe_bool(r, "model.contrastive", c->contrastive);
    c->clip_temp = cf_recipe_float_in(r, "model.clip_temp", c->clip_temp, 0, INFINITY, CF_RANGE_OPEN);
    c->clip_symmetric = cf_recipe_bool(r, "model.clip_symmetric", c->clip_symmetric);
    c->clip_separate = cf_recipe_bool(r, "model.clip_separate", c->clip_separate);
    /* loss weights; the contrastive one in [0, 1): the cross-entropy weights are scaled by 1 - it */
    c->w_id = cf_recipe_float_in(r, "model.loss_id", c->w_id, 0, INFINITY, CF_RANGE_OPEN_HI);
    c->w_dt = cf_recipe_float_in(r, "model.loss_dt", c->w_dt, 0, INFINITY, CF_RANGE_OPEN_HI);
    c->w_clip = cf_recipe_float_in(r, "model.loss_contrastive", c->w_clip, 0, 1, CF_RANGE_OPEN_HI);
    c->w_beh = cf_recipe_float_in(r, "model.loss_behavior", c->w_beh, 0, INFINITY, CF_RANGE_OPEN_HI);
    c->beh_inputs = m->n_in;
    c->beh_predict = m->predict_col >= 0;
    c->frame_layers = cf_recipe_int_in(r, "model.frame_layers", 0, 0, CF_MAX_LAYERS);
    int64_t kernel[3], stride[3];
    int nk = cf_recipe_int_list_in(r, "model.frame_kernel", kernel, 3, c->frame_kernel, 3, 1, 1 << 16);
    int ns = cf_recipe_int_list_in(r, "model.frame_stride", stride, 3, kernel, nk == 3 ? 3 : 0, 1, 1 << 16);
    CF_TRY(cf_recipe_status(r));
    if (nk != 3) return cf_recipe_fail(r, "model.frame_kernel", CF_ERR_ARG, "expected [kt, kh, kw] (frames, height, width)");
    if (ns != 3 || stride[0] != kernel[0] || stride[1] != kernel[1] || stride[2] != kernel[2])
        return cf_recipe_fail(r, "model.frame_stride", CF_ERR_ARG, "the frame convolution's stride must equal its kernel "
                              "[%lld, %lld, %lld] (non-overlapping patches; an overlapping stride such as V1AL's [3, 4, 4] with "
                              "kernel [3, 8, 8] is not supported)", (long long)kernel[0], (long long)kernel[1], (long long)kernel[2]);
    memcpy(c->frame_kernel, kernel, sizeof kernel);
    c->frames = t->frames, c->frame_h = frame_h, c->frame_w = frame_w;
    nf_eval_settings *e = &m->ev;
    e->batch = cf_recipe_int_in(r, "eval.rows", 64, 1, CF_MAX_ROWS);
    e->temperature = cf_recipe_float_in(r, "eval.temperature", 1.0, 0, 1e6, CF_RANGE_CLOSED); /* 0: greedy */
    e->top_k = cf_recipe_int_in(r, "eval.top_k", 0, 0, CF_MAX_VOCAB);                          /* 0: all */
    e->top_p = cf_recipe_float_in(r, "eval.top_p", 1.0, 0, 1, CF_RANGE_OPEN_LO);
    e->seed = (uint64_t)cf_recipe_int_in(r, "eval.seed", 0, 0, CF_MAX_SEED);
    e->free_seconds = cf_recipe_float_in(r, "eval.free_seconds", 10.0, 0, 1e7, CF_RANGE_CLOSED);
    e->max_windows = cf_recipe_int_in(r, "eval.max_windows", 0, 0, CF_MAX_COUNT); /* 0: all */
    e->xcorr_lag = cf_recipe_int_in(r, "eval.xcorr_lag", 5, 1, 1 << 20);
    e->psth_bin = cf_recipe_float_in(r, "eval.psth_bin", 0.5, 0, 1e6, CF_RANGE_OPEN_LO);
    e->glm = cf_recipe_bool(r, "eval.glm", true);
    e->f1_samples = cf_recipe_int_in(r, "eval.f1_samples", 16, 0, 1 << 16);
    const char *dec = cf_recipe_str(r, "eval.f1_decoding", "topk");
    if (strcmp(dec, "sample") == 0) e->f1_decoding = NF_F1_SAMPLE;
    else if (strcmp(dec, "topk") == 0) e->f1_decoding = NF_F1_TOPK;
    else if (strcmp(dec, "expected") == 0) e->f1_decoding = NF_F1_EXPECTED;
    else return cf_recipe_fail(r, "eval.f1_decoding", CF_ERR_ARG, "'%s' is not sample, topk or expected", dec);
    if (e->f1_decoding != NF_F1_SAMPLE && e->f1_samples < 1)
        return cf_recipe_fail(r, "eval.f1_samples", CF_ERR_ARG, "eval.f1_decoding: %s needs eval.f1_samples >= 1", dec);
    e->grad_windows = cf_recipe_int_in(r, "eval.grad_windows", 1000, 0, CF_MAX_COUNT);
    const char *ro = cf_recipe_str(r, "eval.conn_readout", "attention");
    if (strcmp(ro, "attention") == 0) e->conn_readout = NF_CONN_ATTENTION;
    else if (strcmp(ro, "headmax") == 0) e->conn_readout = NF_CONN_HEADMAX;
    else if (strcmp(ro, "grad") == 0) e->conn_readout = NF_CONN_GRAD;
    else return cf_recipe_fail(r, "eval.conn_readout", CF_ERR_ARG, "'%s' is not attention, headmax or grad", ro);
    if (e->conn_readout == NF_CONN_GRAD && e->grad_windows < 1)
        return cf_recipe_fail(r, "eval.grad_windows", CF_ERR_ARG, "eval.conn_readout: grad needs eval.grad_windows >= 1");
    e->glm_cfg = cf_glm_defaults();
    e->glm_cfg.K = cf_recipe_int_in(r, "eval.glm_bases", e->glm_cfg.K, 2, 64);
    e->glm_cfg.L = cf_recipe_int_in(r, "eval.glm_lags", e->glm_cfg.L, e->glm_cfg.K, 1000);
    e->glm_cfg.lambda = cf_recipe_float_in(r, "eval.glm_l2", e->glm_cfg.lambda, 0, 1e6, CF_RANGE_CLOSED);
    e->glm_cfg.steps = cf_recipe_int_in(r, "eval.glm_steps", e->glm_cfg.steps, 1, 1000000);
    const char *abl = cf_recipe_str(r, "eval.ablation_checkpoint", NULL);
    if (abl && *abl) {
        char buf[2048];
        snprintf(e->ablation, sizeof e->ablation, "%s", cf_recipe_path(r, "eval.ablation_checkpoint", abl, buf, sizeof buf));
    }
    CF_TRY(cf_recipe_status(r));
    if (c->dim % 2 || c->dim % c->heads)
        return cf_recipe_fail(r, "model.dim", CF_ERR_ARG, "%lld must be even and divisible by model.heads (%lld)",
                              (long long)c->dim, (long long)c->heads);
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    nf_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "neuroformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_neuroformer_model;
    cf_neuroformer_config c;
    if (read_config(r, m, &c, info) != CF_OK) {
        free(m);
        return NULL;
    }
    m->ps = ps;
    if (cf_neuroformer_init(&m->nf, ps, &c) != CF_OK) {
        fail_recipe(r, strstr(cf_last_error(), "frame") ? "model.frame_kernel" : "model.dim", "neuroformer");
        cf_neuroformer_free(&m->nf);
        free(m);
        return NULL;
    }
    return &m->base;
}

static cf_tensor *columns(cf_ctx *ctx, cf_tensor *beh, const int *cols, int n)
{
    int64_t idx[NF_MAX_BEH];
    for (int j = 0; j < n; j++) idx[j] = cols[j];
    return cf_index_select(ctx, beh, 1, cf_from_data(ctx, CF_I64, CF_SHAPE(n), idx));
}

cf_status nf_inputs_from_batch(nf_model *m, cf_ctx *ctx, const cf_batch *b, cf_nf_inputs *in, cf_tensor **beh_target)
{
    memset(in, 0, sizeof *in);
    *beh_target = NULL;
    in->id = cf_batch_get(b, "id");
    in->dt = cf_batch_get(b, "dt");
    in->prev_id = cf_batch_get(b, "prev_id");
    in->prev_dt = cf_batch_get(b, "prev_dt");
    in->prev_pad = cf_batch_get(b, "prev_pad");
    if (!in->id || !in->dt || !in->prev_id || !in->prev_dt || !in->prev_pad) return cf_last_status();
    if (m->nf.cfg.frame_layers > 0 && !(in->frames = cf_batch_get(b, "frames"))) return cf_last_status();
    if (m->src.shuffle_prev) {
        /* a relabelled copy in the arena (batch fields are contiguous) */
        cf_tensor *p = cf_from_data(ctx, CF_I64, in->prev_id->ndim, in->prev_id->shape, cf_data(in->prev_id));
        if (!p) return cf_last_status();
        nf_shuffle_prev(cf_data(p), cf_data(in->prev_dt), p->shape[0], p->shape[1], (int)m->nf.cfg.n_units, m->src.opts.split_seed);
        in->prev_id = p;
    }
    if (m->beh_total > 0) {
        cf_tensor *beh = cf_batch_get(b, "behavior");
        if (!beh) return cf_last_status();
        if (beh->shape[1] != m->beh_total)
            return cf_set_error(CF_ERR_SHAPE, "neuroformer: the batch has %lld behaviour variables, the model %d",
                                (long long)beh->shape[1], m->beh_total);
        if (m->n_in > 0 && !(in->beh = columns(ctx, beh, m->in_cols, m->n_in))) return cf_last_status();
        if (m->predict_col >= 0) {
            int col = m->predict_col;
            cf_tensor *t = columns(ctx, beh, &col, 1);
            *beh_target = t ? cf_reshape(ctx, t, CF_SHAPE(-1)) : NULL;
            if (!*beh_target) return cf_last_status();
        }
    }
    return CF_OK;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    nf_model *m = (nf_model *)mb;
    cf_nf_inputs in;
    cf_tensor *beh_target;
    if (nf_inputs_from_batch(m, ctx, b, &in, &beh_target) != CF_OK) return NULL;
    cf_tensor *id_t = cf_batch_get(b, "id_target"), *dt_t = cf_batch_get(b, "dt_target");
    if (!id_t || !dt_t) return NULL;
    cf_nf_losses l;
    if (cf_neuroformer_loss(ctx, &m->nf, &in, id_t, dt_t, beh_target, &l) != CF_OK) return NULL;
    if (out) {
        cf_metrics_set(out, "loss_id", cf_item(l.id));
        cf_metrics_set(out, "loss_dt", cf_item(l.dt));
        if (l.clip) cf_metrics_set(out, "loss_clip", cf_item(l.clip));
        if (l.beh) cf_metrics_set(out, "loss_beh", cf_item(l.beh));
    }
    return l.total;
}

/* Items: the counted ID targets (spikes + EOS). */
static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "id_target");
    if (!t) return 0;
    const int64_t *p = cf_data(t);
    int64_t n = 0;
    for (int64_t i = 0; i < cf_numel(t); i++) n += p[i] >= 0;
    return n;
}

static void free_model(cf_model *mb)
{
    nf_model *m = (nf_model *)mb;
    cf_neuroformer_free(&m->nf);
    free(m);
}

cf_neuroformer *cf_neuroformer_of(cf_model *m) { return m && m->vt == &cf_neuroformer_model ? &((nf_model *)m)->nf : NULL; }

const cf_model_vtable cf_neuroformer_model = {
    .name = "neuroformer",
    .summary = "Neuroformer: spike-token GPT with history / behaviour cross-attention (Antoniades et al. 2024)",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_neuroformer_evaluate,
    .eval_split = "test",
    .generate = cf_neuroformer_generate_cmd,
    .generate_usage = CF_NEUROFORMER_GENERATE_USAGE,
    .free = free_model,
};

