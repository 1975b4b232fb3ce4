/* Transformer blocks: pre-LN or post-LN, encoder (self-attention + MLP) or decoder (causal
 * self-attention + cross-attention + MLP), with residual dropout. Residual adds followed by a norm run as
 * the fused add + norm op (cf_add_norm_fwd). With the context's recompute mode
 * (train.recompute) the attention sub-blocks, or whole blocks, are recomputed segments (autograd/recompute.h). */
#include "autograd/cf_node.h"
#include "layers/nn.h"

#include <stdlib.h>
#include <string.h>

cf_status cf_block_init(cf_block *b, cf_params *ps, const char *name, const cf_block_config *cfg)
{
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    cf_params_push(ps, "%s", name);
    b->stream = cf_name_hash(ps->scope);
    cf_attention_config ac = {.dim = cfg->dim, .heads = cfg->heads, .kv_heads = cfg->kv_heads, .bias = cfg->bias,
                              .mask = cfg->mask, .window = cfg->window, .block = cfg->block, .rope = cfg->rope,
                              .rope_base = cfg->rope_base, .dropout = cfg->dropout, .std = cfg->std,
                              .out_std = cfg->out_std};
    cf_status st = cf_norm_init(&b->ln1, ps, "ln1", cfg->norm, cfg->dim, cfg->bias, cfg->eps);
    if (st == CF_OK) st = cf_attention_init(&b->attn, ps, "attn", &ac);
    if (st == CF_OK && cfg->cross) {
        cf_attention_config xc = ac;
        xc.cross = true, xc.rope = false, xc.mask = CF_ATTN_FULL;
        st = cf_norm_init(&b->ln3, ps, "ln_cross", cfg->norm, cfg->dim, cfg->bias, cfg->eps);
        if (st == CF_OK) st = cf_attention_init(&b->cross, ps, "cross", &xc);
    }
    if (st == CF_OK) st = cf_norm_init(&b->ln2, ps, "ln2", cfg->norm, cfg->dim, cfg->bias, cfg->eps);
    if (st == CF_OK)
        st = cf_mlp_init(&b->mlp, ps, "mlp", cfg->mlp, cfg->dim, cfg->hidden, cfg->bias, cfg->std, cfg->out_std);
    cf_params_pop(ps);
    return st;
}

static cf_tensor *dropped(cf_ctx *ctx, const cf_block *b, cf_tensor *fx, uint64_t site)
{
    return b->cfg.dropout > 0 ? cf_dropout(ctx, fx, b->cfg.dropout, b->stream + site) : fx;
}

static cf_tensor *residual(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *fx, uint64_t site)
{
    return cf_add_into(ctx, dropped(ctx, b, fx, site), x); /* fx is the sub-block's own output, read by no backward */
}

/* The sub-blocks, each from one residual stream to the next: self-attention, cross-attention, MLP. Post-norm's
 * norm(x + f(x)) is one fused op (cf_add_norm_fwd); pre-norm's residual add is fused with the next sub-block's
 * norm where both lie in one piece of tape (prenorm_block), and stands alone at a recomputed segment's end. */
static cf_tensor *attn_sub(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *padding, cf_kv_cache *cache)
{
    if (b->cfg.prenorm)
        return residual(ctx, b, x, cf_attention_fwd(ctx, &b->attn, cf_norm_fwd(ctx, &b->ln1, x), NULL, padding, NULL, cache), 1);
    return cf_add_norm_fwd(ctx, &b->ln1, x, dropped(ctx, b, cf_attention_fwd(ctx, &b->attn, x, NULL, padding, NULL, cache), 1), NULL);
}

static cf_tensor *cross_sub(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *mem, cf_tensor *mem_padding)
{
    if (b->cfg.prenorm)
        return residual(ctx, b, x, cf_attention_fwd(ctx, &b->cross, cf_norm_fwd(ctx, &b->ln3, x), mem, mem_padding, NULL, NULL), 2);
    return cf_add_norm_fwd(ctx, &b->ln3, x,
                           dropped(ctx, b, cf_attention_fwd(ctx, &b->cross, x, mem, mem_padding, NULL, NULL), 2), NULL);
}

static cf_tensor *mlp_sub(cf_ctx *ctx, const cf_block *b, cf_tensor *x)
{
    if (b->cfg.prenorm) return residual(ctx, b, x, cf_mlp_fwd(ctx, &b->mlp, cf_norm_fwd(ctx, &b->ln2, x)), 3);
    return cf_add_norm_fwd(ctx, &b->ln2, x, dropped(ctx, b, cf_mlp_fwd(ctx, &b->mlp, x), 3), NULL);
}

