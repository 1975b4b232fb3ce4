/* EcoFormer: Energy-Saving Attention with Linear Complexity (Liu et al., NeurIPS 2022). */
#include "recipes/ecoformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_ecoformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"lra_shapes", cf_lra_shapes_factory}, {0}};
static const cf_data_generator generators[] = {
    {"lra-shapes", "synthetic long-range shapes images (bars, diagonals, crosses) as LRA-style TSV", cf_ecoformer_shapes_cmd,
     NULL},
    {0},
};

const cf_paper cf_paper_ecoformer = {
    .name = "ecoformer",
    .title = "EcoFormer: Energy-Saving Attention with Linear Complexity (Liu et al., NeurIPS 2022)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "ecoformer.yaml",
    .smoke_sets = "train.steps=3 train.batch_size=8 data.path=SMOKE_DIR/lra data.generate.train=48 "
                  "data.generate.val=16 data.generate.test=16 model.hash_iters=5 eval.every=3 eval.batches=2 eval.auc_rows=8",
};
