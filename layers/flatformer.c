/* FlatFormer's layers (layers/flatformer.h): the pillar feature encoder, the set-attention layer over a
 * layout (equal-size groups or padded windows), the encoder's axis/shift schedule and the BEV scatter. */
#include "layers/flatformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cf_ff_mode_parse(const char *s, cf_ff_mode *out)
{
    if (!strcmp(s, "flatformer")) *out = CF_FF_FLAT;
    else if (!strcmp(s, "no-shift")) *out = CF_FF_FLAT_NO_SHIFT;
    else if (!strcmp(s, "window-padded")) *out = CF_FF_WINDOW_PADDED;
    else return false;
    return true;
}

/* ---- VFE ---- */

cf_status cf_ff_vfe_init(cf_ff_vfe *v, cf_params *ps, const char *name, int64_t c1, int64_t c2)
{
    memset(v, 0, sizeof *v);
    v->c1 = c1, v->c2 = c2;
    cf_params_push(ps, "%s", name);
    cf_status st = cf_linear_init(&v->fc1, ps, "fc1", CF_FF_POINT_FEATURES, c1, false, 0);
    if (st == CF_OK) st = cf_linear_init(&v->fc2, ps, "fc2", 2 * c1, c2, false, 0);
    v->bn1_w = cf_params_add(ps, "bn1.weight", CF_SHAPE(c1), false);
    v->bn1_b = cf_params_add(ps, "bn1.bias", CF_SHAPE(c1), false);
    v->bn2_w = cf_params_add(ps, "bn2.weight", CF_SHAPE(c2), false);
    v->bn2_b = cf_params_add(ps, "bn2.bias", CF_SHAPE(c2), false);
    cf_params_pop(ps);
    if (st != CF_OK) return st;
    if (!v->bn1_w || !v->bn1_b || !v->bn2_w || !v->bn2_b) return cf_last_status();
    cf_fill_(v->bn1_w, 1.0);
    cf_fill_(v->bn2_w, 1.0);
    return CF_OK;
}

/* BN eps 1e-3 as the paper's configuration; batch statistics (see the header) */
static cf_tensor *bn_relu(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *b)
{
    return cf_relu(ctx, cf_batch_norm(ctx, x, w, b, NULL, NULL, true, 0.01, 1e-3));
}

cf_tensor *cf_ff_vfe_fwd(cf_ctx *ctx, const cf_ff_vfe *v, cf_tensor *point_feat, cf_tensor *point_pillar,
                         int64_t npillars)
{
    if (!point_feat) return NULL;
    if (point_feat->shape[0] == 0) return cf_zeros(ctx, point_feat->dtype, CF_SHAPE(npillars, v->c2));
    cf_tensor *h = bn_relu(ctx, cf_linear_fwd(ctx, &v->fc1, point_feat), v->bn1_w, v->bn1_b);
    cf_tensor *m = cf_segment_max(ctx, h, point_pillar, npillars);
    cf_tensor *back = cf_index_select(ctx, m, 0, point_pillar);
    cf_tensor *h2 = bn_relu(ctx, cf_linear_fwd(ctx, &v->fc2, cf_concat(ctx, 2, (cf_tensor *[]){h, back}, 1)), v->bn2_w, v->bn2_b);
    return cf_segment_max(ctx, h2, point_pillar, npillars);
}

/* ---- the set-attention layer ---- */

static cf_status xavier(cf_params *ps, cf_linear_layer *l)
{
    double a = sqrt(6.0 / (double)(l->in + l->out));
    CF_TRY(cf_init_uniform(ps, l->weight, -a, a));
    return l->bias ? cf_init_constant(l->bias, 0) : CF_OK;
}

