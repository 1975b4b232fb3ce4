/* `model.type: dualformer_lm` (lm.h): the GPT model of recipes/gpt with the generation-based evaluation of
 * lm_eval.c and its eval.* keys. */
#include "recipes/dualformer/lm.h"

#include "recipes/gpt/model.h"
#include "recipes/run/limits.h"

#include <stdlib.h>

typedef struct {
    cf_model base;
    cf_model *gpt;
    cf_dualformer_lm_eval eval;
} lm_model;

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    cf_model *gpt = cf_gpt_model.create(r, ps, info);
    lm_model *m = gpt ? calloc(1, sizeof *m) : NULL;
    if (gpt && !m) cf_set_error(CF_ERR_OOM, "dualformer_lm: out of memory");
    if (m) {
        cf_dualformer_lm_eval *e = &m->eval;
        e->problems = cf_recipe_int_in(r, "eval.problems", 100, 1, CF_MAX_COUNT);
        e->samples = cf_recipe_int_in(r, "eval.samples", 8, 0, 1024);
        e->temperature = cf_recipe_float_in(r, "eval.temperature", 0.5, 0, 100, CF_RANGE_CLOSED);
        e->top_p = cf_recipe_float_in(r, "eval.top_p", 0.95, 0, 1, CF_RANGE_OPEN_LO);
        e->max_new = cf_recipe_int_in(r, "eval.max_new", 256, 1, CF_MAX_SEQ);
        e->seed = cf_recipe_int_in(r, "eval.seed", 0, 0, CF_MAX_SEED);
        if (cf_recipe_status(r) == CF_OK) {
            m->base.vt = &cf_dualformer_lm_model, m->gpt = gpt;
            return &m->base;
        }
    }
    if (gpt) cf_gpt_model.free(gpt);
    free(m);
    return NULL;
}

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    return cf_gpt_model.loss(((lm_model *)mb)->gpt, ctx, b, out);
}

static int64_t items(cf_model *mb, const cf_batch *b) { return cf_gpt_model.items(((lm_model *)mb)->gpt, b); }

static double flops(cf_model *mb) { return cf_gpt_model.flops_per_item(((lm_model *)mb)->gpt); }

static cf_status evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    lm_model *m = (lm_model *)mb;
    return cf_dualformer_lm_evaluate(ctx, cf_gpt_of(m->gpt), &m->eval, in->split, out);
}

static void free_model(cf_model *mb)
{
    lm_model *m = (lm_model *)mb;
    cf_gpt_model.free(m->gpt);
    free(m);
}

const cf_model_vtable cf_dualformer_lm_model = {
    .name = "dualformer_lm",
    .summary = "decoder LM on randomized reasoning traces, scored by greedy accuracy, Pass@k and response length",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = evaluate,
    .free = free_model,
};
