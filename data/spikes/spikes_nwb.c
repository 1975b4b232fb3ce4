/* The NWB-style units-table reader (/units/spike_times, spike_times_index, id, electrodes): layout in
 * spikes.h. */
#include "data/spikes/spikes_h5_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#ifdef CF_HAVE_HDF5

/* ---- NWB ---- */

cf_spikes *cf_spikes_h5_read_nwb(hid_t file, const char *path, const cf_spike_limits *lim)
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
    int64_t n_rows = cf_spikes_h5_rows_of(file, "units/spike_times_index");
    if (n_rows > lim->max_units) {
        cf_spike_limit_error(lim, CF_SPIKE_UNITS, "%s: /units/spike_times_index: the unit count (%" PRId64 " rows)", path, n_rows);
        return NULL;
    }
    cf_status st = cf_spikes_h5_read_all(file, path, "units/spike_times", true, 1, H5T_NATIVE_DOUBLE, (void **)&times, dt);
    if (st == CF_OK) st = cf_spikes_h5_read_all(file, path, "units/spike_times_index", true, 1, H5T_NATIVE_INT64, (void **)&index, di);
    if (st == CF_OK) st = cf_spikes_h5_read_all(file, path, "units/id", false, 1, H5T_NATIVE_INT64, (void **)&ids, dd);
    if (st == CF_OK) st = cf_spikes_h5_read_all(file, path, "units/obs_intervals", false, 2, H5T_NATIVE_DOUBLE, (void **)&obs, dobs);
    if (st == CF_OK && obs)
        st = cf_spikes_h5_read_all(file, path, "units/obs_intervals_index", true, 1, H5T_NATIVE_INT64, (void **)&obs_index, doi);
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
    cf_spikes_span_end end = {0, 0, -1, ""};
    if (t_max_row >= 0) cf_spikes_h5_span_extend(&end, t_max, t_max - 1e-3, "/units/spike_times", t_max_row);
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
            cf_spikes_h5_span_extend(&end, obs[2 * r + 1], obs[2 * r + 1], "/units/obs_intervals (its end)", r);
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
    if (cf_spikes_h5_finish(file, path, s, &end, 0.0, lim) != CF_OK) goto fail;
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
    cf_spikes *s = file >= 0 ? cf_spikes_h5_read_nwb(file, path, &lim) : NULL;
    cf_h5_close(&file);
    cf_h5_quiet_off(q);
    return s;
}

#endif
