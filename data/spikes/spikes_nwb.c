/* Readers for HDF5 spike files: NWB-style units tables, [N, T] binned counts, and the ground truth of a
 * simulation (/simulation/weights, /simulation/hubs). Layouts are described in spikes.h. */
#include "data/h5util.h"
#include "data/spikes/spikes.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CF_HAVE_HDF5
#include <hdf5.h>

/* ---- HDF5 plumbing ---- */

/* Shape of a numeric dataset: rank (0..2) and dims; CF_ERR_FORMAT naming it otherwise. */
static cf_status numeric_shape(hid_t d, const char *file, const char *name, int *rank, hsize_t dims[2])
{
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    H5T_class_t cls = type >= 0 && cf_h5_numeric_type_ok(type) ? H5Tget_class(type) : H5T_NO_CLASS;
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dd[8] = {0};
    if (r >= 0 && r <= 8) H5Sget_simple_extent_dims(space, dd, NULL);
    cf_h5_close(&type);
    cf_h5_close(&space);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: not a numeric dataset", file, name);
    if (r < 0 || r > 2) return cf_set_error(CF_ERR_FORMAT, "%s: %s: rank %d (expected 1 or 2)", file, name, r);
    *rank = r;
    dims[0] = r >= 1 ? dd[0] : 1;
    dims[1] = r >= 2 ? dd[1] : 1;
    return CF_OK;
}

/* A dataset's declared size must be backed by the file before it is read: HDF5 returns the fill value for
 * storage never written, so a file of a few KB can declare gigabytes of "values". Refuses (naming the
 * dataset) more than 1 MiB declared with over 4096 times less stored -- beyond what deflate (about 1000:1 at
 * best) compresses to. */
static cf_status check_stored(hid_t d, const char *file, const char *shown, uint64_t n_values)
{
    hid_t type = H5Dget_type(d);
    size_t size = type >= 0 ? H5Tget_size(type) : 8;
    cf_h5_close(&type);
    if (size == 0 || n_values > UINT64_MAX / 2 / size)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s declares %" PRIu64 " values: too many to read", file, shown, n_values);
    uint64_t declared = n_values * (uint64_t)size, stored = H5Dget_storage_size(d);
    if (declared <= (1u << 20) || stored >= declared / 4096) return CF_OK;
    return cf_set_error(CF_ERR_FORMAT, "%s: %s declares %" PRIu64 " values (%" PRIu64 " bytes) but the file stores %" PRIu64
                        " bytes of them: a placeholder of fill values, not data", file, shown, n_values, declared, stored);
}

/* Reads a whole numeric dataset (rank 0..max_rank) converted to memtype (NATIVE_DOUBLE or NATIVE_INT64).
 * Missing: CF_ERR_FORMAT naming it when required, else CF_OK with *out NULL and *n 0. dims gets the shape. */
static cf_status read_all_as(hid_t loc, const char *file, const char *name, const char *shown, bool required,
                             int max_rank, hid_t memtype, void **out, hsize_t dims[2])
{
    *out = NULL;
    dims[0] = dims[1] = 0;
    if (!cf_h5_exists(loc, name)) {
        if (!required) return CF_OK;
        return cf_set_error(CF_ERR_FORMAT, "%s: missing dataset %s", file, shown);
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return cf_set_error(CF_ERR_FORMAT, "%s: %s is not a dataset", file, shown);
    int rank;
    cf_status st = numeric_shape(d, file, shown, &rank, dims);
    if (st == CF_OK && rank > max_rank)
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: rank %d (expected at most %d)", file, shown, rank, max_rank);
    if (st == CF_OK && dims[1] > 0 && dims[0] > (hsize_t)(SIZE_MAX / 8) / dims[1])
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: shape [%llu, %llu] is too large to read", file, shown,
                          (unsigned long long)dims[0], (unsigned long long)dims[1]);
    size_t n = st == CF_OK ? (size_t)dims[0] * (size_t)dims[1] : 0;
    if (st == CF_OK) st = check_stored(d, file, shown, n);
    if (st != CF_OK) {
        cf_h5_close(&d);
        return st;
    }
    void *buf = malloc((n ? n : 1) * 8);
    if (!buf) {
        cf_h5_close(&d);
        return cf_set_error(CF_ERR_OOM, "%s: %s: out of memory for %zu values", file, shown, n);
    }
    if (n && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        cf_h5_close(&d);
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot read its values as numbers (corrupt, or out of range)", file, shown);
    }
    cf_h5_close(&d);
    *out = buf;
    return CF_OK;
}

/* read_all_as for a path below the root, shown as "/path". */
static cf_status read_all(hid_t loc, const char *file, const char *name, bool required, int max_rank, hid_t memtype,
                          void **out, hsize_t dims[2])
{
    char shown[600];
    snprintf(shown, sizeof shown, "/%s", name);
    return read_all_as(loc, file, name, shown, required, max_rank, memtype, out, dims);
}

/* A number given as an attribute `name` of obj, or else of the root, or else as a one-value dataset `name`:
 * 1 found, 0 absent, CF_ERR_FORMAT (-1) naming the place when it is not a number. */
