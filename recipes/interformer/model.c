/* `model.type: interformer` (Huang et al., ICCV 2023; keys in recipes/interformer/README.md): training with the
 * paper's click simulation (Sec. 3.3): per batch, a first click at the object's centre, n ~ P(n) ~ decay^n rounds of
 * predict -> drift the reference map -> click inside the error region (k = inner_ratio), all without gradient on the
 * backbone features computed once for the batch, then one graded pass of the neck and head on the final map. */
#include "recipes/interformer/internal.h"
#include "recipes/recipe/recipe.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_status read_list(cf_recipe *r, const char *key, int64_t *out, int n, const int64_t *dflt, int64_t lo,
                           int64_t hi)
{
    int got = cf_recipe_int_list_in(r, key, out, n, dflt, n, lo, hi);
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    if (got != n)
        return cf_recipe_fail(r, key, CF_ERR_ARG, "%d values where model.stages is %d", got, n);
    return CF_OK;
}

static cf_status config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_interformer_config *c, cf_if_protocol *p)
{
    memset(c, 0, sizeof *c);
    c->image = info->frame_h, c->channels = 3;
    c->patch = cf_recipe_int_in(r, "model.patch", 8, 4, 32);
    c->dim = cf_recipe_int_in(r, "model.dim", 64, 4, CF_MAX_DIM);
    c->depth = cf_recipe_int_in(r, "model.depth", 4, 0, CF_MAX_LAYERS);
    c->heads = cf_recipe_int_in(r, "model.heads", 4, 1, CF_MAX_DIM);
    c->stages = cf_recipe_int_in(r, "model.stages", 2, 1, CF_IF_MAX_STAGES);
    c->target = cf_recipe_int_in(r, "model.target", 16, 1, CF_MAX_DIM);
    c->head_dim = cf_recipe_int_in(r, "model.head_dim", 32, 1, CF_MAX_DIM);
    CF_TRY(cf_recipe_status(r));
    int n = (int)c->stages;
    static const int64_t dw[4] = {16, 32, 64, 128}, dh[4] = {1, 2, 4, 8}, dd[4] = {1, 1, 1, 1}, dm[4] = {8, 8, 4, 4};
    CF_TRY(read_list(r, "model.widths", c->width, n, dw, 1, CF_MAX_DIM));
    CF_TRY(read_list(r, "model.neck_heads", c->neck_heads, n, dh, 1, CF_MAX_DIM));
    CF_TRY(read_list(r, "model.neck_depths", c->neck_depth, n, dd, 1, CF_IF_MAX_DEPTH));
    CF_TRY(read_list(r, "model.mlp_ratios", c->mlp_ratio, n, dm, 1, 64));
    static const int64_t dr[4][2] = {{4, 8}, {2, 4}, {1, 2}, {1, 2}};
    for (int i = 0; i < n; i++) {
        char key[48];
        snprintf(key, sizeof key, "model.pool_ratios.%d", i);
        int got = cf_recipe_int_list_in(r, key, c->ratios[i], CF_IF_MAX_RATIOS, dr[i], 2, 1, 1024);
        CF_TRY(cf_recipe_status(r));
        if (got < 1) return cf_recipe_fail(r, key, CF_ERR_ARG, "needs at least one pool ratio");
    }
    p->radius = (int)cf_recipe_int_in(r, "model.click_radius", 2, 0, 1024);
    p->train_clicks = cf_recipe_int_in(r, "model.train_clicks", 6, 1, 100);
    p->decay = cf_recipe_float_in(r, "model.click_decay", 0.6, 0, 1, CF_RANGE_CLOSED);
    p->inner_ratio = cf_recipe_float_in(r, "model.inner_ratio", 1.7, 1, 100, CF_RANGE_CLOSED);
    p->iterative = cf_recipe_bool(r, "model.iterative", true);
    p->alpha = cf_recipe_float_in(r, "model.nfl_alpha", 0.5, 0, 1, CF_RANGE_OPEN_LO);
    p->gamma = cf_recipe_float_in(r, "model.nfl_gamma", 2.0, 0, 10, CF_RANGE_CLOSED);
    p->eval_clicks = cf_recipe_int_in(r, "eval.clicks", 10, 1, 100);
    p->eval_samples = cf_recipe_int_in(r, "eval.samples", 0, 0, CF_MAX_COUNT);
    CF_TRY(cf_recipe_status(r));
    if (c->image < 16 || info->channels != 3)
        return cf_recipe_fail(r, "data.type", CF_ERR_ARG, "the data gives no RGB scenes with masks (use data.type: scenes)");
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    cf_if_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "interformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_interformer_model;
    cf_interformer_config c;
    cf_status st = config_from_recipe(r, info, &c, &m->proto);
    if (st == CF_OK) {
        st = cf_interformer_init(&m->net, ps, &c);
        if (st != CF_OK) st = cf_recipe_fail(r, "model.type", st, "%s", cf_last_error());
    }
    if (st == CF_OK && !(m->miou = calloc((size_t)m->proto.eval_clicks, sizeof *m->miou)))
        st = cf_set_error(CF_ERR_OOM, "interformer: out of memory");
    if (st != CF_OK) {
        cf_interformer_free(&m->net);
        free(m->miou), free(m);
        return NULL;
    }
    return &m->base;
}

