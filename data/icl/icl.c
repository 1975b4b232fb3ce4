/* The icl_regression prompts and their dataset; the contract is in data/icl/icl.h. */
#include "data/icl/icl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* RNG streams: per item (split, index) the task vector, the points and the noise; A has its own stream */
enum { DRAW_W = 0, DRAW_X = 1, DRAW_NOISE = 2 };
#define STREAM_A UINT64_C(0xa1f0)
#define SPLIT_SHIFT 44 /* items of a split: index < 2^44 (CF_MAX_COUNT is 2^40) */

bool cf_icl_task_parse(const char *s, cf_icl_task *out)
{
    if (strcmp(s, "linear") == 0) return *out = CF_ICL_LINEAR, true;
    if (strcmp(s, "representation") == 0) return *out = CF_ICL_REPRESENTATION, true;
    return false;
}

cf_icl_config cf_icl_defaults(void)
{
    return (cf_icl_config){.task = CF_ICL_LINEAR, .dim = 5, .n_max = 20, .n_start = 6, .n_inc = 2, .n_every = 400,
                           .batch = 64, .noise = 0, .seed = 1};
}

cf_status cf_icl_check(const cf_icl_config *c)
{
    if (c->dim < 1 || c->dim > 4096) return cf_set_error(CF_ERR_ARG, "icl: dim %lld outside [1, 4096]", (long long)c->dim);
    if (c->n_max < 1 || c->n_max > (1 << 20))
        return cf_set_error(CF_ERR_ARG, "icl: n_max %lld outside [1, 2^20]", (long long)c->n_max);
    if (c->n_start < 1 || c->n_start > c->n_max)
        return cf_set_error(CF_ERR_ARG, "icl: n_start %lld outside [1, n_max = %lld]", (long long)c->n_start,
                            (long long)c->n_max);
    if (c->n_inc < 0 || c->n_every < 0 || c->batch < 1)
        return cf_set_error(CF_ERR_ARG, "icl: n_inc and n_every must be >= 0 and batch >= 1");
    if (!(c->noise >= 0) || !isfinite(c->noise)) return cf_set_error(CF_ERR_ARG, "icl: noise must be finite and >= 0");
    return CF_OK;
}

int64_t cf_icl_examples(const cf_icl_config *c, bool train, int64_t index)
{
    if (!train || c->n_every == 0) return c->n_max;
    int64_t rounds = index / c->batch / c->n_every;
    if (c->n_inc == 0 || rounds >= (c->n_max - c->n_start) / c->n_inc + 1) return c->n_max;
    int64_t n = c->n_start + c->n_inc * rounds;
    return n < c->n_max ? n : c->n_max;
}

static double a_entry(const cf_icl_config *c, int64_t j, int64_t k)
{
    return cf_rng_normal(cf_rng_key(c->seed, STREAM_A), 0, (uint64_t)(j * c->dim + k));
}

void cf_icl_features(const cf_icl_config *c, const float *x, double *phi)
{
    int64_t d = c->dim;
    for (int64_t j = 0; j < d; j++) {
        if (c->task == CF_ICL_LINEAR) {
            phi[j] = x[j];
            continue;
        }
        double s = 0;
        for (int64_t k = 0; k < d; k++) s += a_entry(c, j, k) * x[k];
        phi[j] = (s > 0 ? s : 0) / sqrt((double)d);
    }
}

double cf_icl_signal_power(const cf_icl_config *c)
{
    if (c->task == CF_ICL_LINEAR) return (double)c->dim;
    /* E[ReLU(a^T x)^2] = |a|^2 / 2 for x ~ N(0, I); w ~ N(0, I) sums the d features' powers */
    double f = 0;
    for (int64_t j = 0; j < c->dim; j++)
        for (int64_t k = 0; k < c->dim; k++) f += a_entry(c, j, k) * a_entry(c, j, k);
    return f / (2.0 * (double)c->dim);
}

