/* `model.type: memoryformer` (model.h): the recipe keys, the parameters, the forward and the loss. */
#include "recipes/memoryformer/model.h"

#include "recipes/run/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_status read_config(cf_recipe *r, cf_mf_model *m, const cf_data_info *info)
{
    m->vocab = cf_recipe_int_in(r, "model.vocab", 256, 1, CF_MAX_VOCAB);
    m->seq = cf_recipe_int_in(r, "model.seq", 256, 1, CF_MAX_SEQ);
    m->dim = cf_recipe_int_in(r, "model.dim", 128, 1, CF_MAX_DIM);
    m->layers = cf_recipe_int_in(r, "model.layers", 4, 1, CF_MAX_LAYERS);
    m->heads = cf_recipe_int_in(r, "model.heads", 4, 1, CF_MAX_DIM);
    m->hidden = cf_recipe_int_in(r, "model.hidden", 4 * m->dim, 1, CF_MAX_HIDDEN);
    const char *block = cf_recipe_str(r, "model.block", "memory");
    cf_memoryformer_config *c = &m->mcfg;
    c->dim = m->dim, c->heads = m->heads;
    c->tau = cf_recipe_int_in(r, "model.tau", 8, 1, CF_MEMLAYER_MAX_TAU);
    c->extra_bits = cf_recipe_int_in(r, "model.extra_bits", 2, 0, CF_MEMLAYER_MAX_TAU);
    const char *weight = cf_recipe_str(r, "model.weight", "code");
    c->temperature = cf_recipe_float_in(r, "model.temperature", 1.0, 0, 1e6, CF_RANGE_OPEN_LO);
    c->rotary_pct = cf_recipe_float_in(r, "model.rotary_pct", 0.25, 0, 1, CF_RANGE_CLOSED);
    c->rope_base = cf_recipe_float_in(r, "model.rope_base", 10000, 1, 1e9, CF_RANGE_CLOSED);
    c->eps = cf_recipe_float_in(r, "model.eps", 1e-5, 0, 1, CF_RANGE_OPEN_LO);
    c->std = cf_recipe_float_in(r, "model.table_std", 0, 0, 10, CF_RANGE_CLOSED); /* 0: sqrt(2 / (5 dim)) */
    m->eval_windows = cf_recipe_int_in(r, "eval.windows", 0, 0, CF_MAX_COUNT);
    CF_TRY(cf_recipe_status(r));
    if (strcmp(block, "memory") != 0 && strcmp(block, "dense") != 0)
        return cf_recipe_fail(r, "model.block", CF_ERR_ARG, "unknown value '%s' (choose from memory, dense)", block);
    m->memory = strcmp(block, "memory") == 0;
    if (!cf_memweight_parse(weight, &c->weight))
        return cf_recipe_fail(r, "model.weight", CF_ERR_ARG, "unknown value '%s' (choose from code, paper)", weight);
    if (m->dim % m->heads)
        return cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%lld does not divide model.dim (%lld)",
                              (long long)m->heads, (long long)m->dim);
    if (m->memory && m->dim % c->tau)
        return cf_recipe_fail(r, "model.tau", CF_ERR_ARG, "%lld does not divide model.dim (%lld): the Memory Layer "
                              "hashes dim / tau chunks of tau bits", (long long)c->tau, (long long)m->dim);
    if (m->memory && c->tau + c->extra_bits > CF_MEMLAYER_MAX_TAU)
        return cf_recipe_fail(r, "model.extra_bits", CF_ERR_ARG, "tau + extra_bits = %lld is over %d",
                              (long long)(c->tau + c->extra_bits), CF_MEMLAYER_MAX_TAU);
    if (info->vocab > m->vocab)
        return cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "%lld is smaller than the data's vocabulary of %lld tokens",
                              (long long)m->vocab, (long long)info->vocab);
    if (info->seq > 0 && info->seq > m->seq)
        return cf_recipe_fail(r, "model.seq", CF_ERR_ARG, "%lld is shorter than the data's rows of %lld tokens",
                              (long long)m->seq, (long long)info->seq);
    return CF_OK;
}

