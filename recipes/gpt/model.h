/* The GPT model as the trainer sees it, and its generation. */
#ifndef CF_MODEL_GPT_H
#define CF_MODEL_GPT_H

#include "layers/gpt.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_gpt_model;

cf_status cf_gpt_config_from_recipe(cf_recipe *r, cf_gpt_config *c);
/* The cf_gpt inside a model made by cf_gpt_model.create; NULL for other models. */
cf_gpt *cf_gpt_of(cf_model *m);

typedef struct cf_sample_opts {
    double temperature; /* 0: greedy */
    int64_t top_k;      /* 0: off */
    double top_p;       /* 1: off */
    uint64_t seed;
    bool use_cache;     /* false recomputes the whole prefix each token (the reference path) */
    cf_kv_hook **hooks; /* with use_cache: one eviction hook per layer (layers/kvcache_policy.h); NULL keeps all */
    /* optional: called after each new token with the sequence so far (prompt included); true ends the
     * generation there. *generated (when non-NULL) gets the number of tokens produced. */
    bool (*stop)(void *user, const int64_t *tokens, int64_t len);
    void *stop_user;
    int64_t *generated;
} cf_sample_opts;

/* Appends up to n_new sampled tokens (fewer when o->stop ends it) to prompt[0..n_prompt) into out (room for
 * n_prompt + n_new entries). Runs without gradients; the arena is reset between tokens. */
cf_status cf_gpt_generate(cf_ctx *ctx, const cf_gpt *m, const int64_t *prompt, int64_t n_prompt, int64_t n_new,
                          const cf_sample_opts *o, int64_t *out);

/* `cformer generate` for a GPT recipe (the vtable's generate; generate_cmd.c). */
int cf_gpt_generate_cmd(struct cf_run *run, int argc, char **argv);
#define CF_GPT_GENERATE_USAGE \
    "  [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--no-cache]\n" \
    "Samples N tokens (default 200) after the prompt with the model's tokenizer; temperature 0 is greedy.\n" \
    "--no-cache recomputes the whole prefix for every token (the reference the KV cache is checked against).\n"

#endif
