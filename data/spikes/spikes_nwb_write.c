/* The NWB-style HDF5 writer (layout in spikes.h). The file is built in memory with HDF5's core driver and
 * then written by us to a temporary file, fsynced and renamed: HDF5 1.10 does not recover from a failed
 * disk write (see build_image in recipes/checkpoint/checkpoint_save.c), while a failed write() is an ordinary error here, and a reader
 * never sees a half-written file. */
#include "data/h5util.h"
#include "autograd/fileio.h"
#include "data/spikes/simulate_spikes.h"
#include "data/spikes/spikes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Behaviour names become HDF5 group paths below /processing/behavior: components non-empty, not "." or
 * "..", at most 4 deep (the reader's search depth), and no name may be a group that holds another name. */
static cf_status check_names(const cf_spikes *s, const char *path)
{
    for (int j = 0; j < s->beh_dim; j++) {
        const char *n = s->beh_names[j];
        int depth = 1;
        const char *c = n;
        for (const char *p = n;; p++) {
            if (*p == '/' || *p == 0) {
                size_t len = (size_t)(p - c);
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                    return cf_set_error(CF_ERR_ARG, "%s: behaviour name '%s' is not a valid group path (empty, '.' or "
                                        "'..' component)", path, n);
                if (!*p) break;
                depth++;
                c = p + 1;
            }
        }
        if (depth > 4) return cf_set_error(CF_ERR_ARG, "%s: behaviour name '%s' is more than 4 levels deep", path, n);
        for (int i = 0; i < s->beh_dim; i++) {
            if (i == j) continue;
            const char *m = s->beh_names[i];
            size_t ln = strlen(n);
            if (strcmp(n, m) == 0 && i < j) return cf_set_error(CF_ERR_ARG, "%s: behaviour name '%s' appears twice", path, n);
            if (strncmp(n, m, ln) == 0 && m[ln] == '/')
                return cf_set_error(CF_ERR_ARG, "%s: behaviour names '%s' and '%s' nest (a series cannot hold another)",
                                    path, n, m);
        }
    }
    return CF_OK;
}

#ifdef CF_HAVE_HDF5
#include <hdf5.h>

static herr_t attr_str(hid_t obj, const char *name, const char *value)
{
    /* variable-length UTF-8, as NWB writes text (h5py reads it as str) */
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), a = -1;
    herr_t rc = -1;
    if (type >= 0 && space >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0 &&
        (a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        rc = H5Awrite(a, type, &value);
    cf_h5_close(&a);
    cf_h5_close(&space);
    cf_h5_close(&type);
    return rc;
}

static herr_t attr_num(hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR), a = -1;
    herr_t rc = -1;
    if (space >= 0 && (a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) >= 0) rc = H5Awrite(a, type, value);
    cf_h5_close(&a);
    cf_h5_close(&space);
    return rc;
}

static herr_t attr_f64(hid_t obj, const char *name, double v) { return attr_num(obj, name, H5T_NATIVE_DOUBLE, &v); }
static herr_t attr_i64(hid_t obj, const char *name, int64_t v) { return attr_num(obj, name, H5T_NATIVE_INT64, &v); }

/* A dataset of rank 1 or 2 with file type = memory type (float64 or int64, little-endian in the file). */
static herr_t write_ds(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *buf)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), d = -1;
    herr_t rc = -1;
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    if (space >= 0 && (d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        rc = n ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    cf_h5_close(&d);
    cf_h5_close(&space);
    return rc;
}

static herr_t write_f64(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *buf)
{
    return write_ds(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, dims, buf);
}

static herr_t write_i64(hid_t loc, const char *name, hsize_t n, const int64_t *buf)
{
    return write_ds(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &n, buf);
}

/* A group that remembers the creation order of its links, so the reader lists behaviour variables in the
 * order they were written. */
static hid_t make_group(hid_t loc, const char *name)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), g = -1;
    if (gcpl >= 0 && H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0)
        g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    cf_h5_close(&gcpl);
    return g;
}

