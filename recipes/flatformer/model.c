/* FlatFormer's adapter (recipes/flatformer/model.h): keys, the forward up to the head, CenterPoint targets and
 * the loss of one batch. */
#include "autograd/cf_node.h"
#include "autograd/clock.h"
#include "recipes/flatformer/internal.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* See internal.h. */
cf_status ff_encoder_keys(cf_recipe *r, cf_ff_encoder_config *ec, int64_t *vfe_hidden, cf_ff_grid *grid,
                          const double dflt_range[6], double dflt_pillar, double min_pillar)
{
    const char *mode = cf_recipe_str(r, "model.mode", "flatformer");
    ec->dim = cf_recipe_int_in(r, "model.dim", 64, 4, CF_MAX_DIM);
    ec->heads = cf_recipe_int_in(r, "model.heads", 4, 1, CF_MAX_DIM);
    ec->layers = cf_recipe_int_in(r, "model.layers", 4, 1, 64);
    ec->group = cf_recipe_int_in(r, "model.group", 32, 1, 1 << 16);
    ec->wx = ec->wy = cf_recipe_int_in(r, "model.window", 8, 2, 1024);
    *vfe_hidden = cf_recipe_int_in(r, "model.vfe_hidden", 32, 1, CF_MAX_DIM);
    double range[6];
    int nr = cf_recipe_float_list_in(r, "model.range", range, 6, dflt_range, 6, -1000, 1000);
    double pillar = cf_recipe_float_in(r, "model.pillar", dflt_pillar, min_pillar, 100, CF_RANGE_CLOSED);
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    if (!cf_ff_mode_parse(mode, &ec->mode))
        return cf_recipe_fail(r, "model.mode", CF_ERR_ARG, "unknown value '%s' (choose from flatformer, no-shift, window-padded)", mode);
    if (nr != 6) return cf_recipe_fail(r, "model.range", CF_ERR_ARG, "needs 6 numbers");
    if (ec->dim % ec->heads || ec->dim % 4)
        return cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "model.dim %lld must be a multiple of 4 and of the %lld heads",
                              (long long)ec->dim, (long long)ec->heads);
    if (cf_ff_grid_init(grid, (float)range[0], (float)range[1], (float)range[2], (float)range[3], (float)range[4],
                        (float)range[5], (float)pillar) != CF_OK)
        return cf_recipe_fail(r, "model.range", CF_ERR_ARG, "%s", cf_last_error());
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    (void)info;
    ff_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    cf_ff_encoder_config ec = {0};
    int64_t vfe_hidden = 0;
    static const double dflt_range[6] = {-20, -20, -3, 20, 20, 1};
    if (ff_encoder_keys(r, &ec, &vfe_hidden, &m->grid, dflt_range, 0.5, 0.01) != CF_OK) goto fail;
    int64_t head_dim = cf_recipe_int_in(r, "model.head_dim", 64, 1, CF_MAX_DIM);
    int64_t stride = cf_recipe_int_in(r, "model.stride", 2, 1, 8);
    m->reg_weight = cf_recipe_float_in(r, "model.reg_weight", 2.0, 0, 1000, CF_RANGE_CLOSED);
    m->score_thr = cf_recipe_float_in(r, "eval.score_thr", 0.1, 0, 1, CF_RANGE_CLOSED);
    static const double dflt_nms[3] = {0.8, 0.55, 0.55};
    int nn = cf_recipe_float_list_in(r, "eval.nms_iou", m->nms_thr, 3, dflt_nms, 3, 0, 1);
    m->max_dets = cf_recipe_int_in(r, "eval.max_dets", 100, 1, 4096);
    m->iou = cf_recipe_float_in(r, "eval.iou", 0.5, 0.01, 1, CF_RANGE_CLOSED);
    /* the dataset's sizes, read here too so that the batch and the model agree (same keys, same defaults) */
    m->max_points = cf_recipe_int_in(r, "data.max_points", 20000, 1, CF_PC_MAX_POINTS);
    m->max_boxes = cf_recipe_int_in(r, "data.max_boxes", 32, 1, CF_PC_MAX_BOXES);
    if (cf_recipe_status(r) != CF_OK) goto fail;
    if (nn != 3) {
        cf_recipe_fail(r, "eval.nms_iou", CF_ERR_ARG, "needs 3 numbers");
        goto fail;
    }
    if (m->grid.nx % stride || m->grid.ny % stride) {
        cf_recipe_fail(r, "model.stride", CF_ERR_ARG, "the %lld x %lld pillar grid is not a multiple of stride %lld", (long long)m->grid.nx, (long long)m->grid.ny, (long long)stride);
        goto fail;
    }
    if (cf_ff_vfe_init(&m->vfe, ps, "vfe", vfe_hidden, ec.dim) != CF_OK || cf_ff_encoder_init(&m->enc, ps, "encoder", &ec) != CF_OK ||
        cf_ff_head_init(&m->head, ps, "head", ec.dim, head_dim, stride) != CF_OK) {
        cf_recipe_fail(r, "model", cf_last_status(), "%s", cf_last_error());
        goto fail;
    }
    m->base.vt = &cf_flatformer_model;
    return &m->base;
