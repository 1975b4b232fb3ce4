/* Astroformer's C-C-C-T network (Dagli, arXiv 2304.05350, sec. 3): layers/astroformer.h. */
#include "layers/astroformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cf_tensor *map_to_tokens(cf_ctx *ctx, cf_tensor *x)
{
    if (!x) return NULL;
    int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    return cf_reshape(ctx, cf_permute(ctx, x, (int[]){0, 2, 3, 1}), CF_SHAPE(B, H * W, C));
}

/* LayerNorm2d: LN over the channels of [B, C, H, W] at every pixel, returned as tokens [B, H*W, C] */
static cf_tensor *ln2d_tokens(cf_ctx *ctx, const cf_norm_layer *n, cf_tensor *x)
{
    return cf_norm_fwd(ctx, n, map_to_tokens(ctx, x));
}

static cf_tensor *tokens_to_map(cf_ctx *ctx, cf_tensor *t, int64_t H, int64_t W)
{
    if (!t) return NULL;
    int64_t B = t->shape[0], C = t->shape[2];
    return cf_permute(ctx, cf_reshape(ctx, t, CF_SHAPE(B, H, W, C)), (int[]){0, 3, 1, 2});
}

static cf_tensor *pool2(cf_ctx *ctx, cf_tensor *x)
{
    cf_pool2d_opts p = {.kernel = {2, 2}};
    return cf_avg_pool2d(ctx, x, &p);
}

static cf_status tblock_init(cf_astro_tblock *t, cf_params *ps, const char *name, int64_t in, int64_t dim, int64_t stride,
                             int64_t H, int64_t W, int64_t head_dim)
{
    memset(t, 0, sizeof *t);
    if (dim % head_dim)
        return cf_set_error(CF_ERR_ARG, "%s: dim %lld is not a multiple of the head size %lld", name, (long long)dim,
                            (long long)head_dim);
    t->in = in, t->dim = dim, t->stride = stride, t->H = H, t->W = W, t->heads = dim / head_dim;
    cf_params_push(ps, "%s", name);
    t->stream = cf_name_hash(ps->scope);
    cf_status st = cf_norm_init(&t->ln1, ps, "norm1", CF_NORM_LAYER, in, true, 1e-6);
    if (st == CF_OK) st = cf_linear_init(&t->qkv, ps, "attn.qkv", in, 3 * dim, true, 0.02);
    if (st == CF_OK) st = cf_linear_init(&t->proj, ps, "attn.proj", dim, dim, true, 0.02);
    if (st == CF_OK) st = cf_relpos2d_init(&t->rel, ps, "attn.rel_pos", H, W, t->heads);
    if (st == CF_OK) st = cf_norm_init(&t->ln2, ps, "norm2", CF_NORM_LAYER, dim, true, 1e-6);
    if (st == CF_OK) st = cf_mlp_init(&t->mlp, ps, "mlp", CF_MLP_GELU, dim, 4 * dim, true, 0.02, 0);
    if (st == CF_OK && (stride == 2 || in != dim)) {
        t->sc_w = cf_params_add(ps, "shortcut.weight", CF_SHAPE(dim, in, 1, 1), true);
        t->sc_b = cf_params_add(ps, "shortcut.bias", CF_SHAPE(dim), false);
        st = t->sc_w && t->sc_b ? cf_init_normal(ps, t->sc_w, 0, sqrt(2.0 / (double)dim)) : cf_last_status();
    }
    cf_params_pop(ps);
    return st;
}

cf_tensor *cf_astro_tblock_fwd(cf_ctx *ctx, const cf_astro_tblock *t, cf_tensor *x, double dp)
{
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[1] != t->in || x->shape[2] != t->H * t->stride || x->shape[3] != t->W * t->stride) {
        cf_set_error(CF_ERR_SHAPE, "Astroformer transformer block built for [B, %lld, %lld, %lld] got a %d-dim input "
                     "of another size", (long long)t->in, (long long)(t->H * t->stride), (long long)(t->W * t->stride),
                     x->ndim);
        return NULL;
    }
    int64_t B = x->shape[0], H = t->H, W = t->W, N = H * W, D = t->dim, nh = t->heads, hd = D / nh;
    cf_tensor *sc = t->stride == 2 ? pool2(ctx, x) : x;
    if (t->sc_w) sc = cf_conv2d(ctx, sc, t->sc_w, t->sc_b, NULL);
    cf_tensor *n = ln2d_tokens(ctx, &t->ln1, x);
    if (t->stride == 2) /* pool the normed map, back to tokens */
        n = map_to_tokens(ctx, pool2(ctx, tokens_to_map(ctx, n, 2 * H, 2 * W)));
    cf_tensor *qkv = cf_reshape(ctx, cf_linear_fwd(ctx, &t->qkv, n), CF_SHAPE(B, N, 3, nh, hd));
    qkv = cf_permute(ctx, qkv, (int[]){2, 0, 3, 1, 4}); /* [3, B, nh, N, hd] */
    cf_tensor *q = cf_slice(ctx, qkv, 0, 0, 1, 1), *k = cf_slice(ctx, qkv, 0, 1, 2, 1), *v = cf_slice(ctx, qkv, 0, 2, 3, 1);
    q = cf_reshape(ctx, cf_contiguous(ctx, q), CF_SHAPE(B, nh, N, hd));
    k = cf_reshape(ctx, cf_contiguous(ctx, k), CF_SHAPE(B, nh, N, hd));
    v = cf_reshape(ctx, cf_contiguous(ctx, v), CF_SHAPE(B, nh, N, hd));
    cf_sdpa_opts o = {.bias = cf_relpos2d_fwd(ctx, &t->rel, N)};
    cf_tensor *a = cf_sdpa(ctx, q, k, v, &o); /* [B, nh, N, hd] */
    a = cf_linear_fwd(ctx, &t->proj, cf_reshape(ctx, cf_transpose(ctx, a, 1, 2), CF_SHAPE(B, N, D)));
    if (dp > 0) a = cf_drop_path(ctx, a, dp, t->stream + 1);
    cf_tensor *y = cf_add(ctx, sc, tokens_to_map(ctx, a, H, W));
    cf_tensor *m = cf_mlp_fwd(ctx, &t->mlp, ln2d_tokens(ctx, &t->ln2, y));
    if (dp > 0) m = cf_drop_path(ctx, m, dp, t->stream + 2);
    return cf_add(ctx, y, tokens_to_map(ctx, m, H, W));
}

