/* `model.type: keyformer`: the GPT model of recipes/gpt (its create, loss and items, unchanged) with the
 * Keyformer evaluation's eval.* keys and evaluate (eval.c). */
#include "recipes/keyformer/model.h"

#include "recipes/gpt/model.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <string.h>

typedef struct {
    cf_gpt_wrap w;
    cf_keyformer_eval eval;
} keyformer_model;

static cf_status read_eval(cf_recipe *r, const cf_data_info *info, cf_gpt_wrap *w)
{
    cf_keyformer_eval *e = &((keyformer_model *)w)->eval;
    const char *names[8];
    int np = cf_recipe_str_list(r, "eval.policies", names, 8);
    if (np < 0) return cf_recipe_status(r);
    if (np == 0) {
        static const cf_kv_policy_kind all[] = {CF_KV_FULL, CF_KV_WINDOW, CF_KV_STREAMING, CF_KV_H2O, CF_KV_KEYFORMER};
        memcpy(e->policies, all, sizeof all), e->n_policies = 5;
    } else if (np > 5) {
        return cf_recipe_fail(r, "eval.policies", CF_ERR_ARG, "%d policies: at most one of each (%s)", np,
                              CF_KV_POLICY_NAMES);
    }
    for (int i = 0; i < np; i++) {
        if (!cf_kv_policy_parse(names[i], &e->policies[i]))
            return cf_recipe_fail(r, "eval.policies", CF_ERR_ARG, "unknown policy '%s' (choose from %s)", names[i],
                                  CF_KV_POLICY_NAMES);
        for (int j = 0; j < i; j++)
            if (e->policies[j] == e->policies[i])
                return cf_recipe_fail(r, "eval.policies", CF_ERR_ARG, "'%s' is listed twice", names[i]);
    }
    if (np) e->n_policies = np;
    static const double budgets[] = {0.2, 0.4, 0.6, 0.8};
    e->n_budgets = cf_recipe_float_list_in(r, "eval.budgets", e->budgets, CF_KEYFORMER_MAX_BUDGETS, budgets, 4, 0.01, 1);
    int64_t seq = info->seq > 0 ? info->seq : cf_recipe_int(r, "model.seq", 128);
    e->prompt = cf_recipe_int_in(r, "eval.prompt", seq * 3 / 4, 1, seq > 1 ? seq - 1 : 1);
    e->windows = cf_recipe_int_in(r, "eval.windows", 200, 1, CF_MAX_SEQ);
    e->seeds = cf_recipe_int_in(r, "eval.seeds", 3, 1, 100);
    e->sinks = cf_recipe_int_in(r, "eval.sinks", 4, 0, CF_MAX_SEQ);
    e->recent = cf_recipe_float_in(r, "eval.recent", 0.3, 0, 1, CF_RANGE_CLOSED);
    e->tau_init = cf_recipe_float_in(r, "eval.tau_init", 1.0, 0, 100, CF_RANGE_OPEN_LO);
    e->tau_end = cf_recipe_float_in(r, "eval.tau_end", 2.0, 0, 100, CF_RANGE_OPEN_LO);
    if (cf_recipe_status(r) != CF_OK) return cf_recipe_status(r);
    if (e->n_budgets < 1) return cf_recipe_fail(r, "eval.budgets", CF_ERR_ARG, "needs at least one budget");
    /* the flat metrics hold 2 per (policy, budget), 2 more per keyformer budget, and a few totals */
    int pairs = 0;
    for (int i = 0; i < e->n_policies; i++) pairs += e->policies[i] == CF_KV_FULL ? 1 : e->n_budgets;
    if (2 * pairs + 2 * e->n_budgets + 4 > CF_METRICS_MAX)
        return cf_recipe_fail(r, "eval.budgets", CF_ERR_ARG, "%d budgets x %d policies give more than the %d metrics an "
                              "evaluation reports: drop some budgets or policies", e->n_budgets, e->n_policies,
                              CF_METRICS_MAX);
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    return cf_gpt_wrap_create(r, ps, info, sizeof(keyformer_model), &cf_keyformer_model, read_eval);
}

static cf_status evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    return cf_keyformer_evaluate(ctx, cf_gpt_wrap_gpt(m), &((keyformer_model *)m)->eval, in->split, out);
}

const cf_keyformer_eval *cf_keyformer_eval_of(cf_model *m)
{
    return m && m->vt == &cf_keyformer_model ? &((keyformer_model *)m)->eval : NULL;
}

cf_gpt *cf_keyformer_gpt(cf_model *m) { return m && m->vt == &cf_keyformer_model ? cf_gpt_wrap_gpt(m) : NULL; }

const cf_model_vtable cf_keyformer_model = {
    .name = "keyformer",
    .summary = "GPT decoder evaluated under KV-cache eviction (full, window, streaming, h2o, keyformer) per budget",
    .create = create,
    .loss = cf_gpt_wrap_loss,
    .items = cf_gpt_wrap_items,
    .flops_per_item = cf_gpt_wrap_flops,
    .evaluate = evaluate,
    .free = cf_gpt_wrap_free,
    .generate = cf_keyformer_generate_cmd,
    .generate_usage = CF_KEYFORMER_GENERATE_USAGE,
};