fail:
    cf_ff_encoder_free(&m->enc);
    free(m);
    return NULL;
}

cf_tensor *ff_forward(ff_model *m, cf_ctx *ctx, const cf_batch *b, cf_ff_pillars *pl, cf_ff_stats *stats,
                      double *enc_seconds)
{
    cf_tensor *pts = b->fields[FF_POINTS];
    int B = b->rows;
    if (pts->shape[1] != m->max_points) {
        cf_set_error(CF_ERR_SHAPE, "flatformer: the batch holds %lld points per frame, the model expects data.max_points = %lld", (long long)pts->shape[1], (long long)m->max_points);
        return NULL;
    }
    double t0 = cf_now();
    cf_dtype dt = m->vfe.fc1.weight->dtype;
    if (cf_ff_pillarize(ctx, &m->grid, dt, cf_data(pts), cf_data(b->fields[FF_NPOINTS]), B, m->max_points, pl) != CF_OK) return NULL;
    cf_tensor *f = cf_ff_vfe_fwd(ctx, &m->vfe, pl->point_feat, pl->point_pillar, pl->npillars);
    f = cf_ff_encoder_fwd(ctx, &m->enc, f, pl, m->grid.nx, m->grid.ny, stats);
    if (enc_seconds) *enc_seconds = cf_now() - t0;
    return cf_ff_head_fwd(ctx, &m->head, cf_ff_bev_scatter(ctx, f, pl, m->grid.nx, m->grid.ny));
}

/* CornerNet / CenterPoint's Gaussian radius for a box of h x w cells at the given minimum overlap */
static double gaussian_radius(double h, double w, double overlap)
{
    double b1 = h + w, c1 = w * h * (1 - overlap) / (1 + overlap);
    double r1 = (b1 + sqrt(b1 * b1 - 4 * c1)) / 2;
    double b2 = 2 * (h + w), c2 = (1 - overlap) * w * h;
    double r2 = (b2 + sqrt(b2 * b2 - 16 * c2)) / 2;
    double a3 = 4 * overlap, b3 = -2 * overlap * (h + w), c3 = (overlap - 1) * w * h;
    double r3 = (b3 + sqrt(b3 * b3 - 4 * a3 * c3)) / 2;
    return fmin(r1, fmin(r2, r3));
}

