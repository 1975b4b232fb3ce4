/* ShapeFormer: Shapelet Transformer for Multivariate Time Series Classification (Le et al., KDD 2024). */
#include "recipes/run/paper.h"
#include "recipes/shapeformer/model.h"

static const cf_model_vtable *const models[] = {&cf_shapeformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"ts", cf_ts_factory}, {0}};
static const cf_data_generator generators[] = {
    {"motifs", "planted-motif multivariate series (4 classes, balanced or imbalanced) as UEA .ts files",
     cf_shapeformer_motifs_cmd, NULL},
    {0},
};

const cf_paper cf_paper_shapeformer = {
    .name = "shapeformer",
    .title = "ShapeFormer: Shapelet Transformer for Multivariate Time Series Classification (Le et al., KDD 2024)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "shapeformer.yaml",
    .smoke_sets = "train.steps=3 data.path=SMOKE_DIR/motifs eval.every=3 eval.batches=2",
};
