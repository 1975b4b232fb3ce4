/* Dualformer for language models (Su et al., ICLR 2025, Sec. 5): a decoder LM fine-tuned on reasoning traces
 * whose intermediate steps are dropped at random (data.type: math_traces, data/traces/), evaluated by
 * generation.
 *
 * `model.type: dualformer_lm` is a decoder LM chosen by model.base with this evaluation:
 *   model.base: gpt    (default) the GPT of recipes/gpt: its model.* keys, loss and parameter names, so
 *                      `cformer train --init-from` a GPT checkpoint pretrained on text works;
 *   model.base: llama  the Llama / Mistral decoder of recipes/llama (model.* keys as `model.type: llama`), so
 *                      `--init-from` the model.h5 of `cformer import hf` fine-tunes a pretrained LLM (the
 *                      paper's setting: Mistral-7B, Llama-3-8B); a checkpoint of it exports back with
 *                      `cformer export --format hf`.
 * Generation runs the shared KV-cached loop of layers/generate.h over either. The evaluation covers the first
 * eval.problems problems of the split:
 *   accuracy          greedy decoding: the answer after the last "Answer: " equals the record's (Pass@1)
 *   pass_at_k         k = eval.samples samples at eval.temperature / eval.top_p: any one correct
 *   response_tokens   mean tokens of the greedy response (the paper's "shorter answers")
 *   answered          greedy responses that reach an "Answer: " line
 * each with its 95% interval (Wilson for the rates, normal for the mean: *_lo, *_hi). Decoding stops at the
 * newline that ends the answer line, or after eval.max_new tokens.
 *
 * model.base (gpt); eval.* keys: problems (100), samples (8; 0 skips Pass@k), temperature (0.5), top_p (0.95), max_new (256),
 * seed (0). */
#ifndef CF_DUALFORMER_LM_H
#define CF_DUALFORMER_LM_H

#include "layers/generate.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_dualformer_lm_model;

typedef struct cf_dualformer_lm_eval {
    int64_t problems, samples, max_new, seed;
    double temperature, top_p;
} cf_dualformer_lm_eval;

/* The evaluation above of split (a math_traces dataset) with the decoder lm. */
cf_status cf_dualformer_lm_evaluate(cf_ctx *ctx, const cf_lm *lm, const cf_dualformer_lm_eval *e, cf_dataset *split,
                                    cf_metrics *out);
/* `cformer export --format hf` of a dualformer_lm checkpoint: the Llama export when model.base is llama. */
cf_status cf_dualformer_lm_hf_export(const char *ckpt, const char *out_dir, cf_dtype dtype);

#endif
