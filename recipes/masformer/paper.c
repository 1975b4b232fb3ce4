/* MASFormer: "Efficient Long-Range Transformers: You Need to Attend More, but Not Necessarily at Every Layer"
 * (Zhang, Ram, Hawkins, Zha, Zhao, EMNLP 2023 Findings), on the markov_copy long-range copy language. */
#include "recipes/masformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_masformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"markov_copy", cf_markov_copy_factory}, {0}};

const cf_paper cf_paper_masformer = {
    .name = "masformer",
    .title = "MASFormer: Efficient Long-Range Transformers: You Need to Attend More, but Not Necessarily at Every "
             "Layer (Zhang et al., EMNLP 2023 Findings)",
    .models = models,
    .datasets = datasets,
    .smoke_recipe = "masformer.yaml",
    .smoke_sets = "train.steps=3 eval.every=3 eval.batches=2 data.eval_size=8 model.seq=64 data.span=8 "
                  "data.source_end=16 data.insert_from=32",
};
