/* Autoformer (Wu et al., "Autoformer: Decomposition Transformers with Auto-Correlation for Long-Term Series
 * Forecasting", NeurIPS 2021): the forecasting model type, the `series_csv` dataset and the synthetic-series
 * generator. */
#ifndef CF_AUTOFORMER_MODEL_H
#define CF_AUTOFORMER_MODEL_H

#include "layers/autoformer.h"
#include "recipes/run/model.h"

/* model.type: autoformer (model.arch: autoformer | transformer, the same-size vanilla baseline) */
extern const cf_model_vtable cf_autoformer_model;

typedef struct cf_autoformer_model_t {
    cf_model base;
    bool vanilla;                    /* model.arch: transformer */
    cf_autoformer net;
    cf_vanilla_forecaster tf;
    int64_t cout;                    /* forecast variables: the last cout of the cin outputs */
    int64_t season;                  /* eval.season: the seasonal-naive period (and the delay histogram's) */
    int64_t horizons[5];             /* eval.horizons: per-horizon metrics over the first h steps (at most 5) */
    int nhorizons;
    int64_t bench_lengths[5];        /* eval.bench_lengths: time Auto-Correlation against attention (bench.c) */
    int nbench;
    /* eval.plot_windows (0..16): that many windows, evenly spaced over the split, saved by the evaluation in
     * original units for one forecast variable (eval.plot_variable, default the last) and written to eval.json's
     * "forecast" object for `cformer plot forecast`: per window its input [I], truth, forecast and seasonal-naive
     * forecast [O]. */
    int plot_windows, plot_variable;
    int plot_saved;                  /* windows the last evaluation saved */
    int64_t plot_I, plot_O;
    int64_t *plot_index;             /* [plot_windows] window index in the split */
    double *plot_values;             /* [plot_windows][I + 3 O]: input, truth, forecast, naive */
} cf_autoformer_model_t;

/* The forecast [B, O, cout] of a batch ("x", "x_mark", "dec_mark", "y" of data/series/csv_dataset.h). */
cf_tensor *cf_autoformer_forecast(cf_ctx *ctx, cf_autoformer_model_t *m, const cf_batch *b);
/* `cformer eval`: MSE and MAE per horizon (z-scored and original units), the seasonal-naive baseline, and for
 * Autoformer the histogram of encoder layer 1's delays. */
cf_status cf_autoformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
/* eval.json: the flat metrics, and with eval.plot_windows the "forecast" object (eval.c). */
cf_status cf_autoformer_write_eval(cf_model *m, const char *path, const cf_metrics *flat);
/* ac_ms_L<L> and attn_ms_L<L>: the fastest ms (of 9) of a forward+backward of one Auto-Correlation layer and of one full
 * attention layer (width D, H heads, batch 1) at each of the n lengths. */
cf_status cf_autoformer_bench(cf_ctx *ctx, int64_t D, int64_t H, double factor, const int64_t *lengths, int n,
                              cf_metrics *out);

/* data.type: series_csv (data/series/csv_dataset.h; data.generate writes the synthetic series when the file is
 * missing) */
cf_dataset *cf_series_csv_factory(void *recipe_like, const char *split);
/* `cformer data series --out FILE.csv [...]`: the synthetic hourly series of our CPU plan (daily and weekly
 * seasonality, a piecewise-linear trend, AR(1) noise) in the ETT layout */
int cf_series_synth_cmd(int argc, char **argv);
/* Writes that series (rows >= 2) to path atomically. */
cf_status cf_series_synth_write(const char *path, int64_t rows, uint64_t seed);

#endif
