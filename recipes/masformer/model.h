/* MASFormer (Zhang et al., "Efficient Long-Range Transformers: You Need to Attend More, but Not Necessarily at
 * Every Layer", EMNLP 2023 Findings) as the trainer sees it: `model.type: masformer` and the `markov_copy`
 * dataset (data/text/markov_copy.h).
 *
 * Recipe keys: every model.* key of the GPT (recipes/gpt/README.md), and
 *     model.full_layers       1-based layers with full causal attention, e.g. [2, 5]; [] = all local
 *     model.local_span        the local layers' span b (block size or window), default 16
 *     model.local_attention   block | block_prev (default) | window (layers/masformer.h)
 * Batches hold "tokens" and "targets" i64 [B, T] (T a multiple of b for the block kinds) and, from
 * markov_copy, "long_range" bool [B, T]; the loss is the mean next-token cross-entropy. */
#ifndef CF_MASFORMER_MODEL_H
#define CF_MASFORMER_MODEL_H

#include "layers/masformer.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_masformer_model;

/* The stack inside a model made by cf_masformer_model.create; NULL for other models. */
cf_masformer *cf_masformer_of(cf_model *m);

/* data.type: markov_copy. Keys data.vocab (default model.vocab), data.seq (default model.seq), data.size
 * (training rows, 4096), data.eval_size (val/test rows, 256), data.branching, data.span, data.source_end,
 * data.insert_from, data.seed (markov_copy.h). */
cf_dataset *cf_markov_copy_factory(void *recipe_like, const char *split);

/* `cformer eval`: loss, perplexity, loss_long_range, loss_local, bigram_entropy, attn_flops_frac (eval.c). */
cf_status cf_masformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);

#endif