static int find_number(hid_t file, hid_t obj, const char *fname, const char *where, const char *name, double *v)
{
    int rc = cf_h5_attr_double(obj, name, v);
    if (rc == 0) rc = cf_h5_attr_double(file, name, v);
    if (rc < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: attribute %s (on %s or the root) is not a numeric scalar", fname, name, where);
        return -1;
    }
    if (rc == 1) return 1;
    if (!cf_h5_exists(file, name)) return 0;
    void *buf;
    hsize_t dims[2];
    if (read_all(file, fname, name, true, 1, H5T_NATIVE_DOUBLE, &buf, dims) != CF_OK) return -1;
    if (dims[0] * dims[1] != 1) {
        free(buf);
        cf_set_error(CF_ERR_FORMAT, "%s: dataset /%s holds %llu values (expected one)", fname, name,
                     (unsigned long long)(dims[0] * dims[1]));
        return -1;
    }
    *v = *(double *)buf;
    free(buf);
    return 1;
}

/* The end of the recording as the data imply it so far, and the row that set it (named when the span is
 * beyond max_seconds). */
typedef struct {
    double t_max; /* the span's end so far */
    double t;     /* the time at that row */
    int64_t row;  /* -1: not one row (a whole dataset's extent) */
    char where[300];
} span_end;

static void span_extend(span_end *e, double t_max, double t, const char *where, int64_t row)
{
    if (!(t_max > e->t_max)) return;
    e->t_max = t_max, e->t = t, e->row = row;
    snprintf(e->where, sizeof e->where, "%s", where);
}

/* The number of rows of dataset name (its first dimension), or -1 when it is absent or not a dataset. */
static int64_t rows_of(hid_t loc, const char *name)
{
    if (!cf_h5_exists(loc, name)) return -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[8] = {0};
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (r >= 1 && r <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    cf_h5_close(&space);
    cf_h5_close(&d);
    return r < 0 ? -1 : r == 0 ? 1 : (int64_t)dims[0];
}

/* ---- trials ---- */

static cf_status read_trials(hid_t file, const char *path, cf_spikes *s, span_end *end)
{
    if (!cf_h5_exists(file, "intervals/trials")) return CF_OK;
    double *a = NULL, *b = NULL;
    hsize_t da[2], db[2];
    cf_status st = read_all(file, path, "intervals/trials/start_time", true, 1, H5T_NATIVE_DOUBLE, (void **)&a, da);
    if (st == CF_OK) st = read_all(file, path, "intervals/trials/stop_time", true, 1, H5T_NATIVE_DOUBLE, (void **)&b, db);
    if (st == CF_OK && da[0] != db[0])
        st = cf_set_error(CF_ERR_FORMAT, "%s: intervals/trials: start_time has %llu rows, stop_time %llu", path,
                          (unsigned long long)da[0], (unsigned long long)db[0]);
    if (st == CF_OK && da[0] > (hsize_t)INT32_MAX / 2)
        st = cf_set_error(CF_ERR_FORMAT, "%s: intervals/trials: %llu trials", path, (unsigned long long)da[0]);
    for (hsize_t i = 0; st == CF_OK && i < da[0]; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]) || a[i] < 0 || b[i] < a[i])
            st = cf_set_error(CF_ERR_FORMAT, "%s: intervals/trials: row %llu: [%g, %g) is not a non-negative interval with "
                              "start <= stop", path, (unsigned long long)i, a[i], b[i]);
        else if (i > 0 && a[i] < a[i - 1])
            st = cf_set_error(CF_ERR_FORMAT, "%s: intervals/trials/start_time: row %llu: %g before the previous trial's "
                              "start %g (unsorted)", path, (unsigned long long)i, a[i], a[i - 1]);
        else
            span_extend(end, b[i], b[i], "/intervals/trials/stop_time", (int64_t)i);
    }
    if (st == CF_OK) st = cf_spikes_set_trials(s, (int)da[0], a, b);
    free(a);
    free(b);
    return st;
}

/* ---- behaviour ---- */

typedef struct {
    char name[256];
    int64_t T;
    int k;
    double *t;    /* [T] */
    double *data; /* [T, k] */
} series;

typedef struct {
    series *v;
    int n, cap;
} series_list;

static void series_list_free(series_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].t);
        free(l->v[i].data);
    }
    free(l->v);
}

/* Reads the time series in group g (which has a `data` dataset); where is its path for messages, name its
 * path below processing/behavior. */
