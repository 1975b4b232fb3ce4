/* FlatFormer as a point-cloud classifier (`model.type: flatformer-cls` over `data.type: pointcloud-cls`): the
 * detector's pillars, VFE and encoder as they are (model.mode flatformer, no-shift or window-padded), then a
 * global max-pool over each cloud's pillar tokens and one linear layer to the classes, trained with cross
 * entropy. Evaluation: accuracy, per-class accuracy and the confusion matrix (eval.json), the encoder's padding
 * ratio and its wall-clock per cloud.
 *
 * Every part of the forward is invariant to the order of a cloud's points: pillars are numbered by their
 * (frame, y, x) cell, the VFE pools its points by a max, the encoder sorts the pillars by the window key and
 * the head pools them by a max (tests/test_flatformer_cls.c permutes the points and compares the logits).
 *
 * Keys read by create: model.mode, model.dim, model.heads, model.layers, model.group, model.window,
 * model.vfe_hidden, model.range, model.pillar; data.source (class names in eval.json). */
#include "autograd/cf_node.h"
#include "autograd/clock.h"
#include "data/pointcloud/primitives.h"
#include "recipes/flatformer/internal.h"
#include "recipes/run/classify_eval.h"
#include "recipes/run/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_ff_grid grid;
    cf_ff_vfe vfe;
    cf_ff_encoder enc;
    cf_linear_layer fc;
    int classes;
    bool primitive_names;
    cf_classify_eval last;
} ffc_model;

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    ffc_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    cf_ff_encoder_config ec = {0};
    int64_t vfe_hidden = 0;
    static const double dflt_range[6] = {-1, -1, -1, 1, 1, 1};
    if (ff_encoder_keys(r, &ec, &vfe_hidden, &m->grid, dflt_range, 0.05, 0.001) != CF_OK) goto fail;
    m->primitive_names = !strcmp(cf_recipe_str(r, "data.source", "primitives"), "primitives");
    if (cf_recipe_status(r) != CF_OK) goto fail;
    if (info->vocab < 2 || info->vocab > 100000) {
        cf_recipe_fail(r, "data.type", CF_ERR_ARG, "flatformer-cls needs a classification dataset (data.type: pointcloud-cls) with 2 or more classes");
        goto fail;
    }
    m->classes = (int)info->vocab;
    m->primitive_names = m->primitive_names && m->classes == CF_PRIM_NCLASS;
    if (cf_ff_vfe_init(&m->vfe, ps, "vfe", vfe_hidden, ec.dim) != CF_OK || cf_ff_encoder_init(&m->enc, ps, "encoder", &ec) != CF_OK ||
        cf_linear_init(&m->fc, ps, "head", ec.dim, m->classes, true, 0) != CF_OK) {
        cf_recipe_fail(r, "model", cf_last_status(), "%s", cf_last_error());
        goto fail;
    }
    m->base.vt = &cf_flatformer_cls_model;
    return &m->base;
fail:
    cf_ff_encoder_free(&m->enc);
    free(m);
    return NULL;
}

/* points -> pillars -> VFE -> encoder (timed: enc_seconds) -> max over each cloud's pillars -> linear: [B, K] */
static cf_tensor *forward(ffc_model *m, cf_ctx *ctx, const cf_batch *b, cf_ff_pillars *pl, cf_ff_stats *stats, double *enc_seconds)
{
    cf_tensor *pts = b->fields[FF_POINTS];
    int B = b->rows;
    double t0 = cf_now();
    cf_dtype dt = m->vfe.fc1.weight->dtype;
    if (cf_ff_pillarize(ctx, &m->grid, dt, cf_data(pts), cf_data(b->fields[FF_NPOINTS]), B, pts->shape[1], pl) != CF_OK) return NULL;
    cf_tensor *f = cf_ff_vfe_fwd(ctx, &m->vfe, pl->point_feat, pl->point_pillar, pl->npillars);
    f = cf_ff_encoder_fwd(ctx, &m->enc, f, pl, m->grid.nx, m->grid.ny, stats);
    if (enc_seconds) *enc_seconds = cf_now() - t0;
    int64_t *frame = cf_scratch(ctx, (size_t)(pl->npillars ? pl->npillars : 1) * sizeof(int64_t));
    if (!f || !frame) return NULL;
    for (int64_t p = 0; p < pl->npillars; p++) frame[p] = pl->coords[3 * p];
    cf_tensor *ft = cf_from_data(ctx, CF_I64, CF_SHAPE(pl->npillars), frame);
    if (!ft) return NULL;
    return cf_linear_fwd(ctx, &m->fc, cf_segment_max(ctx, f, ft, B));
}

