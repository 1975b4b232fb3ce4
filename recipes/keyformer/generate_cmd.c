/* `cformer generate` for a keyformer recipe: the decode benchmark, greedy decoding under every policy and budget of
 * the recipe's eval: section against the full cache, timed in one run: the prompt pass and the decode steps after
 * it separately (tokens/s is the decode steps' rate). */
#include "autograd/clock.h"
#include "recipes/keyformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* CPU seconds of this process: on a shared machine, what the run itself spent (wall time adds whatever else the
 * cores ran meanwhile); the benchmark runs on one thread (bench-decode.sh sets OMP_NUM_THREADS=1). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* When the first token after the prompt is out: the prompt pass ends there and decoding begins. */
typedef struct {
    int64_t n;
    double t, c; /* wall, CPU */
} first_token;

static bool mark_first(void *user, const int64_t *tokens, int64_t len)
{
    (void)tokens;
    first_token *f = user;
    if (len == f->n + 1) f->t = cf_now(), f->c = cpu_now();
    return false;
}

/* Seconds of the prompt pass (up to the first new token) and, separately, of the n_new - 1 decode steps after it
 * (wall and CPU), generating n_new tokens after the prompt with the policy (NULL: full cache). pols: the model's
 * layers' worth. */
static cf_status timed(cf_ctx *ctx, const cf_gpt *g, const cf_kv_policy_config *pc, const int64_t *prompt,
                       int64_t n, int64_t n_new, cf_kv_policy *pols, cf_kv_hook **hooks, double *prompt_s,
                       double *decode_s, double *decode_cpu, int64_t *out)
{
    int64_t L = g->cfg.layers, kvh = g->cfg.kv_heads ? g->cfg.kv_heads : g->cfg.heads;
    cf_status st = CF_OK;
    for (int64_t l = 0; l < L && st == CF_OK && pc; l++) {
        cf_kv_policy_free(&pols[l]);
        st = cf_kv_policy_init(&pols[l], pc, l, 1, kvh, n + n_new);
        hooks[l] = &pols[l].hook;
    }
    first_token f = {.n = n};
    cf_sample_opts so = {.temperature = 0, .top_p = 1, .use_cache = true, .hooks = pc ? hooks : NULL,
                         .stop = mark_first, .stop_user = &f};
    double t0 = cf_now();
    if (st == CF_OK) st = cf_gpt_generate(ctx, g, prompt, n, n_new, &so, out);
    double t1 = cf_now(), c1 = cpu_now();
    *prompt_s = f.t - t0, *decode_s = t1 - f.t, *decode_cpu = c1 - f.c;
    return st;
}

typedef struct {
    cf_kv_policy_kind kind;
    double frac, prompt_s, decode_s, decode_cpu; /* best over the repeats */
} config;

static cf_status bench(cf_run *run, int64_t n, int64_t n_new, int repeat)
{
    const cf_gpt *g = cf_keyformer_gpt(run->model);
    const cf_keyformer_eval *e = cf_keyformer_eval_of(run->model);
    int64_t L = g->cfg.layers, nc = 1 + (int64_t)e->n_policies * e->n_budgets;
    int64_t *prompt = malloc(sizeof *prompt * (size_t)n), *out = malloc(sizeof *out * (size_t)(n + n_new));
    config *cs = calloc((size_t)nc, sizeof *cs);
    cf_kv_policy *pols = calloc((size_t)L, sizeof *pols);
    cf_kv_hook **hooks = calloc((size_t)L, sizeof *hooks);
    cf_status st = prompt && out && cs && pols && hooks ? CF_OK : cf_set_error(CF_ERR_OOM, "generate --bench: out of memory");
    if (st == CF_OK) st = prompt_tokens(run->val_set, n, prompt);
    /* the full cache first, then every policy x budget; the repeats go round the whole list (the best of each kept),
     * so that a burst of load on a shared machine falls on every configuration alike */
    int64_t m = 0;
    if (st == CF_OK) cs[m++] = (config){CF_KV_FULL, 1.0, INFINITY, INFINITY, INFINITY};
    for (int p = 0; st == CF_OK && p < e->n_policies; p++)
        for (int b = 0; e->policies[p] != CF_KV_FULL && b < e->n_budgets; b++)
            cs[m++] = (config){e->policies[p], e->budgets[b], INFINITY, INFINITY, INFINITY};
    for (int r = 0; r < repeat && st == CF_OK; r++)
        for (int64_t i = 0; i < m && st == CF_OK; i++) {
            cf_kv_policy_config pc = cf_keyformer_policy(e, cs[i].kind, cs[i].frac, n, n_new, 0);
            double tp, td, tc;
            st = timed(run->ctx, g, cs[i].kind == CF_KV_FULL ? NULL : &pc, prompt, n, n_new, pols, hooks, &tp, &td, &tc,
                       out);
            cs[i].prompt_s = fmin(cs[i].prompt_s, tp), cs[i].decode_s = fmin(cs[i].decode_s, td);
            cs[i].decode_cpu = fmin(cs[i].decode_cpu, tc);
        }
    const cf_gpt_config *c = &g->cfg;
    double row_bytes = 2.0 * (double)c->layers * (double)(c->kv_heads ? c->kv_heads : c->heads) *
                       (double)(c->dim / c->heads) * (g->wte.weight->dtype == CF_F64 ? 8 : 4);
    if (st == CF_OK)
        printf("%-10s %7s %7s %9s %12s %12s %14s %9s\n", "policy", "budget", "kept", "prompt s", "decode tok/s",
               "tok/CPU-s", "cache bytes", "speedup");
    for (int64_t i = 0; i < m && st == CF_OK; i++) {
        cf_kv_policy_config pc = cf_keyformer_policy(e, cs[i].kind, cs[i].frac, n, n_new, 0);
        double steps = (double)(n_new - 1), rate = steps / fmax(cs[i].decode_s, 1e-9);
        double cpu = steps / fmax(cs[i].decode_cpu, 1e-9), full = steps / fmax(cs[0].decode_cpu, 1e-9);
        /* rows held between decode steps: the budget, or everything for the full cache (at the end) */
        int64_t kept = cs[i].kind == CF_KV_FULL ? n + n_new : pc.budget;
        const char *name = cf_kv_policy_name(cs[i].kind);
        printf("%-10s %6.0f%% %7lld %9.3f %12.1f %12.1f %14.0f %8.2fx\n", name, 100 * cs[i].frac, (long long)kept,
               cs[i].prompt_s, rate, cpu, row_bytes * (double)kept, cpu / full);
        printf("{\"policy\": \"%s\", \"budget\": %g, \"kept\": %lld, \"prompt_s\": %.4f, "
               "\"decode_tokens_per_s\": %.2f, \"decode_tokens_per_cpu_s\": %.2f, \"cache_bytes\": %.0f, "
               "\"prompt\": %lld, \"tokens\": %lld}\n", name, cs[i].frac, (long long)kept, cs[i].prompt_s, rate, cpu,
               row_bytes * (double)kept, (long long)n, (long long)n_new);
    }
    for (int64_t l = 0; pols && l < L; l++) cf_kv_policy_free(&pols[l]);
    free(prompt), free(out), free(cs), free(pols), free(hooks);
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
