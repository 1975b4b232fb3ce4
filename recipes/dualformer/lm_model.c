/* `model.type: dualformer_lm` (lm.h): the GPT model of recipes/gpt with the generation-based evaluation of
 * lm_eval.c and its eval.* keys. */
#include "recipes/dualformer/lm.h"

#include "recipes/gpt/model.h"
#include "recipes/run/limits.h"

typedef struct {
    cf_gpt_wrap w;
    cf_dualformer_lm_eval eval;
} lm_model;

static cf_status read_eval(cf_recipe *r, const cf_data_info *info, cf_gpt_wrap *w)
{
    (void)info;
    cf_dualformer_lm_eval *e = &((lm_model *)w)->eval;
    e->problems = cf_recipe_int_in(r, "eval.problems", 100, 1, CF_MAX_COUNT);
    e->samples = cf_recipe_int_in(r, "eval.samples", 8, 0, 1024);
    e->temperature = cf_recipe_float_in(r, "eval.temperature", 0.5, 0, 100, CF_RANGE_CLOSED);
    e->top_p = cf_recipe_float_in(r, "eval.top_p", 0.95, 0, 1, CF_RANGE_OPEN_LO);
    e->max_new = cf_recipe_int_in(r, "eval.max_new", 256, 1, CF_MAX_SEQ);
    e->seed = cf_recipe_int_in(r, "eval.seed", 0, 0, CF_MAX_SEED);
    return cf_recipe_status(r);
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    return cf_gpt_wrap_create(r, ps, info, sizeof(lm_model), &cf_dualformer_lm_model, read_eval);
}

static cf_status evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    return cf_dualformer_lm_evaluate(ctx, cf_gpt_wrap_gpt(m), &((lm_model *)m)->eval, in->split, out);
}

const cf_model_vtable cf_dualformer_lm_model = {
    .name = "dualformer_lm",
    .summary = "decoder LM on randomized reasoning traces, scored by greedy accuracy, Pass@k and response length",
    .create = create,
    .loss = cf_gpt_wrap_loss,
    .items = cf_gpt_wrap_items,
    .flops_per_item = cf_gpt_wrap_flops,
    .evaluate = evaluate,
    .free = cf_gpt_wrap_free,
};
