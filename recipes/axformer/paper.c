/* The AxFormer entry of the registry (recipes/papers.def). */
#include "recipes/axformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_axformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"synlang", cf_synlang_factory}, {0}};
static const cf_data_generator generators[] = {
    {"synlang", "a synthetic bigram language: pre-training corpus + a labelled GLUE-style task (AxFormer)", cf_synlang_cmd, NULL},
    {0}};

const cf_paper cf_paper_axformer = {
    .name = "axformer",
    .title = "AxFormer: Accuracy-driven Approximation of Transformers (Nagarajan, Sen, Stevens, Raghunathan, arXiv 2010.03688)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .commands = cf_axformer_commands,
    .smoke_recipe = "finetune.yaml",
    .smoke_sets = "train.steps=3 eval.every=3 eval.batches=2 data.path=SMOKE_DIR/synlang data.generate.corpus=20 "
                  "data.generate.train=64 data.generate.val=16 data.generate.test=16 model.layers=2 model.dim=32",
};
