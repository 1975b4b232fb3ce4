/* Neuroformer: Multimodal and Multitask Generative Pretraining for Brain Data (Antoniades et al., ICLR 2024). */
#include "recipes/neuroformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_neuroformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"spikes", cf_spikes_factory}, {0}};
static const cf_data_generator generators[] = {
    {"spikes", "simulate a spiking circuit with known connectivity (NWB-style HDF5)", cf_neuroformer_simulate_cmd, NULL},
    {0},
};

const cf_paper cf_paper_neuroformer = {
    .name = "neuroformer",
    .title = "Neuroformer: Multimodal and Multitask Generative Pretraining for Brain Data (Antoniades et al., ICLR 2024)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .demo = cf_neuroformer_demo,
    .smoke_recipe = "sim-pretrain.yaml",
    .smoke_sets = "train.steps=3 data.simulate.seconds=60 data.path=SMOKE_DIR/nf.sim.h5 eval.max_windows=20 eval.free_seconds=0.5",
};
