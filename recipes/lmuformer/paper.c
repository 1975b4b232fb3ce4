/* LMUFormer: Low Complexity Yet Powerful Spiking Model With Legendre Memory Units (Liu et al., ICLR 2024),
 * on the Legendre Memory Unit (Voelker et al., NeurIPS 2019) in its parallel form (Chilkuri & Eliasmith,
 * ICML 2021). */
#include "recipes/lmuformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_lmuformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"kws", cf_kws_factory}, {0}};
static const cf_data_generator generators[] = {
    {"kws", "synthetic keyword spotting: formant sweeps as [frames, mels] features (.npy) and labels (.csv)",
     cf_kws_cmd, NULL},
    {"pseq", "permuted sequential templates (a psMNIST stand-in): one value per frame (.npy) and labels (.csv)",
     cf_pseq_cmd, NULL},
    {0},
};

const cf_paper cf_paper_lmuformer = {
    .name = "lmuformer",
    .title = "LMUFormer: Low Complexity Yet Powerful Spiking Model With Legendre Memory Units (Liu et al., ICLR 2024)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "smoke.yaml",
    .smoke_sets = "train.steps=3 data.path=SMOKE_DIR/kws eval.batches=2",
};