static cf_status read_series(hid_t g, const char *file, const char *where, const char *name, series *out)
{
    char what[1100];
    hsize_t dims[2], tdims[2];
    double *data = NULL, *t = NULL;
    char shown[1100];
    snprintf(what, sizeof what, "%s/data", where);
    cf_status st = read_all_as(g, file, "data", what, true, 2, H5T_NATIVE_DOUBLE, (void **)&data, dims);
    if (st != CF_OK) return st;
    int64_t T = (int64_t)dims[0];
    int k = (int)dims[1];
    if (dims[1] > 4096) {
        free(data);
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: %llu columns", file, what, (unsigned long long)dims[1]);
    }
    double conv, off;
    hid_t d = H5Dopen2(g, "data", H5P_DEFAULT);
    int hc = cf_h5_attr_double(d, "conversion", &conv), ho = cf_h5_attr_double(d, "offset", &off);
    cf_h5_close(&d);
    if (hc != 1) conv = 1;
    if (ho != 1) off = 0;
    if (cf_h5_exists(g, "timestamps")) {
        snprintf(shown, sizeof shown, "%s/timestamps", where);
        st = read_all_as(g, file, "timestamps", shown, true, 1, H5T_NATIVE_DOUBLE, (void **)&t, tdims);
        if (st == CF_OK && (int64_t)tdims[0] != T)
            st = cf_set_error(CF_ERR_FORMAT, "%s: %s/timestamps has %llu rows, data has %" PRId64, file, where,
                              (unsigned long long)tdims[0], T);
    } else {
        double t0, rate;
        int h0 = 0, hr = 0;
        if (cf_h5_exists(g, "starting_time")) {
            void *buf = NULL;
            hsize_t sd[2];
            snprintf(shown, sizeof shown, "%s/starting_time", where);
            st = read_all_as(g, file, "starting_time", shown, true, 1, H5T_NATIVE_DOUBLE, &buf, sd);
            if (st == CF_OK && sd[0] * sd[1] >= 1) {
                t0 = *(double *)buf;
                h0 = 1;
                hid_t sdset = H5Dopen2(g, "starting_time", H5P_DEFAULT);
                hr = cf_h5_attr_double(sdset, "rate", &rate);
                cf_h5_close(&sdset);
            }
            free(buf);
        } else {
            h0 = cf_h5_attr_double(g, "starting_time", &t0);
        }
        if (st == CF_OK && hr != 1) hr = cf_h5_attr_double(g, "rate", &rate);
        if (st == CF_OK && (h0 != 1 || hr != 1))
            st = cf_set_error(CF_ERR_FORMAT, "%s: %s: no timestamps dataset and no starting_time with a rate", file, where);
        if (st == CF_OK && (!(rate > 0) || !isfinite(rate) || !isfinite(t0)))
            st = cf_set_error(CF_ERR_FORMAT, "%s: %s: starting_time %g with rate %g (need a finite rate > 0)", file, where,
                              t0, rate);
        if (st == CF_OK && !(t = malloc((size_t)(T ? T : 1) * sizeof *t)))
            st = cf_set_error(CF_ERR_OOM, "%s: %s: out of memory", file, where);
        for (int64_t i = 0; st == CF_OK && i < T; i++) t[i] = t0 + (double)i / rate;
    }
    for (int64_t i = 0; st == CF_OK && i < T; i++) {
        if (!isfinite(t[i]) || (i > 0 && !(t[i] > t[i - 1])))
            st = cf_set_error(CF_ERR_FORMAT, "%s: %s/timestamps: row %" PRId64 ": %.17g (timestamps must be finite and "
                              "increasing)", file, where, i, t[i]);
        for (int j = 0; st == CF_OK && j < k; j++) {
            double v = data[i * k + j] * conv + off;
            if (!isfinite(v))
                st = cf_set_error(CF_ERR_FORMAT, "%s: %s: row %" PRId64 ", column %d: value is not finite", file, what, i, j);
            data[i * k + j] = v;
        }
    }
    if (st != CF_OK) {
        free(data);
        free(t);
        return st;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->T = T;
    out->k = k;
    out->t = t;
    out->data = data;
    return CF_OK;
}

/* Finds the time series below g (depth levels at most), in creation order when the group tracks it (files
 * we write do), else by name. */
static cf_status walk_behavior(hid_t g, const char *file, const char *where, const char *prefix, int depth,
                               series_list *l)
{
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) return cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot list the group", file, where);
    H5_index_t idx = H5_INDEX_NAME;
    hid_t gcpl = H5Gget_create_plist(g);
    unsigned flags = 0;
    if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 && (flags & H5P_CRT_ORDER_TRACKED))
        idx = H5_INDEX_CRT_ORDER;
    cf_h5_close(&gcpl);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char child[256], cwhere[1024], cname[512];
        if (H5Lget_name_by_idx(g, ".", idx, H5_ITER_INC, i, child, sizeof child, H5P_DEFAULT) < 0) continue;
        hid_t c = H5Gopen2(g, child, H5P_DEFAULT); /* datasets and broken links are not groups: skipped */
        if (c < 0) continue;
        snprintf(cwhere, sizeof cwhere, "%s/%s", where, child);
        snprintf(cname, sizeof cname, "%s%s%s", prefix, prefix[0] ? "/" : "", child);
        cf_status st = CF_OK;
        if (H5Lexists(c, "data", H5P_DEFAULT) > 0) {
            if (l->n == l->cap) {
                int cap = l->cap ? 2 * l->cap : 8;
                series *nv = realloc(l->v, (size_t)cap * sizeof *nv);
                if (!nv) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", file);
                else l->v = nv, l->cap = cap;
            }
            if (st == CF_OK && strlen(cname) > 240)
                st = cf_set_error(CF_ERR_FORMAT, "%s: %s: behaviour name longer than 240 bytes", file, cwhere);
            if (st == CF_OK) st = read_series(c, file, cwhere, cname, &l->v[l->n]);
            if (st == CF_OK) l->n++;
        } else if (depth > 1) {
            st = walk_behavior(c, file, cwhere, cname, depth - 1, l);
        }
        cf_h5_close(&c);
        if (st != CF_OK) return st;
    }
    return CF_OK;
}

