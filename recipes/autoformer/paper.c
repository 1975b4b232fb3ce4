/* Autoformer: Decomposition Transformers with Auto-Correlation for Long-Term Series Forecasting (Wu et al.,
 * NeurIPS 2021), with the same-size vanilla Transformer and the seasonal-naive baseline. */
#include "recipes/autoformer/model.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_autoformer_model, NULL};
static const cf_dataset_entry datasets[] = {{"series_csv", cf_series_csv_factory}, {0}};
static const cf_data_generator generators[] = {
    {"series", "synthetic hourly series (daily + weekly seasons, drifting trend, AR(1) noise) as an ETT-layout CSV",
     cf_series_synth_cmd, NULL},
    {0},
};

const cf_paper cf_paper_autoformer = {
    .name = "autoformer",
    .title = "Autoformer: Decomposition Transformers with Auto-Correlation for Long-Term Series Forecasting "
             "(Wu et al., NeurIPS 2021)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .smoke_recipe = "autoformer.yaml",
    .smoke_sets = "train.steps=3 data.path=SMOKE_DIR/synth.csv data.generate.rows=1200 data.seq_len=48 "
                  "data.label_len=24 data.pred_len=24 eval.horizons=[12,24] model.dim=8 model.heads=2 model.ff=16 "
                  "eval.batches=2 eval.every=3 checkpoint.every=3",
};
