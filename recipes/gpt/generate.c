/* Sampling from the GPT model: the shared decoder loop of layers/generate.h over cf_gpt_lm. */
#include "recipes/gpt/model.h"

cf_status cf_gpt_generate(cf_ctx *ctx, const cf_gpt *m, const int64_t *prompt, int64_t n_prompt, int64_t n_new,
                          const cf_sample_opts *o, int64_t *out)
{
    cf_lm lm = cf_gpt_lm(m);
    return cf_lm_generate(ctx, &lm, prompt, n_prompt, n_new, o, out);
}
