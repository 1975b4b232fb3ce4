/* Forecasting windows over an ETT-layout CSV: splits, training-only z-scoring, time features
 * (data/series/csv_dataset.h). */
#include "data/series/csv_dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series_ds {
    cf_dataset base;
    int64_t I, Ol, O, b1, b2; /* window sizes; this split's rows */
    int cin, cout, F;
    char freq[4];
    float *z;        /* [rows, cin] z-scored input columns of the whole file */
    float *marks;    /* [rows, F] */
    double mean[CF_SERIES_MAX_COLUMNS], std[CF_SERIES_MAX_COLUMNS]; /* of the input columns */
} series_ds;

static const char *const split_names[3] = {"train", "val", "test"};

bool cf_series_features_parse(const char *s, cf_series_features *out)
{
    static const char *const names[] = {"M", "S", "MS"};
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, names[i]) == 0) return *out = (cf_series_features)i, true;
    return false;
}

bool cf_series_split_parse(const char *s, cf_series_split *out)
{
    static const char *const names[] = {"ratio", "ett_h", "ett_m"};
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, names[i]) == 0) return *out = (cf_series_split)i, true;
    return false;
}

cf_series_spec cf_series_spec_defaults(void)
{
    return (cf_series_spec){.date_col = "date", .target = "OT", .freq = "h", .seq_len = 96, .label_len = 48,
                            .pred_len = 96};
}

cf_status cf_series_borders(cf_series_split split, int64_t rows, int64_t seq_len, int64_t pred_len, int64_t b1[3],
                            int64_t b2[3])
{
    int64_t n[3];
    if (split == CF_SPLIT_RATIO) {
        n[0] = (int64_t)((double)rows * 0.7), n[2] = (int64_t)((double)rows * 0.2), n[1] = rows - n[0] - n[2];
    } else {
        int64_t per = split == CF_SPLIT_ETT_M ? 4 : 1, month = 30 * 24 * per;
        n[0] = 12 * month, n[1] = 4 * month, n[2] = 4 * month;
        if (rows < 20 * month)
            return cf_set_error(CF_ERR_ARG, "the %s split needs 20 months (%lld rows); the file has %lld",
                                split == CF_SPLIT_ETT_M ? "ett_m" : "ett_h", (long long)(20 * month), (long long)rows);
    }
    int64_t at = 0;
    for (int k = 0; k < 3; k++) {
        b1[k] = k == 0 ? 0 : at - seq_len;
        b2[k] = at + n[k];
        at = b2[k];
        if (b1[k] < 0 || n[k] < pred_len || b2[k] - b1[k] < seq_len + pred_len)
            return cf_set_error(CF_ERR_ARG, "%lld rows give the %s split %lld rows, too few for one window of %lld "
                                "inputs and %lld targets", (long long)rows, split_names[k], (long long)n[k],
                                (long long)seq_len, (long long)pred_len);
    }
    return CF_OK;
}

/* the table's columns the model reads, the target last (M, MS) or alone (S) */
static cf_status pick_columns(const cf_series_table *t, const cf_series_spec *s, int *cols, int *cin)
{
    int target = cf_series_column(t, s->target), n = 0;
    if (target < 0) return cf_set_error(CF_ERR_ARG, "%s: no target column '%s' in the header", t->path, s->target);
    if (s->features != CF_SERIES_S) {
        if (s->columns[0]) {
            for (int i = 0; i < CF_SERIES_MAX_COLUMNS && s->columns[i]; i++) {
                int c = cf_series_column(t, s->columns[i]);
                if (c < 0) return cf_set_error(CF_ERR_ARG, "%s: no column '%s' in the header", t->path, s->columns[i]);
                if (c != target) cols[n++] = c;
            }
        } else {
            if (t->cols > CF_SERIES_MAX_COLUMNS)
                return cf_set_error(CF_ERR_ARG, "%s: %d columns; at most %d can be read (list data.columns)", t->path,
                                    t->cols, CF_SERIES_MAX_COLUMNS);
            for (int c = 0; c < t->cols; c++)
                if (c != target) cols[n++] = c;
        }
    }
    cols[n++] = target;
    *cin = n;
    return CF_OK;
}

static cf_status fill_scaled(series_ds *d, const cf_series_table *t, const int *cols, int64_t train_end)
{
    d->z = malloc((size_t)(t->rows * d->cin) * sizeof *d->z);
    d->marks = malloc((size_t)(t->rows * d->F) * sizeof *d->marks);
    if (!d->z || !d->marks) return cf_set_error(CF_ERR_OOM, "%s: out of memory", t->path);
    for (int j = 0; j < d->cin; j++) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < train_end; i++) sum += t->values[i * t->cols + cols[j]];
        double mean = sum / (double)train_end;
        for (int64_t i = 0; i < train_end; i++) {
            double e = t->values[i * t->cols + cols[j]] - mean;
            sq += e * e;
        }
        double sd = sqrt(sq / (double)train_end);
        d->mean[j] = mean, d->std[j] = sd > 0 ? sd : 1.0;
        for (int64_t i = 0; i < t->rows; i++)
            d->z[i * d->cin + j] = (float)((t->values[i * t->cols + cols[j]] - mean) / d->std[j]);
    }
    for (int64_t i = 0; i < t->rows; i++) cf_time_features_of(d->freq, t->stamps[i], d->marks + i * d->F);
    return CF_OK;
}

static void copy_rows(float *dst, const float *src, int64_t from, int64_t n, int width, int take)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + i * take, src + (from + i) * width + (width - take), (size_t)take * sizeof *dst);
}

