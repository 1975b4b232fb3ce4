/* InterFormer's I-MSA neck (Huang et al., ICCV 2023, Sec. 3.2, Eq. 2-4; the released interformer/necks/imsa.py):
 * PoolingBlocks whose first block per stage attends from the click-carrying queries to the click-free backbone map,
 * multi-scale max-pooled keys and values, and PatchMerging between stages. */
#include "layers/interformer_internal.h"

#include <math.h>
#include <stdio.h>

int64_t cf_if_pool_side(int64_t h, int64_t target, int64_t ratio)
{
    double s = (double)target / (double)ratio;
    if (s > (double)h) s = (double)h;
    if (s < 1) s = 1;
    double cells = round((double)h / s);
    if (cells < 1) cells = 1;
    int64_t side = (int64_t)round((double)h / cells);
    return side < 1 ? 1 : side;
}

static cf_status block_init(cf_if_pool_block *b, cf_params *ps, int64_t C, int64_t heads, int64_t ratio,
                            int nratios)
{
    b->dim = C, b->heads = heads, b->hidden = C * ratio;
    int64_t R = b->hidden;
    CF_TRY(cf_if_gn_init(b->gn1, ps, "norm1", C));
    CF_TRY(cf_if_gn_init(b->gnkv, ps, "norm_kv", C));
    CF_TRY(cf_if_gn_init(b->gn2, ps, "norm2", C));
    CF_TRY(cf_linear_init(&b->q, ps, "attn.q", C, C, true, 0.02));
    CF_TRY(cf_linear_init(&b->kv, ps, "attn.kv", C, 2 * C, true, 0.02));
    CF_TRY(cf_linear_init(&b->proj, ps, "attn.proj", C, C, true, 0.02));
    CF_TRY(cf_norm_init(&b->ln, ps, "attn.norm", CF_NORM_LAYER, C, true, 1e-5));
    for (int j = 0; j < nratios; j++) {
        char name[48];
        snprintf(name, sizeof name, "attn.pool_conv.%d.weight", j);
        if (!(b->dw_w[j] = cf_if_param(ps, name, CF_SHAPE(C, 1, 3, 3), 1.0 / 3.0, 0))) return cf_last_status();
        snprintf(name, sizeof name, "attn.pool_conv.%d.bias", j);
        if (!(b->dw_b[j] = cf_if_param(ps, name, CF_SHAPE(C), 0, 0))) return cf_last_status();
    }
    const int64_t shapes[3][4] = {{R, C, 1, 1}, {R, 1, 3, 3}, {C, R, 1, 1}};
    const double stds[3] = {sqrt(2.0 / (double)C), 1.0 / 3.0, 0.02};
    for (int j = 0; j < 3; j++) {
        char name[48];
        snprintf(name, sizeof name, "irb.%d.weight", j);
        if (!(b->irb_w[j] = cf_if_param(ps, name, 4, shapes[j], stds[j], 0))) return cf_last_status();
        snprintf(name, sizeof name, "irb.%d.bias", j);
        if (!(b->irb_b[j] = cf_if_param(ps, name, CF_SHAPE(shapes[j][0]), 0, 0))) return cf_last_status();
    }
    return CF_OK;
}

cf_status cf_if_neck_init(cf_interformer *net, cf_params *ps)
{
    const cf_interformer_config *c = &net->cfg;
    cf_status st = CF_OK;
    for (int64_t i = 0; i < c->stages && st == CF_OK; i++) {
        cf_if_stage *s = &net->neck[i];
        int nr = 0;
        while (nr < CF_IF_MAX_RATIOS && c->ratios[i][nr] > 0) nr++;
        cf_params_push(ps, "neck.%lld", (long long)i);
        for (int64_t j = 0; j < c->neck_depth[i] && st == CF_OK; j++) {
            cf_params_push(ps, "blocks.%lld", (long long)j);
            st = block_init(&s->blocks[j], ps, c->width[i], c->neck_heads[i], c->mlp_ratio[i], nr);
            cf_params_pop(ps);
        }
        if (st == CF_OK) st = cf_if_gn_init(s->out_gn, ps, "out_norm", c->width[i]);
        if (st == CF_OK && i + 1 < c->stages) {
            st = cf_norm_init(&s->merge_ln, ps, "merge.norm", CF_NORM_LAYER, 9 * c->width[i], true, 1e-5);
            if (st == CF_OK) st = cf_linear_init(&s->merge, ps, "merge.reduction", 9 * c->width[i], c->width[i + 1], false, 0.02);
        }
        cf_params_pop(ps);
    }
    return st;
}

/* [B, C, h, w] -> [B, h*w, C] */
static cf_tensor *tokens(cf_ctx *ctx, cf_tensor *x)
{
    return cf_transpose(ctx, cf_reshape(ctx, x, CF_SHAPE(x->shape[0], x->shape[1], x->shape[2] * x->shape[3])), 1, 2);
}

/* [B, S, C] -> [B, heads, S, C / heads] */
static cf_tensor *split_heads(cf_ctx *ctx, cf_tensor *t, int64_t heads)
{
    int64_t B = t->shape[0], S = t->shape[1], C = t->shape[2];
    int perm[4] = {0, 2, 1, 3};
    return cf_permute(ctx, cf_reshape(ctx, cf_contiguous(ctx, t), CF_SHAPE(B, S, heads, C / heads)), perm);
}