/* Opens or creates each component of rel below loc. */
static hid_t group_path(hid_t loc, const char *rel)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", rel);
    hid_t cur = H5Gopen2(loc, ".", H5P_DEFAULT);
    for (char *c = buf; cur >= 0;) {
        char *slash = strchr(c, '/');
        if (slash) *slash = 0;
        hid_t next = H5Lexists(cur, c, H5P_DEFAULT) > 0 ? H5Gopen2(cur, c, H5P_DEFAULT) : make_group(cur, c);
        cf_h5_close(&cur);
        cur = next;
        if (!slash) break;
        c = slash + 1;
    }
    return cur;
}

static herr_t write_sim_attrs(hid_t g, const cf_sim_config *c)
{
    const struct {
        const char *name;
        double v;
    } num[] = {
        {"n_neurons", c->n_neurons},     {"n_hubs", c->n_hubs},           {"seconds", c->seconds},
        {"dt", c->dt},                   {"base_rate_hz", c->base_rate_hz}, {"hub_rate_hz", c->hub_rate_hz},
        {"hub_targets", c->hub_targets}, {"hub_weight", c->hub_weight},   {"edge_prob", c->edge_prob},
        {"edge_w_min", c->edge_w_min},   {"edge_w_max", c->edge_w_max},   {"inhib_frac", c->inhib_frac},
        {"kernel_len", c->kernel_len},   {"kernel_tau", c->kernel_tau},   {"refractory", c->refractory},
        {"stim_gain", c->stim_gain},     {"stim_tau", c->stim_tau},       {"behavior_dt", c->behavior_dt},
        {"trial_s", c->trial_s},         {"calibrate", c->calibrate ? 1 : 0},
    };
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (attr_f64(g, num[i].name, num[i].v) < 0) return -1;
    if (attr_num(g, "seed", H5T_NATIVE_UINT64, &c->seed) < 0) return -1;
    if (attr_str(g, "generator", "bernoulli-glm (cformer data/spikes/simulate_spikes.h)") < 0) return -1;
    return attr_str(g, "model", "p_j(t) = sigmoid(b_j + sum_i sum_k w[i,j] kappa_k s_i(t-k) + r kappa_1 s_j(t-1) + "
                                "c_j stim(t)), kappa_k = exp(-(k-1)/kernel_tau)");
}

/* Only with a movie, so the files of simulations without one stay byte for byte as they were. */
static herr_t write_movie_attrs(hid_t g, const cf_sim_config *c)
{
    if (attr_f64(g, "movie_h", c->movie_h) < 0 || attr_f64(g, "movie_w", c->movie_w) < 0 ||
        attr_f64(g, "movie_gain", c->movie_gain) < 0 || attr_f64(g, "movie_rate_hz", c->movie_rate_hz) < 0 ||
        attr_f64(g, "movie_lag", c->movie_lag) < 0)
        return -1;
    return attr_str(g, "movie_model", "+ movie_gains[j] * <receptive_fields[j], frame(t - movie_lag)> on the logit (frame "
                                      "held 1 / movie_rate_hz s; the movie of /stimulus/presentation/movie, restarted at "
                                      "every trial)");
}

