/* `model.type: keyformer`: the GPT decoder (recipes/gpt/model.h) trained as usual, evaluated by decoding through
 * a KV cache under the eviction policies of layers/kvcache_policy.h (Keyformer, Adnan et al., MLSys 2024).
 *
 * Evaluation (`cformer eval`, the Keyformer paper's accuracy-versus-cache-size study, Section 5, as a small
 * teacher-forced run): for each of the first eval.windows rows of the split (tokens t_0 .. t_{T-1} and their
 * targets), the prompt t_0 .. t_{n-1} (n = eval.prompt) goes through the model in one pass, then t_n .. t_{T-1}
 * one token per step with the policy applied after every forward; each step's next-token prediction is scored
 * against its target: accuracy (argmax) and perplexity exp(mean NLL) over all windows and steps. Every policy
 * of eval.policies runs at every budget of eval.budgets (a fraction of n: k = floor(n * budget)); keyformer
 * runs once per Gumbel seed 0 .. eval.seeds-1 and reports the mean and the standard deviation over seeds.
 * Metrics: acc_full, ppl_full, acc_POLICY_PCT, ppl_POLICY_PCT (PCT = 100 budget), and for keyformer
 * acc_keyformer_PCT_std, ppl_keyformer_PCT_std; windows, steps (decode steps per window). */
#ifndef CF_MODEL_KEYFORMER_H
#define CF_MODEL_KEYFORMER_H

#include "recipes/gpt/model.h"
#include "layers/kvcache_policy.h"
#include "recipes/run/model.h"

#define CF_KEYFORMER_MAX_BUDGETS 8

typedef struct cf_keyformer_eval {
    int n_policies, n_budgets;
    cf_kv_policy_kind policies[5];
    double budgets[CF_KEYFORMER_MAX_BUDGETS]; /* fractions of the prompt, in (0, 1] */
    int64_t prompt, windows, seeds, sinks;
    double recent, tau_init, tau_end;
} cf_keyformer_eval;

extern const cf_model_vtable cf_keyformer_model;
/* The GPT and the evaluation settings inside a model made by cf_keyformer_model.create; NULL for other models. */
cf_gpt *cf_keyformer_gpt(cf_model *m);
const cf_keyformer_eval *cf_keyformer_eval_of(cf_model *m);

/* The evaluation above on split (rows of "tokens" and "targets" [T], T > e->prompt). */
cf_status cf_keyformer_evaluate(cf_ctx *ctx, const cf_gpt *gpt, const cf_keyformer_eval *e, cf_dataset *split,
                                cf_metrics *out);

/* The policy configuration of policy at budget fraction frac for a prompt of n tokens and `steps` decode steps. */
cf_kv_policy_config cf_keyformer_policy(const cf_keyformer_eval *e, cf_kv_policy_kind policy, double frac, int64_t n,
                                        int64_t steps, uint64_t seed);

/* `cformer generate RECIPE --checkpoint C [--bench]`: decode throughput and cache bytes per policy and budget
 * against the full cache, in one run (generate_cmd.c). */
int cf_keyformer_generate_cmd(struct cf_run *run, int argc, char **argv);
#define CF_KEYFORMER_GENERATE_USAGE \
    "  [--bench] [--prompt-len N] [--tokens M] [--repeat R]\n" \
    "The decode benchmark: greedy decoding of M tokens (default 256) after an N-token prompt of the validation text\n" \
    "(default 1024) with the full cache and under every policy and budget of the recipe's eval: section: decode\n" \
    "tokens/s (best of R runs, default 3) and the KV-cache bytes held, as a table and one JSON line each.\n"

#endif