void cf_icl_sample(const cf_icl_config *c, uint64_t split_stream, int64_t index, int64_t n, float *z, float *y)
{
    int64_t d = c->dim;
    cf_philox_key key = cf_rng_key(c->seed, (split_stream << SPLIT_SHIFT) + (uint64_t)index);
    double phi[4096];
    memset(z, 0, (size_t)((2 * n + 1) * d) * sizeof *z);
    for (int64_t p = 0; p <= n; p++) {
        float *x = z + 2 * p * d;
        for (int64_t j = 0; j < d; j++) x[j] = (float)cf_rng_normal(key, DRAW_X, (uint64_t)(p * d + j));
        cf_icl_features(c, x, phi);
        double v = 0;
        for (int64_t j = 0; j < d; j++) v += cf_rng_normal(key, DRAW_W, (uint64_t)j) * phi[j];
        if (c->noise > 0) v += c->noise * cf_rng_normal(key, DRAW_NOISE, (uint64_t)p);
        y[p] = (float)v;
        if (p < n) z[(2 * p + 1) * d] = (float)v;
    }
}

/* ---- the dataset ---- */

typedef struct icl_ds {
    cf_dataset base;
    cf_icl_config c;
    bool train;
    uint64_t stream;
} icl_ds;

static cf_status icl_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    icl_ds *s = (icl_ds *)ds;
    cf_tensor *z = cf_batch_get(b, "z"), *y = cf_batch_get(b, "y"), *n = cf_batch_get(b, "n");
    if (!z || !y || !n) return cf_last_status();
    int64_t nm = s->c.n_max, d = s->c.dim, ex = cf_icl_examples(&s->c, s->train, index);
    float *zr = (float *)cf_data(z) + (int64_t)row * (2 * nm + 1) * d, *yr = (float *)cf_data(y) + (int64_t)row * (nm + 1);
    memset(zr, 0, (size_t)((2 * nm + 1) * d) * sizeof *zr);
    memset(yr, 0, (size_t)(nm + 1) * sizeof *yr);
    cf_icl_sample(&s->c, s->stream, index, ex, zr, yr);
    ((int64_t *)cf_data(n))[row] = ex;
    return CF_OK;
}

static cf_status icl_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    icl_ds *s = (icl_ds *)ds;
    CF_TRY(cf_batch_add(b, "z", CF_F32, CF_SHAPE(rows, 2 * s->c.n_max + 1, s->c.dim)));
    CF_TRY(cf_batch_add(b, "y", CF_F32, CF_SHAPE(rows, s->c.n_max + 1)));
    return cf_batch_add(b, "n", CF_I64, CF_SHAPE(rows));
}

static void icl_free(cf_dataset *ds) { free(ds); }

static const cf_dataset_vtable icl_vt = {"icl_regression", icl_get, icl_make_batch, icl_free};

cf_dataset *cf_icl_dataset_new(const cf_icl_config *c, const char *split, int64_t len)
{
    if (cf_icl_check(c) != CF_OK) return NULL;
    if (len < 1) {
        cf_set_error(CF_ERR_ARG, "icl: a split needs at least one item, got %lld", (long long)len);
        return NULL;
    }
    icl_ds *s = calloc(1, sizeof *s);
    if (!s) {
        cf_set_error(CF_ERR_OOM, "icl: out of memory");
        return NULL;
    }
    s->base.vt = &icl_vt;
    s->base.len = len;
    s->c = *c;
    s->train = strcmp(split, "train") == 0;
    s->stream = s->train ? 0 : strcmp(split, "val") == 0 ? 1 : 2;
    snprintf(s->base.name, sizeof s->base.name, "icl_regression %s d=%lld n=%lld [%s]",
             c->task == CF_ICL_LINEAR ? "linear" : "representation", (long long)c->dim, (long long)c->n_max, split);
    s->base.info.seq = 2 * c->n_max + 1;
    s->base.info.units = c->dim;
    return &s->base;
}

const cf_icl_config *cf_icl_dataset_config(const cf_dataset *ds)
{
    if (!ds || ds->vt != &icl_vt) {
        cf_set_error(CF_ERR_ARG, "icl: %s is not an icl_regression dataset", ds ? ds->name : "(null)");
        return NULL;
    }
    return &((const icl_ds *)ds)->c;
}
