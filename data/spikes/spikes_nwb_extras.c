/* What an HDF5 spike file holds beside its spikes, shared by the NWB and binned-count readers: trials,
 * behaviour time series (resampled to the spikes' clock) and the recording span. */
#include "data/spikes/spikes_h5_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CF_HAVE_HDF5

/* ---- trials ---- */

static cf_status read_trials(hid_t file, const char *path, cf_spikes *s, cf_spikes_span_end *end)
{
    if (!cf_h5_exists(file, "intervals/trials")) return CF_OK;
    double *a = NULL, *b = NULL;
    hsize_t da[2], db[2];
    cf_status st = cf_spikes_h5_read_all(file, path, "intervals/trials/start_time", true, 1, H5T_NATIVE_DOUBLE, (void **)&a, da);
    if (st == CF_OK) st = cf_spikes_h5_read_all(file, path, "intervals/trials/stop_time", true, 1, H5T_NATIVE_DOUBLE, (void **)&b, db);
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
            cf_spikes_h5_span_extend(end, b[i], b[i], "/intervals/trials/stop_time", (int64_t)i);
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
    cf_status st = cf_spikes_h5_read_all_as(g, file, "data", what, true, 2, H5T_NATIVE_DOUBLE, (void **)&data, dims);
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
        st = cf_spikes_h5_read_all_as(g, file, "timestamps", shown, true, 1, H5T_NATIVE_DOUBLE, (void **)&t, tdims);
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
            st = cf_spikes_h5_read_all_as(g, file, "starting_time", shown, true, 1, H5T_NATIVE_DOUBLE, &buf, sd);
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

static cf_status read_behavior(hid_t file, const char *path, cf_spikes *s, cf_spikes_span_end *end)
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
        cf_spikes_h5_span_extend(end, base->t[T - 1], base->t[T - 1], where, T - 1);
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
cf_status cf_spikes_h5_finish(hid_t file, const char *path, cf_spikes *s, cf_spikes_span_end *end, double t_start_default,
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

#endif
