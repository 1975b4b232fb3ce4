/* `cformer plot`: training curves from a run's metrics.jsonl, rendered to a PNG.
 *
 * metrics.jsonl holds one flat JSON object per logged step ({"step": 10, "loss": 2.31, "lr": 3e-4, ...}).
 * Every numeric key other than "step" is a metric; null (or a non-finite number) is a gap in its curve;
 * string, bool and nested values are ignored. A resumed run appends lines for steps already logged, so a
 * later line wins: for each (step, metric) the value from the last line that names the metric is kept.
 * Each selected metric is drawn in its own panel, stacked top to bottom on a shared step axis. */
#ifndef CF_PLOT_H
#define CF_PLOT_H

#include "autograd/cf_base.h"

#include <stdbool.h>

typedef struct cf_plot_options {
    /* The metrics to draw, in this order; NULL (or n_metrics 0) draws "loss" first and then every other
     * metric in order of first appearance, leaving out elapsed_s and tokens_per_s (ask for them by name). */
    const char *const *metrics;
    int n_metrics;
    bool log_loss;    /* log-scale y for the "loss" panel (linear anyway, with a warning, if a loss is <= 0) */
    int width;        /* image width in pixels; 0 = 960 */
    int panel_height; /* height of one panel in pixels; 0 = 240 */
    bool quiet;       /* no warnings on stderr (a skipped incomplete last line, a log scale not possible) */
    const char *x_key; /* the key on the x axis; NULL = "step". Any numeric key makes a line plot of the other
                          metrics against it (e.g. a sweep's jsonl, one line per setting: {"seconds": 2000, ...}) */
} cf_plot_options;

/* Reads jsonl_path and writes the curves to png_path (atomically: a temporary file in the same directory,
 * fsynced, then renamed). o may be NULL for the defaults. Fails, naming jsonl_path:LINE:COLUMN, on a
 * malformed line; an incomplete last line (no trailing newline: the run may be writing it) is skipped
 * with a warning instead. Also fails when the file is missing, has no numeric data, or a requested metric
 * is not in it. */
cf_status cf_plot_metrics(const char *jsonl_path, const char *png_path, const cf_plot_options *o);

/* `cformer plot DIR [-o FILE.png] [--metrics loss,lr,...] [--x KEY] [--log] [--width N] [--panel-height N]`:
 * reads DIR/metrics.jsonl (DIR may also be the .jsonl file itself), writes DIR/curves.png by default.
 * Returns 0 on success, 1 on failure, 2 on a usage error. */
int cf_cmd_plot(int argc, char **argv);

#endif
