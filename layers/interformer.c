/* InterFormer's backbone (ViT + SimpleFPN), click embedding, head and loss (layers/interformer.h); the I-MSA neck is
 * layers/interformer_imsa.c. */
#include "layers/interformer.h"
#include "layers/interformer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GN_EPS 1e-5

cf_tensor *cf_if_param(cf_params *ps, const char *name, int ndim, const int64_t *shape, double std, double value)
{
    cf_tensor *t = cf_params_add(ps, name, ndim, shape, std > 0);
    if (!t) return NULL;
    if ((std > 0 ? cf_init_normal(ps, t, 0, std) : cf_init_constant(t, value)) != CF_OK) return NULL;
    return t;
}

cf_status cf_if_gn_init(cf_tensor **gn, cf_params *ps, const char *name, int64_t c)
{
    cf_params_push(ps, "%s", name);
    gn[0] = cf_if_param(ps, "weight", CF_SHAPE(c), 0, 1.0);
    gn[1] = gn[0] ? cf_if_param(ps, "bias", CF_SHAPE(c), 0, 0.0) : NULL;
    cf_params_pop(ps);
    return gn[1] ? CF_OK : cf_last_status();
}

cf_tensor *cf_if_gn(cf_ctx *ctx, cf_tensor *const *gn, cf_tensor *x)
{
    return cf_group_norm(ctx, x, 1, gn[0], gn[1], GN_EPS);
}

static cf_status convgn_init(cf_if_convgn *u, cf_params *ps, const char *name, int64_t in, int64_t out, int64_t k,
                             int64_t stride, bool transposed)
{
    *u = (cf_if_convgn){.transposed = transposed, .k = k, .stride = stride};
    cf_params_push(ps, "%s", name);
    double std = sqrt(2.0 / (double)(in * k * k));
    u->w = transposed ? cf_if_param(ps, "weight", CF_SHAPE(in, out, k, k), std, 0)
                      : cf_if_param(ps, "weight", CF_SHAPE(out, in, k, k), std, 0);
    cf_status st = u->w ? cf_if_gn_init(&u->gn_w, ps, "gn", out) : cf_last_status();
    cf_params_pop(ps);
    return st;
}

static cf_tensor *convgn_fwd(cf_ctx *ctx, const cf_if_convgn *u, cf_tensor *x, bool gelu)
{
    cf_tensor *y = u->transposed
                       ? cf_conv_transpose2d(ctx, x, u->w, NULL,
                                             &(cf_conv_transpose2d_opts){.stride = {u->stride, u->stride}})
                       : cf_conv2d(ctx, x, u->w, NULL,
                                   &(cf_conv2d_opts){.stride = {u->stride, u->stride},
                                                     .padding = {u->stride == 1 ? u->k / 2 : 0, u->stride == 1 ? u->k / 2 : 0}});
    y = cf_group_norm(ctx, y, 1, u->gn_w, u->gn_b, GN_EPS);
    return gelu ? cf_gelu(ctx, y) : y;
}

/* MAE's 2-D sin-cos table: the first D/2 columns encode the row, the rest the column; each half is sin then cos of
 * pos * 10000^(-i / (D/4)). */
static void sincos_2d(double *out, int64_t side, int64_t D)
{
    int64_t q = D / 4;
    for (int64_t r = 0; r < side; r++)
        for (int64_t c = 0; c < side; c++) {
            double *row = out + (r * side + c) * D;
            for (int64_t i = 0; i < q; i++) {
                double om = pow(10000.0, -(double)i / (double)q);
                row[i] = sin((double)r * om), row[q + i] = cos((double)r * om);
                row[2 * q + i] = sin((double)c * om), row[3 * q + i] = cos((double)c * om);
            }
        }
}

