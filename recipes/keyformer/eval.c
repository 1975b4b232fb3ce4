/* The Keyformer evaluation (model.h): prompt, then teacher-forced decoding with the eviction policy applied after
 * every forward; next-token accuracy and perplexity per (policy, budget), keyformer averaged over Gumbel seeds. */
#include "recipes/keyformer/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_kv_policy_config cf_keyformer_policy(const cf_keyformer_eval *e, cf_kv_policy_kind policy, double frac, int64_t n,
                                        int64_t steps, uint64_t seed)
{
    cf_kv_policy_config pc = cf_kv_policy_defaults();
    pc.kind = policy, pc.budget = cf_kv_budget(n, frac), pc.recent = e->recent, pc.sinks = e->sinks;
    pc.tau_init = e->tau_init, pc.tau_end = e->tau_end, pc.steps = steps > 0 ? steps : 1, pc.seed = seed;
    return pc;
}

/* The caches of one decoding (one per layer), each with its policy (none for full). */
typedef struct {
    int64_t layers;
    cf_kv_cache *caches;
    cf_kv_policy *pols;
} decoder;

static cf_status decoder_open(decoder *d, const cf_gpt *g, int64_t cap)
{
    const cf_gpt_config *c = &g->cfg;
    d->layers = c->layers;
    d->caches = calloc((size_t)c->layers, sizeof *d->caches);
    d->pols = calloc((size_t)c->layers, sizeof *d->pols);
    if (!d->caches || !d->pols) return cf_set_error(CF_ERR_OOM, "keyformer: out of memory");
    for (int64_t l = 0; l < c->layers; l++)
        CF_TRY(cf_kv_cache_init(&d->caches[l], g->wte.weight->dtype, 1, c->kv_heads ? c->kv_heads : c->heads, cap,
                                c->dim / c->heads));
    return CF_OK;
}

/* Empties the caches and installs fresh policies (pc NULL or full: no hook). */
static cf_status decoder_reset(decoder *d, const cf_kv_policy_config *pc)
{
    for (int64_t l = 0; l < d->layers; l++) {
        cf_kv_cache_clear(&d->caches[l]);
        cf_kv_policy_free(&d->pols[l]);
        d->caches[l].hook = NULL;
        if (pc && pc->kind != CF_KV_FULL) {
            CF_TRY(cf_kv_policy_init(&d->pols[l], pc, l, 1, d->caches[l].k->shape[1], d->caches[l].cap));
            d->caches[l].hook = &d->pols[l].hook;
        }
    }
    return CF_OK;
}

static void decoder_close(decoder *d)
{
    for (int64_t l = 0; d->caches && l < d->layers; l++) cf_kv_cache_free(&d->caches[l]);
    for (int64_t l = 0; d->pols && l < d->layers; l++) cf_kv_policy_free(&d->pols[l]);
    free(d->caches), free(d->pols);
}

/* One window: the prompt toks[0..n), then toks[n..T) one per step, scoring each step against tgt[n..T).
 * Adds the number of correct argmax predictions and the summed NLL. */
static cf_status score_window(cf_ctx *ctx, const cf_gpt *g, decoder *d, const int64_t *toks, const int64_t *tgt,
                              int64_t n, int64_t T, double *correct, double *nll)
{
    int64_t V = g->cfg.vocab;
    cf_tensor *lg = cf_gpt_logits(ctx, g, cf_from_data(ctx, CF_I64, CF_SHAPE(1, n), (void *)toks), d->caches);
    cf_step_reset(ctx);
    if (!lg) return cf_last_status();
    for (int64_t t = n; t < T; t++) {
        lg = cf_gpt_logits(ctx, g, cf_from_data(ctx, CF_I64, CF_SHAPE(1, 1), (void *)(toks + t)), d->caches);
        if (!lg) return cf_last_status();
        double mx = -INFINITY, sum = 0;
        int64_t arg = 0;
        for (int64_t v = 0; v < V; v++) {
            double x = cf_get_flat(lg, v);
            if (x > mx) mx = x, arg = v;
        }
        for (int64_t v = 0; v < V; v++) sum += exp(cf_get_flat(lg, v) - mx);
        *nll += mx + log(sum) - cf_get_flat(lg, tgt[t]);
        *correct += arg == tgt[t];
        cf_step_reset(ctx);
    }
    return CF_OK;
}

/* One (policy, budget, seed) configuration's totals over the windows. */
typedef struct {
    cf_kv_policy_kind policy;
    double budget;
    uint64_t seed;
    double correct, nll;
} config;

