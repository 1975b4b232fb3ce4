/* MAFormer's MAF block and staged classifier (Wang et al., arXiv 2209.01620, sec. 3): see layers/maformer.h. */
#include "layers/maformer.h"
#include "layers/window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cf_maf_variant_parse(const char *s, cf_maf_variant *out)
{
    if (strcmp(s, "maf") == 0) return *out = CF_MAF_FULL, true;
    if (strcmp(s, "window") == 0) return *out = CF_MAF_WINDOW, true;
    if (strcmp(s, "global") == 0) return *out = CF_MAF_GLOBAL, true;
    return false;
}

static cf_status mixer_init(cf_maf_mixer *m, cf_params *ps, const char *name, bool window, int64_t H, int64_t W,
                            int64_t C, int64_t heads, int64_t M, int64_t Ng)
{
    memset(m, 0, sizeof *m);
    m->window = window;
    cf_params_push(ps, "%s", name);
    cf_attention_config ac = {.dim = C, .heads = heads, .bias = true, .cross = !window, .std = 0.02};
    cf_status st = cf_norm_init(&m->ln, ps, window ? "ln" : "ln_q", CF_NORM_LAYER, C, true, 1e-5);
    if (st == CF_OK) st = cf_attention_init(&m->attn, ps, "attn", &ac);
    if (st == CF_OK && window) st = cf_relpos2d_init(&m->rel, ps, "rel_bias", M, M, heads);
    if (st == CF_OK && !window) {
        st = cf_norm_init(&m->ln_g, ps, "gld.ln", CF_NORM_LAYER, C, true, 1e-5);
        if (st == CF_OK) st = cf_norm_init(&m->ln_k, ps, "ln_k", CF_NORM_LAYER, C, true, 1e-5);
        m->wd = cf_params_add(ps, "gld.down.weight", CF_SHAPE(Ng, H * W), true);
        m->bd = cf_params_add(ps, "gld.down.bias", CF_SHAPE(Ng), false);
        m->pos = cf_params_add(ps, "gld.pos", CF_SHAPE(Ng, C), false);
        if (st == CF_OK && (!m->wd || !m->bd || !m->pos)) st = cf_last_status();
        if (st == CF_OK) st = cf_init_uniform(ps, m->wd, -1.0 / sqrt((double)(H * W)), 1.0 / sqrt((double)(H * W)));
        if (st == CF_OK) st = cf_init_normal(ps, m->pos, 0, 0.02);
    }
    cf_params_pop(ps);
    return st;
}

/* the window branch's attention term: window_reverse(attn(window_partition(LN(x)))) [B, N, C] */
static cf_tensor *window_term(cf_ctx *ctx, const cf_maf_mixer *m, cf_tensor *x, int64_t H, int64_t W, int64_t M)
{
    int64_t B = x->shape[0], C = x->shape[2];
    cf_tensor *n = cf_reshape(ctx, cf_norm_fwd(ctx, &m->ln, x), CF_SHAPE(B, H, W, C));
    cf_tensor *w = cf_window_partition(ctx, n, M);
    cf_tensor *y = cf_attention_fwd(ctx, &m->attn, w, NULL, NULL, cf_relpos2d_fwd(ctx, &m->rel, M * M), NULL);
    return cf_reshape(ctx, cf_window_reverse(ctx, y, B, H, W, M), CF_SHAPE(B, H * W, C));
}

/* GLD: YG = (Wd LN_g(src)^T + bd)^T + P  [B, Ng, C] */
static cf_tensor *gld(cf_ctx *ctx, const cf_maf_mixer *m, cf_tensor *src)
{
    cf_tensor *g = cf_transpose(ctx, cf_norm_fwd(ctx, &m->ln_g, src), 1, 2); /* [B, C, N] */
    cf_tensor *d = cf_linear(ctx, g, m->wd, m->bd);                         /* [B, C, Ng] */
    return cf_add(ctx, cf_transpose(ctx, d, 1, 2), m->pos);
}

/* the fusion term: cross_attention(LN_q(q), LN_k(GLD(src))) [B, N, C] */
static cf_tensor *fusion_term(cf_ctx *ctx, const cf_maf_mixer *m, cf_tensor *q, cf_tensor *src)
{
    cf_tensor *yg = cf_norm_fwd(ctx, &m->ln_k, gld(ctx, m, src));
    return cf_attention_fwd(ctx, &m->attn, cf_norm_fwd(ctx, &m->ln, q), yg, NULL, NULL, NULL);
}

static cf_tensor *residual(cf_ctx *ctx, cf_tensor *x, cf_tensor *fx, double p, uint64_t stream)
{
    if (p > 0) fx = cf_drop_path(ctx, fx, p, stream);
    return cf_add(ctx, x, fx);
}

