/* `model.type: axformer`: the AxFormer encoder (layers/axformer.h) with a masked-token head (pre-training, BERT
 * Sec. 3.1 "Masked LM") or a [CLS] pooler + classifier (fine-tuning, BERT Sec. 4.1); scoring of a split. */
#include "recipes/axformer/model.h"

#include "autograd/clock.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_axformer enc;
    bool classify;
    int64_t classes;
    cf_linear_layer mlm, pool, out; /* mlm: dim -> vocab; pool: dim -> dim (tanh); out: dim -> classes */
    cf_axf_search_config search;
} axf_model;

cf_axformer *cf_axf_encoder_of(cf_model *m) { return m && m->vt == &cf_axformer_model ? &((axf_model *)m)->enc : NULL; }

const cf_axf_search_config *cf_axf_search_of(cf_model *m)
{
    return m && m->vt == &cf_axformer_model ? &((axf_model *)m)->search : NULL;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    axf_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "axformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_axformer_model;
    const char *task = cf_recipe_str(r, "model.task", "classify");
    cf_axf_config c = {
        .vocab = cf_recipe_int_in(r, "model.vocab", info->vocab, 1, CF_MAX_VOCAB),
        .seq = cf_recipe_int_in(r, "model.seq", info->seq, 1, CF_MAX_SEQ),
        .dim = cf_recipe_int_in(r, "model.dim", 128, 1, CF_MAX_DIM),
        .heads = cf_recipe_int_in(r, "model.heads", 4, 1, CF_MAX_DIM),
        .hidden = cf_recipe_int_in(r, "model.hidden", 512, 1, CF_MAX_HIDDEN),
        .layers = cf_recipe_int_in(r, "model.layers", 6, 1, CF_AXF_MAX_LAYERS),
        .init_std = cf_recipe_float_in(r, "model.init_std", 0.02, 0, 1, CF_RANGE_OPEN_LO),
    };
    m->classes = cf_recipe_int_in(r, "model.classes", 2, 2, CF_MAX_VOCAB);
    m->search = (cf_axf_search_config){
        .refit_steps = cf_recipe_int_in(r, "model.search.refit_steps", 200, 0, CF_MAX_STEPS),
        .hard_k = cf_recipe_int_in(r, "model.search.hard_k", 4, 0, CF_MAX_SEQ),
        .tolerance = cf_recipe_float_in(r, "model.search.tolerance", 0, 0, 10, CF_RANGE_CLOSED),
        .timing_reps = cf_recipe_int_in(r, "model.search.timing_reps", 3, 1, 1000),
    };
    m->classify = strcmp(task, "classify") == 0;
    cf_status st = cf_recipe_status(r);
    if (st == CF_OK && !m->classify && strcmp(task, "mlm") != 0)
        st = cf_recipe_fail(r, "model.task", CF_ERR_ARG, "model.task must be mlm or classify, got '%s'", task);
    if (st == CF_OK && (c.vocab != info->vocab || c.seq < info->seq))
        st = cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "the data has %lld tokens and rows of %lld, the model %lld and %lld",
                            (long long)info->vocab, (long long)info->seq, (long long)c.vocab, (long long)c.seq);
    if (st == CF_OK && c.dim % c.heads != 0)
        st = cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "model.dim = %lld is not a multiple of model.heads = %lld",
                            (long long)c.dim, (long long)c.heads);
    if (st == CF_OK) st = cf_axf_init(&m->enc, ps, &c);
    if (st == CF_OK && m->classify) {
        st = cf_linear_init(&m->pool, ps, "cls.pool", c.dim, c.dim, true, 0.02);
        if (st == CF_OK) st = cf_linear_init(&m->out, ps, "cls.out", c.dim, m->classes, true, 0.02);
    } else if (st == CF_OK) {
        st = cf_linear_init(&m->mlm, ps, "mlm.head", c.dim, c.vocab, true, 0.02);
    }
    if (st != CF_OK) {
        free(m);
        return NULL;
    }
    return &m->base;
}

/* classify: [B, classes] from the [CLS] position; mlm: [B * T, vocab]. flops grows by the counted FLOPs. */
static cf_tensor *logits(cf_ctx *ctx, axf_model *m, cf_tensor *ids, double *flops)
{
    cf_tensor *h = cf_axf_fwd(ctx, &m->enc, ids, flops);
    if (!h) return NULL;
    int64_t B = h->shape[0], T = h->shape[1], D = m->enc.cfg.dim;
    if (!m->classify) {
        if (flops) *flops += 2.0 * (double)(B * T * D * m->enc.cfg.vocab);
        return cf_linear_fwd(ctx, &m->mlm, cf_reshape(ctx, h, CF_SHAPE(B * T, D)));
    }
    if (flops) *flops += 2.0 * (double)(B * D * (D + m->classes));
    cf_tensor *cls = cf_squeeze(ctx, cf_narrow(ctx, h, 1, 0, 1), 1);
    return cf_linear_fwd(ctx, &m->out, cf_tanh(ctx, cf_linear_fwd(ctx, &m->pool, cls)));
}