/* Value of series s, column j at time x: linear interpolation, held constant beyond the ends. */
static double interp(const series *s, int j, double x)
{
    if (s->T == 0) return 0;
    if (x <= s->t[0]) return s->data[j];
    if (x >= s->t[s->T - 1]) return s->data[(s->T - 1) * s->k + j];
    int64_t lo = 0, hi = s->T - 1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s->t[mid] <= x) lo = mid;
        else hi = mid;
    }
    double w = (x - s->t[lo]) / (s->t[hi] - s->t[lo]);
    return s->data[lo * s->k + j] * (1 - w) + s->data[hi * s->k + j] * w;
}

static cf_status read_behavior(hid_t file, const char *path, cf_spikes *s, span_end *end)
{
    if (!cf_h5_exists(file, "processing/behavior")) return CF_OK;
    hid_t g = H5Gopen2(file, "processing/behavior", H5P_DEFAULT);
    if (g < 0) return cf_set_error(CF_ERR_FORMAT, "%s: /processing/behavior is not a group", path);
    series_list l = {0};
    cf_status st = walk_behavior(g, path, "/processing/behavior", "", 4, &l);
    cf_h5_close(&g);
    int k = 0;
    for (int i = 0; i < l.n; i++) k += l.v[i].k;
    if (st != CF_OK || l.n == 0 || k == 0 || l.v[0].T == 0) {
        series_list_free(&l);
        return st;
    }
    const series *base = &l.v[0];
    int64_t T = base->T;
    double *vals = malloc((size_t)T * (size_t)k * sizeof *vals);
    char **names = calloc((size_t)k, sizeof *names);
    if (!vals || !names) st = cf_set_error(CF_ERR_OOM, "%s: out of memory for behaviour", path);
    for (int i = 0, col = 0; st == CF_OK && i < l.n; i++) {
        const series *sr = &l.v[i];
        bool same = sr->T == T && memcmp(sr->t, base->t, (size_t)T * sizeof *sr->t) == 0;
        for (int j = 0; j < sr->k && st == CF_OK; j++, col++) {
            char nm[300];
            if (sr->k == 1) snprintf(nm, sizeof nm, "%s", sr->name);
            else snprintf(nm, sizeof nm, "%s[%d]", sr->name, j);
            if (!(names[col] = strdup(nm))) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
            for (int64_t r = 0; r < T; r++) vals[r * k + col] = same ? sr->data[r * sr->k + j] : interp(sr, j, base->t[r]);
        }
    }
    if (st == CF_OK) st = cf_spikes_set_behavior(s, T, k, base->t, vals, (const char *const *)names);
    if (st == CF_OK) {
        char where[300];
        snprintf(where, sizeof where, "/processing/behavior/%.200s/timestamps", base->name);
        span_extend(end, base->t[T - 1], base->t[T - 1], where, T - 1);
    }
    if (names)
        for (int j = 0; j < k; j++) free(names[j]);
    free(names);
    free(vals);
    series_list_free(&l);
    return st;
}

/* Reads the /units t_start/t_end attributes when present (1), else 0; -1 with an error when malformed. */
static int span_attrs(hid_t file, const char *path, double *t0, double *t1)
{
    if (!cf_h5_exists(file, "units")) return 0;
    hid_t u = H5Oopen(file, "units", H5P_DEFAULT);
    if (u < 0) return 0;
    int a = cf_h5_attr_double(u, "t_start", t0), b = cf_h5_attr_double(u, "t_end", t1);
    cf_h5_close(&u);
    if (a < 0 || b < 0 || (a == 1 && b == 1 && !(isfinite(*t0) && isfinite(*t1) && *t1 >= *t0))) {
        cf_set_error(CF_ERR_FORMAT, "%s: /units attributes t_start / t_end are not a finite span", path);
        return -1;
    }
    return a == 1 && b == 1;
}

/* Trials, behaviour and the span for s (whose spikes are read; end: how far they reach): shared by both
 * readers. The span must be within lim->max_seconds. */
