/* The Llama / Mistral decoder family as a paper of the registry: "Llama 2: Open Foundation and Fine-Tuned
 * Chat Models" (Touvron et al., 2023) and "Mistral 7B" (Jiang et al., 2023), with the import of their
 * pretrained weights from the Hugging Face layout and the export back to it. */
#include "recipes/llama/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_llama_model, NULL};
static const char *const architectures[] = {"LlamaForCausalLM", "MistralForCausalLM", NULL};

const cf_paper cf_paper_llama = {
    .name = "llama",
    .title = "Llama 2: Open Foundation and Fine-Tuned Chat Models (Touvron et al., 2023); Mistral 7B (Jiang et al., 2023)",
    .models = models,
    .smoke_recipe = "village-llama.yaml",
    .smoke_sets = "train.steps=3 eval.every=3 eval.batches=2",
    .hf_architectures = architectures,
    .hf_import = cf_llama_hf_import,
    .hf_export = cf_llama_hf_export,
};