static cf_status check_config(const cf_astroformer_config *c)
{
    if (c->stages < 1 || c->stages > CF_ASTRO_MAX_STAGES || (int)strlen(c->types) != c->stages)
        return cf_set_error(CF_ERR_ARG, "astroformer: %d stages with %zu stage types '%s' (1..%d, one letter each)",
                            c->stages, strlen(c->types), c->types, CF_ASTRO_MAX_STAGES);
    if (c->in_ch < 1 || c->classes < 2 || c->head_dim < 1 || c->expand < 1 || c->head_hidden < 1 ||
        (c->stem_patch == 0 && (c->stem < 1 || (c->stem_stride != 1 && c->stem_stride != 2))))
        return cf_set_error(CF_ERR_ARG, "astroformer: needs input channels >= 1, classes >= 2, head sizes >= 1 and a "
                            "stem of stride 1 or 2");
    for (int s = 0; s < c->stages; s++) {
        if (c->types[s] != 'C' && c->types[s] != 'T')
            return cf_set_error(CF_ERR_ARG, "astroformer: stage %d has type '%c' (C or T)", s, c->types[s]);
        if (c->stem_patch > 0 && c->types[s] != 'T')
            return cf_set_error(CF_ERR_ARG, "astroformer: a ViT (patch stem) has only T stages, stage %d is '%c'", s, c->types[s]);
        if (c->dims[s] < 1 || c->depths[s] < 1 || (c->strides[s] != 1 && c->strides[s] != 2))
            return cf_set_error(CF_ERR_ARG, "astroformer stage %d: dim >= 1, depth >= 1 and stride 1 or 2", s);
    }
    return CF_OK;
}