static cf_status finish(hid_t file, const char *path, cf_spikes *s, span_end *end, double t_start_default,
                        const cf_spike_limits *lim)
{
    cf_status st = read_trials(file, path, s, end);
    if (st == CF_OK) st = read_behavior(file, path, s, end);
    if (st != CF_OK) return st;
    double t0, t1;
    int have = span_attrs(file, path, &t0, &t1);
    if (have < 0) return cf_last_status();
    if (have) {
        s->t_start = t0;
        s->t_end = t1;
    } else {
        s->t_start = t_start_default;
        if (end->t_max > s->t_end) s->t_end = end->t_max;
    }
    if (s->t_end - s->t_start > lim->max_seconds) {
        if (have)
            return cf_spike_limit_error(lim, CF_SPIKE_SECONDS, "%s: the /units attributes t_start %g, t_end %g: a span of %g "
                                        "s, which", path, t0, t1, t1 - t0);
        if (end->row < 0)
            return cf_spike_limit_error(lim, CF_SPIKE_SECONDS, "%s: %s: a span of %g s from %g s, which", path, end->where,
                                        s->t_end - s->t_start, s->t_start);
        return cf_spike_limit_error(lim, CF_SPIKE_SECONDS, "%s: %s: row %" PRId64 ": time %g s (the recording from %g s "
                                    "must reach it)", path, end->where, end->row, end->t, s->t_start);
    }
    for (int u = 0; u < s->n_units; u++) {
        int64_t a = s->offsets[u], b = s->offsets[u + 1];
        if (b > a && (s->times[a] < s->t_start || s->times[b - 1] >= s->t_end))
            return cf_set_error(CF_ERR_FORMAT, "%s: /units/spike_times: row %" PRId64 " (unit %d): time %.17g outside the "
                                "recording span [%.17g, %.17g) given by the /units attributes", path,
                                s->times[a] < s->t_start ? a : b - 1, u, s->times[a] < s->t_start ? s->times[a] : s->times[b - 1],
                                s->t_start, s->t_end);
    }
    return CF_OK;
}

/* ---- NWB ---- */

