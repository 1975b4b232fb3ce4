/* AlgoFormer: "On the Expressive Power of a Variant of the Looped Transformer" (Gao et al., 2024), trained on
 * in-context regression with the looped-transformer protocol of Yang et al. (ICLR 2024). */
#include "recipes/algoformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_algoformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"icl_regression", cf_icl_factory}, {0}};

const cf_paper cf_paper_algoformer = {
    .name = "algoformer",
    .title = "AlgoFormer: On the Expressive Power of a Variant of the Looped Transformer (Gao et al., 2024)",
    .models = models,
    .datasets = datasets,
    .smoke_recipe = "algoformer.yaml",
    .smoke_sets = "train.steps=3 eval.every=3 eval.batches=2 data.eval_items=16 eval.batch_size=8 "
                  "model.dim=16 model.heads=2 train.batch_size=8 data.n_every=1",
};
