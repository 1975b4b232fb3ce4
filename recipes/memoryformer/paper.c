#include "recipes/memoryformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_memoryformer_model, NULL};

const cf_paper cf_paper_memoryformer = {
    .name = "memoryformer",
    .title = "MemoryFormer: Minimize Transformer Computation by Removing Fully-Connected Layers (Ding et al., NeurIPS "
             "2024)",
    .models = models,
    .smoke_recipe = "memoryformer.yaml",
    .smoke_sets = "data.path=../data/village.txt model.seq=32 model.layers=1 train.steps=3 train.batch_size=4 "
                  "eval.every=3 eval.batches=2 eval.windows=4",
};
