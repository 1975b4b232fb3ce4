/* Multivariate time series in the ETT / Electricity / Weather CSV layout (Wu et al., "Autoformer:
 * Decomposition Transformers with Auto-Correlation for Long-Term Series Forecasting", NeurIPS 2021, Sec. 4:
 * the benchmark files): a header row of column names, one row per time step, one date column (any position,
 * named by the caller, "date" in the benchmarks) and numeric columns of any names.
 *
 *     date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT
 *     2016-07-01 00:00:00,5.827,2.009,1.599,0.462,4.203,1.340,30.531
 *
 * Reading (cf_series_csv_read):
 *   - dates are "YYYY-MM-DD", "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS" ('T' or '/' accepted as in ISO 8601
 *     and the Weather file), read as naive civil time (no time zone), and must strictly increase;
 *   - a cell is a number (strtod, whole cell), or missing: empty, "NaN", "nan", "NA", "null";
 *   - missing cells follow the named policy (cf_nan_policy): refused (the default), forward-filled (a leading
 *     gap takes the first valid value of its column), or linearly interpolated between the valid neighbours
 *     (edges as forward fill); a column with no valid value is refused under every policy;
 *   - every refusal is an error naming file, line (1-based, the header is line 1) and column (name and 1-based
 *     position): a ragged row, a non-numeric cell, an unparseable or non-increasing date, a missing date
 *     column, a duplicate or empty column name, an empty file.
 *
 * Time features (cf_time_features): the papers' "timeF" embedding input, each in [-0.5, 0.5]:
 *   freq "h": [hour/23, weekday/6, (day-1)/30, (dayofyear-1)/365] - 0.5               (F = 4)
 *   freq "t": [minute/59, then the four of "h"] - 0.5                                   (F = 5)
 *   freq "d": [weekday/6, (day-1)/30, (dayofyear-1)/365] - 0.5                          (F = 3)
 * weekday counts Monday as 0, as pandas does.
 *
 * Writing (cf_series_csv_write) produces the same layout with "YYYY-MM-DD HH:MM:SS" dates, atomically. */
#ifndef CF_DATA_SERIES_CSV_H
#define CF_DATA_SERIES_CSV_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stdint.h>

#define CF_SERIES_NAME_MAX 64
#define CF_TIME_FEATURES_MAX 5

typedef enum cf_nan_policy { CF_NAN_REFUSE = 0, CF_NAN_FFILL, CF_NAN_LINEAR } cf_nan_policy;
/* "refuse", "ffill", "linear"; false for anything else */
bool cf_nan_policy_parse(const char *s, cf_nan_policy *out);

typedef struct cf_series_table {
    char path[1024];
    int64_t rows;                     /* time steps */
    int cols;                         /* numeric columns (the date column excluded), in file order */
    char (*names)[CF_SERIES_NAME_MAX];/* [cols] */
    double *values;                   /* [rows, cols], row-major, finite after reading */
    int64_t *stamps;                  /* [rows] seconds since 1970-01-01 00:00:00, strictly increasing */
    int64_t filled;                   /* missing cells the NaN policy filled */
} cf_series_table;

/* Reads path into *t (zeroed first). date_col: the date column's name. On error *t is left empty. */
cf_status cf_series_csv_read(const char *path, const char *date_col, cf_nan_policy nan, cf_series_table *t);
/* Writes t as CSV to path atomically: "date" first, then t's columns (%.6g). */
cf_status cf_series_csv_write(const char *path, const cf_series_table *t);
void cf_series_table_free(cf_series_table *t);
/* The column called name, or -1. */
int cf_series_column(const cf_series_table *t, const char *name);

/* Civil date-time <-> seconds since 1970-01-01 (proleptic Gregorian). parse returns false on a malformed or
 * out-of-range date (month 1-12, day within the month, hour < 24, minute and second < 60). */
bool cf_parse_datetime(const char *s, int64_t *stamp);
void cf_format_datetime(int64_t stamp, char *buf, size_t n); /* "YYYY-MM-DD HH:MM:SS" */

/* The number of time features of freq ("t", "h", "d"), or -1 for another freq. */
int cf_time_features(const char *freq);
/* Fills out[0 .. cf_time_features(freq)) for one time stamp. */
void cf_time_features_of(const char *freq, int64_t stamp, float *out);

#endif
