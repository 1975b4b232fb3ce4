/* MAFormer: A Transformer Network with Multi-scale Attention Fusion for Visual Recognition (Wang et al., 2022). */
#include "recipes/maformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_maformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"glyphs", cf_glyphs_factory}, {0}};
static const cf_data_generator generators[] = {
    {"glyphs", "MAFormer's local + global glyph task (32 x 32 grey, 8 classes) as IDX files", cf_glyphs_cmd, NULL},
    {0},
};

const cf_paper cf_paper_maformer = {
    .name = "maformer",
    .title = "MAFormer: A Transformer Network with Multi-scale Attention Fusion for Visual Recognition (Wang et al., "
             "arXiv 2209.01620, 2022)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "maformer.yaml",
    .smoke_sets = "train.steps=3 data.train_size=64 data.test_size=32 train.batch_size=16 eval.every=3 eval.batches=1 "
                  "eval.batch_size=16",
};