cf_status cf_maf_block_init(cf_maf_block *blk, cf_params *ps, const char *name, cf_maf_variant v, int64_t H, int64_t W,
                            int64_t C, int64_t heads, int64_t M, int64_t Ng, int64_t mlp_ratio)
{
    memset(blk, 0, sizeof *blk);
    if (v != CF_MAF_GLOBAL) CF_TRY(cf_window_check(name, H, W, M));
    if (Ng < 1 || Ng > H * W)
        return cf_set_error(CF_ERR_ARG, "%s: GLD keeps %lld of %lld tokens (needs 1..%lld)", name, (long long)Ng,
                            (long long)(H * W), (long long)(H * W));
    blk->H = H, blk->W = W, blk->M = M, blk->Ng = Ng;
    cf_params_push(ps, "%s", name);
    blk->stream = cf_name_hash(ps->scope);
    cf_status st = mixer_init(&blk->a, ps, "mix_a", v != CF_MAF_GLOBAL, H, W, C, heads, M, Ng);
    if (st == CF_OK) st = mixer_init(&blk->b, ps, "mix_b", v == CF_MAF_WINDOW, H, W, C, heads, M, Ng);
    if (st == CF_OK) st = cf_norm_init(&blk->ln2, ps, "ln2", CF_NORM_LAYER, C, true, 1e-5);
    if (st == CF_OK) st = cf_mlp_init(&blk->mlp, ps, "mlp", CF_MLP_GELU, C, mlp_ratio * C, true, 0.02, 0);
    cf_params_pop(ps);
    return st;
}

void cf_maf_block_free(cf_maf_block *blk)
{
    cf_relpos2d_free(&blk->a.rel);
    cf_relpos2d_free(&blk->b.rel);
}

cf_tensor *cf_maf_block_fwd(cf_ctx *ctx, const cf_maf_block *blk, cf_maf_variant v, cf_tensor *x, double dp)
{
    if (!x) return NULL;
    if (x->ndim != 3 || x->shape[1] != blk->H * blk->W) {
        cf_set_error(CF_ERR_SHAPE, "MAF block built for %lld x %lld tokens got a %d-dim input of %lld tokens",
                     (long long)blk->H, (long long)blk->W, x->ndim, (long long)(x->ndim == 3 ? x->shape[1] : 0));
        return NULL;
    }
    int64_t H = blk->H, W = blk->W, M = blk->M;
    cf_tensor *f;
    if (v == CF_MAF_FULL) {
        cf_tensor *yl = residual(ctx, x, window_term(ctx, &blk->a, x, H, W, M), dp, blk->stream + 1);
        f = residual(ctx, yl, fusion_term(ctx, &blk->b, yl, x), dp, blk->stream + 2);
    } else if (v == CF_MAF_WINDOW) {
        cf_tensor *yl = residual(ctx, x, window_term(ctx, &blk->a, x, H, W, M), dp, blk->stream + 1);
        f = residual(ctx, yl, window_term(ctx, &blk->b, yl, H, W, M), dp, blk->stream + 2);
    } else {
        cf_tensor *y1 = residual(ctx, x, fusion_term(ctx, &blk->a, x, x), dp, blk->stream + 1);
        f = residual(ctx, y1, fusion_term(ctx, &blk->b, y1, y1), dp, blk->stream + 2);
    }
    return residual(ctx, f, cf_mlp_fwd(ctx, &blk->mlp, cf_norm_fwd(ctx, &blk->ln2, f)), dp, blk->stream + 3);
}

static cf_status check_config(const cf_maformer_config *c)
{
    if (c->stages < 1 || c->stages > CF_MAF_MAX_STAGES)
        return cf_set_error(CF_ERR_ARG, "maformer: %d stages (1..%d)", c->stages, CF_MAF_MAX_STAGES);
    if (c->in_ch < 1 || c->classes < 2 || c->img_h < 2 || c->img_w < 2 || c->mlp_ratio < 1 || !(c->ratio > 0 && c->ratio <= 1))
        return cf_set_error(CF_ERR_ARG, "maformer: needs input channels >= 1, classes >= 2, an image of 2 x 2 or more, "
                            "mlp_ratio >= 1 and a GLD ratio in (0, 1]");
    for (int s = 0; s < c->stages; s++)
        if (c->dims[s] < 1 || c->depths[s] < 0 || c->heads[s] < 1 || c->dims[s] % c->heads[s])
            return cf_set_error(CF_ERR_ARG, "maformer stage %d: dim %lld must divide into %lld heads, depth >= 0", s,
                                (long long)c->dims[s], (long long)c->heads[s]);
    return CF_OK;
}

