/* `model.type: axformer` (Nagarajan et al., "AxFormer: Accuracy-driven Approximation of Transformers", arXiv
 * 2010.03688): the post-LN encoder of layers/axformer.h with a masked-token head (model.task: mlm, pre-training)
 * or a [CLS] classifier (model.task: classify, fine-tuning), the `synlang` dataset and the approximation search
 * (`cformer run axformer-search`). Keys: recipes/axformer/README.md.
 *
 * Batches (data.type: synlang): ids i64 [B, T] ([CLS] then the words, some replaced when data.mask_prob > 0),
 * targets i64 [B, T] (the original token where masked, -100 elsewhere), label i64 [B] (-1 for the corpus). */
#ifndef CF_AXFORMER_MODEL_H
#define CF_AXFORMER_MODEL_H

#include "layers/axformer.h"
#include "recipes/run/model.h"
#include "recipes/run/paper.h"

extern const cf_model_vtable cf_axformer_model;
extern const cf_paper_command cf_axformer_commands[]; /* `cformer run axformer-search` */

/* The search's own keys (model.search.* of the recipe), read by create. */
typedef struct cf_axf_search_config {
    int64_t refit_steps; /* re-fine-tuning steps after each granularity (0: none) */
    int64_t hard_k;      /* top-k of the hard-attention search (0: skip it) */
    double tolerance;    /* a removal is kept when the validation loss grows by at most this (accuracy mode: 0) */
    int64_t timing_reps; /* forward passes over the test split per wall-clock measurement */
} cf_axf_search_config;

/* The model's encoder (its switches are what the search sets) and search keys; NULL for another model type. */
cf_axformer *cf_axf_encoder_of(cf_model *m);
const cf_axf_search_config *cf_axf_search_of(cf_model *m);

/* One pass over ds in batches of batch_size without gradients: mean loss, accuracy (classify: of the label;
 * mlm: of the masked tokens), counted forward FLOPs per example and the wall-clock seconds of the pass. */
typedef struct cf_axf_score {
    double loss, accuracy, flops_per_example, seconds;
    int64_t examples;
} cf_axf_score;
cf_status cf_axf_score_split(cf_model *m, cf_ctx *ctx, cf_dataset *ds, int64_t batch_size, cf_axf_score *out);

cf_dataset *cf_synlang_factory(void *recipe_like, const char *split);
int cf_synlang_cmd(int argc, char **argv);

#endif