cf_status cf_ff_layer_init(cf_ff_layer *l, cf_params *ps, const char *name, int64_t dim, int64_t heads)
{
    memset(l, 0, sizeof *l);
    if (heads < 1 || dim % heads) return cf_set_error(CF_ERR_ARG, "%s: dim %lld is not a multiple of %lld heads", name, (long long)dim, (long long)heads);
    l->dim = dim, l->heads = heads;
    cf_params_push(ps, "%s", name);
    cf_status st = cf_linear_init(&l->qk, ps, "attn.qk", dim, 2 * dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&l->v, ps, "attn.v", dim, dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&l->out, ps, "attn.out", dim, dim, true, 0);
    if (st == CF_OK) st = cf_norm_init(&l->ln1, ps, "norm1", CF_NORM_LAYER, dim, true, 1e-5);
    if (st == CF_OK) st = cf_norm_init(&l->ln2, ps, "norm2", CF_NORM_LAYER, dim, true, 1e-5);
    /* FFN hidden 2C, not 4C (section 4) */
    if (st == CF_OK) st = cf_mlp_init(&l->mlp, ps, "ffn", CF_MLP_GELU, dim, 2 * dim, true, 0, 0);
    cf_params_pop(ps);
    if (st != CF_OK) return st;
    /* Xavier-uniform for every matrix, as the released code */
    cf_linear_layer *ls[] = {&l->qk, &l->v, &l->out, &l->mlp.fc1, &l->mlp.fc2};
    for (size_t i = 0; i < sizeof ls / sizeof *ls; i++) CF_TRY(xavier(ps, ls[i]));
    return CF_OK;
}

cf_tensor *cf_ff_layer_fwd(cf_ctx *ctx, const cf_ff_layer *l, cf_tensor *x, cf_tensor *pe, const cf_ff_layout *lay)
{
    if (!x) return NULL;
    int64_t C = l->dim, H = l->heads, D = C / H;
    /* project once per pillar, then gather: q, k from x + pe, v from x; row P is the dummy */
    cf_tensor *qkv = cf_concat(ctx, 2, (cf_tensor *[]){cf_linear_fwd(ctx, &l->qk, cf_add(ctx, x, pe)), cf_linear_fwd(ctx, &l->v, x)}, 1);
    qkv = cf_pad(ctx, qkv, 2, (int64_t[]){0, 0, 0, 1}, 0.0);
    cf_tensor *outs[CF_FF_MAX_PARTS];
    for (int p = 0; p < lay->nparts; p++) {
        const cf_ff_part *pt = &lay->part[p];
        cf_tensor *g = cf_reshape(ctx, cf_index_select(ctx, qkv, 0, pt->idx), CF_SHAPE(pt->n, pt->size, 3, H, D));
        g = cf_permute(ctx, g, (int[]){2, 0, 3, 1, 4}); /* [3, n, H, size, D] */
        cf_tensor *q = cf_squeeze(ctx, cf_narrow(ctx, g, 0, 0, 1), 0);
        cf_tensor *k = cf_squeeze(ctx, cf_narrow(ctx, g, 0, 1, 1), 0);
        cf_tensor *v = cf_squeeze(ctx, cf_narrow(ctx, g, 0, 2, 1), 0);
        cf_sdpa_opts o = {.key_padding = pt->pad};
        cf_tensor *a = cf_sdpa(ctx, q, k, v, &o); /* [n, H, size, D] */
        outs[p] = cf_reshape(ctx, cf_permute(ctx, a, (int[]){0, 2, 1, 3}), CF_SHAPE(pt->n * pt->size, C));
    }
    cf_tensor *all = lay->nparts == 1 ? outs[0] : cf_concat(ctx, lay->nparts, outs, 0);
    cf_tensor *a = cf_linear_fwd(ctx, &l->out, cf_index_select(ctx, all, 0, lay->inv));
    x = cf_norm_fwd(ctx, &l->ln1, cf_add(ctx, x, a));
    return cf_norm_fwd(ctx, &l->ln2, cf_add(ctx, x, cf_mlp_fwd(ctx, &l->mlp, x)));
}

/* ---- encoder ---- */

cf_status cf_ff_encoder_init(cf_ff_encoder *e, cf_params *ps, const char *name, const cf_ff_encoder_config *cfg)
{
    memset(e, 0, sizeof *e);
    if (cfg->layers < 1 || cfg->layers > 64 || cfg->group < 1 || cfg->wx < 2 || cfg->wy < 2)
        return cf_set_error(CF_ERR_ARG, "%s: %lld layers, group %lld, window %lld x %lld", name, (long long)cfg->layers, (long long)cfg->group, (long long)cfg->wx, (long long)cfg->wy);
    e->cfg = *cfg;
    e->layer = calloc((size_t)cfg->layers, sizeof *e->layer);
    if (!e->layer) return cf_set_error(CF_ERR_OOM, "%s: out of memory", name);
    for (int64_t i = 0; i < cfg->layers; i++) {
        char n[128];
        snprintf(n, sizeof n, "%s.layers.%lld", name, (long long)i);
        CF_TRY(cf_ff_layer_init(&e->layer[i], ps, n, cfg->dim, cfg->heads));
    }
    return CF_OK;
}

