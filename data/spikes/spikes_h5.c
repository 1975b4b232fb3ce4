/* HDF5 spike files: the [N, T] binned-count reader, the simulation ground truth (/simulation/weights,
 * /simulation/hubs), reading by content (NWB units table or counts) and cf_spikes_load's dispatch by
 * signature (HDF5, a visnav directory, or CSV). Layouts are described in spikes.h. */
#include "data/spikes/spikes_h5_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CF_HAVE_HDF5

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
    if (cf_spikes_h5_numeric_shape(d, path, where, &rank, dims) != CF_OK) goto fail;
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
    int rc = cf_spikes_h5_find_number(file, d, path, where, "bin_width", &bw);
    if (rc < 0) goto fail;
    if (rc == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: no bin_width (an attribute of %s or of the root, or a dataset /bin_width)", path, where);
        goto fail;
    }
    if (!(bw > 0) || !isfinite(bw)) {
        cf_set_error(CF_ERR_FORMAT, "%s: bin_width %g (need a finite width > 0)", path, bw);
        goto fail;
    }
    if ((rc = cf_spikes_h5_find_number(file, d, path, where, "t_start", &t0)) < 0) goto fail;
    if (!isfinite(t0)) {
        cf_set_error(CF_ERR_FORMAT, "%s: t_start %g is not finite", path, t0);
        goto fail;
    }
    int N = (int)dims[0];
    int64_t T = (int64_t)dims[1];
    if (cf_spikes_h5_check_stored(d, path, where, (uint64_t)N * (uint64_t)T) != CF_OK) goto fail;
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
    cf_spikes_span_end end = {s->t_end, s->t_end, -1, ""};
    snprintf(end.where, sizeof end.where, "%s", where);
    if (cf_spikes_h5_finish(file, path, s, &end, t0, lim) != CF_OK) goto fail;
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
    if (st == CF_OK) st = cf_spikes_h5_read_all(file, path, "simulation/weights", true, 2, H5T_NATIVE_DOUBLE, &buf, dims);
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
    if (st == CF_OK) st = cf_spikes_h5_read_all(file, path, "simulation/hubs", true, 1, H5T_NATIVE_INT64, (void **)&buf, dims);
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
    return cf_h5_exists(file, "units") || !cf_h5_exists(file, "counts") ? cf_spikes_h5_read_nwb(file, path, lim)
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
