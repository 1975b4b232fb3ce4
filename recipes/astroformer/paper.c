/* Astroformer: More Data Might not be all you need for Classification (Dagli, ICLR 2023 workshop). */
#include "recipes/astroformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_astroformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"galaxies", cf_galaxies_factory}, {0}};
static const cf_data_generator generators[] = {
    {"galaxies", "synthetic galaxies of the ten Galaxy10 DECaLS classes (64 x 64 g/r/z) as a Galaxy10-layout HDF5 file",
     cf_galaxies_cmd, NULL},
    {0},
};

const cf_paper cf_paper_astroformer = {
    .name = "astroformer",
    .title = "Astroformer: More Data Might not be all you need for Classification (Dagli, arXiv 2304.05350, 2023)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "astroformer.yaml",
    .smoke_sets = "train.steps=3 data.train_size=48 data.test_size=16 train.batch_size=16 eval.every=3 eval.batches=1 "
                  "eval.batch_size=16",
};
