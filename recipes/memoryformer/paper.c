#include "recipes/memoryformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_memoryformer_model, NULL};

const cf_paper cf_paper_memoryformer = {
    .name = "memoryformer",
    .title = "MemoryFormer: Minimize Transformer Computation by Removing Fully-Connected Layers (Ding et al., NeurIPS "
             "2024)",
    .models = models,
    .smoke_recipe = "memoryformer-smoke.yaml",
    .smoke_sets = "train.steps=3 eval.every=3",
};
