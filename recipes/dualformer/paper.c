/* Dualformer: Controllable Fast and Slow Thinking by Learning with Randomized Reasoning Traces (Su et al., ICLR
 * 2025), on the Searchformer encoder-decoder (Lehnert et al., "Beyond A*: Better Planning with Transformers via
 * Search Dynamics Bootstrapping", COLM 2024). */
#include "recipes/dualformer/lm.h"
#include "recipes/dualformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_dualformer_model, &cf_dualformer_lm_model, NULL};
static const cf_dataset_entry datasets[] = {{"mazes", cf_mazes_factory}, {"math_traces", cf_math_traces_factory}, {0}};
static const cf_data_generator generators[] = {
    {"mazes", "maze navigation tasks with A* search traces and optimal plans", cf_dualformer_mazes_cmd,
     cf_dualformer_mazes_describe},
    {"math-traces", "multi-step arithmetic and algebra problems with exact step-by-step solutions (JSON Lines)",
     cf_dualformer_traces_cmd, NULL},
    {0},
};

const cf_paper cf_paper_dualformer = {
    .name = "dualformer",
    .title = "Dualformer: Controllable Fast and Slow Thinking by Learning with Randomized Reasoning Traces (Su et al., ICLR 2025)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "dualformer.yaml",
    .smoke_sets = "train.steps=3 data.generate.count=200 data.path=SMOKE_DIR/mazes.bin eval.tasks=4 eval.samples=2",
    .hf_export = cf_dualformer_lm_hf_export,
};