static cf_status check_config(const cf_interformer_config *c)
{
    if (c->stages < 1 || c->stages > CF_IF_MAX_STAGES)
        return cf_set_error(CF_ERR_ARG, "interformer: %lld neck stages (1..%d)", (long long)c->stages, CF_IF_MAX_STAGES);
    if (c->dim % 4 || c->dim % c->heads)
        return cf_set_error(CF_ERR_ARG, "interformer: the ViT width %lld must be a multiple of 4 and of its %lld heads",
                            (long long)c->dim, (long long)c->heads);
    if (c->patch != 4 && c->patch != 8 && c->patch != 16 && c->patch != 32)
        return cf_set_error(CF_ERR_ARG, "interformer: patch %lld (4, 8, 16 or 32: SimpleFPN resamples by 4, 2, 1, 1/2)",
                            (long long)c->patch);
    int64_t last = 4 << (c->stages - 1), need = last > c->patch ? last : c->patch;
    if (c->image % need || c->image < need)
        return cf_set_error(CF_ERR_ARG, "interformer: image side %lld is not a multiple of %lld (patch %lld, stride %lld "
                            "of the last neck stage)", (long long)c->image, (long long)need, (long long)c->patch, (long long)last);
    for (int64_t i = 0; i < c->stages; i++) {
        int64_t ratio = c->patch / (4 << i);
        if (c->patch * 2 < (4 << i))
            return cf_set_error(CF_ERR_ARG, "interformer: neck stage %lld (stride %d) is coarser than half the patch %lld",
                                (long long)i, 4 << i, (long long)c->patch);
        (void)ratio;
        if (c->width[i] < 1 || c->neck_heads[i] < 1 || c->width[i] % c->neck_heads[i])
            return cf_set_error(CF_ERR_ARG, "interformer: stage %lld width %lld is not a multiple of its %lld heads",
                                (long long)i, (long long)c->width[i], (long long)c->neck_heads[i]);
        if (c->neck_depth[i] < 1 || c->neck_depth[i] > CF_IF_MAX_DEPTH)
            return cf_set_error(CF_ERR_ARG, "interformer: stage %lld depth %lld (1..%d)", (long long)i,
                                (long long)c->neck_depth[i], CF_IF_MAX_DEPTH);
        if (c->ratios[i][0] < 1)
            return cf_set_error(CF_ERR_ARG, "interformer: stage %lld has no pool ratio", (long long)i);
    }
    return CF_OK;
}

static cf_status fpn_init(cf_if_fpn_branch *f, cf_params *ps, int64_t D, int64_t ratio_x2, int64_t out)
{
    /* ratio_x2 = 2 * patch / stride: 8 (x4), 4 (x2), 2 (x1), 1 (x0.5) */
    cf_status st = CF_OK;
    int64_t in = D;
    if (ratio_x2 == 8) {
        int64_t m = D / 2 > 2 * out ? D / 2 : 2 * out;
        st = convgn_init(&f->up[0], ps, "up0", D, m, 2, 2, true);
        if (st == CF_OK) st = convgn_init(&f->up[1], ps, "up1", m, m / 2, 2, 2, true);
        f->nup = 2, in = m / 2;
    } else if (ratio_x2 == 4) {
        int64_t m = D / 2 > out ? D / 2 : out;
        st = convgn_init(&f->up[0], ps, "up0", D, m, 2, 2, true);
        f->nup = 1, in = m;
    } else if (ratio_x2 == 1) {
        int64_t m = 2 * D > out ? 2 * D : out;
        st = convgn_init(&f->up[0], ps, "down0", D, m, 2, 2, false);
        f->nup = 1, in = m;
    }
    return st == CF_OK ? convgn_init(&f->out, ps, "out", in, out, 1, 1, false) : st;
}

