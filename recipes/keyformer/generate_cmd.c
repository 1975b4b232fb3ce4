/* `cformer generate` for a keyformer recipe: the decode benchmark, greedy decoding under every policy and budget of
 * the recipe's eval: section against the full cache, timed in one run. */
#include "autograd/clock.h"
#include "recipes/keyformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first n tokens of the split's rows, concatenated. */
static cf_status prompt_tokens(cf_dataset *ds, int64_t n, int64_t *out)
{
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, 1, &b));
    cf_status st = CF_OK;
    int64_t got = 0;
    for (int64_t row = 0; got < n && st == CF_OK; row++) {
        if (row >= ds->len) {
            st = cf_set_error(CF_ERR_ARG, "generate --bench: the validation split has fewer than %lld tokens", (long long)n);
            break;
        }
        st = cf_dataset_get(ds, row, &b, 0);
        cf_tensor *t = cf_batch_get(&b, "tokens");
        for (int64_t i = 0; st == CF_OK && t && i < cf_numel(t) && got < n; i++) out[got++] = (int64_t)cf_get_flat(t, i);
    }
    cf_batch_free(&b);
    return st;
}

/* Best-of-`repeat` seconds of generating n_new tokens after the prompt with the policy (NULL: full cache). */
static cf_status timed(cf_ctx *ctx, const cf_gpt *g, const cf_kv_policy_config *pc, const int64_t *prompt,
                       int64_t n, int64_t n_new, int repeat, double *best, int64_t *out)
{
    int64_t L = g->cfg.layers, kvh = g->cfg.kv_heads ? g->cfg.kv_heads : g->cfg.heads;
    cf_kv_policy *pols = calloc((size_t)L, sizeof *pols);
    cf_kv_hook **hooks = calloc((size_t)L, sizeof *hooks);
    cf_status st = pols && hooks ? CF_OK : cf_set_error(CF_ERR_OOM, "generate --bench: out of memory");
    *best = INFINITY;
    for (int r = 0; r < repeat && st == CF_OK; r++) {
        for (int64_t l = 0; l < L && st == CF_OK && pc; l++) {
            cf_kv_policy_free(&pols[l]);
            st = cf_kv_policy_init(&pols[l], pc, l, 1, kvh, n + n_new);
            hooks[l] = &pols[l].hook;
        }
        cf_sample_opts so = {.temperature = 0, .top_p = 1, .use_cache = true, .hooks = pc ? hooks : NULL};
        double t0 = cf_now();
        if (st == CF_OK) st = cf_gpt_generate(ctx, g, prompt, n, n_new, &so, out);
        double dt = cf_now() - t0;
        if (dt < *best) *best = dt;
    }
    for (int64_t l = 0; pols && l < L; l++) cf_kv_policy_free(&pols[l]);
    free(pols), free(hooks);
    return st;
}

static cf_status bench(cf_run *run, int64_t n, int64_t n_new, int repeat)
{
    const cf_gpt *g = cf_keyformer_gpt(run->model);
    const cf_keyformer_eval *e = cf_keyformer_eval_of(run->model);
    int64_t *prompt = malloc(sizeof *prompt * (size_t)n), *out = malloc(sizeof *out * (size_t)(n + n_new));
    if (!prompt || !out) {
        free(prompt), free(out);
        return cf_set_error(CF_ERR_OOM, "generate --bench: out of memory");
    }
    cf_status st = prompt_tokens(run->val_set, n, prompt);
    const cf_gpt_config *c = &g->cfg;
    double row_bytes = 2.0 * (double)c->layers * (double)(c->kv_heads ? c->kv_heads : c->heads) *
                       (double)(c->dim / c->heads) * (g->wte.weight->dtype == CF_F64 ? 8 : 4);
    double t_prompt = 0, t_full = 0;
    /* the prompt pass alone (one token generated), subtracted so that tokens/s is the decode rate */
    if (st == CF_OK) st = timed(run->ctx, g, NULL, prompt, n, 1, repeat, &t_prompt, out);
    printf("%-10s %7s %7s %12s %14s %9s\n", "policy", "budget", "kept", "decode tok/s", "cache bytes", "speedup");
    for (int p = -1; p < e->n_policies && st == CF_OK; p++) {
        cf_kv_policy_kind kind = p < 0 ? CF_KV_FULL : e->policies[p];
        if (p >= 0 && kind == CF_KV_FULL) continue;
        for (int b = 0; b < (kind == CF_KV_FULL ? 1 : e->n_budgets) && st == CF_OK; b++) {
            double frac = kind == CF_KV_FULL ? 1.0 : e->budgets[b], t;
            cf_kv_policy_config pc = cf_keyformer_policy(e, kind, frac, n, n_new, 0);
            st = timed(run->ctx, g, kind == CF_KV_FULL ? NULL : &pc, prompt, n, n_new, repeat, &t, out);
            if (st != CF_OK) break;
            double rate = (double)(n_new - 1) / (t - t_prompt > 1e-9 ? t - t_prompt : 1e-9);
            if (kind == CF_KV_FULL) t_full = rate;
            /* rows held between decode steps: the budget, or everything for the full cache (at the end) */
            int64_t kept = kind == CF_KV_FULL ? n + n_new : pc.budget;
            printf("%-10s %6.0f%% %7lld %12.1f %14.0f %8.2fx\n", cf_kv_policy_name(kind), 100 * frac, (long long)kept,
                   rate, row_bytes * (double)kept, rate / t_full);
            printf("{\"policy\": \"%s\", \"budget\": %g, \"kept\": %lld, \"decode_tokens_per_s\": %.2f, "
                   "\"cache_bytes\": %.0f, \"prompt\": %lld, \"tokens\": %lld}\n", cf_kv_policy_name(kind), frac,
                   (long long)kept, rate, row_bytes * (double)kept, (long long)n, (long long)n_new);
        }
    }
    free(prompt), free(out);
    return st;
}

int cf_keyformer_generate_cmd(cf_run *run, int argc, char **argv)
{
    int64_t n = 1024, n_new = 256, repeat = 3;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc, ok = true;
        if (strcmp(s, "--bench") == 0) continue;
        if (strcmp(s, "--prompt-len") == 0 && v) ok = cf_cli_int("generate", s, argv[++i], 1, 1 << 20, &n);
        else if (strcmp(s, "--tokens") == 0 && v) ok = cf_cli_int("generate", s, argv[++i], 2, 1 << 20, &n_new);
        else if (strcmp(s, "--repeat") == 0 && v) ok = cf_cli_int("generate", s, argv[++i], 1, 100, &repeat);
        else {
            fprintf(stderr, "cformer generate: unexpected argument '%s' (a keyformer recipe runs the decode benchmark; "
                    "see --help)\n", s);
            return 2;
        }
        if (!ok) return 2;
    }
    cf_status st = bench(run, n, n_new, (int)repeat);
    if (st != CF_OK) {
        fprintf(stderr, "cformer generate: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