static cf_status build(cf_mf_model *m, cf_params *ps)
{
    const double std = 0.02;
    CF_TRY(cf_embedding_init(&m->emb, ps, "embed", m->vocab, m->dim, std));
    if (m->memory)
        m->blocks = calloc((size_t)m->layers, sizeof *m->blocks);
    else
        m->dense = calloc((size_t)m->layers, sizeof *m->dense);
    if (!m->blocks && !m->dense) return cf_set_error(CF_ERR_OOM, "memoryformer: out of memory");
    cf_block_config bc = {.dim = m->dim, .heads = m->heads, .hidden = m->hidden, .mlp = CF_MLP_GELU,
                          .norm = CF_NORM_RMS, .prenorm = true, .mask = CF_ATTN_CAUSAL, .rope = true,
                          .rope_base = m->mcfg.rope_base, .eps = m->mcfg.eps, .std = std,
                          .out_std = std / sqrt(2.0 * (double)m->layers)};
    for (int64_t l = 0; l < m->layers; l++) {
        char name[32];
        snprintf(name, sizeof name, "blocks.%lld", (long long)l);
        CF_TRY(m->memory ? cf_memoryformer_block_init(&m->blocks[l], ps, name, &m->mcfg)
                         : cf_block_init(&m->dense[l], ps, name, &bc));
    }
    CF_TRY(cf_norm_init(&m->norm_f, ps, "norm_f", CF_NORM_RMS, m->dim, false, m->mcfg.eps));
    return cf_linear_init(&m->head, ps, "head", m->dim, m->vocab, false, std);
}

static void free_model(cf_model *mb)
{
    cf_mf_model *m = (cf_mf_model *)mb;
    free(m->blocks);
    free(m->dense);
    cf_memory_usage_free(&m->usage);
    free(m);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    cf_mf_model *m = calloc(1, sizeof *m);
    if (!m) return cf_set_error(CF_ERR_OOM, "memoryformer: out of memory"), NULL;
    m->base.vt = &cf_memoryformer_model;
    if (read_config(r, m, info) == CF_OK && build(m, ps) == CF_OK) return &m->base;
    free_model(&m->base);
    return NULL;
}

cf_tensor *cf_mf_logits(cf_ctx *ctx, const cf_mf_model *m, cf_tensor *tokens, cf_memory_usage *usage)
{
    cf_tensor *x = cf_embedding_fwd(ctx, &m->emb, tokens);
    for (int64_t l = 0; l < m->layers && x; l++)
        x = m->memory ? cf_memoryformer_block_fwd(ctx, &m->blocks[l], x, usage, 3 * l)
                      : cf_block_fwd(ctx, &m->dense[l], x, NULL, NULL, NULL, NULL);
    return cf_linear_fwd(ctx, &m->head, cf_norm_fwd(ctx, &m->norm_f, x));
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    (void)out;
    cf_mf_model *m = (cf_mf_model *)mb;
    cf_tensor *logits = cf_mf_logits(ctx, m, cf_batch_get(b, "tokens"), NULL);
    return cf_cross_entropy_last(ctx, logits, cf_batch_get(b, "targets"), NULL);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "tokens");
    return t ? cf_numel(t) : 0;
}

double cf_mf_flops_nonattn(const cf_mf_model *m)
{
    double per = m->memory ? cf_memoryformer_block_flops(&m->mcfg) : cf_dense_block_flops(m->dim, m->hidden);
    return (double)m->layers * per;
}

double cf_mf_flops_attn(const cf_mf_model *m, int64_t T)
{
    /* q k^T and p v over the causal half of the T x T scores: 2 * 2 * (T / 2) * dim per token */
    return (double)m->layers * 2.0 * (double)T * (double)m->dim;
}

/* Training FLOPs per token: three times the forward (blocks, attention, LM head). */
static double flops(cf_model *mb)
{
    cf_mf_model *m = (cf_mf_model *)mb;
    double head = 2.0 * (double)m->dim * (double)m->vocab;
    return 3.0 * (cf_mf_flops_nonattn(m) + cf_mf_flops_attn(m, m->seq) + head);
}

const cf_model_vtable cf_memoryformer_model = {
    .name = "memoryformer",
    .summary = "MemoryFormer decoder LM: hash-table Memory Layers instead of fully-connected layers (or dense blocks)",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = cf_mf_evaluate,
    .write_eval = cf_mf_write_eval,
    .free = free_model,
};