static cf_tensor *loss(cf_model *mm, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    ff_model *m = (ff_model *)mm;
    cf_ff_pillars pl;
    cf_ff_stats st;
    cf_tensor *pred = ff_forward(m, ctx, b, &pl, &st, NULL);
    if (!pred) return NULL;
    int64_t B = pred->shape[0], H = pred->shape[2], W = pred->shape[3];
    double cell = m->grid.pillar * (double)m->head.stride;
    cf_tensor *heat = cf_zeros(ctx, pred->dtype, CF_SHAPE(B, CF_FF_NCLASS, H, W));
    int64_t maxm = B * m->max_boxes;
    int64_t *cells = cf_scratch(ctx, (size_t)maxm * sizeof(int64_t));
    double *tgt = cf_scratch(ctx, (size_t)maxm * 8 * sizeof(double));
    if (!heat || !cells || !tgt) return NULL;
    int64_t M = 0;
    const float *bx = cf_data(b->fields[FF_BOXES]);
    const int64_t *nb = cf_data(b->fields[FF_NBOXES]);
    for (int64_t f = 0; f < B; f++)
        for (int64_t i = 0; i < nb[f]; i++) {
            const float *q = bx + (f * m->max_boxes + i) * FF_BOX_VALUES;
            int cls = (int)q[0];
            double fx = (q[1] - m->grid.xmin) / cell, fy = (q[2] - m->grid.ymin) / cell;
            int64_t ix = (int64_t)floor(fx), iy = (int64_t)floor(fy);
            if (cls < 0 || cls >= CF_FF_NCLASS || ix < 0 || iy < 0 || ix >= W || iy >= H) continue;
            double r = fmax(1.0, floor(gaussian_radius(q[4] / cell, q[5] / cell, 0.1)));
            double sigma = (2 * r + 1) / 6;
            for (int64_t y = iy - (int64_t)r; y <= iy + (int64_t)r; y++)
                for (int64_t x = ix - (int64_t)r; x <= ix + (int64_t)r; x++) {
                    if (x < 0 || y < 0 || x >= W || y >= H) continue;
                    double g = exp(-((double)((x - ix) * (x - ix) + (y - iy) * (y - iy))) / (2 * sigma * sigma));
                    int64_t at = ((f * CF_FF_NCLASS + cls) * H + y) * W + x;
                    if (g > cf_get_flat(heat, at)) cf_set_flat(heat, at, g);
                }
            cells[M] = (f * H + iy) * W + ix;
            double *t = tgt + 8 * M;
            t[0] = fx - (double)ix, t[1] = fy - (double)iy, t[2] = q[3];
            t[3] = log(q[4]), t[4] = log(q[5]), t[5] = log(q[6]);
            t[6] = sin(q[7]), t[7] = cos(q[7]);
            M++;
        }
    cf_tensor *cell_t = cf_from_data(ctx, CF_I64, CF_SHAPE(M), cells);
    cf_tensor *box_t = cf_empty(ctx, pred->dtype, CF_SHAPE(M, 8));
    if (!cell_t || !box_t) return NULL;
    for (int64_t i = 0; i < M * 8; i++) cf_set_flat(box_t, i, tgt[i]);
    double lh = 0, lb = 0;
    cf_tensor *l = cf_ff_center_loss(ctx, pred, heat, cell_t, box_t, m->reg_weight, &lh, &lb);
    if (out) {
        cf_metrics_set(out, "loss_heatmap", lh);
        cf_metrics_set(out, "loss_box", lb);
        cf_metrics_set(out, "padding_ratio", st.padding_ratio);
        cf_metrics_set(out, "pillars", (double)pl.npillars / (double)B);
        cf_metrics_set(out, "dropped_points", (double)pl.dropped);
    }
    return l;
}

static int64_t items(cf_model *m, const cf_batch *b)
{
    (void)m;
    return b->rows;
}

static void free_model(cf_model *mm)
{
    ff_model *m = (ff_model *)mm;
    cf_ff_encoder_free(&m->enc);
    free(m);
}

const cf_model_vtable cf_flatformer_model = {
    .name = "flatformer",
    .summary = "FlatFormer: pillars, flattened window attention (equal-size groups) or padded windows, CenterPoint head",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_flatformer_evaluate,
    .free = free_model,
    .write_eval = cf_flatformer_write_eval,
    .eval_split = "test",
};