cf_tensor *cf_if_pool_attn(cf_ctx *ctx, const cf_if_pool_block *b, const int64_t *ratios, int64_t target,
                           cf_tensor *q_in, cf_tensor *kv)
{
    int64_t B = q_in->shape[0], C = q_in->shape[1], h = q_in->shape[2], w = q_in->shape[3], H = b->heads;
    cf_tensor *q = split_heads(ctx, cf_linear_fwd(ctx, &b->q, tokens(ctx, q_in)), H);
    cf_tensor *pooled[CF_IF_MAX_RATIOS];
    int n = 0;
    for (; n < CF_IF_MAX_RATIOS && ratios[n] > 0; n++) {
        int64_t hp = cf_if_pool_side(kv->shape[2], target, ratios[n]), wp = cf_if_pool_side(kv->shape[3], target, ratios[n]);
        cf_tensor *p = hp == kv->shape[2] && wp == kv->shape[3] ? kv : cf_adaptive_max_pool2d(ctx, kv, hp, wp);
        p = cf_add(ctx, p, cf_conv2d(ctx, p, b->dw_w[n], b->dw_b[n], &(cf_conv2d_opts){.padding = {1, 1}, .groups = C}));
        pooled[n] = cf_contiguous(ctx, tokens(ctx, p));
    }
    cf_tensor *kvt = cf_linear_fwd(ctx, &b->kv, cf_norm_fwd(ctx, &b->ln, cf_concat(ctx, n, pooled, 1)));
    cf_tensor *k = split_heads(ctx, cf_narrow(ctx, kvt, 2, 0, C), H), *v = split_heads(ctx, cf_narrow(ctx, kvt, 2, C, C), H);
    cf_tensor *o = cf_sdpa(ctx, q, k, v, NULL); /* [B, H, N, C / H] */
    int perm[4] = {0, 2, 1, 3};
    o = cf_reshape(ctx, cf_contiguous(ctx, cf_permute(ctx, o, perm)), CF_SHAPE(B, h * w, C));
    o = cf_linear_fwd(ctx, &b->proj, o);
    return cf_reshape(ctx, cf_contiguous(ctx, cf_transpose(ctx, o, 1, 2)), CF_SHAPE(B, C, h, w));
}

static cf_tensor *block_fwd(cf_ctx *ctx, const cf_if_pool_block *b, const int64_t *ratios, int64_t target,
                            cf_tensor *x, cf_tensor *kv)
{
    cf_tensor *kvn = cf_if_gn(ctx, b->gnkv, kv ? kv : x);
    x = cf_add(ctx, x, cf_if_pool_attn(ctx, b, ratios, target, cf_if_gn(ctx, b->gn1, x), kvn));
    cf_tensor *y = cf_hardswish(ctx, cf_conv2d(ctx, cf_if_gn(ctx, b->gn2, x), b->irb_w[0], b->irb_b[0], NULL));
    y = cf_hardswish(ctx, cf_conv2d(ctx, y, b->irb_w[1], b->irb_b[1], &(cf_conv2d_opts){.padding = {1, 1}, .groups = b->hidden}));
    return cf_add(ctx, x, cf_conv2d(ctx, y, b->irb_w[2], b->irb_b[2], NULL));
}

/* PatchMerging: the 3x3 stride-2 neighbourhoods (zero padding 1) as 9 C channels, LN, Linear to the next width. */
static cf_tensor *merge_fwd(cf_ctx *ctx, const cf_if_stage *s, cf_tensor *x)
{
    int64_t h2 = (x->shape[2] + 1) / 2, w2 = (x->shape[3] + 1) / 2;
    cf_tensor *p = cf_pad(ctx, x, 2, (const int64_t[]){1, 1, 1, 1}, 0.0), *taps[9];
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            taps[ky * 3 + kx] = cf_slice(ctx, cf_slice(ctx, p, 2, ky, ky + 2 * h2 - 1, 2), 3, kx, kx + 2 * w2 - 1, 2);
    int to_last[4] = {0, 2, 3, 1}, to_first[4] = {0, 3, 1, 2};
    cf_tensor *t = cf_permute(ctx, cf_concat(ctx, 9, taps, 1), to_last);
    t = cf_linear_fwd(ctx, &s->merge, cf_norm_fwd(ctx, &s->merge_ln, cf_contiguous(ctx, t)));
    return cf_contiguous(ctx, cf_permute(ctx, t, to_first));
}

bool cf_if_neck_fwd(cf_ctx *ctx, const cf_interformer *net, const cf_if_features *f, cf_tensor *x,
                    cf_tensor **outs)
{
    const cf_interformer_config *c = &net->cfg;
    int64_t target = c->target;
    for (int64_t i = 0; i < c->stages && x; i++) {
        const cf_if_stage *s = &net->neck[i];
        for (int64_t j = 0; j < c->neck_depth[i]; j++)
            x = block_fwd(ctx, &s->blocks[j], c->ratios[i], target, x, j == 0 ? f->f[i] : NULL);
        outs[i] = cf_if_gn(ctx, s->out_gn, x);
        if (i + 1 < c->stages) x = merge_fwd(ctx, s, x);
        target = target / 2 > 1 ? target / 2 : 1;
    }
    return x && outs[c->stages - 1];
}
