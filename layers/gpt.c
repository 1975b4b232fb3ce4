#include "layers/gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cf_pos_kind_parse(const char *s, cf_pos_kind *out)
{
    static const struct {
        const char *name;
        cf_pos_kind kind;
    } names[] = {{"learned", CF_POS_LEARNED}, {"sinusoidal", CF_POS_SINUSOIDAL}, {"rope", CF_POS_ROPE}, {"none", CF_POS_NONE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) return *out = names[i].kind, true;
    return false;
}

cf_gpt_config cf_gpt_defaults(void)
{
    return (cf_gpt_config){.vocab = 256, .seq = 128, .dim = 256, .layers = 4, .heads = 4, .hidden = 1024,
                           .pos = CF_POS_LEARNED, .norm = CF_NORM_LAYER, .mlp = CF_MLP_GELU, .prenorm = true,
                           .bias = true, .tie = false, .init_std = 0.02};
}

cf_status cf_gpt_init(cf_gpt *m, cf_params *ps, const cf_gpt_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    double std = cfg->init_std > 0 ? cfg->init_std : 0.02;
    /* GPT-2: residual projections scaled by 1/sqrt(2 L) so the residual stream's variance stays put */
    double out_std = std / sqrt(2.0 * (double)cfg->layers);
    CF_TRY(cf_embedding_init(&m->wte, ps, "wte", cfg->vocab, cfg->dim, std));
    if (cfg->pos == CF_POS_LEARNED) CF_TRY(cf_embedding_init(&m->wpe, ps, "wpe", cfg->seq, cfg->dim, std));
    m->blocks = calloc((size_t)cfg->layers, sizeof *m->blocks);
    if (!m->blocks) return cf_set_error(CF_ERR_OOM, "gpt: out of memory");
    cf_block_config bc = {.dim = cfg->dim, .heads = cfg->heads, .kv_heads = cfg->kv_heads, .hidden = cfg->hidden,
                          .mlp = cfg->mlp, .norm = cfg->norm, .prenorm = cfg->prenorm, .bias = cfg->bias,
                          .mask = CF_ATTN_CAUSAL, .rope = cfg->pos == CF_POS_ROPE, .rope_base = 10000.0,
                          .dropout = cfg->dropout, .eps = 1e-5, .std = std, .out_std = out_std};
    for (int64_t l = 0; l < cfg->layers; l++) {
        char name[32];
        snprintf(name, sizeof name, "blocks.%lld", (long long)l);
        CF_TRY(cf_block_init(&m->blocks[l], ps, name, &bc));
    }
    if (cfg->prenorm) CF_TRY(cf_norm_init(&m->ln_f, ps, "ln_f", cfg->norm, cfg->dim, cfg->bias, 1e-5));
    if (!cfg->tie) CF_TRY(cf_linear_init(&m->head, ps, "head", cfg->dim, cfg->vocab, false, std));
    return CF_OK;
}

void cf_gpt_free(cf_gpt *m)
{
    free(m->blocks);
    m->blocks = NULL;
}

cf_tensor *cf_gpt_logits(cf_ctx *ctx, const cf_gpt *m, cf_tensor *tokens, cf_kv_cache *caches)
{
    if (!tokens) return NULL;
    const cf_gpt_config *c = &m->cfg;
    if (tokens->ndim != 2) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "gpt: tokens must be [batch, time], got %s", cf_shape_str(tokens, b, sizeof b));
        return NULL;
    }
    int64_t T = tokens->shape[1], offset = caches ? cf_kv_cache_pos(&caches[0]) : 0;
    if (offset + T > c->seq && c->pos == CF_POS_LEARNED) {
        cf_set_error(CF_ERR_SHAPE, "gpt: positions up to %lld, but the model has %lld learned positions",
                     (long long)(offset + T), (long long)c->seq);
        return NULL;
    }
    cf_tensor *x = cf_embedding_fwd(ctx, &m->wte, tokens);
    if (c->pos == CF_POS_LEARNED) {
        cf_tensor *pos = cf_slice(ctx, m->wpe.weight, 0, offset, offset + T, 1);
        x = cf_add(ctx, x, pos);
    } else if (c->pos == CF_POS_SINUSOIDAL) {
        x = cf_add(ctx, x, cf_sinusoidal_positions(ctx, m->wte.weight->dtype, offset, T, c->dim));
    }
    if (c->dropout > 0) x = cf_dropout(ctx, x, c->dropout, 0x5eed);
    for (int64_t l = 0; l < c->layers; l++) x = cf_block_fwd(ctx, &m->blocks[l], x, NULL, NULL, NULL, caches ? &caches[l] : NULL);
    if (c->prenorm) x = cf_norm_fwd(ctx, &m->ln_f, x);
    return c->tie ? cf_linear(ctx, x, m->wte.weight, NULL) : cf_linear_fwd(ctx, &m->head, x);
}

static cf_tensor *lm_logits(cf_ctx *ctx, const void *net, cf_tensor *tokens, cf_kv_cache *caches)
{
    return cf_gpt_logits(ctx, net, tokens, caches);
}

cf_lm cf_gpt_lm(const cf_gpt *m)
{
    const cf_gpt_config *c = &m->cfg;
    return (cf_lm){.net = m, .logits = lm_logits, .vocab = c->vocab, .layers = c->layers,
                   .kv_heads = c->kv_heads ? c->kv_heads : c->heads, .head_dim = c->dim / c->heads,
                   .dtype = m->wte.weight->dtype, .context = c->pos == CF_POS_LEARNED ? c->seq : 0};
}

cf_tensor *cf_gpt_loss(cf_ctx *ctx, const cf_gpt *m, cf_tensor *tokens, cf_tensor *targets)
{
    return cf_cross_entropy_last(ctx, cf_gpt_logits(ctx, m, tokens, NULL), targets, NULL);
}

double cf_gpt_flops_per_token(const cf_gpt *m, int64_t seq)
{
    const cf_gpt_config *c = &m->cfg;
    double kv_dim = (double)c->dim * (double)(c->kv_heads ? c->kv_heads : c->heads) / (double)c->heads;
    double per_layer = (double)c->dim * (c->dim + 2 * kv_dim) + (double)c->dim * c->dim +
                       (c->mlp == CF_MLP_SWIGLU ? 3.0 : 2.0) * (double)c->dim * c->hidden;
    double n = per_layer * (double)c->layers + (double)c->dim * c->vocab; /* the head's matmul counts */
    return 6.0 * n + 6.0 * (double)c->layers * (double)seq * (double)c->dim;
}