static cf_spikes *read_nwb(hid_t file, const char *path, const cf_spike_limits *lim)
{
    double *times = NULL, *obs = NULL;
    int64_t *index = NULL, *ids = NULL, *obs_index = NULL;
    hsize_t dt[2], di[2], dd[2], dobs[2], doi[2];
    cf_spikes *s = NULL;
    if (!cf_h5_exists(file, "units")) {
        cf_set_error(CF_ERR_FORMAT, "%s: no /units group (an NWB spike file needs /units/spike_times and "
                     "/units/spike_times_index)", path);
        return NULL;
    }
    int64_t n_rows = rows_of(file, "units/spike_times_index");
    if (n_rows > lim->max_units) {
        cf_spike_limit_error(lim, CF_SPIKE_UNITS, "%s: /units/spike_times_index: the unit count (%" PRId64 " rows)", path, n_rows);
        return NULL;
    }
    cf_status st = read_all(file, path, "units/spike_times", true, 1, H5T_NATIVE_DOUBLE, (void **)&times, dt);
    if (st == CF_OK) st = read_all(file, path, "units/spike_times_index", true, 1, H5T_NATIVE_INT64, (void **)&index, di);
    if (st == CF_OK) st = read_all(file, path, "units/id", false, 1, H5T_NATIVE_INT64, (void **)&ids, dd);
    if (st == CF_OK) st = read_all(file, path, "units/obs_intervals", false, 2, H5T_NATIVE_DOUBLE, (void **)&obs, dobs);
    if (st == CF_OK && obs)
        st = read_all(file, path, "units/obs_intervals_index", true, 1, H5T_NATIVE_INT64, (void **)&obs_index, doi);
    if (st != CF_OK) goto fail;
    int64_t S = (int64_t)dt[0], N = (int64_t)di[0];
    if (N > lim->max_units) { /* a rank-0 index (one row) or a file changed since rows_of */
        cf_spike_limit_error(lim, CF_SPIKE_UNITS, "%s: /units/spike_times_index: the unit count (%" PRId64 " rows)", path, N);
        goto fail;
    }
    if (ids && (int64_t)dd[0] != N) {
        cf_set_error(CF_ERR_FORMAT, "%s: /units/id has %llu rows, /units/spike_times_index %" PRId64, path,
                     (unsigned long long)dd[0], N);
        goto fail;
    }
    /* the ragged index: entry u is the END of unit u's spikes */
    for (int64_t u = 0; u < N; u++) {
        int64_t prev = u ? index[u - 1] : 0;
        if (index[u] > S) {
            cf_set_error(CF_ERR_FORMAT, "%s: /units/spike_times_index: row %" PRId64 ": end offset %" PRId64 " past the %" PRId64
                         " entries of /units/spike_times", path, u, index[u], S);
            goto fail;
        }
        if (index[u] < prev) {
            cf_set_error(CF_ERR_FORMAT, "%s: /units/spike_times_index: row %" PRId64 ": end offset %" PRId64 " before the "
                         "previous %" PRId64 " (must not decrease)", path, u, index[u], prev);
            goto fail;
        }
    }
    if ((N ? index[N - 1] : 0) != S) {
        cf_set_error(CF_ERR_FORMAT, "%s: /units/spike_times_index: row %" PRId64 ": last end offset %" PRId64 " does not "
                     "cover the %" PRId64 " entries of /units/spike_times", path, N - 1, N ? index[N - 1] : 0, S);
        goto fail;
    }
    double t_max = 0;
    int64_t t_max_row = -1;
    for (int64_t u = 0; u < N; u++)
        for (int64_t i = u ? index[u - 1] : 0; i < index[u]; i++) {
            double t = times[i];
            if (!isfinite(t) || t < 0) {
                cf_set_error(CF_ERR_FORMAT, "%s: /units/spike_times: row %" PRId64 " (unit %" PRId64 "): time %g is %s", path,
                             i, u, t, isfinite(t) ? "negative" : "not finite");
                goto fail;
            }
            if (i > (u ? index[u - 1] : 0) && t < times[i - 1]) {
                cf_set_error(CF_ERR_FORMAT, "%s: /units/spike_times: row %" PRId64 " (unit %" PRId64 "): time %.17g before "
                             "the previous spike %.17g (unsorted)", path, i, u, t, times[i - 1]);
                goto fail;
            }
            if (t + 1e-3 > t_max) t_max = t + 1e-3, t_max_row = i;
        }
    span_end end = {0, 0, -1, ""};
    if (t_max_row >= 0) span_extend(&end, t_max, t_max - 1e-3, "/units/spike_times", t_max_row);
    if (obs) {
        int64_t M = (int64_t)dobs[0];
        if (dobs[1] != 2) {
            cf_set_error(CF_ERR_FORMAT, "%s: /units/obs_intervals: shape [%llu, %llu] (expected [n, 2])", path,
                         (unsigned long long)dobs[0], (unsigned long long)dobs[1]);
            goto fail;
        }
        if ((int64_t)doi[0] != N) {
            cf_set_error(CF_ERR_FORMAT, "%s: /units/obs_intervals_index has %llu rows, the units table %" PRId64, path,
                         (unsigned long long)doi[0], N);
            goto fail;
        }
        for (int64_t u = 0; u < N; u++)
            if (obs_index[u] > M || obs_index[u] < (u ? obs_index[u - 1] : 0)) {
                cf_set_error(CF_ERR_FORMAT, "%s: /units/obs_intervals_index: row %" PRId64 ": end offset %" PRId64 " is "
                             "decreasing or past the %" PRId64 " rows of /units/obs_intervals", path, u, obs_index[u], M);
                goto fail;
            }
        for (int64_t r = 0; r < M; r++) {
            if (!isfinite(obs[2 * r]) || !isfinite(obs[2 * r + 1]) || obs[2 * r + 1] < obs[2 * r]) {
                cf_set_error(CF_ERR_FORMAT, "%s: /units/obs_intervals: row %" PRId64 ": [%g, %g) is not an interval", path, r,
                             obs[2 * r], obs[2 * r + 1]);
                goto fail;
            }
            span_extend(&end, obs[2 * r + 1], obs[2 * r + 1], "/units/obs_intervals (its end)", r);
        }
    }
    /* times are validated and sorted per unit: build the CSR directly */
    if (!(s = calloc(1, sizeof *s))) goto oom;
    s->n_units = (int)N;
    s->n_spikes = S;
    if (!(s->offsets = malloc(((size_t)N + 1) * sizeof *s->offsets))) goto oom;
    s->offsets[0] = 0;
    for (int64_t u = 0; u < N; u++) s->offsets[u + 1] = index[u];
    s->times = times;
    times = NULL;
    s->unit_ids = ids;
    ids = NULL;
    s->t_start = 0;
    s->t_end = end.t_max;
    if (finish(file, path, s, &end, 0.0, lim) != CF_OK) goto fail;
    free(index);
    free(obs);
    free(obs_index);
    return s;
oom:
    cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
fail:
    free(times);
    free(index);
    free(ids);
    free(obs);
    free(obs_index);
    cf_spikes_free(s);
    return NULL;
}

cf_spikes *cf_spikes_read_nwb(const char *path)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_read_nwb: NULL path");
        return NULL;
    }
    cf_spike_limits lim;
    cf_spike_limits_resolve(NULL, &lim);
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_read(path);
    cf_spikes *s = file >= 0 ? read_nwb(file, path, &lim) : NULL;
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    return s;
}

/* ---- binned counts ---- */