static cf_status ds_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    series_ds *d = (series_ds *)ds;
    cf_tensor *x = cf_batch_get(b, "x"), *xm = cf_batch_get(b, "x_mark"), *dm = cf_batch_get(b, "dec_mark"),
              *y = cf_batch_get(b, "y");
    if (!x || !xm || !dm || !y) return cf_last_status();
    int64_t s = d->b1 + index, Ld = d->Ol + d->O;
    copy_rows((float *)cf_data(x) + row * d->I * d->cin, d->z, s, d->I, d->cin, d->cin);
    copy_rows((float *)cf_data(xm) + row * d->I * d->F, d->marks, s, d->I, d->F, d->F);
    copy_rows((float *)cf_data(dm) + row * Ld * d->F, d->marks, s + d->I - d->Ol, Ld, d->F, d->F);
    copy_rows((float *)cf_data(y) + row * d->O * d->cout, d->z, s + d->I, d->O, d->cin, d->cout);
    return CF_OK;
}

static cf_status ds_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    series_ds *d = (series_ds *)ds;
    CF_TRY(cf_batch_add(b, "x", CF_F32, CF_SHAPE(rows, d->I, d->cin)));
    CF_TRY(cf_batch_add(b, "x_mark", CF_F32, CF_SHAPE(rows, d->I, d->F)));
    CF_TRY(cf_batch_add(b, "dec_mark", CF_F32, CF_SHAPE(rows, d->Ol + d->O, d->F)));
    return cf_batch_add(b, "y", CF_F32, CF_SHAPE(rows, d->O, d->cout));
}

static void ds_free(cf_dataset *ds)
{
    series_ds *d = (series_ds *)ds;
    free(d->z);
    free(d->marks);
    free(d);
}

static const cf_dataset_vtable series_vt = {"series_csv", ds_get, ds_make_batch, ds_free};

bool cf_series_dataset_is(const cf_dataset *ds) { return ds && ds->vt == &series_vt; }

cf_status cf_series_dataset_scaler(const cf_dataset *ds, int c, double *mean, double *std)
{
    if (!cf_series_dataset_is(ds)) return cf_set_error(CF_ERR_ARG, "%s is not a series_csv dataset", ds->name);
    const series_ds *d = (const series_ds *)ds;
    if (c < 0 || c >= d->cout) return cf_set_error(CF_ERR_ARG, "%s: forecast column %d outside [0, %d)", ds->name, c, d->cout);
    *mean = d->mean[d->cin - d->cout + c], *std = d->std[d->cin - d->cout + c];
    return CF_OK;
}

int64_t cf_series_dataset_row(const cf_dataset *ds, int64_t index)
{
    return cf_series_dataset_is(ds) ? ((const series_ds *)ds)->b1 + index : -1;
}

static cf_status check_spec(const char *path, const cf_series_spec *s, int *k, const char *split)
{
    *k = -1;
    for (int i = 0; i < 3; i++)
        if (split && strcmp(split, split_names[i]) == 0) *k = i;
    if (*k < 0) return cf_set_error(CF_ERR_ARG, "%s: unknown split '%s' (train, val or test)", path, split ? split : "");
    if (cf_time_features(s->freq) < 0)
        return cf_set_error(CF_ERR_ARG, "%s: unknown time-feature freq '%s' (t, h or d)", path, s->freq ? s->freq : "");
    if (s->seq_len < 1 || s->pred_len < 1 || s->label_len < 0 || s->label_len > s->seq_len)
        return cf_set_error(CF_ERR_ARG, "%s: windows need seq_len >= 1, pred_len >= 1 and 0 <= label_len <= seq_len "
                            "(got %lld, %lld, %lld)", path, (long long)s->seq_len, (long long)s->pred_len,
                            (long long)s->label_len);
    return CF_OK;
}

cf_dataset *cf_series_dataset_open(const char *path, const cf_series_spec *s, const char *split)
{
    int k;
    if (check_spec(path, s, &k, split) != CF_OK) return NULL;
    cf_series_table t;
    if (cf_series_csv_read(path, s->date_col, s->nan, &t) != CF_OK) return NULL;
    int cols[CF_SERIES_MAX_COLUMNS + 1], cin = 0;
    int64_t b1[3], b2[3];
    series_ds *d = NULL;
    cf_status st = pick_columns(&t, s, cols, &cin);
    if (st == CF_OK && cf_series_borders(s->split, t.rows, s->seq_len, s->pred_len, b1, b2) != CF_OK) {
        char msg[512]; /* the message is rewritten with the file's name in front */
        snprintf(msg, sizeof msg, "%s", cf_last_error());
        st = cf_set_error(cf_last_status(), "%s: %s", path, msg);
    }
    if (st == CF_OK && !(d = calloc(1, sizeof *d))) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    if (st == CF_OK) {
        d->base.vt = &series_vt;
        d->I = s->seq_len, d->Ol = s->label_len, d->O = s->pred_len, d->b1 = b1[k], d->b2 = b2[k];
        d->cin = cin, d->cout = s->features == CF_SERIES_M ? cin : 1, d->F = cf_time_features(s->freq);
        snprintf(d->freq, sizeof d->freq, "%s", s->freq);
        d->base.len = d->b2 - d->b1 - d->I - d->O + 1;
        snprintf(d->base.name, sizeof d->base.name, "series_csv %s [%s]", path, split);
        cf_data_info *info = &d->base.info;
        info->units = cin, info->channels = d->cout, info->seq = d->I, info->frames = d->O;
        for (int c = 0; c < d->cout; c++)
            snprintf(info->channel_names[c], sizeof info->channel_names[c], "%s", t.names[cols[cin - d->cout + c]]);
        st = fill_scaled(d, &t, cols, b2[0]);
    }
    cf_series_table_free(&t);
    if (st != CF_OK) {
        if (d) ds_free(&d->base);
        return NULL;
    }
    return &d->base;
}