cf_status cf_interformer_init(cf_interformer *net, cf_params *ps, const cf_interformer_config *cfg)
{
    memset(net, 0, sizeof *net);
    net->cfg = *cfg;
    const cf_interformer_config *c = &net->cfg;
    CF_TRY(check_config(c));
    int64_t D = c->dim, side = c->image / c->patch;
    if (!(net->pos = malloc((size_t)(side * side * D) * sizeof *net->pos)))
        return cf_set_error(CF_ERR_OOM, "interformer: out of memory");
    sincos_2d(net->pos, side, D);
    cf_params_push(ps, "backbone");
    net->patch_w = cf_if_param(ps, "patch.weight", CF_SHAPE(D, c->channels, c->patch, c->patch),
                               1.0 / sqrt((double)(c->channels * c->patch * c->patch)), 0);
    net->patch_b = net->patch_w ? cf_if_param(ps, "patch.bias", CF_SHAPE(D), 0, 0) : NULL;
    cf_block_config bc = {.dim = D, .heads = c->heads, .hidden = 4 * D, .mlp = CF_MLP_GELU, .norm = CF_NORM_LAYER,
                          .prenorm = true, .bias = true, .mask = CF_ATTN_FULL, .eps = 1e-6, .std = 0.02};
    cf_status st = net->patch_b ? cf_block_stack_init(&net->blocks, ps, "blocks", c->depth, &bc) : cf_last_status();
    if (st == CF_OK) st = cf_norm_init(&net->ln, ps, "ln", CF_NORM_LAYER, D, true, 1e-6);
    cf_params_pop(ps);
    for (int64_t i = 0; i < c->stages && st == CF_OK; i++) {
        cf_params_push(ps, "fpn.%lld", (long long)i);
        st = fpn_init(&net->fpn[i], ps, D, 2 * c->patch / (4 << i), c->width[i]);
        cf_params_pop(ps);
    }
    if (st != CF_OK) return st;
    /* the click embedding: Xavier-normal, no weight decay (the paper's optimiser setting) */
    net->click.num = CF_IF_STATES, net->click.dim = c->width[0];
    net->click.weight = cf_params_add(ps, "click_embed.weight", CF_SHAPE(CF_IF_STATES, c->width[0]), false);
    if (!net->click.weight) return cf_last_status();
    CF_TRY(cf_init_normal(ps, net->click.weight, 0, sqrt(2.0 / (double)(CF_IF_STATES + c->width[0]))));
    CF_TRY(cf_if_neck_init(net, ps));
    cf_params_push(ps, "head");
    for (int64_t i = 0; i < c->stages && st == CF_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "lateral.%lld.weight", (long long)i);
        net->lat_w[i] = cf_if_param(ps, name, CF_SHAPE(c->head_dim, c->width[i], 1, 1), sqrt(1.0 / (double)c->width[i]), 0);
        snprintf(name, sizeof name, "lateral.%lld.bias", (long long)i);
        net->lat_b[i] = net->lat_w[i] ? cf_if_param(ps, name, CF_SHAPE(c->head_dim), 0, 0) : NULL;
        if (!net->lat_b[i]) st = cf_last_status();
    }
    if (st == CF_OK) st = convgn_init(&net->fuse, ps, "fuse", c->head_dim, c->head_dim, 3, 1, false);
    if (st == CF_OK) net->cls_w = cf_if_param(ps, "cls.weight", CF_SHAPE(1, c->head_dim, 1, 1), 0.01, 0);
    if (st == CF_OK && net->cls_w) net->cls_b = cf_if_param(ps, "cls.bias", CF_SHAPE(1), 0, 0);
    if (st == CF_OK && !net->cls_b) st = cf_last_status();
    cf_params_pop(ps);
    return st;
}

void cf_interformer_free(cf_interformer *net)
{
    if (!net) return;
    free(net->pos), free(net->blocks);
    net->pos = NULL, net->blocks = NULL;
}

cf_status cf_if_backbone(cf_ctx *ctx, cf_interformer *net, cf_tensor *image, cf_if_features *out)
{
    const cf_interformer_config *c = &net->cfg;
    if (image->ndim != 4 || image->shape[1] != c->channels || image->shape[2] != c->image || image->shape[3] != c->image)
        return cf_set_error(CF_ERR_SHAPE, "interformer: images must be [B, %lld, %lld, %lld]", (long long)c->channels,
                            (long long)c->image, (long long)c->image);
    net->backbone_runs++;
    int64_t B = image->shape[0], D = c->dim, side = c->image / c->patch, N = side * side;
    cf_tensor *x = cf_conv2d(ctx, image, net->patch_w, net->patch_b,
                             &(cf_conv2d_opts){.stride = {c->patch, c->patch}});
    x = cf_contiguous(ctx, cf_transpose(ctx, cf_reshape(ctx, x, CF_SHAPE(B, D, N)), 1, 2));
    cf_tensor *pos = cf_from_data(ctx, CF_F64, CF_SHAPE(N, D), net->pos);
    x = cf_add(ctx, x, cf_cast(ctx, pos, image->dtype));
    for (int64_t l = 0; l < c->depth; l++) x = cf_block_fwd(ctx, &net->blocks[l], x, NULL, NULL, NULL, NULL);
    x = cf_norm_fwd(ctx, &net->ln, x);
    x = cf_reshape(ctx, cf_contiguous(ctx, cf_transpose(ctx, x, 1, 2)), CF_SHAPE(B, D, side, side));
    out->n = (int)c->stages;
    for (int64_t i = 0; i < c->stages; i++) {
        const cf_if_fpn_branch *f = &net->fpn[i];
        cf_tensor *y = x;
        for (int u = 0; u < f->nup; u++) y = convgn_fwd(ctx, &f->up[u], y, f->nup == 2 && u == 0);
        out->f[i] = convgn_fwd(ctx, &f->out, y, true);
    }
    return cf_last_status() == CF_OK && out->f[c->stages - 1] ? CF_OK : cf_last_status();
}