static cf_spikes *read_counts(hid_t file, const char *path, const char *name, const cf_spike_limits *lim)
{
    char where[300];
    snprintf(where, sizeof where, "/%s", name);
    if (!cf_h5_exists(file, name)) {
        cf_set_error(CF_ERR_FORMAT, "%s: missing dataset %s (a counts file holds %s [N, T] and a bin_width)", path, where,
                     where);
        return NULL;
    }
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), fspace = -1, mspace = -1;
    if (d < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: %s is not a dataset", path, where);
        return NULL;
    }
    cf_spikes *s = NULL;
    double *row = NULL, *times = NULL;
    int64_t n_spikes = 0, cap = 0;
    int rank;
    hsize_t dims[2];
    if (numeric_shape(d, path, where, &rank, dims) != CF_OK) goto fail;
    if (rank != 2) {
        cf_set_error(CF_ERR_FORMAT, "%s: %s: rank %d (expected [N units, T bins])", path, where, rank);
        goto fail;
    }
    if (dims[0] > (hsize_t)lim->max_units) {
        cf_spike_limit_error(lim, CF_SPIKE_UNITS, "%s: %s: shape [%llu, %llu]: the unit count (%llu rows)", path, where,
                             (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[0]);
        goto fail;
    }
    double bw, t0 = 0;
    int rc = find_number(file, d, path, where, "bin_width", &bw);
    if (rc < 0) goto fail;
    if (rc == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: no bin_width (an attribute of %s or of the root, or a dataset /bin_width)", path, where);
        goto fail;
    }
    if (!(bw > 0) || !isfinite(bw)) {
        cf_set_error(CF_ERR_FORMAT, "%s: bin_width %g (need a finite width > 0)", path, bw);
        goto fail;
    }
    if ((rc = find_number(file, d, path, where, "t_start", &t0)) < 0) goto fail;
    if (!isfinite(t0)) {
        cf_set_error(CF_ERR_FORMAT, "%s: t_start %g is not finite", path, t0);
        goto fail;
    }
    int N = (int)dims[0];
    int64_t T = (int64_t)dims[1];
    if (check_stored(d, path, where, (uint64_t)N * (uint64_t)T) != CF_OK) goto fail;
    if ((double)T * bw > lim->max_seconds) {
        cf_spike_limit_error(lim, CF_SPIKE_SECONDS, "%s: %s: shape [%d, %" PRId64 "]: %" PRId64 " bins of bin_width %g s span %g "
                             "s, which", path, where, N, T, T, bw, (double)T * bw);
        goto fail;
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->offsets = calloc((size_t)N + 1, sizeof *s->offsets)) ||
        !(row = malloc((size_t)(T ? T : 1) * sizeof *row)))
        goto oom;
    fspace = H5Dget_space(d);
    hsize_t mdims[1] = {(hsize_t)T};
    mspace = H5Screate_simple(1, mdims, NULL);
    for (int u = 0; u < N; u++) {
        hsize_t start[2] = {(hsize_t)u, 0}, count[2] = {1, (hsize_t)T};
        if (T > 0 && (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                      H5Dread(d, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, row) < 0)) {
            cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot read row %d", path, where, u);
            goto fail;
        }
        for (int64_t b = 0; b < T; b++) {
            double v = row[b];
            if (!isfinite(v) || v < -0.5 || v > 1e6) {
                cf_set_error(CF_ERR_FORMAT, "%s: %s: row %d (unit), column %" PRId64 " (bin): count %g is %s", path, where, u,
                             b, v, !isfinite(v) ? "not finite" : v < 0 ? "negative" : "implausibly large (> 1e6)");
                goto fail;
            }
            int64_t c = (int64_t)floor(v + 0.5); /* counts are integers: round (see spikes.h) */
            if (n_spikes + c > cap) {
                int64_t ncap = cap ? cap * 2 : 65536;
                while (ncap < n_spikes + c) ncap *= 2;
                double *nt = realloc(times, (size_t)ncap * sizeof *nt);
                if (!nt) goto oom;
                times = nt;
                cap = ncap;
            }
            for (; c > 0; c--) times[n_spikes++] = t0 + (double)b * bw;
        }
        s->offsets[u + 1] = n_spikes;
    }
    cf_h5_close(&fspace);
    cf_h5_close(&mspace);
    cf_h5_close(&d);
    free(row);
    row = NULL;
    s->n_units = N;
    s->n_spikes = n_spikes;
    s->times = times ? times : malloc(sizeof *times);
    times = NULL;
    if (!s->times) goto oom;
    s->t_start = t0;
    s->t_end = t0 + (double)T * bw;
    span_end end = {s->t_end, s->t_end, -1, ""};
    snprintf(end.where, sizeof end.where, "%s", where);
    if (finish(file, path, s, &end, t0, lim) != CF_OK) goto fail;
    return s;
oom:
    cf_set_error(CF_ERR_OOM, "%s: out of memory reading %s", path, where);
fail:
    cf_h5_close(&fspace);
    cf_h5_close(&mspace);
    cf_h5_close(&d);
    free(row);
    free(times);
    cf_spikes_free(s);
    return NULL;
}

cf_spikes *cf_spikes_read_counts_h5(const char *path, const char *dataset)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_read_counts_h5: NULL path");
        return NULL;
    }
    cf_spike_limits lim;
    cf_spike_limits_resolve(NULL, &lim);
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_read(path);
    cf_spikes *s = file >= 0 ? read_counts(file, path, dataset ? dataset : "counts", &lim) : NULL;
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    return s;
}

/* ---- simulation ground truth ---- */