cf_status cf_maformer_init(cf_maformer *m, cf_params *ps, const cf_maformer_config *c)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    CF_TRY(check_config(c));
    int64_t H = c->img_h, W = c->img_w, prev = c->in_ch;
    cf_status st = CF_OK;
    for (int s = 0; s < c->stages && st == CF_OK; s++) {
        cf_maf_stage *S = &m->st[s];
        H = (H + 1) / 2, W = (W + 1) / 2; /* conv 3x3, stride 2, padding 1 */
        S->H = H, S->W = W, S->dim = c->dims[s], S->depth = c->depths[s], S->global = s >= c->global_from;
        cf_params_push(ps, "stages.%d", s);
        S->conv_w = cf_params_add(ps, s ? "merge.weight" : "embed.weight", CF_SHAPE(S->dim, prev, 3, 3), true);
        S->conv_b = cf_params_add(ps, s ? "merge.bias" : "embed.bias", CF_SHAPE(S->dim), false);
        if (!S->conv_w || !S->conv_b) st = cf_last_status();
        if (st == CF_OK) st = cf_init_normal(ps, S->conv_w, 0, sqrt(2.0 / (double)(9 * prev)));
        if (st == CF_OK) st = cf_norm_init(&S->ln, ps, "norm", CF_NORM_LAYER, S->dim, true, 1e-5);
        if (st == CF_OK && S->depth > 0 && S->global) {
            cf_block_config bc = {.dim = S->dim, .heads = c->heads[s], .hidden = c->mlp_ratio * S->dim, .mlp = CF_MLP_GELU,
                                  .norm = CF_NORM_LAYER, .prenorm = true, .bias = true, .mask = CF_ATTN_FULL,
                                  .eps = 1e-5, .std = 0.02};
            st = cf_block_stack_init(&S->blocks, ps, "blocks", S->depth, &bc);
        } else if (st == CF_OK && S->depth > 0) {
            S->maf = calloc((size_t)S->depth, sizeof *S->maf);
            if (!S->maf) st = cf_set_error(CF_ERR_OOM, "maformer: out of memory");
            int64_t Ng = (int64_t)ceil(c->ratio * (double)(H * W) - 1e-9);
            char name[64];
            for (int64_t i = 0; i < S->depth && st == CF_OK; i++) {
                snprintf(name, sizeof name, "blocks.%lld", (long long)i);
                st = cf_maf_block_init(&S->maf[i], ps, name, c->variant, H, W, S->dim, c->heads[s], c->window, Ng > 0 ? Ng : 1,
                                       c->mlp_ratio);
            }
        }
        cf_params_pop(ps);
        prev = S->dim;
    }
    if (st == CF_OK) st = cf_norm_init(&m->head_ln, ps, "head.norm", CF_NORM_LAYER, prev, true, 1e-5);
    if (st == CF_OK) st = cf_linear_init(&m->head, ps, "head.fc", prev, c->classes, true, 0.02);
    if (st != CF_OK) cf_maformer_free(m);
    return st;
}

cf_tensor *cf_maformer_logits(cf_ctx *ctx, const cf_maformer *m, cf_tensor *img)
{
    const cf_maformer_config *c = &m->cfg;
    if (!img) return NULL;
    if (img->ndim != 4 || img->shape[1] != c->in_ch || img->shape[2] != c->img_h || img->shape[3] != c->img_w) {
        cf_set_error(CF_ERR_SHAPE, "maformer built for [B, %lld, %lld, %lld] images got a %d-dim input%s", (long long)c->in_ch,
                     (long long)c->img_h, (long long)c->img_w, img->ndim, img->ndim == 4 ? " of another size" : "");
        return NULL;
    }
    int64_t B = img->shape[0];
    cf_tensor *x = img; /* [B, C, H, W] between stages, tokens [B, N, C] inside */
    for (int s = 0; s < c->stages && x; s++) {
        const cf_maf_stage *S = &m->st[s];
        cf_conv2d_opts o = {.stride = {2, 2}, .padding = {1, 1}};
        x = cf_conv2d(ctx, x, S->conv_w, S->conv_b, &o); /* [B, dim, H, W] */
        x = cf_reshape(ctx, cf_permute(ctx, x, (int[]){0, 2, 3, 1}), CF_SHAPE(B, S->H * S->W, S->dim));
        x = cf_norm_fwd(ctx, &S->ln, x);
        for (int64_t i = 0; i < S->depth && x; i++)
            x = S->global ? cf_block_fwd(ctx, &S->blocks[i], x, NULL, NULL, NULL, NULL)
                          : cf_maf_block_fwd(ctx, &S->maf[i], c->variant, x, c->drop_path);
        if (s + 1 < c->stages) /* back to [B, C, H, W] for the merge */
            x = cf_permute(ctx, cf_reshape(ctx, x, CF_SHAPE(B, S->H, S->W, S->dim)), (int[]){0, 3, 1, 2});
    }
    x = cf_mean(ctx, cf_norm_fwd(ctx, &m->head_ln, x), 1, (int[]){1}, false);
    return cf_linear_fwd(ctx, &m->head, x);
}

void cf_maformer_free(cf_maformer *m)
{
    for (int s = 0; s < CF_MAF_MAX_STAGES; s++) {
        cf_maf_stage *S = &m->st[s];
        if (S->maf)
            for (int64_t i = 0; i < S->depth; i++) cf_maf_block_free(&S->maf[i]);
        free(S->maf);
        free(S->blocks);
        S->maf = NULL, S->blocks = NULL;
    }
}
