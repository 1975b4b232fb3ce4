/* The GPT model as the trainer sees it, and its generation. */
#ifndef CF_MODEL_GPT_H
#define CF_MODEL_GPT_H

#include "layers/gpt.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_gpt_model;

cf_status cf_gpt_config_from_recipe(cf_recipe *r, cf_gpt_config *c);
/* The cf_gpt inside a model made by cf_gpt_model.create; NULL for other models. */
cf_gpt *cf_gpt_of(cf_model *m);

/* A model that is this GPT plus a paper's own evaluation (Keyformer's cache study, Dualformer's LM scoring):
 * same keys, parameters and names as `model.type: gpt`, so `--init-from` a GPT checkpoint works. The paper's
 * struct starts with a cf_gpt_wrap; its vtable takes loss, items, flops_per_item and free from here:
 *     typedef struct { cf_gpt_wrap w; my_eval eval; } my_model;
 *     static cf_status read(cf_recipe *r, const cf_data_info *info, cf_gpt_wrap *w) { ... ((my_model *)w)->eval ... }
 *     static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
 *     { return cf_gpt_wrap_create(r, ps, info, sizeof(my_model), &my_vtable, read); }
 * cf_gpt_wrap_create makes the GPT first (its model.* keys are read before the paper's), then a zeroed
 * wrapper of `size` bytes, then calls read; NULL with everything freed when any step fails. */
typedef struct cf_gpt_wrap {
    cf_model base;
    cf_model *gpt;
} cf_gpt_wrap;
typedef cf_status (*cf_gpt_wrap_read_fn)(cf_recipe *r, const cf_data_info *info, cf_gpt_wrap *w);
cf_model *cf_gpt_wrap_create(cf_recipe *r, cf_params *ps, const cf_data_info *info, size_t size,
                             const cf_model_vtable *vt, cf_gpt_wrap_read_fn read);
cf_tensor *cf_gpt_wrap_loss(cf_model *m, cf_ctx *ctx, const cf_batch *b, cf_metrics *out);
int64_t cf_gpt_wrap_items(cf_model *m, const cf_batch *b);
double cf_gpt_wrap_flops(cf_model *m);
void cf_gpt_wrap_free(cf_model *m);
/* The GPT of a wrapper (cf_gpt_of of its inner model). */
cf_gpt *cf_gpt_wrap_gpt(cf_model *m);

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