/* Builds the file in memory and returns its image (malloc'ed). */
static cf_status build_image(const cf_spikes *s, const char *path, const double *weights, int n,
                             const cf_sim_config *sim, void **image, size_t *image_len)
{
    const char *stage = "creating the file in memory";
    char where[600];
    hid_t file = -1, g = -1, g2 = -1;
    void *buf = NULL;
    int64_t *tmp = NULL;
    *image = NULL;
    *image_len = 0;
    size_t estimate = (size_t)s->n_spikes * 8 + (size_t)s->beh_len * (size_t)(s->beh_dim + 1) * 16 + (1 << 20);
    if (s->frames) estimate += (size_t)s->frames->n * ((size_t)s->frames->h * (size_t)s->frames->w * 4 + 8);
    cf_h5image im;
    if ((file = cf_h5image_create(&im, path, estimate < (64u << 20) ? estimate : (64u << 20))) < 0) goto fail;
    stage = "writing the root attributes";
    if (attr_str(file, "format", CF_SPIKES_NWB_FORMAT) < 0 || attr_i64(file, "format_version", CF_SPIKES_NWB_FORMAT_VERSION) < 0 ||
        attr_str(file, "created_by", "cformer 0.1.0") < 0)
        goto fail;
    stage = "writing /units";
    hsize_t N = (hsize_t)s->n_units, S = (hsize_t)s->n_spikes;
    if (!(tmp = malloc((N ? N : 1) * sizeof *tmp))) goto oom;
    if ((g = H5Gcreate2(file, "units", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        attr_str(g, "neurodata_type", "Units") < 0 || attr_str(g, "namespace", "core") < 0 ||
        attr_str(g, "description", "spike times per unit (ragged: spike_times_index[u] is the end of unit u's times)") < 0 ||
        attr_f64(g, "t_start", s->t_start) < 0 || attr_f64(g, "t_end", s->t_end) < 0)
        goto fail;
    for (hsize_t u = 0; u < N; u++) tmp[u] = s->unit_ids ? s->unit_ids[u] : (int64_t)u;
    if (write_i64(g, "id", N, tmp) < 0) goto fail;
    if (write_f64(g, "spike_times", 1, &S, s->times) < 0) goto fail;
    for (hsize_t u = 0; u < N; u++) tmp[u] = s->offsets[u + 1];
    if (write_i64(g, "spike_times_index", N, tmp) < 0) goto fail;
    cf_h5_close(&g);
    free(tmp);
    tmp = NULL;
    if (s->n_trials > 0) {
        stage = "writing /intervals/trials";
        hsize_t T = (hsize_t)s->n_trials;
        if (!(tmp = malloc(T * sizeof *tmp))) goto oom;
        for (hsize_t i = 0; i < T; i++) tmp[i] = (int64_t)i;
        if ((g = H5Gcreate2(file, "intervals", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            (g2 = H5Gcreate2(g, "trials", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            attr_str(g2, "neurodata_type", "TimeIntervals") < 0 || attr_str(g2, "namespace", "core") < 0 ||
            write_i64(g2, "id", T, tmp) < 0 || write_f64(g2, "start_time", 1, &T, s->trial_start) < 0 ||
            write_f64(g2, "stop_time", 1, &T, s->trial_stop) < 0)
            goto fail;
        cf_h5_close(&g2);
        cf_h5_close(&g);
        free(tmp);
        tmp = NULL;
    }
    if (s->beh_len > 0 && s->beh_dim > 0) {
        hsize_t T = (hsize_t)s->beh_len;
        double *col = malloc(T * sizeof *col);
        if (!col) goto oom;
        buf = col;
        stage = "creating /processing/behavior";
        if ((g = H5Gcreate2(file, "processing", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 || (g2 = make_group(g, "behavior")) < 0 ||
            attr_str(g2, "neurodata_type", "ProcessingModule") < 0)
            goto fail;
        for (int j = 0; j < s->beh_dim; j++) {
            snprintf(where, sizeof where, "writing /processing/behavior/%s", s->beh_names[j]);
            stage = where;
            for (hsize_t i = 0; i < T; i++) col[i] = s->beh[i * (hsize_t)s->beh_dim + (hsize_t)j];
            hid_t ts = group_path(g2, s->beh_names[j]);
            herr_t rc = ts < 0 ? -1 : 0;
            if (rc >= 0) rc = attr_str(ts, "neurodata_type", "TimeSeries");
            if (rc >= 0) rc = write_f64(ts, "data", 1, &T, col);
            if (rc >= 0) rc = write_f64(ts, "timestamps", 1, &T, s->beh_t);
            cf_h5_close(&ts);
            if (rc < 0) goto fail;
        }
        cf_h5_close(&g2);
        cf_h5_close(&g);
        free(buf);
        buf = NULL;
    }
    if (s->frames) {
        const cf_frames *f = s->frames;
        snprintf(where, sizeof where, "writing /stimulus/presentation/%s", f->name);
        stage = where;
        hid_t ts = -1, d = -1;
        hsize_t dims[3] = {(hsize_t)f->n, (hsize_t)f->h, (hsize_t)f->w}, nf = (hsize_t)f->n;
        /* onsets on the grid t0 + i / rate are written as starting_time + rate (NWB's regular sampling), the
         * reader recomputing them with the same expression; any other onsets as timestamps */
        bool uniform = true;
        for (int64_t i = 0; i < f->n && uniform; i++) uniform = f->t[i] == f->t[0] + (double)i / f->rate;
        herr_t rc = (g = H5Gcreate2(file, "stimulus", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
                            (g2 = H5Gcreate2(g, "presentation", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
                            (ts = H5Gcreate2(g2, f->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0
                        ? -1
                        : 0;
        if (rc >= 0) rc = attr_str(ts, "neurodata_type", "ImageSeries");
        if (rc >= 0) rc = attr_str(ts, "namespace", "core");
        if (rc >= 0) rc = attr_str(ts, "description", "grayscale movie [frames, height, width]; frame i is on screen from its "
                                                      "onset until the next");
        if (rc >= 0 && f->per_trial)
            rc = attr_str(ts, "time_reference", "trial_start"); /* ours: the movie starts again at every trial */
        if (rc >= 0) rc = write_ds(ts, "data", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, f->data);
        if (rc >= 0 && (d = H5Dopen2(ts, "data", H5P_DEFAULT)) < 0) rc = -1;
        if (rc >= 0) rc = attr_f64(d, "conversion", 1.0);
        if (rc >= 0) rc = attr_f64(d, "resolution", -1.0);
        if (rc >= 0) rc = attr_str(d, "unit", "a.u.");
        cf_h5_close(&d);
        if (rc >= 0 && uniform) {
            hid_t space = H5Screate(H5S_SCALAR);
            if (space < 0 || (d = H5Dcreate2(ts, "starting_time", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
                H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &f->t[0]) < 0 || attr_f64(d, "rate", f->rate) < 0 ||
                attr_str(d, "unit", "seconds") < 0)
                rc = -1;
            cf_h5_close(&space);
        } else if (rc >= 0) {
            if (write_f64(ts, "timestamps", 1, &nf, f->t) < 0 || (d = H5Dopen2(ts, "timestamps", H5P_DEFAULT)) < 0 ||
                attr_i64(d, "interval", 1) < 0 || attr_str(d, "unit", "seconds") < 0)
                rc = -1;
        }
        cf_h5_close(&d);
        cf_h5_close(&ts);
        if (rc < 0) goto fail;
        cf_h5_close(&g2);
        cf_h5_close(&g);
    }
    if (weights || sim) {
        stage = "writing /simulation";
        if ((g = H5Gcreate2(file, "simulation", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
            attr_str(g, "weights_convention", "weights[i, j] is the weight of the edge from unit i (source) to unit j "
                                              "(target)") < 0)
            goto fail;
        if (weights) {
            hsize_t dims[2] = {(hsize_t)n, (hsize_t)n};
            if (write_f64(g, "weights", 2, dims, weights) < 0) goto fail;
        }
        if (sim) {
            int *hubs = malloc((size_t)(sim->n_hubs > 0 ? sim->n_hubs : 1) * sizeof *hubs);
            if (!hubs || !(tmp = malloc((size_t)(sim->n_hubs > 0 ? sim->n_hubs : 1) * sizeof *tmp))) {
                free(hubs);
                goto oom;
            }
            cf_status hs = cf_sim_hubs(sim, hubs);
            for (int i = 0; hs == CF_OK && i < sim->n_hubs; i++) tmp[i] = hubs[i];
            free(hubs);
            if (hs != CF_OK) goto fail_status;
            if (write_i64(g, "hubs", (hsize_t)sim->n_hubs, tmp) < 0 || write_sim_attrs(g, sim) < 0) goto fail;
            free(tmp);
            tmp = NULL;
            /* the baselines and stimulus gains complete the ground truth (recomputed: a pure function of sim) */
            hsize_t nn = (hsize_t)sim->n_neurons;
            double *bg = malloc(2 * nn * sizeof *bg);
            if (!bg) goto oom;
            buf = bg;
            if (cf_sim_parameters(sim, bg, bg + nn) != CF_OK) goto fail_status;
            if (write_f64(g, "baselines", 1, &nn, bg) < 0 || write_f64(g, "stim_gains", 1, &nn, bg + nn) < 0) goto fail;
            free(buf);
            buf = NULL;
            if (sim->movie_h > 0 && sim->movie_w > 0) {
                /* the receptive fields and their gains: drive_j = movie_gains[j] * <receptive_fields[j], frame> */
                hsize_t rd[3] = {nn, (hsize_t)sim->movie_h, (hsize_t)sim->movie_w};
                float *rf = malloc((size_t)(nn * rd[1] * rd[2]) * sizeof *rf);
                double *mg = malloc(nn * sizeof *mg);
                buf = rf;
                if (!rf || !mg) {
                    free(mg);
                    goto oom;
                }
                cf_status rs = cf_sim_receptive_fields(sim, rf, mg);
                herr_t rc = rs == CF_OK ? write_ds(g, "receptive_fields", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, rd, rf) : 0;
                if (rs == CF_OK && rc >= 0) rc = write_f64(g, "movie_gains", 1, &nn, mg);
                if (rs == CF_OK && rc >= 0) rc = write_movie_attrs(g, sim);
                free(mg);
                if (rs != CF_OK) goto fail_status;
                if (rc < 0) goto fail;
                free(buf);
                buf = NULL;
            }
        }
        cf_h5_close(&g);
    }
    {
        cf_status rc = cf_h5image_finish(&im, file, path, image, image_len);
        return rc;
    }
oom:
    cf_h5_close(&g2), cf_h5_close(&g), cf_h5_close(&file);
    cf_h5image_discard(&im);
    free(buf);
    free(tmp);
    return cf_set_error(CF_ERR_OOM, "%s: out of memory while %s", path, stage);
fail_status:
    cf_h5_close(&g2), cf_h5_close(&g), cf_h5_close(&file);
    cf_h5image_discard(&im);
    free(buf);
    free(tmp);
    cf_error_prefix("%s: ", path);
    return cf_last_status();
fail:
    cf_h5_close(&g2), cf_h5_close(&g), cf_h5_close(&file);
    cf_h5image_discard(&im);
    free(buf);
    free(tmp);
    return cf_set_error(CF_ERR_IO, "%s: HDF5 failed while %s; the previous file (if any) is unchanged", path, stage);
}

cf_status cf_spikes_write_nwb(const cf_spikes *s, const char *path, const double *weights, int n,
                              const struct cf_sim_config *sim)
{
    if (!path) return cf_set_error(CF_ERR_ARG, "cf_spikes_write_nwb: NULL path");
    cf_status st = cf_spikes_validate(s, path);
    if (st != CF_OK) return st;
    if (weights && n != s->n_units)
        return cf_set_error(CF_ERR_ARG, "%s: weights are %d x %d but the spikes have %d units", path, n, n, s->n_units);
    if (weights)
        for (int64_t i = 0; i < (int64_t)n * n; i++)
            if (!isfinite(weights[i]))
                return cf_set_error(CF_ERR_ARG, "%s: weight [%" PRId64 ", %" PRId64 "] is not finite", path, i / n, i % n);
    if (sim && (st = cf_sim_check(sim)) != CF_OK) {
        cf_error_prefix("%s: ", path);
        return st;
    }
    if ((st = check_names(s, path)) != CF_OK) return st;
    if (s->frames) {
        const char *fn = s->frames->name;
        if (!fn[0] || strchr(fn, '/') || strcmp(fn, ".") == 0 || strcmp(fn, "..") == 0)
            return cf_set_error(CF_ERR_ARG, "%s: frames name '%s' is not a valid group name", path, fn);
    }
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    void *image = NULL;
    size_t len = 0;
    st = build_image(s, path, weights, n, sim, &image, &len);
    H5Eset_auto2(H5E_DEFAULT, func, data);
    if (st == CF_OK) st = cf_write_file_atomic(path, image, len);
    free(image);
    return st;
}

#else

cf_status cf_spikes_write_nwb(const cf_spikes *s, const char *path, const double *weights, int n,
                              const struct cf_sim_config *sim)
{
    (void)s, (void)weights, (void)n, (void)sim, (void)check_names;
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (configure with -DCF_HDF5=ON)", path ? path : "?");
}

#endif
