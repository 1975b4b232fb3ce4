/* `model.type: llama` (recipes/llama/model.h): batches hold "tokens" and "targets" i64 [B, T]; the loss is
 * the mean next-token cross-entropy; the evaluation scores every window of a split. */
#include "recipes/llama/model.h"
#include "recipes/run/limits.h"
#include "recipes/run/lm_eval.h"
#include "recipes/run/lm_generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_llama net;
    int64_t seq;
} llama_model;

cf_status cf_llama_config_from_recipe(cf_recipe *r, cf_llama_config *c)
{
    *c = cf_llama_defaults();
    c->vocab = cf_recipe_int_in(r, "model.vocab", c->vocab, 1, CF_MAX_VOCAB);
    c->dim = cf_recipe_int_in(r, "model.dim", c->dim, 1, CF_MAX_DIM);
    c->layers = cf_recipe_int_in(r, "model.layers", c->layers, 1, CF_MAX_LAYERS);
    c->heads = cf_recipe_int_in(r, "model.heads", c->heads, 1, CF_MAX_DIM);
    c->kv_heads = cf_recipe_int_in(r, "model.kv_heads", 0, 0, CF_MAX_DIM);
    c->head_dim = cf_recipe_int_in(r, "model.head_dim", 0, 0, CF_MAX_DIM);
    c->hidden = cf_recipe_int_in(r, "model.hidden", c->hidden, 1, CF_MAX_HIDDEN);
    c->max_seq = cf_recipe_int_in(r, "model.max_pos", c->max_seq, 1, CF_MAX_SEQ);
    c->sliding_window = cf_recipe_int_in(r, "model.sliding_window", 0, 0, CF_MAX_SEQ);
    c->norm_eps = cf_recipe_float_in(r, "model.norm_eps", c->norm_eps, 0, 1, CF_RANGE_OPEN_LO);
    c->rope_theta = cf_recipe_float_in(r, "model.rope_theta", c->rope_theta, 1, 1e12, CF_RANGE_OPEN_LO);
    const char *kind = cf_recipe_str(r, "model.rope_scaling.type", "none");
    if (kind && !cf_rope_scaling_parse(kind, &c->rope_scaling.kind))
        cf_recipe_fail(r, "model.rope_scaling.type", CF_ERR_ARG, "unknown rope scaling '%s' (choose from none, linear, llama3)", kind);
    c->rope_scaling.factor = cf_recipe_float_in(r, "model.rope_scaling.factor", 1, 0, 1e6, CF_RANGE_OPEN_LO);
    c->rope_scaling.low_freq_factor = cf_recipe_float_in(r, "model.rope_scaling.low_freq_factor", 1, 0, 1e6, CF_RANGE_OPEN_LO);
    c->rope_scaling.high_freq_factor = cf_recipe_float_in(r, "model.rope_scaling.high_freq_factor", 4, 0, 1e6, CF_RANGE_OPEN_LO);
    c->rope_scaling.original_max_pos = cf_recipe_int_in(r, "model.rope_scaling.original_max_pos", 8192, 1, CF_MAX_SEQ);
    c->tie = cf_recipe_bool(r, "model.tie", false);
    c->init_std = cf_recipe_float_in(r, "model.init_std", c->init_std, 0, INFINITY, CF_RANGE_OPEN_HI);
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    cf_llama_config probe = *c;
    char why[512];
    if (cf_llama_config_check(&probe) != CF_OK) {
        snprintf(why, sizeof why, "%s", cf_last_error());
        return cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%s", why);
    }
    double f[1];
    if (c->rope_scaling.kind == CF_ROPE_SCALE_LLAMA3 && !(c->rope_scaling.high_freq_factor > c->rope_scaling.low_freq_factor))
        return cf_recipe_fail(r, "model.rope_scaling.high_freq_factor", CF_ERR_ARG, "%g must exceed low_freq_factor %g",
                              c->rope_scaling.high_freq_factor, c->rope_scaling.low_freq_factor);
    if (cf_rope_inv_freq(c->rope_theta, 2, &c->rope_scaling, f) != CF_OK) {
        snprintf(why, sizeof why, "%s", cf_last_error());
        return cf_recipe_fail(r, "model.rope_scaling.type", CF_ERR_ARG, "%s", why);
    }
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    llama_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "llama: out of memory");
        return NULL;
    }
    m->base.vt = &cf_llama_model;
    cf_llama_config c;
    cf_status st = cf_llama_config_from_recipe(r, &c);
    m->seq = cf_recipe_int_in(r, "model.seq", 128, 1, CF_MAX_SEQ); /* the data's rows (data.seq's default) */
    if (st == CF_OK && info->vocab > c.vocab)
        st = cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "%lld is smaller than the data's vocabulary of %lld tokens",
                            (long long)c.vocab, (long long)info->vocab);
    if (st == CF_OK && info->seq > c.max_seq)
        st = cf_recipe_fail(r, "model.max_pos", CF_ERR_ARG, "%lld positions, but the data's rows hold %lld tokens",
                            (long long)c.max_seq, (long long)info->seq);
    if (st == CF_OK) st = cf_recipe_status(r);
    if (st != CF_OK || cf_llama_init(&m->net, ps, &c) != CF_OK) {
        free(m);
        return NULL;
    }
    return &m->base;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    (void)out;
    llama_model *m = (llama_model *)mb;
    cf_tensor *logits = cf_llama_logits(ctx, &m->net, cf_batch_get(b, "tokens"), NULL);
    return cf_cross_entropy_last(ctx, logits, cf_batch_get(b, "targets"), NULL);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    return cf_lm_items(b);
}

static double flops(cf_model *mb)
{
    llama_model *m = (llama_model *)mb;
    return cf_llama_flops_per_token(&m->net, m->seq);
}

static cf_tensor *logits_of(cf_ctx *ctx, void *net, cf_tensor *tokens) { return cf_llama_logits(ctx, net, tokens, NULL); }

/* Next-token cross-entropy, perplexity and top-1 accuracy over every window of the split. */
static cf_status evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    return cf_lm_evaluate(ctx, in, logits_of, &((llama_model *)mb)->net, true, out);
}

static void free_model(cf_model *mb)
{
    llama_model *m = (llama_model *)mb;
    cf_llama_free(&m->net);
    free(m);
}

cf_llama *cf_llama_of(cf_model *m) { return m && m->vt == &cf_llama_model ? &((llama_model *)m)->net : NULL; }

static int generate(cf_run *run, int argc, char **argv)
{
    cf_lm lm = cf_llama_lm(cf_llama_of(run->model));
    return cf_lm_generate_cmd(run, &lm, argc, argv);
}

const cf_model_vtable cf_llama_model = {
    .name = "llama",
    .summary = "Llama / Mistral decoder (RMSNorm, SwiGLU, scaled RoPE, GQA, sliding window); imports Hugging Face weights",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = evaluate,
    .free = free_model,
    .generate = generate,
    .generate_usage = CF_LM_GENERATE_USAGE,
};