/* A whole pre-norm block on one piece of tape: each sub-block's residual add fused with the next one's norm
 * (x + attn -> ln_cross or ln2, x + cross -> ln2); the MLP's residual ends the block. The same values, dropout
 * sites and parameters as attn_sub, cross_sub, mlp_sub in turn. */
static cf_tensor *prenorm_block(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *padding, cf_tensor *mem,
                                cf_tensor *mem_padding, cf_kv_cache *cache)
{
    cf_tensor *h = cf_attention_fwd(ctx, &b->attn, cf_norm_fwd(ctx, &b->ln1, x), NULL, padding, NULL, cache);
    uint64_t site = 1;
    if (b->cfg.cross) {
        cf_tensor *q = cf_add_norm_fwd(ctx, &b->ln3, x, dropped(ctx, b, h, site), &x);
        h = cf_attention_fwd(ctx, &b->cross, q, mem, mem_padding, NULL, NULL);
        site = 2;
    }
    cf_tensor *m = cf_add_norm_fwd(ctx, &b->ln2, x, dropped(ctx, b, h, site), &x);
    return residual(ctx, b, x, cf_mlp_fwd(ctx, &b->mlp, m), 3);
}

/* A recomputed segment's arguments besides its inputs (x, and mem for cross-attention): in the step arena. */
typedef struct segment_args {
    const cf_block *b;
    cf_tensor *self_padding, *mem_padding;
} segment_args;

static cf_tensor *attn_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    const segment_args *s = user;
    return attn_sub(ctx, s->b, in[0], s->self_padding, NULL);
}

static cf_tensor *cross_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    const segment_args *s = user;
    return cross_sub(ctx, s->b, in[0], in[1], s->mem_padding);
}

static cf_tensor *mlp_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    const segment_args *s = user;
    return mlp_sub(ctx, s->b, in[0]);
}

/* A whole block. Its recomputation in backward runs the sub-blocks as segments of their own, so backward holds
 * the activations of one sub-block at a time (the MLP's hidden layer, not the whole block's). */
static cf_tensor *block_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    const segment_args *s = user;
    cf_tensor *x = cf_recompute(ctx, attn_segment, user, 1, in);
    if (s->b->cfg.cross) {
        cf_tensor *xm[2] = {x, n > 1 ? in[1] : NULL};
        x = cf_recompute(ctx, cross_segment, user, 2, xm);
    }
    return cf_recompute(ctx, mlp_segment, user, 1, &x);
}

cf_tensor *cf_block_fwd(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *self_padding, cf_tensor *mem,
                        cf_tensor *mem_padding, cf_kv_cache *cache)
{
    cf_recompute_mode mode = cf_recompute_mode_of(ctx);
    if (mode == CF_RECOMPUTE_NONE || !cf_grad_enabled(ctx) || cache || !x) {
        if (b->cfg.prenorm) return prenorm_block(ctx, b, x, self_padding, mem, mem_padding, cache);
        x = attn_sub(ctx, b, x, self_padding, cache);
        if (b->cfg.cross) x = cross_sub(ctx, b, x, mem, mem_padding);
        return mlp_sub(ctx, b, x);
    }
    if (b->cfg.cross && !mem) {
        cf_set_error(CF_ERR_ARG, "block: a decoder block needs the memory sequence");
        return NULL;
    }
    segment_args *s = cf_scratch(ctx, sizeof *s);
    if (!s) return NULL;
    *s = (segment_args){b, self_padding, mem_padding};
    cf_tensor *in[2] = {x, mem};
    if (mode == CF_RECOMPUTE_BLOCK) return cf_recompute(ctx, block_segment, s, b->cfg.cross ? 2 : 1, in);
    x = cf_recompute(ctx, attn_segment, s, 1, in); /* CF_RECOMPUTE_ATTENTION: the attention sub-blocks */
    if (b->cfg.cross) {
        in[0] = x;
        x = cf_recompute(ctx, cross_segment, s, 2, in);
    }
    return mlp_sub(ctx, b, x);
}

cf_status cf_block_stack_init(cf_block **blocks, cf_params *ps, const char *prefix, int64_t n,
                              const cf_block_config *bc)
{
    *blocks = NULL;
    if (n == 0) return CF_OK;
    if (!(*blocks = calloc((size_t)n, sizeof **blocks))) return cf_set_error(CF_ERR_OOM, "%s: out of memory", prefix);
    for (int64_t l = 0; l < n; l++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%lld", prefix, (long long)l);
        CF_TRY(cf_block_init(&(*blocks)[l], ps, name, bc));
    }
    return CF_OK;
}