void cf_ff_encoder_free(cf_ff_encoder *e)
{
    free(e->layer);
    e->layer = NULL;
}

cf_status cf_ff_encoder_layout(cf_ctx *ctx, const cf_ff_encoder *e, int i, const cf_ff_pillars *pl, int64_t nx,
                               int64_t ny, cf_ff_layout *out)
{
    const cf_ff_encoder_config *c = &e->cfg;
    switch (c->mode) {
    case CF_FF_FLAT: /* the cycle x, x-shift, y, y-shift (section 3.2) */
        return cf_ff_group_layout(ctx, pl, c->group, c->wx, c->wy, (i / 2) % 2 ? CF_FF_SORT_Y : CF_FF_SORT_X, i % 2 == 1, nx, ny, out, NULL);
    case CF_FF_FLAT_NO_SHIFT:
        return cf_ff_group_layout(ctx, pl, c->group, c->wx, c->wy, CF_FF_SORT_X, false, nx, ny, out, NULL);
    case CF_FF_WINDOW_PADDED:
        return cf_ff_window_layout(ctx, pl, c->wx, c->wy, i % 2 == 1, nx, ny, out);
    }
    return cf_set_error(CF_ERR_ARG, "encoder: unknown mode %d", (int)c->mode);
}

cf_tensor *cf_ff_encoder_fwd(cf_ctx *ctx, const cf_ff_encoder *e, cf_tensor *x, const cf_ff_pillars *pl, int64_t nx,
                             int64_t ny, cf_ff_stats *stats)
{
    if (!x) return NULL;
    if (stats) memset(stats, 0, sizeof *stats);
    if (pl->npillars == 0) return x;
    cf_tensor *pe = cf_ff_position_encoding(ctx, x->dtype, pl, e->cfg.dim);
    if (!pe) return NULL;
    /* a layout depends only on the layer's (axis, shift): build the (at most 4) distinct ones once */
    cf_ff_layout lay[4];
    int built[4] = {0};
    for (int64_t i = 0; i < e->cfg.layers && x; i++) {
        int kind = e->cfg.mode == CF_FF_FLAT ? (int)(i % 4) : e->cfg.mode == CF_FF_WINDOW_PADDED ? (int)(i % 2) : 0;
        if (!built[kind]) {
            if (cf_ff_encoder_layout(ctx, e, (int)i, pl, nx, ny, &lay[kind]) != CF_OK) return NULL;
            built[kind] = 1;
        }
        if (stats) {
            stats->slots += lay[kind].slots;
            stats->real += lay[kind].real;
        }
        x = cf_ff_layer_fwd(ctx, &e->layer[i], x, pe, &lay[kind]);
    }
    if (stats) stats->padding_ratio = stats->real ? (double)(stats->slots - stats->real) / (double)stats->real : 0;
    return x;
}

cf_tensor *cf_ff_bev_scatter(cf_ctx *ctx, cf_tensor *f, const cf_ff_pillars *pl, int64_t nx, int64_t ny)
{
    if (!f) return NULL;
    int64_t C = f->shape[1], P = pl->npillars;
    cf_tensor *cell = cf_empty(ctx, CF_I64, CF_SHAPE(P));
    cf_tensor *canvas = cf_zeros(ctx, f->dtype, CF_SHAPE((int64_t)pl->B * ny * nx, C));
    if (!cell || !canvas) return NULL;
    int64_t *c = cf_data(cell);
    for (int64_t i = 0; i < P; i++) {
        const int32_t *q = pl->coords + 3 * i;
        c[i] = ((int64_t)q[0] * ny + q[1]) * nx + q[2];
    }
    cf_tensor *y = P ? cf_index_add(ctx, canvas, 0, cell, f, 1.0) : canvas;
    y = cf_reshape(ctx, y, CF_SHAPE(pl->B, ny, nx, C));
    return cf_contiguous(ctx, cf_permute(ctx, y, (int[]){0, 3, 1, 2}));
}
