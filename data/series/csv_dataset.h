/* Forecasting windows over an ETT-layout CSV (data/series/csv.h), as the Autoformer benchmarks cut them
 * (Wu et al., NeurIPS 2021, Sec. 4 "Datasets" and the official data loader):
 *
 * Splits (cf_series_borders): each split is the row range [b1, b2):
 *   ratio  (7:1:2): train = int(0.7 N), test = int(0.2 N), val = N - train - test rows;
 *   ett_h  (ETT's 12/4/4 months of hours): 8640 / 2880 / 2880 rows (the file needs at least 14400);
 *   ett_m  (the same months at 15 minutes): 34560 / 11520 / 11520 rows.
 * val and test start seq_len rows before their border, so their first window has a full input; every TARGET
 * row of a split lies inside the split's own rows (no leakage): input [s, s+I), targets [s+I, s+I+O).
 *
 * Scaling: each column is z-scored with the mean and the population std of the TRAINING rows only
 * [0, train border) (a constant column gets std 1, as sklearn's StandardScaler); every split is scaled with
 * those statistics and metrics are reported on that scale (the papers' protocol) and in original units.
 *
 * Features (the papers' M / S / MS): the model's input columns are every numeric column (or those the caller
 * lists) with the target moved last (M, MS), or the target alone (S); the forecast columns are all the input
 * columns (M) or the target alone (S, MS), always the LAST cout input columns.
 *
 * An item is one window at stride 1 (count = rows of the split - I - O + 1); a batch holds
 *   "x"        f32 [B, I, cin]        the z-scored input window
 *   "x_mark"   f32 [B, I, F]          its time features (csv.h)
 *   "dec_mark" f32 [B, Ol + O, F]     the decoder's time features: the last Ol input steps and the O targets
 *   "y"        f32 [B, O, cout]       the z-scored targets
 * and the dataset's info has units = cin, channels = cout with their names, seq = I, frames = O.
 *
 *     cf_series_spec s = cf_series_spec_defaults();          // date, target OT, freq h, M, ratio, 96/48/96
 *     cf_dataset *train = cf_series_dataset_open("synth.csv", &s, "train");
 */
#ifndef CF_DATA_SERIES_CSV_DATASET_H
#define CF_DATA_SERIES_CSV_DATASET_H

#include "data/dataset.h"
#include "data/series/csv.h"

typedef enum cf_series_features { CF_SERIES_M = 0, CF_SERIES_S, CF_SERIES_MS } cf_series_features;
typedef enum cf_series_split { CF_SPLIT_RATIO = 0, CF_SPLIT_ETT_H, CF_SPLIT_ETT_M } cf_series_split;
bool cf_series_features_parse(const char *s, cf_series_features *out); /* "M", "S", "MS" */
bool cf_series_split_parse(const char *s, cf_series_split *out);       /* "ratio", "ett_h", "ett_m" */

#define CF_SERIES_MAX_COLUMNS 64

typedef struct cf_series_spec {
    const char *date_col, *target, *freq; /* column names; freq as cf_time_features */
    const char *columns[CF_SERIES_MAX_COLUMNS]; /* the input columns (NULL-terminated); none: every column */
    cf_nan_policy nan;
    cf_series_features features;
    cf_series_split split;
    int64_t seq_len, label_len, pred_len; /* I, Ol (<= I), O; all >= 1 */
} cf_series_spec;

cf_series_spec cf_series_spec_defaults(void);

/* The row ranges [b1[k], b2[k]) of train, val and test for a file of `rows` rows; an error when the file is too
 * short for the split or for one window in each split. */
cf_status cf_series_borders(cf_series_split split, int64_t rows, int64_t seq_len, int64_t pred_len, int64_t b1[3],
                            int64_t b2[3]);

/* Opens one split ("train", "val" or "test") of the file; NULL with an error naming the file (and line and
 * column for a malformed cell) on failure. */
cf_dataset *cf_series_dataset_open(const char *path, const cf_series_spec *s, const char *split);

/* For evaluations: true when ds is a series dataset. The training statistics of forecast column c (original
 * units = z * std + mean); the absolute file row of item index's first input step. */
bool cf_series_dataset_is(const cf_dataset *ds);
cf_status cf_series_dataset_scaler(const cf_dataset *ds, int c, double *mean, double *std);
int64_t cf_series_dataset_row(const cf_dataset *ds, int64_t index);

#endif
