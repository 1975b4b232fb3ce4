/* InterFormer: Real-time Interactive Image Segmentation (Huang et al., ICCV 2023). */
#include "recipes/interformer/internal.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_interformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"scenes", cf_scenes_factory}, {0}};
static const cf_data_generator generators[] = {
    {"scenes", "synthetic instance scenes (2..5 occluding shapes) as PNG pairs: RGB images + instance-id masks",
     cf_interformer_scenes_cmd, NULL},
    {0},
};

const cf_paper cf_paper_interformer = {
    .name = "interformer",
    .title = "InterFormer: Real-time Interactive Image Segmentation (Huang et al., ICCV 2023)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "interformer.yaml",
    .smoke_sets = "train.steps=3 train.batch_size=4 data.path=SMOKE_DIR/scenes data.generate.train=16 "
                  "data.generate.val=4 eval.every=3 eval.batches=1 eval.batch_size=4 eval.clicks=3",
};
