/* `model.type: gpt`: the GPT-style decoder LM from a recipe. Batches hold "tokens" and "targets" i64
 * [B, T]; the loss is the mean next-token cross-entropy. */
#include "layers/gpt.h"
#include "recipes/run/limits.h"
#include "recipes/run/lm_eval.h"
#include "recipes/run/model.h"
#include "recipes/gpt/model.h"
#include "recipes/run/lm_generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_gpt gpt;
} gpt_model;

static bool parse_enum(cf_recipe *r, const char *key, const char *dflt, bool (*parse)(const char *, void *), void *out,
                       const char *choices)
{
    const char *s = cf_recipe_str(r, key, dflt);
    if (s && !parse(s, out)) {
        cf_recipe_fail(r, key, CF_ERR_ARG, "unknown value '%s' (choose from %s)", s, choices);
        return false;
    }
    return true;
}

#define PARSER(fn, T) \
    static bool fn##_any(const char *s, void *out) { return fn(s, (T *)out); }
PARSER(cf_pos_kind_parse, cf_pos_kind)
PARSER(cf_norm_kind_parse, cf_norm_kind)
PARSER(cf_mlp_kind_parse, cf_mlp_kind)

cf_status cf_gpt_config_from_recipe(cf_recipe *r, cf_gpt_config *c)
{
    *c = cf_gpt_defaults();
    c->vocab = cf_recipe_int_in(r, "model.vocab", c->vocab, 1, CF_MAX_VOCAB);
    c->seq = cf_recipe_int_in(r, "model.seq", c->seq, 1, CF_MAX_SEQ);
    c->dim = cf_recipe_int_in(r, "model.dim", c->dim, 1, CF_MAX_DIM);
    c->layers = cf_recipe_int_in(r, "model.layers", c->layers, 1, CF_MAX_LAYERS);
    c->heads = cf_recipe_int_in(r, "model.heads", c->heads, 1, CF_MAX_DIM);
    c->kv_heads = cf_recipe_int_in(r, "model.kv_heads", 0, 0, CF_MAX_DIM); /* 0: as many as model.heads */
    c->hidden = cf_recipe_int_in(r, "model.hidden", 4 * c->dim, 1, CF_MAX_HIDDEN);
    parse_enum(r, "model.pos", "learned", cf_pos_kind_parse_any, &c->pos, "learned, sinusoidal, rope, none");
    parse_enum(r, "model.norm", "layer", cf_norm_kind_parse_any, &c->norm, "layer, rms");
    parse_enum(r, "model.mlp", "gelu", cf_mlp_kind_parse_any, &c->mlp, "gelu, gelu_tanh, relu, swiglu");
    c->prenorm = cf_recipe_bool(r, "model.prenorm", true);
    c->bias = cf_recipe_bool(r, "model.bias", true);
    c->tie = cf_recipe_bool(r, "model.tie", false);
    c->dropout = cf_recipe_float_in(r, "model.dropout", 0.0, 0, 1, CF_RANGE_OPEN_HI);
    c->init_std = cf_recipe_float_in(r, "model.init_std", 0.02, 0, INFINITY, CF_RANGE_OPEN_HI);
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    if (c->dim % c->heads)
        return cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%lld does not divide model.dim (%lld)", (long long)c->heads,
                              (long long)c->dim);
    if (c->kv_heads && c->heads % c->kv_heads)
        return cf_recipe_fail(r, "model.kv_heads", CF_ERR_ARG, "%lld does not divide model.heads (%lld)",
                              (long long)c->kv_heads, (long long)c->heads);
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    gpt_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "gpt: out of memory");
        return NULL;
    }
    m->base.vt = &cf_gpt_model;
    cf_gpt_config c;
    cf_status st = cf_gpt_config_from_recipe(r, &c);
    if (st == CF_OK && info->vocab > c.vocab)
        st = cf_recipe_fail(r, "model.vocab", CF_ERR_ARG, "%lld is smaller than the data's vocabulary of %lld tokens",
                            (long long)c.vocab, (long long)info->vocab);
    if (st == CF_OK && info->seq > 0 && info->seq > c.seq)
        st = cf_recipe_fail(r, "model.seq", CF_ERR_ARG, "%lld is shorter than the data's rows of %lld tokens",
                            (long long)c.seq, (long long)info->seq);
    if (st != CF_OK || cf_gpt_init(&m->gpt, ps, &c) != CF_OK) {
        cf_gpt_free(&m->gpt);
        free(m);
        return NULL;
    }
    return &m->base;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    (void)out;
    gpt_model *m = (gpt_model *)mb;
    return cf_gpt_loss(ctx, &m->gpt, cf_batch_get(b, "tokens"), cf_batch_get(b, "targets"));
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    return cf_lm_items(b);
}

static double flops(cf_model *mb)
{
    gpt_model *m = (gpt_model *)mb;
    return cf_gpt_flops_per_token(&m->gpt, m->gpt.cfg.seq);
}

static cf_tensor *logits_of(cf_ctx *ctx, void *net, cf_tensor *tokens) { return cf_gpt_logits(ctx, net, tokens, NULL); }

/* Mean next-token cross-entropy over every window of the split (for text: contiguous, non-overlapping
 * windows covering the split) and its perplexity (cf_lm_score_split: independent of eval.batch_size). */
static cf_status evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    return cf_lm_evaluate(ctx, in, logits_of, &((gpt_model *)mb)->gpt, false, out);
}

static void free_model(cf_model *mb)
{
    gpt_model *m = (gpt_model *)mb;
    cf_gpt_free(&m->gpt);
    free(m);
}

static int generate(cf_run *run, int argc, char **argv)
{
    cf_lm lm = cf_gpt_lm(cf_gpt_of(run->model));
    return cf_lm_generate_cmd(run, &lm, argc, argv);
}

cf_gpt *cf_gpt_of(cf_model *m) { return m && m->vt == &cf_gpt_model ? &((gpt_model *)m)->gpt : NULL; }

const cf_model_vtable cf_gpt_model = {
    .name = "gpt",
    .summary = "GPT-style decoder-only language model (tokens -> next-token cross-entropy)",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = evaluate,
    .free = free_model,
    .generate = generate,
    .generate_usage = CF_LM_GENERATE_USAGE,
};
