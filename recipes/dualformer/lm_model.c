/* `model.type: dualformer_lm` (lm.h): the decoder of model.base (the GPT of recipes/gpt or the Llama / Mistral
 * of recipes/llama, created, trained and saved as that model is, under the same parameter names) with the
 * generation-based evaluation of lm_eval.c and its eval.* keys. */
#include "recipes/dualformer/lm.h"

#include "recipes/checkpoint/checkpoint.h"
#include "recipes/gpt/model.h"
#include "recipes/llama/model.h"
#include "recipes/run/limits.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_model *net; /* a gpt or a llama model */
    cf_lm lm;
    cf_dualformer_lm_eval eval;
} lm_model;

static const struct {
    const char *name;
    const cf_model_vtable *vt;
} bases[] = {{"gpt", &cf_gpt_model}, {"llama", &cf_llama_model}};
enum { N_BASES = sizeof bases / sizeof bases[0] };

/* The index of model.base in bases; -1 with the recipe's error set for an unknown name. */
static int base_of(cf_recipe *r)
{
    const char *s = cf_recipe_str(r, "model.base", "gpt");
    for (int i = 0; s && i < N_BASES; i++)
        if (strcmp(s, bases[i].name) == 0) return i;
    if (s) cf_recipe_fail(r, "model.base", CF_ERR_ARG, "unknown base '%s' (choose from gpt, llama)", s);
    return -1;
}

static cf_status read_eval(cf_recipe *r, cf_dualformer_lm_eval *e)
{
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
    int b = base_of(r);
    if (b < 0) return NULL;
    lm_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "dualformer_lm: out of memory");
        return NULL;
    }
    m->base.vt = &cf_dualformer_lm_model;
    m->net = bases[b].vt->create(r, ps, info); /* its model.* keys first, then the evaluation's */
    if (m->net && read_eval(r, &m->eval) == CF_OK) {
        cf_gpt *gpt = cf_gpt_of(m->net);
        m->lm = gpt ? cf_gpt_lm(gpt) : cf_llama_lm(cf_llama_of(m->net));
        return &m->base;
    }
    if (m->net) m->net->vt->free(m->net);
    free(m);
    return NULL;
}

static cf_tensor *loss(cf_model *m, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_model *net = ((lm_model *)m)->net;
    return net->vt->loss(net, ctx, b, out);
}

static int64_t items(cf_model *m, const cf_batch *b)
{
    cf_model *net = ((lm_model *)m)->net;
    return net->vt->items(net, b);
}

static double flops(cf_model *m)
{
    cf_model *net = ((lm_model *)m)->net;
    return net->vt->flops_per_item(net);
}

static cf_status evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    lm_model *l = (lm_model *)m;
    return cf_dualformer_lm_evaluate(ctx, &l->lm, &l->eval, in->split, out);
}

static void free_model(cf_model *m)
{
    if (!m) return;
    cf_model *net = ((lm_model *)m)->net;
    net->vt->free(net);
    free(m);
}

cf_status cf_dualformer_lm_hf_export(const char *ckpt, const char *out_dir, cf_dtype dtype)
{
    cf_ckpt_reader *r = cf_ckpt_open(ckpt);
    if (!r) return cf_last_status();
    cf_recipe *rec = cf_recipe_parse(cf_ckpt_recipe(r), ckpt);
    cf_ckpt_close(r);
    if (!rec) return cf_last_status();
    const char *type = cf_recipe_str(rec, "model.type", "");
    bool lm = type && strcmp(type, cf_dualformer_lm_model.name) == 0;
    int b = lm ? base_of(rec) : -1;
    cf_status st = CF_OK;
    if (!lm || b < 0 || bases[b].vt != &cf_llama_model)
        st = cf_set_error(CF_ERR_UNSUPPORTED, "%s: only a dualformer_lm with model.base: llama exports to the Hugging "
                          "Face layout (this is model.type %s%s%s)", ckpt, type ? type : "?", lm ? ", base " : "",
                          lm ? cf_recipe_str(rec, "model.base", "gpt") : "");
    cf_recipe_free(rec);
    return st == CF_OK ? cf_llama_hf_export(ckpt, out_dir, dtype) : st;
}

const cf_model_vtable cf_dualformer_lm_model = {
    .name = "dualformer_lm",
    .summary = "decoder LM (gpt or an imported llama) on randomized reasoning traces, scored by greedy accuracy, "
               "Pass@k and response length",
    .create = create,
    .loss = loss,
    .items = items,
    .flops_per_item = flops,
    .evaluate = evaluate,
    .free = free_model,
};