cf_status cf_astroformer_init(cf_astroformer *m, cf_params *ps, const cf_astroformer_config *c)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    CF_TRY(check_config(c));
    int64_t H = c->img_h, W = c->img_w, prev;
    cf_status st = CF_OK;
    if (c->stem_patch > 0) {
        if (H % c->stem_patch || W % c->stem_patch)
            return cf_set_error(CF_ERR_ARG, "astroformer: patch %lld does not divide the %lld x %lld image",
                                (long long)c->stem_patch, (long long)H, (long long)W);
        m->stem1_w = cf_params_add(ps, "stem.patch.weight", CF_SHAPE(c->dims[0], c->in_ch, c->stem_patch, c->stem_patch), true);
        m->stem2_b = cf_params_add(ps, "stem.patch.bias", CF_SHAPE(c->dims[0]), false);
        if (!m->stem1_w || !m->stem2_b) return cf_last_status();
        CF_TRY(cf_init_normal(ps, m->stem1_w, 0, sqrt(1.0 / (double)(c->in_ch * c->stem_patch * c->stem_patch))));
        H /= c->stem_patch, W /= c->stem_patch, prev = c->dims[0];
    } else {
        if (H % c->stem_stride || W % c->stem_stride)
            return cf_set_error(CF_ERR_ARG, "astroformer: stem stride %lld does not divide the %lld x %lld image",
                                (long long)c->stem_stride, (long long)H, (long long)W);
        m->stem1_w = cf_params_add(ps, "stem.conv1.weight", CF_SHAPE(c->stem, c->in_ch, 3, 3), true);
        m->stem2_w = cf_params_add(ps, "stem.conv2.weight", CF_SHAPE(c->stem, c->stem, 3, 3), true);
        m->stem2_b = cf_params_add(ps, "stem.conv2.bias", CF_SHAPE(c->stem), false);
        if (!m->stem1_w || !m->stem2_w || !m->stem2_b) return cf_last_status();
        CF_TRY(cf_init_normal(ps, m->stem1_w, 0, sqrt(2.0 / (double)(9 * c->stem))));
        CF_TRY(cf_init_normal(ps, m->stem2_w, 0, sqrt(2.0 / (double)(9 * c->stem))));
        CF_TRY(cf_batch_norm_layer_init(&m->stem_bn, ps, "stem.norm1", c->stem));
        H /= c->stem_stride, W /= c->stem_stride, prev = c->stem;
    }
    char name[64];
    for (int s = 0; s < c->stages && st == CF_OK; s++) {
        bool conv = c->types[s] == 'C';
        if (conv) m->conv[s] = calloc((size_t)c->depths[s], sizeof *m->conv[s]);
        else m->tb[s] = calloc((size_t)c->depths[s], sizeof *m->tb[s]);
        if (!m->conv[s] && !m->tb[s]) return cf_set_error(CF_ERR_OOM, "astroformer: out of memory");
        for (int64_t i = 0; i < c->depths[s] && st == CF_OK; i++) {
            int64_t stride = i == 0 ? c->strides[s] : 1;
            if (stride == 2 && (H % 2 || W % 2))
                return cf_set_error(CF_ERR_ARG, "astroformer stage %d: stride 2 on an odd %lld x %lld map", s, (long long)H,
                                    (long long)W);
            H /= stride, W /= stride;
            snprintf(name, sizeof name, "stages.%d.blocks.%lld", s, (long long)i);
            st = conv ? cf_mbconv_init(&m->conv[s][i], ps, name, prev, c->dims[s], stride, c->expand)
                      : tblock_init(&m->tb[s][i], ps, name, prev, c->dims[s], stride, H, W, c->head_dim);
            prev = c->dims[s];
        }
    }
    m->out_dim = prev;
    if (st == CF_OK) st = cf_norm_init(&m->head_ln, ps, "head.norm", CF_NORM_LAYER, prev, true, 1e-5);
    if (st == CF_OK) st = cf_linear_init(&m->head_fc, ps, "head.pre_logits.fc", prev, c->head_hidden, true, 0);
    if (st == CF_OK) st = cf_linear_init(&m->head_out, ps, "head.fc", c->head_hidden, c->classes, true, 0);
    return st;
}

cf_tensor *cf_astroformer_logits(cf_ctx *ctx, const cf_astroformer *m, cf_tensor *img)
{
    const cf_astroformer_config *c = &m->cfg;
    if (!img) return NULL;
    if (img->ndim != 4 || img->shape[1] != c->in_ch || img->shape[2] != c->img_h || img->shape[3] != c->img_w) {
        cf_set_error(CF_ERR_SHAPE, "astroformer built for [B, %lld, %lld, %lld] images got a %d-dim input%s (the "
                     "relative-position tables fix the size)", (long long)c->in_ch, (long long)c->img_h,
                     (long long)c->img_w, img->ndim, img->ndim == 4 ? " of another size" : "");
        return NULL;
    }
    cf_tensor *x;
    if (c->stem_patch > 0) {
        cf_conv2d_opts o = {.stride = {c->stem_patch, c->stem_patch}};
        x = cf_conv2d(ctx, img, m->stem1_w, m->stem2_b, &o);
    } else {
        cf_conv2d_opts o1 = {.stride = {c->stem_stride, c->stem_stride}, .padding = {1, 1}}, o2 = {.padding = {1, 1}};
        x = cf_gelu(ctx, cf_batch_norm_layer_fwd(ctx, &m->stem_bn, cf_conv2d(ctx, img, m->stem1_w, NULL, &o1)));
        x = cf_conv2d(ctx, x, m->stem2_w, m->stem2_b, &o2);
    }
    for (int s = 0; s < c->stages && x; s++)
        for (int64_t i = 0; i < c->depths[s] && x; i++)
            x = c->types[s] == 'C' ? cf_mbconv_fwd(ctx, &m->conv[s][i], x, c->drop_path)
                                   : cf_astro_tblock_fwd(ctx, &m->tb[s][i], x, c->drop_path);
    if (!x) return NULL;
    x = cf_norm_fwd(ctx, &m->head_ln, cf_mean(ctx, x, 2, (int[]){2, 3}, false)); /* [B, D] */
    x = cf_tanh(ctx, cf_linear_fwd(ctx, &m->head_fc, x));
    if (c->dropout > 0) x = cf_dropout(ctx, x, c->dropout, cf_name_hash("astroformer.head"));
    return cf_linear_fwd(ctx, &m->head_out, x);
}

void cf_astroformer_free(cf_astroformer *m)
{
    for (int s = 0; s < CF_ASTRO_MAX_STAGES; s++) {
        if (m->tb[s])
            for (int64_t i = 0; i < m->cfg.depths[s]; i++) cf_relpos2d_free(&m->tb[s][i].rel);
        free(m->conv[s]);
        free(m->tb[s]);
        m->conv[s] = NULL, m->tb[s] = NULL;
    }
}
