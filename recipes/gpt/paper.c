/* The GPT baseline as a paper of the registry: a decoder-only language model (Radford et al., "Language
 * Models are Unsupervised Multitask Learners", 2019) on the built-in text and random_tokens datasets. */
#include "recipes/gpt/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_gpt_model, NULL};

const cf_paper cf_paper_gpt = {
    .name = "gpt",
    .title = "GPT: Language Models are Unsupervised Multitask Learners (Radford et al., 2019)",
    .models = models,
    .smoke_recipe = "village-bytes.yaml",
    .smoke_sets = "train.steps=3 eval.every=3 eval.batches=2",
};