static int build_configs(const cf_keyformer_eval *e, config *cs)
{
    int n = 0;
    for (int p = 0; p < e->n_policies; p++) {
        cf_kv_policy_kind k = e->policies[p];
        int nb = k == CF_KV_FULL ? 1 : e->n_budgets;
        int64_t ns = k == CF_KV_KEYFORMER ? e->seeds : 1;
        for (int b = 0; b < nb; b++)
            for (int64_t s = 0; s < ns; s++) cs[n++] = (config){.policy = k, .budget = e->budgets[b], .seed = (uint64_t)s};
    }
    return n;
}

/* Mean and standard deviation (over seeds) of a metric of the configurations [from, from + n). */
static void mean_std(const config *cs, int n, double count, bool ppl, double *mean, double *std)
{
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        double v = ppl ? exp(cs[i].nll / count) : cs[i].correct / count;
        s += v, ss += v * v;
    }
    *mean = s / n;
    *std = n > 1 ? sqrt(fmax(0, (ss - s * s / n) / (n - 1))) : 0;
}

static void report(const cf_keyformer_eval *e, const config *cs, int n, double count, cf_metrics *out)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && cs[j].policy == cs[i].policy && cs[j].budget == cs[i].budget) j++;
        char name[32], suffix[24];
        if (cs[i].policy == CF_KV_FULL) snprintf(suffix, sizeof suffix, "full");
        else snprintf(suffix, sizeof suffix, "%s_%d", cf_kv_policy_name(cs[i].policy), (int)lround(100 * cs[i].budget));
        double mean, std;
        mean_std(cs + i, j - i, count, false, &mean, &std);
        snprintf(name, sizeof name, "acc_%s", suffix), cf_metrics_set(out, name, mean);
        if (j - i > 1) snprintf(name, sizeof name, "acc_%s_std", suffix), cf_metrics_set(out, name, std);
        mean_std(cs + i, j - i, count, true, &mean, &std);
        snprintf(name, sizeof name, "ppl_%s", suffix), cf_metrics_set(out, name, mean);
        if (j - i > 1) snprintf(name, sizeof name, "ppl_%s_std", suffix), cf_metrics_set(out, name, std);
        i = j;
    }
    (void)e;
}

cf_status cf_keyformer_evaluate(cf_ctx *ctx, const cf_gpt *g, const cf_keyformer_eval *e, cf_dataset *split,
                                cf_metrics *out)
{
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(split, 1, &b));
    cf_tensor *tt = cf_batch_get(&b, "tokens");
    if (!tt || !cf_batch_get(&b, "targets") || tt->ndim != 2) {
        cf_batch_free(&b);
        return cf_set_error(CF_ERR_ARG, "keyformer eval: the split's rows need tokens and targets [T]");
    }
    int64_t T = tt->shape[1], n = e->prompt, windows = e->windows < split->len ? e->windows : split->len;
    if (n >= T) {
        cf_batch_free(&b);
        return cf_set_error(CF_ERR_ARG, "keyformer eval: eval.prompt %lld leaves no token to decode in rows of %lld",
                            (long long)n, (long long)T);
    }
    config *cs = calloc(5 * (size_t)CF_KEYFORMER_MAX_BUDGETS * (size_t)e->seeds, sizeof *cs);
    int64_t *toks = malloc(sizeof *toks * 2 * (size_t)T), *tgt = toks ? toks + T : NULL;
    decoder d = {0};
    cf_status st = !cs || !toks ? cf_set_error(CF_ERR_OOM, "keyformer eval: out of memory") : decoder_open(&d, g, T);
    int nc = cs ? build_configs(e, cs) : 0;
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    for (int64_t w = 0; w < windows && st == CF_OK; w++) {
        st = cf_dataset_get(split, w, &b, 0);
        for (int64_t i = 0; st == CF_OK && i < T; i++)
            toks[i] = (int64_t)cf_get_flat(cf_batch_get(&b, "tokens"), i),
            tgt[i] = (int64_t)cf_get_flat(cf_batch_get(&b, "targets"), i);
        for (int c = 0; c < nc && st == CF_OK; c++) {
            cf_kv_policy_config pc = cf_keyformer_policy(e, cs[c].policy, cs[c].budget, n, T - n, cs[c].seed);
            st = decoder_reset(&d, &pc);
            if (st == CF_OK) st = score_window(ctx, g, &d, toks, tgt, n, T, &cs[c].correct, &cs[c].nll);
        }
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    double count = (double)windows * (double)(T - n);
    if (st == CF_OK) {
        report(e, cs, nc, count, out);
        cf_metrics_set(out, "windows", (double)windows);
        cf_metrics_set(out, "steps", (double)(T - n));
    }
    decoder_close(&d);
    free(cs), free(toks);
    cf_batch_free(&b);
    return st;
}
