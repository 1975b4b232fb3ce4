/* The GPT model as the trainer sees it, and its generation. */
#ifndef CF_MODEL_GPT_H
#define CF_MODEL_GPT_H

#include "layers/generate.h"
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

/* cf_lm_generate (layers/generate.h) over the GPT: up to n_new sampled tokens after prompt into out. */
cf_status cf_gpt_generate(cf_ctx *ctx, const cf_gpt *m, const int64_t *prompt, int64_t n_prompt, int64_t n_new,
                          const cf_sample_opts *o, int64_t *out);

#endif
