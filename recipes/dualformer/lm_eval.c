/* The generation-based evaluation of lm.h: per problem, the greedy response and k samples, each decoded
 * until the answer line ends, scored against the record's answer. */
#include "recipes/dualformer/lm.h"

#include "data/mazes/maze.h"
#include "data/traces/traces_dataset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const cf_tokenizer *tk;
    int64_t prompt;  /* tokens before the response */
    uint8_t *text;   /* scratch for the decoded response */
    size_t cap;
} stopper;

/* The response decoded so far (NUL-terminated in s->text); its length, or -1 when it cannot be decoded. */
static int64_t response_text(stopper *s, const int64_t *tokens, int64_t len)
{
    int64_t n = len - s->prompt;
    int32_t ids[4096];
    if (n > 4096) n = 4096;
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)tokens[s->prompt + i];
    size_t got = 0;
    if (cf_tokenizer_decode(s->tk, ids, (size_t)n, s->text, s->cap - 1, &got) != CF_OK) return -1;
    s->text[got] = 0;
    return (int64_t)got;
}

/* Ends decoding at the newline after "Answer: ". */
static bool answer_done(void *user, const int64_t *tokens, int64_t len)
{
    stopper *s = user;
    int64_t n = response_text(s, tokens, len);
    if (n < 0) return true;
    const char *a = strstr((const char *)s->text, "Answer: ");
    return a && strchr(a, '\n');
}

/* Decodes one response; *correct, *tokens. */
static cf_status respond(cf_ctx *ctx, const cf_lm *lm, stopper *s, const int64_t *prompt, int64_t n_prompt,
                         int64_t max_new, const cf_sample_opts *base, uint64_t seed, const char *answer, int64_t *out,
                         bool *correct, bool *answered, int64_t *tokens)
{
    int64_t generated = 0;
    cf_sample_opts o = *base;
    o.seed = seed, o.stop = answer_done, o.stop_user = s, o.generated = &generated;
    s->prompt = n_prompt;
    CF_TRY(cf_lm_generate(ctx, lm, prompt, n_prompt, max_new, &o, out));
    int64_t n = response_text(s, out, n_prompt + generated);
    char got[256];
    *answered = n >= 0 && cf_trace_parse_answer((const char *)s->text, (size_t)n, got, sizeof got);
    *correct = *answered && strcmp(got, answer) == 0;
    *tokens = generated;
    return CF_OK;
}

static void put_stat(cf_metrics *out, const char *name, cf_maze_stat s)
{
    char key[32];
    cf_metrics_set(out, name, s.value);
    snprintf(key, sizeof key, "%s_lo", name);
    cf_metrics_set(out, key, s.lo);
    snprintf(key, sizeof key, "%s_hi", name);
    cf_metrics_set(out, key, s.hi);
}

cf_status cf_dualformer_lm_evaluate(cf_ctx *ctx, const cf_lm *lm, const cf_dualformer_lm_eval *e, cf_dataset *split,
                                    cf_metrics *out)
{
    const cf_tokenizer *tk = cf_traces_dataset_tokenizer(split);
    if (!tk) return cf_set_error(CF_ERR_ARG, "dualformer_lm: the evaluation needs data.type: math_traces");
    int64_t n = e->problems < split->len ? e->problems : split->len, longest = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t len;
        cf_traces_dataset_prompt(split, i, &len);
        if (len > longest) longest = len;
    }
    stopper s = {.tk = tk, .cap = 4 * 4096 * 16};
    s.text = malloc(s.cap);
    int64_t *buf = malloc((size_t)(longest + e->max_new + 1) * sizeof *buf), *prompt = malloc((size_t)(longest + 1) * sizeof *prompt);
    double *lengths = malloc((size_t)n * sizeof *lengths);
    cf_status st = s.text && buf && prompt && lengths ? CF_OK : cf_set_error(CF_ERR_OOM, "dualformer_lm: out of memory");
    int64_t correct = 0, passed = 0, answered = 0;
    cf_sample_opts greedy = {.temperature = 0, .top_p = 1, .use_cache = true};
    cf_sample_opts sample = {.temperature = e->temperature, .top_p = e->top_p, .use_cache = true};
    for (int64_t i = 0; i < n && st == CF_OK; i++) {
        int64_t plen;
        const int32_t *p = cf_traces_dataset_prompt(split, i, &plen);
        const cf_trace *t = cf_traces_dataset_record(split, i);
        for (int64_t k = 0; k < plen; k++) prompt[k] = p[k];
        bool ok = false, ans = false, any = false;
        int64_t toks = 0;
        st = respond(ctx, lm, &s, prompt, plen, e->max_new, &greedy, 0, t->answer, buf, &ok, &ans, &toks);
        if (st != CF_OK) break;
        correct += ok, answered += ans, any = ok;
        lengths[i] = (double)toks;
        for (int64_t j = 0; j < e->samples && st == CF_OK && !any; j++) {
            uint64_t seed = (uint64_t)e->seed * 1000003u + (uint64_t)i * 1024u + (uint64_t)j + 1;
            st = respond(ctx, lm, &s, prompt, plen, e->max_new, &sample, seed, t->answer, buf, &ok, &ans, &toks);
            any = any || ok;
        }
        passed += any;
    }
    if (st == CF_OK) {
        put_stat(out, "accuracy", cf_maze_wilson(correct, n));
        if (e->samples > 0) put_stat(out, "pass_at_k", cf_maze_wilson(passed, n));
        put_stat(out, "response_tokens", cf_maze_mean_ci(lengths, n));
        put_stat(out, "answered", cf_maze_wilson(answered, n));
        cf_metrics_set(out, "problems", (double)n);
        cf_metrics_set(out, "k", (double)e->samples);
    }
    free(s.text);
    free(buf);
    free(prompt);
    free(lengths);
    return st;
}