cf_tensor *cf_if_decode(cf_ctx *ctx, const cf_interformer *net, const cf_if_features *f, cf_tensor *ref)
{
    const cf_interformer_config *c = &net->cfg;
    if (ref->ndim != 3 || ref->dtype != CF_I64 || ref->shape[1] != c->image || ref->shape[2] != c->image ||
        ref->shape[0] != f->f[0]->shape[0]) {
        cf_set_error(CF_ERR_SHAPE, "interformer: the reference map must be i64 [%lld, %lld, %lld]",
                     (long long)f->f[0]->shape[0], (long long)c->image, (long long)c->image);
        return NULL;
    }
    int64_t s0 = c->image / 4;
    int perm[4] = {0, 3, 1, 2};
    cf_tensor *emb = cf_contiguous(ctx, cf_permute(ctx, cf_embedding(ctx, net->click.weight, ref), perm));
    emb = cf_interpolate_bilinear(ctx, emb, s0, s0, false);
    cf_tensor *outs[CF_IF_MAX_STAGES];
    if (!cf_if_neck_fwd(ctx, net, f, cf_add(ctx, f->f[0], emb), outs)) return NULL;
    cf_tensor *sum = NULL;
    for (int64_t i = 0; i < c->stages; i++) {
        cf_tensor *l = cf_conv2d(ctx, outs[i], net->lat_w[i], net->lat_b[i], NULL);
        if (i > 0) l = cf_interpolate_bilinear(ctx, l, s0, s0, false);
        sum = sum ? cf_add(ctx, sum, l) : l;
    }
    cf_tensor *z = cf_conv2d(ctx, convgn_fwd(ctx, &net->fuse, sum, true), net->cls_w, net->cls_b, NULL);
    return cf_interpolate_bilinear(ctx, z, c->image, c->image, false);
}

cf_tensor *cf_if_nfl_loss(cf_ctx *ctx, cf_tensor *z, cf_tensor *y, double alpha, double gamma)
{
    if (!cf_same_shape(z, y) || z->ndim < 2) {
        cf_set_error(CF_ERR_SHAPE, "interformer NFL: logits and targets must have one shape [B, ...]");
        return NULL;
    }
    cf_tensor *zp = cf_mul(ctx, z, cf_scale_shift(ctx, y, 2.0, -1.0));
    cf_tensor *nlog = cf_softplus(ctx, cf_neg(ctx, zp), 1.0, 20.0);          /* -log p_t */
    cf_tensor *beta = cf_pow_scalar(ctx, cf_sigmoid(ctx, cf_neg(ctx, zp)), gamma); /* (1 - p_t)^gamma */
    int dims[CF_MAX_DIMS], nd = z->ndim - 1;
    int64_t per = 1;
    for (int d = 1; d < z->ndim; d++) dims[d - 1] = d, per *= z->shape[d];
    /* s = N / (sum beta + eps) per image, a constant of the backward */
    cf_tensor *bsum = cf_sum(ctx, cf_detach(ctx, beta), nd, dims, true);
    cf_tensor *s = cf_div(ctx, cf_full(ctx, z->dtype, 1, (const int64_t[]){1}, (double)per), cf_add_scalar(ctx, bsum, 1e-12));
    return cf_mul_scalar(ctx, cf_mean(ctx, cf_mul(ctx, cf_mul(ctx, beta, nlog), s), 0, NULL, false), alpha);
}