cf_status cf_spikes_read_weights(const char *path, int *n, double **w)
{
    if (!path || !n || !w) return cf_set_error(CF_ERR_ARG, "cf_spikes_read_weights: NULL argument");
    *n = 0;
    *w = NULL;
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_read(path);
    cf_status st = file >= 0 ? CF_OK : cf_last_status();
    hsize_t dims[2];
    void *buf = NULL;
    if (st == CF_OK) st = read_all(file, path, "simulation/weights", true, 2, H5T_NATIVE_DOUBLE, &buf, dims);
    if (st == CF_OK && (dims[0] != dims[1] || dims[0] > (1 << 15)))
        st = cf_set_error(CF_ERR_FORMAT, "%s: /simulation/weights: shape [%llu, %llu] (expected square [N, N])", path,
                          (unsigned long long)dims[0], (unsigned long long)dims[1]);
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    if (st != CF_OK) {
        free(buf);
        return st;
    }
    *n = (int)dims[0];
    *w = buf;
    return CF_OK;
}

cf_status cf_spikes_read_hubs(const char *path, int *n_hubs, int **hubs)
{
    if (!path || !n_hubs || !hubs) return cf_set_error(CF_ERR_ARG, "cf_spikes_read_hubs: NULL argument");
    *n_hubs = 0;
    *hubs = NULL;
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_read(path);
    cf_status st = file >= 0 ? CF_OK : cf_last_status();
    hsize_t dims[2];
    int64_t *buf = NULL;
    if (st == CF_OK) st = read_all(file, path, "simulation/hubs", true, 1, H5T_NATIVE_INT64, (void **)&buf, dims);
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    if (st != CF_OK) return st;
    int m = (int)dims[0];
    int *out = m ? malloc((size_t)m * sizeof *out) : NULL;
    if (m && !out) {
        free(buf);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    }
    for (int i = 0; i < m; i++) out[i] = (int)buf[i];
    free(buf);
    *n_hubs = m;
    *hubs = out;
    return CF_OK;
}

/* ---- by content ---- */

/* A file with a units table is NWB-style (and read_nwb names what it lacks); one with only counts is binned. */
static cf_spikes *read_by_content(hid_t file, const char *path, const cf_spike_limits *lim)
{
    return cf_h5_exists(file, "units") || !cf_h5_exists(file, "counts") ? read_nwb(file, path, lim)
                                                                         : read_counts(file, path, "counts", lim);
}

cf_spikes *cf_spikes_load(const char *path, const cf_spikes_csv_options *csv)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_load: NULL path");
        return NULL;
    }
    cf_spike_limits lim;
    if (cf_spike_limits_resolve(csv ? &csv->limits : NULL, &lim) != CF_OK) {
        cf_error_prefix("%s: ", path);
        return NULL;
    }
    if (cf_path_is_dir(path)) return cf_spikes_read_visnav(path, 0, &lim);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char sig[8] = {0};
    size_t got = fread(sig, 1, 8, f);
    fclose(f);
    static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got < 8 || memcmp(sig, h5sig, 8) != 0) return cf_spikes_read_csv(path, csv);
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_read(path);
    cf_spikes *s = file >= 0 ? read_by_content(file, path, &lim) : NULL;
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    return s;
}

cf_spikes *cf_spikes_read_h5_mem(const void *buf, size_t n, const char *what)
{
    if (!what) what = "(spike buffer)";
    cf_spike_limits lim;
    cf_spike_limits_resolve(NULL, &lim);
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t file = cf_h5_open_image(buf, n, what);
    cf_spikes *s = file >= 0 ? read_by_content(file, what, &lim) : NULL;
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    return s;
}

#else /* no HDF5 in this build */

static cf_status no_hdf5(const char *path)
{
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (configure with -DCF_HDF5=ON)", path ? path : "?");
}

cf_spikes *cf_spikes_read_nwb(const char *path)
{
    no_hdf5(path);
    return NULL;
}

cf_spikes *cf_spikes_read_counts_h5(const char *path, const char *dataset)
{
    (void)dataset;
    no_hdf5(path);
    return NULL;
}

cf_status cf_spikes_read_weights(const char *path, int *n, double **w)
{
    (void)n, (void)w;
    return no_hdf5(path);
}

cf_status cf_spikes_read_hubs(const char *path, int *n_hubs, int **hubs)
{
    (void)n_hubs, (void)hubs;
    return no_hdf5(path);
}

cf_spikes *cf_spikes_read_h5_mem(const void *buf, size_t n, const char *what)
{
    (void)buf, (void)n;
    no_hdf5(what);
    return NULL;
}

cf_spikes *cf_spikes_load(const char *path, const cf_spikes_csv_options *csv)
{
    if (cf_path_is_dir(path)) return cf_spikes_read_visnav(path, 0, csv ? &csv->limits : NULL);
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return cf_spikes_read_csv(path, csv);
    unsigned char sig[4] = {0};
    size_t got = fread(sig, 1, 4, f);
    fclose(f);
    if (got == 4 && sig[0] == 0x89 && sig[1] == 'H' && sig[2] == 'D' && sig[3] == 'F') {
        no_hdf5(path);
        return NULL;
    }
    return cf_spikes_read_csv(path, csv);
}

#endif
