/* Keyformer (Adnan et al., "Keyformer: KV Cache Reduction through Key Tokens Selection for Efficient Generative
 * Inference", MLSys 2024) as a paper of the registry: the GPT decoder evaluated under KV-cache eviction. */
#include "recipes/keyformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_keyformer_model, NULL};

const cf_paper cf_paper_keyformer = {
    .name = "keyformer",
    .title = "Keyformer: KV Cache Reduction through Key Tokens Selection for Efficient Generative Inference (Adnan et "
             "al., MLSys 2024)",
    .models = models,
    .smoke_recipe = "village-smoke.yaml",
    .smoke_sets = "train.steps=3 eval.every=3 eval.batches=2",
};