/* classify: label [B]; mlm: targets as [B * T] */
static cf_tensor *target_of(cf_ctx *ctx, axf_model *m, const cf_batch *b)
{
    cf_tensor *t = cf_batch_get(b, m->classify ? "label" : "targets");
    return t && !m->classify ? cf_reshape(ctx, t, CF_SHAPE(cf_numel(t))) : t;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    (void)out;
    axf_model *m = (axf_model *)mb;
    cf_tensor *lg = logits(ctx, m, cf_batch_get(b, "ids"), NULL), *t = target_of(ctx, m, b);
    cf_tensor *l = lg && t ? cf_cross_entropy(ctx, lg, t, &CF_CE_DEFAULTS) : NULL;
    return l;
}

static int64_t items(cf_model *m, const cf_batch *b)
{
    (void)m;
    return b->rows;
}

/* Correct predictions among the targets that count (not -100) into *right / *seen. */
static void count_correct(const cf_tensor *lg, const cf_tensor *t, int64_t *right, int64_t *seen)
{
    int64_t N = lg->shape[0], C = lg->shape[1];
    for (int64_t i = 0; i < N; i++) {
        int64_t y = (int64_t)cf_get_flat(t, i);
        if (y < 0) continue;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (cf_get_flat(lg, i * C + c) > cf_get_flat(lg, i * C + best)) best = c;
        *right += best == y, (*seen)++;
    }
}

cf_status cf_axf_score_split(cf_model *mb, cf_ctx *ctx, cf_dataset *ds, int64_t batch_size, cf_axf_score *out)
{
    axf_model *m = (axf_model *)mb;
    memset(out, 0, sizeof *out);
    int rows = (int)(batch_size < ds->len ? batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    int64_t right = 0, seen = 0;
    double loss_sum = 0, flops = 0, seconds = 0;
    cf_status st = CF_OK;
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st != CF_OK) break;
        double t0 = cf_now();
        cf_tensor *lg = logits(ctx, m, cf_batch_get(&b, "ids"), &flops), *t = target_of(ctx, m, &b);
        seconds += cf_now() - t0;
        cf_tensor *l = lg && t ? cf_cross_entropy(ctx, lg, t, &CF_CE_DEFAULTS) : NULL;
        if (l) {
            int64_t before = seen;
            count_correct(lg, t, &right, &seen);
            loss_sum += cf_item(l) * (double)(seen - before);
        } else {
            st = cf_last_status();
        }
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st != CF_OK) return st;
    *out = (cf_axf_score){.loss = seen ? loss_sum / (double)seen : NAN, .accuracy = seen ? (double)right / (double)seen : NAN,
                          .flops_per_example = flops / (double)ds->len, .seconds = seconds, .examples = ds->len};
    return CF_OK;
}

static cf_status evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    axf_model *m = (axf_model *)mb;
    cf_axf_score s;
    CF_TRY(cf_axf_score_split(mb, ctx, in->split, in->batch_size, &s));
    cf_metrics_set(out, m->classify ? "accuracy" : "masked_accuracy", s.accuracy);
    cf_metrics_set(out, "loss", s.loss);
    cf_metrics_set(out, "flops_per_example", s.flops_per_example);
    cf_metrics_set(out, "ms_per_example", 1e3 * s.seconds / (double)s.examples);
    cf_metrics_set(out, "active_params", (double)cf_axf_active_params(&m->enc));
    double layers = 0, blocks = 0, heads = 0, hard = 0;
    for (int64_t l = 0; l < m->enc.cfg.layers; l++) {
        bool kept = cf_axf_get(&m->enc, CF_AXF_LAYER, l, 0) != 0;
        layers += kept;
        blocks += kept * (cf_axf_get(&m->enc, CF_AXF_ATTN, l, 0) + cf_axf_get(&m->enc, CF_AXF_FFN, l, 0));
        for (int64_t h = 0; h < m->enc.cfg.heads; h++) heads += kept * cf_axf_get(&m->enc, CF_AXF_HEAD, l, h);
        hard += kept && cf_axf_get(&m->enc, CF_AXF_HARD, l, 0) > 0;
    }
    cf_metrics_set(out, "layers_kept", layers);
    cf_metrics_set(out, "blocks_kept", blocks);
    cf_metrics_set(out, "heads_kept", heads);
    cf_metrics_set(out, "hard_layers", hard);
    cf_metrics_set(out, "examples", (double)s.examples);
    return CF_OK;
}

static void free_model(cf_model *m) { free(m); }

const cf_model_vtable cf_axformer_model = {
    .name = "axformer",
    .summary = "AxFormer: post-LN encoder (masked-token pre-training or classification) with removable layers, "
               "blocks, heads and top-k attention",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = evaluate,
    .free = free_model,
    .eval_split = "test",
};