cf_tensor *ff_cls_logits(cf_model *mm, cf_ctx *ctx, const cf_batch *b)
{
    cf_ff_pillars pl;
    return forward((ffc_model *)mm, ctx, b, &pl, NULL, NULL);
}

static cf_tensor *loss(cf_model *mm, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    ffc_model *m = (ffc_model *)mm;
    cf_ff_pillars pl;
    cf_ff_stats st;
    cf_tensor *lg = forward(m, ctx, b, &pl, &st, NULL);
    if (!lg) return NULL;
    cf_tensor *lab = b->fields[FF_CLS_LABELS];
    if (out) {
        int64_t right = 0, B = lg->shape[0], K = lg->shape[1];
        const int64_t *y = cf_data(lab);
        for (int64_t i = 0; i < B; i++) {
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                if (cf_get_flat(lg, i * K + k) > cf_get_flat(lg, i * K + best)) best = k;
            right += best == y[i];
        }
        cf_metrics_set(out, "acc", (double)right / (double)B);
        cf_metrics_set(out, "padding_ratio", st.padding_ratio);
        cf_metrics_set(out, "pillars", (double)pl.npillars / (double)B);
        cf_metrics_set(out, "dropped_points", (double)pl.dropped);
    }
    return cf_cross_entropy(ctx, lg, lab, NULL);
}

static int64_t items(cf_model *m, const cf_batch *b)
{
    (void)m;
    return b->rows;
}

static cf_status evaluate(cf_model *mm, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    ffc_model *m = (ffc_model *)mm;
    cf_dataset *ds = in->split;
    cf_classify_eval_free(&m->last);
    CF_TRY(cf_classify_eval_init(&m->last, m->classes));
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    double enc_time = 0, pad_sum = 0, pillars = 0;
    int64_t batches = 0, dropped = 0;
    cf_status st = CF_OK;
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st != CF_OK) break;
        cf_ff_pillars pl;
        cf_ff_stats fs;
        double t;
        cf_tensor *lg = forward(m, ctx, &b, &pl, &fs, &t);
        if (lg) lg = cf_contiguous(ctx, cf_cast(ctx, lg, CF_F32));
        if (!lg) {
            st = cf_last_status();
            break;
        }
        st = cf_classify_eval_add(&m->last, cf_data(lg), cf_data(b.fields[FF_CLS_LABELS]), n);
        enc_time += t, pad_sum += fs.padding_ratio, pillars += (double)pl.npillars, dropped += pl.dropped, batches++;
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st != CF_OK) return st;
    cf_classify_eval_metrics(&m->last, out);
    double acc;
    if (cf_metrics_get(out, "top1", &acc)) cf_metrics_set(out, "accuracy", acc);
    for (int c = 0; c < m->classes && c < 64; c++) {
        char name[CF_METRIC_NAME_MAX];
        if (m->primitive_names) snprintf(name, sizeof name, "acc_%s", cf_prim_class_names[c]);
        else snprintf(name, sizeof name, "acc_class_%d", c);
        cf_metrics_set(out, name, cf_classify_eval_class_accuracy(&m->last, c));
    }
    int64_t items_n = m->last.n;
    cf_metrics_set(out, "padding_ratio", batches ? pad_sum / (double)batches : 0);
    cf_metrics_set(out, "encoder_ms_per_cloud", items_n ? 1000.0 * enc_time / (double)items_n : 0);
    cf_metrics_set(out, "pillars_per_cloud", items_n ? pillars / (double)items_n : 0);
    cf_metrics_set(out, "dropped_points", (double)dropped);
    cf_metrics_set(out, "clouds", (double)items_n);
    return CF_OK;
}

static cf_status write_eval(cf_model *mm, const char *path, const cf_metrics *flat)
{
    return cf_classify_eval_write(&((ffc_model *)mm)->last, path, flat);
}

static void free_model(cf_model *mm)
{
    ffc_model *m = (ffc_model *)mm;
    cf_classify_eval_free(&m->last);
    cf_ff_encoder_free(&m->enc);
    free(m);
}

const cf_model_vtable cf_flatformer_cls_model = {
    .name = "flatformer-cls",
    .summary = "FlatFormer's pillars and encoder, a global max-pool and a linear layer: point-cloud classification",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = evaluate,
    .free = free_model,
    .write_eval = write_eval,
    .eval_split = "test",
};
