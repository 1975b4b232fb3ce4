/* AlgoFormer's pre / looped / post transformer (Gao et al., 2024, Section 3) with input injection and the
 * loop window of Yang et al. (ICLR 2024, Section 4); the contract is in layers/algoformer.h. */
#include "layers/algoformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_algoformer_config cf_algoformer_defaults(void)
{
    return (cf_algoformer_config){.input_dim = 5, .dim = 64, .heads = 4, .hidden = 256, .pre = 1, .loop = 1,
                                  .post = 1, .loops = 8, .window = 4, .inject = true, .positions = 41,
                                  .init_std = 0.02};
}

static bool has_loop(const cf_algoformer_config *c) { return c->loop > 0 && c->loops > 0; }

static cf_status check_config(const cf_algoformer_config *c)
{
    if (c->input_dim < 1 || c->dim < 1 || c->heads < 1 || c->hidden < 1 || c->positions < 1)
        return cf_set_error(CF_ERR_ARG, "algoformer: input_dim, dim, heads, hidden and positions must be >= 1");
    if (c->dim % c->heads)
        return cf_set_error(CF_ERR_ARG, "algoformer: dim %lld is not divisible by heads %lld", (long long)c->dim,
                            (long long)c->heads);
    if (c->pre < 0 || c->loop < 0 || c->post < 0 || c->loops < 0)
        return cf_set_error(CF_ERR_ARG, "algoformer: pre, loop, post and loops must be >= 0");
    if (has_loop(c) && (c->window < 1 || c->window > c->loops))
        return cf_set_error(CF_ERR_ARG, "algoformer: window %lld must lie in [1, loops = %lld]", (long long)c->window,
                            (long long)c->loops);
    if (has_loop(c) && c->window < c->loops && !c->inject)
        return cf_set_error(CF_ERR_ARG, "algoformer: window %lld < loops %lld without input injection: H_0 = E is "
                            "cut from the tape, so ReadIn and the pre-transformer would get no gradient (turn "
                            "inject on or set window = loops)", (long long)c->window, (long long)c->loops);
    return CF_OK;
}

cf_status cf_algoformer_init(cf_algoformer *m, cf_params *ps, const cf_algoformer_config *cfg)
{
    memset(m, 0, sizeof *m);
    CF_TRY(check_config(cfg));
    m->cfg = *cfg;
    double std = cfg->init_std > 0 ? cfg->init_std : 0.02;
    /* GPT-2's residual scaling by the blocks one input passes through (the loop counted T times) */
    int64_t depth = cfg->pre + cfg->post + (has_loop(cfg) ? cfg->loop * cfg->loops : 0);
    double out_std = std / sqrt(2.0 * (double)(depth > 0 ? depth : 1));
    cf_block_config bc = {.dim = cfg->dim, .heads = cfg->heads, .hidden = cfg->hidden, .mlp = CF_MLP_GELU,
                          .norm = CF_NORM_LAYER, .prenorm = true, .bias = true, .mask = CF_ATTN_CAUSAL,
                          .eps = 1e-5, .std = std, .out_std = out_std};
    CF_TRY(cf_linear_init(&m->read_in, ps, "read_in", cfg->input_dim, cfg->dim, true, std));
    CF_TRY(cf_embedding_init(&m->wpe, ps, "wpe", cfg->positions, cfg->dim, std));
    cf_status st = cf_block_stack_init(&m->pre, ps, "pre", cfg->pre, &bc);
    if (st == CF_OK) st = cf_block_stack_init(&m->loop, ps, "loop", cfg->loop, &bc);
    if (st == CF_OK) st = cf_block_stack_init(&m->post, ps, "post", cfg->post, &bc);
    if (st == CF_OK) st = cf_norm_init(&m->ln_f, ps, "ln_f", CF_NORM_LAYER, cfg->dim, true, 1e-5);
    if (st == CF_OK) st = cf_linear_init(&m->read_out, ps, "read_out", cfg->dim, 1, true, std);
    if (st != CF_OK) cf_algoformer_free(m);
    return st;
}

void cf_algoformer_free(cf_algoformer *m)
{
    free(m->pre);
    free(m->loop);
    free(m->post);
    m->pre = m->loop = m->post = NULL;
}

static cf_tensor *run_stack(cf_ctx *ctx, const cf_block *blocks, int64_t n, cf_tensor *x)
{
    for (int64_t l = 0; l < n && x; l++) x = cf_block_fwd(ctx, &blocks[l], x, NULL, NULL, NULL, NULL);
    return x;
}

cf_tensor *cf_algoformer_embed(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *z)
{
    if (!z) return NULL;
    const cf_algoformer_config *c = &m->cfg;
    if (z->ndim != 3 || z->shape[2] != c->input_dim || z->shape[1] < 1 || z->shape[1] > c->positions) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "algoformer: tokens must be [batch, 1..%lld, %lld], got %s", (long long)c->positions,
                     (long long)c->input_dim, cf_shape_str(z, b, sizeof b));
        return NULL;
    }
    cf_tensor *x = cf_add(ctx, cf_linear_fwd(ctx, &m->read_in, z), cf_slice(ctx, m->wpe.weight, 0, 0, z->shape[1], 1));
    return run_stack(ctx, m->pre, c->pre, x);
}

cf_tensor *cf_algoformer_step(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *h, cf_tensor *e)
{
    return run_stack(ctx, m->loop, m->cfg.loop, m->cfg.inject ? cf_add(ctx, h, e) : h);
}

cf_tensor *cf_algoformer_head(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *h)
{
    cf_tensor *y = cf_linear_fwd(ctx, &m->read_out, cf_norm_fwd(ctx, &m->ln_f, run_stack(ctx, m->post, m->cfg.post, h)));
    return y ? cf_squeeze(ctx, y, 2) : NULL;
}

int cf_algoformer_iterates(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *e, int keep, cf_tensor **hs)
{
    const cf_algoformer_config *c = &m->cfg;
    if (!e) return -1;
    if (!has_loop(c)) {
        hs[0] = e;
        return 1;
    }
    int64_t T = c->loops, W = c->window;
    if (keep < 1 || keep > W) {
        cf_set_error(CF_ERR_ARG, "algoformer: keep %d outside [1, window = %lld]", keep, (long long)W);
        return -1;
    }
    cf_tensor *h = c->inject ? cf_zeros_like(ctx, e) : e;
    /* loops 1 .. T - W: nothing recorded, so neither the loop weights nor E get their gradients */
    bool prev = cf_set_grad_enabled(ctx, false);
    for (int64_t t = 1; t <= T - W && h; t++) h = cf_algoformer_step(ctx, m, h, e);
    cf_set_grad_enabled(ctx, prev);
    int n = 0;
    for (int64_t t = T - W + 1; t <= T && h; t++) {
        h = cf_algoformer_step(ctx, m, h, e);
        if (t > T - keep) hs[n++] = h;
    }
    return h ? n : -1;
}

int cf_algoformer_forward(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *z, int keep, cf_tensor **ys)
{
    int n = cf_algoformer_iterates(ctx, m, cf_algoformer_embed(ctx, m, z), keep, ys);
    for (int i = 0; i < n; i++)
        if (!(ys[i] = cf_algoformer_head(ctx, m, ys[i]))) return -1;
    return n;
}