cf_status cf_if_scratch(cf_if_model *m, int rows, int side)
{
    if (rows <= m->rows && side == m->side) return CF_OK;
    free(m->ref), free(m->pred), free(m->gt), free(m->ref_ids);
    cf_if_clicker_free(m->clicker);
    size_t n = (size_t)rows * (size_t)side * (size_t)side;
    m->ref = malloc(n), m->pred = malloc(n), m->gt = malloc(n), m->ref_ids = malloc(n * sizeof *m->ref_ids);
    m->clicker = cf_if_clicker_new(side, side);
    m->rows = rows, m->side = side;
    if (!m->ref || !m->pred || !m->gt || !m->ref_ids || !m->clicker) {
        m->rows = 0;
        return cf_set_error(CF_ERR_OOM, "interformer: out of memory for the click scratch");
    }
    return CF_OK;
}

void cf_if_predict(cf_if_model *m, const cf_tensor *z, int rows)
{
    int64_t n = (int64_t)rows * m->side * m->side;
    for (int64_t i = 0; i < n; i++) m->pred[i] = cf_get_flat(z, i) > 0;
}

cf_tensor *cf_if_ref_tensor(cf_if_model *m, cf_ctx *ctx, int rows)
{
    int64_t S = m->side, n = (int64_t)rows * S * S;
    for (int64_t i = 0; i < n; i++) m->ref_ids[i] = m->ref[i];
    return cf_from_data(ctx, CF_I64, CF_SHAPE(rows, S, S), m->ref_ids);
}

/* One click per row (k: the inner ratio), stamped into that row's reference map. */
static void click_rows(cf_if_model *m, int rows, double k, uint64_t draw)
{
    int64_t px = (int64_t)m->side * m->side;
    cf_philox_key key = cf_rng_key(0x1f0c11c5ull, draw);
    for (int r = 0; r < rows; r++) {
        cf_if_click c;
        if (cf_if_next_click(m->clicker, m->gt + r * px, m->pred + r * px, m->ref + r * px, k, key, (uint64_t)r, &c))
            cf_if_ref_click(m->ref + r * px, m->side, m->side, c, m->proto.radius);
    }
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_if_model *m = (cf_if_model *)mb;
    cf_tensor *image = cf_batch_get(b, "image"), *mask = cf_batch_get(b, "mask");
    if (!image || !mask) return NULL;
    int rows = (int)image->shape[0], S = (int)image->shape[2];
    if (cf_if_scratch(m, rows, S) != CF_OK) return NULL;
    int64_t n = (int64_t)rows * S * S;
    for (int64_t i = 0; i < n; i++) m->gt[i] = cf_get_flat(mask, i) > 0.5, m->pred[i] = 0;
    cf_if_ref_reset(m->ref, n);
    cf_if_features f, fd;
    if (cf_if_backbone(ctx, &m->net, image, &f) != CF_OK) return NULL;
    uint64_t draw = cf_ctx_step(ctx); /* the clicks of a step depend on the step alone (a resume repeats them) */
    click_rows(m, rows, 1.0, draw * 32); /* the first click: the centre of the object */
    int64_t rounds = 0, K = m->proto.train_clicks;
    if (m->proto.iterative && K > 1) { /* n in {0 .. K - 1} with P(n) ~ decay^n */
        double u = cf_rng_uniform(cf_rng_key(0x1f0c11c6ull, draw), 0, 0), total = 0, acc = 0;
        for (int64_t k = 0; k < K; k++) total += pow(m->proto.decay, (double)k);
        for (acc = 1; rounds < K - 1 && u * total >= acc; rounds++) acc += pow(m->proto.decay, (double)(rounds + 1));
    }
    if (rounds) {
        fd = f;
        for (int i = 0; i < f.n; i++) fd.f[i] = cf_detach(ctx, f.f[i]);
        bool prev = cf_set_grad_enabled(ctx, false);
        for (int64_t t = 0; t < rounds; t++) {
            cf_tensor *z = cf_if_decode(ctx, &m->net, &fd, cf_if_ref_tensor(m, ctx, rows));
            if (!z) {
                cf_set_grad_enabled(ctx, prev);
                return NULL;
            }
            cf_if_predict(m, z, rows);
            cf_if_ref_update(m->ref, m->pred, n);
            click_rows(m, rows, m->proto.inner_ratio, draw * 32 + 1 + (uint64_t)t);
        }
        cf_set_grad_enabled(ctx, prev);
    }
    cf_tensor *z = cf_if_decode(ctx, &m->net, &f, cf_if_ref_tensor(m, ctx, rows));
    if (!z) return NULL;
    if (out) {
        cf_if_predict(m, z, rows);
        double iou = 0;
        for (int r = 0; r < rows; r++) iou += cf_if_iou(m->gt + (int64_t)r * S * S, m->pred + (int64_t)r * S * S, (int64_t)S * S);
        cf_metrics_set(out, "iou", iou / rows);
        cf_metrics_set(out, "clicks", (double)(rounds + 1));
    }
    return cf_if_nfl_loss(ctx, z, mask, m->proto.alpha, m->proto.gamma);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "mask");
    return t ? t->shape[0] : 0;
}

static void free_model(cf_model *mb)
{
    cf_if_model *m = (cf_if_model *)mb;
    cf_interformer_free(&m->net);
    free(m->ref), free(m->pred), free(m->gt), free(m->ref_ids), free(m->miou);
    cf_if_clicker_free(m->clicker);
    free(m);
}

const cf_model_vtable cf_interformer_model = {
    .name = "interformer",
    .summary = "interactive segmentation: ViT run once per image, I-MSA neck + head per click (NoC@85/90)",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_interformer_evaluate,
    .write_eval = cf_interformer_write_eval,
    .free = free_model,
};
