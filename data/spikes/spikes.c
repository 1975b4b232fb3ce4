/* cf_spikes: building from events or counts, trials and behaviour, validation, copy/compare, binning,
 * rates and the time-block splits. The file readers and the tokenizer build on these. */
#include "data/spikes/spikes.h"

#include "autograd/rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Spike times are snapped to bins with this tolerance (in bins), so that a time written as k * dt lands in
 * bin k although (k * dt) / dt may come out as k - 1e-16. */
#define BIN_EPS 1e-6

static void *xcalloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static cf_spikes *alloc_spikes(int n_units, int64_t n_spikes)
{
    cf_spikes *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n_units = n_units;
    s->n_spikes = n_spikes;
    s->offsets = xcalloc((size_t)n_units + 1, sizeof *s->offsets);
    s->times = xcalloc((size_t)n_spikes, sizeof *s->times);
    if (!s->offsets || !s->times) {
        cf_spikes_free(s);
        return NULL;
    }
    return s;
}

void cf_spikes_free(cf_spikes *s)
{
    if (!s) return;
    free(s->offsets);
    free(s->times);
    free(s->unit_ids);
    free(s->trial_start);
    free(s->trial_stop);
    free(s->beh_t);
    free(s->beh);
    if (s->beh_names)
        for (int j = 0; j < s->beh_dim; j++) free(s->beh_names[j]);
    free(s->beh_names);
    cf_frames_free(s->frames);
    free(s);
}

cf_status cf_spike_limits_resolve(const cf_spike_limits *l, cf_spike_limits *out)
{
    cf_spike_limits r = l ? *l : (cf_spike_limits){0};
    if (!r.key_prefix) r.key_prefix = "";
    if (r.max_units == 0) r.max_units = CF_SPIKES_MAX_UNITS;
    if (r.max_seconds == 0) r.max_seconds = CF_SPIKES_MAX_SECONDS;
    if (r.max_units < 1 || r.max_units > CF_SPIKES_UNITS_CEILING)
        return cf_set_error(CF_ERR_ARG, "%smax_units %" PRId64 " outside 1..%d (0: the default %d)", r.key_prefix,
                            r.max_units, CF_SPIKES_UNITS_CEILING, CF_SPIKES_MAX_UNITS);
    if (!(r.max_seconds > 0) || !isfinite(r.max_seconds))
        return cf_set_error(CF_ERR_ARG, "%smax_seconds %g is not a finite span > 0 (0: the default %g s)", r.key_prefix,
                            r.max_seconds, CF_SPIKES_MAX_SECONDS);
    *out = r;
    return CF_OK;
}

cf_status cf_spike_limit_error(const cf_spike_limits *l, cf_spike_bound which, const char *fmt, ...)
{
    char subject[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(subject, sizeof subject, fmt, ap);
    va_end(ap);
    cf_spike_limits r;
    if (cf_spike_limits_resolve(l, &r) != CF_OK) r = (cf_spike_limits){CF_SPIKES_MAX_UNITS, CF_SPIKES_MAX_SECONDS, ""};
    const char *k = r.key_prefix;
    if (which == CF_SPIKE_SECONDS)
        return cf_set_error(CF_ERR_FORMAT, "%s exceeds %smax_seconds (%g s), the longest recording span accepted; raise "
                            "%smax_seconds if the recording really is that long", subject, k, r.max_seconds, k);
    if (which == CF_SPIKE_UNIT_IDS)
        return cf_set_error(CF_ERR_FORMAT, "%s exceeds %smax_units (%" PRId64 "); raise %smax_units if the recording "
                            "has that many units, or set %sremap_ids: true to number the distinct ids 0, 1, ...", subject,
                            k, r.max_units, k, k);
    return cf_set_error(CF_ERR_FORMAT, "%s exceeds %smax_units (%" PRId64 "); raise %smax_units if the recording has "
                        "that many units", subject, k, r.max_units, k);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cf_spikes *cf_spikes_from_events(const double *times, const int64_t *units, int64_t n, int n_units, double t_start,
                                 double t_end, const char *what)
{
    if (!what) what = "spikes";
    if (n < 0 || n_units < 0 || (n > 0 && (!times || !units))) {
        cf_set_error(CF_ERR_ARG, "%s: cf_spikes_from_events: bad arguments (n %" PRId64 ", n_units %d)", what, n, n_units);
        return NULL;
    }
    if (!isfinite(t_start) || !isfinite(t_end) || t_end < t_start) {
        cf_set_error(CF_ERR_ARG, "%s: recording span [%g, %g) is not a finite interval", what, t_start, t_end);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        if (units[i] < 0 || units[i] >= n_units) {
            cf_set_error(CF_ERR_FORMAT, "%s: spike %" PRId64 ": unit %" PRId64 " out of range [0, %d)", what, i, units[i],
                         n_units);
            return NULL;
        }
        if (!isfinite(times[i]) || times[i] < t_start || times[i] >= t_end) {
            cf_set_error(CF_ERR_FORMAT, "%s: spike %" PRId64 " (unit %" PRId64 "): time %.17g outside the recording [%g, %g)",
                         what, i, units[i], times[i], t_start, t_end);
            return NULL;
        }
    }
    cf_spikes *s = alloc_spikes(n_units, n);
    int64_t *fill = xcalloc((size_t)n_units + 1, sizeof *fill);
    if (!s || !fill) {
        cf_spikes_free(s);
        free(fill);
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %" PRId64 " spikes", what, n);
        return NULL;
    }
    s->t_start = t_start;
    s->t_end = t_end;
    for (int64_t i = 0; i < n; i++) s->offsets[units[i] + 1]++;
    for (int u = 0; u < n_units; u++) s->offsets[u + 1] += s->offsets[u];
    for (int u = 0; u < n_units; u++) fill[u] = s->offsets[u];
    for (int64_t i = 0; i < n; i++) s->times[fill[units[i]]++] = times[i];
    free(fill);
    /* events usually arrive in time order: sort only the units that are not */
    for (int u = 0; u < n_units; u++) {
        double *t = s->times + s->offsets[u];
        int64_t m = s->offsets[u + 1] - s->offsets[u];
        for (int64_t i = 1; i < m; i++)
            if (t[i] < t[i - 1]) {
                qsort(t, (size_t)m, sizeof *t, cmp_double);
                break;
            }
    }
    return s;
}

cf_spikes *cf_spikes_from_counts(const int32_t *counts, int n_units, int64_t n_bins, double bin_width, double t_start)
{
    if (n_units < 0 || n_bins < 0 || (n_units > 0 && n_bins > 0 && !counts)) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_from_counts: bad arguments (%d units, %" PRId64 " bins)", n_units, n_bins);
        return NULL;
    }
    if (!(bin_width > 0) || !isfinite(bin_width) || !isfinite(t_start)) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_from_counts: bin width %g / t_start %g (need a finite width > 0)", bin_width,
                     t_start);
        return NULL;
    }
    int64_t total = 0;
    for (int u = 0; u < n_units; u++)
        for (int64_t b = 0; b < n_bins; b++) {
            int32_t c = counts[(int64_t)u * n_bins + b];
            if (c < 0) {
                cf_set_error(CF_ERR_FORMAT, "counts: row %d (unit), column %" PRId64 " (bin): negative count %" PRId32, u, b, c);
                return NULL;
            }
            total += c;
        }
    cf_spikes *s = alloc_spikes(n_units, total);
    if (!s) {
        cf_set_error(CF_ERR_OOM, "cf_spikes_from_counts: out of memory for %" PRId64 " spikes", total);
        return NULL;
    }
    s->t_start = t_start;
    s->t_end = t_start + (double)n_bins * bin_width;
    int64_t k = 0;
    for (int u = 0; u < n_units; u++) {
        for (int64_t b = 0; b < n_bins; b++)
            for (int32_t c = counts[(int64_t)u * n_bins + b]; c > 0; c--) s->times[k++] = t_start + (double)b * bin_width;
        s->offsets[u + 1] = k;
    }
    return s;
}

cf_status cf_spikes_set_trials(cf_spikes *s, int n, const double *start, const double *stop)
{
    if (!s || n < 0 || (n > 0 && (!start || !stop))) return cf_set_error(CF_ERR_ARG, "cf_spikes_set_trials: bad arguments");
    for (int i = 0; i < n; i++) {
        if (!isfinite(start[i]) || !isfinite(stop[i]) || stop[i] < start[i])
            return cf_set_error(CF_ERR_FORMAT, "trial %d: [%g, %g) is not a finite interval with start <= stop", i, start[i],
                                stop[i]);
        if (i > 0 && start[i] < start[i - 1])
            return cf_set_error(CF_ERR_FORMAT, "trial %d: start %g before the previous trial's start %g (trials must be "
                                "sorted by start)", i, start[i], start[i - 1]);
    }
    double *a = NULL, *b = NULL;
    if (n > 0) {
        a = malloc((size_t)n * sizeof *a);
        b = malloc((size_t)n * sizeof *b);
        if (!a || !b) {
            free(a);
            free(b);
            return cf_set_error(CF_ERR_OOM, "cf_spikes_set_trials: out of memory");
        }
        memcpy(a, start, (size_t)n * sizeof *a);
        memcpy(b, stop, (size_t)n * sizeof *b);
    }
    free(s->trial_start);
    free(s->trial_stop);
    s->trial_start = a;
    s->trial_stop = b;
    s->n_trials = n;
    return CF_OK;
}

static void clear_behavior(cf_spikes *s)
{
    free(s->beh_t);
    free(s->beh);
    if (s->beh_names)
        for (int j = 0; j < s->beh_dim; j++) free(s->beh_names[j]);
    free(s->beh_names);
    s->beh_t = s->beh = NULL;
    s->beh_names = NULL;
    s->beh_len = 0;
    s->beh_dim = 0;
}

cf_status cf_spikes_set_behavior(cf_spikes *s, int64_t T, int k, const double *t, const double *values,
                                 const char *const *names)
{
    if (!s || T < 0 || k < 0) return cf_set_error(CF_ERR_ARG, "cf_spikes_set_behavior: bad arguments");
    if (T == 0 || k == 0) {
        clear_behavior(s);
        return CF_OK;
    }
    if (!t || !values || !names) return cf_set_error(CF_ERR_ARG, "cf_spikes_set_behavior: NULL timestamps/values/names");
    for (int64_t i = 0; i < T; i++) {
        if (!isfinite(t[i]))
            return cf_set_error(CF_ERR_FORMAT, "behaviour timestamps: row %" PRId64 ": %g is not finite", i, t[i]);
        if (i > 0 && !(t[i] > t[i - 1]))
            return cf_set_error(CF_ERR_FORMAT, "behaviour timestamps: row %" PRId64 ": %.17g not after the previous %.17g "
                                "(timestamps must increase)", i, t[i], t[i - 1]);
        for (int j = 0; j < k; j++)
            if (!isfinite(values[i * k + j]))
                return cf_set_error(CF_ERR_FORMAT, "behaviour '%s': row %" PRId64 ": value %g is not finite",
                                    names[j] ? names[j] : "?", i, values[i * k + j]);
    }
    for (int j = 0; j < k; j++)
        if (!names[j] || !names[j][0] || strlen(names[j]) > 255)
            return cf_set_error(CF_ERR_ARG, "behaviour variable %d: name must be 1..255 bytes", j);
    double *bt = malloc((size_t)T * sizeof *bt), *bv = malloc((size_t)T * (size_t)k * sizeof *bv);
    char **bn = calloc((size_t)k, sizeof *bn);
    bool ok = bt && bv && bn;
    for (int j = 0; ok && j < k; j++) ok = (bn[j] = strdup(names[j])) != NULL;
    if (!ok) {
        free(bt);
        free(bv);
        if (bn)
            for (int j = 0; j < k; j++) free(bn[j]);
        free(bn);
        return cf_set_error(CF_ERR_OOM, "cf_spikes_set_behavior: out of memory");
    }
    memcpy(bt, t, (size_t)T * sizeof *bt);
    memcpy(bv, values, (size_t)T * (size_t)k * sizeof *bv);
    clear_behavior(s);
    s->beh_t = bt;
    s->beh = bv;
    s->beh_names = bn;
    s->beh_len = T;
    s->beh_dim = k;
    return CF_OK;
}

cf_status cf_spikes_validate(const cf_spikes *s, const char *what)
{
    if (!what) what = "spikes";
    if (!s) return cf_set_error(CF_ERR_ARG, "%s: NULL spikes", what);
    if (s->n_units < 0 || s->n_spikes < 0 || !s->offsets || (s->n_spikes > 0 && !s->times))
        return cf_set_error(CF_ERR_FORMAT, "%s: malformed spikes (%d units, %" PRId64 " spikes)", what, s->n_units, s->n_spikes);
    if (!isfinite(s->t_start) || !isfinite(s->t_end) || s->t_end < s->t_start)
        return cf_set_error(CF_ERR_FORMAT, "%s: recording span [%g, %g) is not a finite interval", what, s->t_start, s->t_end);
    if (s->offsets[0] != 0 || s->offsets[s->n_units] != s->n_spikes)
        return cf_set_error(CF_ERR_FORMAT, "%s: offsets run from %" PRId64 " to %" PRId64 ", not 0 to %" PRId64, what,
                            s->offsets[0], s->offsets[s->n_units], s->n_spikes);
    for (int u = 0; u < s->n_units; u++) {
        if (s->offsets[u + 1] < s->offsets[u])
            return cf_set_error(CF_ERR_FORMAT, "%s: unit %d: offsets decrease (%" PRId64 " after %" PRId64 ")", what, u,
                                s->offsets[u + 1], s->offsets[u]);
        for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
            double t = s->times[i];
            if (!isfinite(t) || t < s->t_start || t >= s->t_end)
                return cf_set_error(CF_ERR_FORMAT, "%s: unit %d, spike row %" PRId64 ": time %.17g outside [%g, %g)", what, u,
                                    i, t, s->t_start, s->t_end);
            if (i > s->offsets[u] && t < s->times[i - 1])
                return cf_set_error(CF_ERR_FORMAT, "%s: unit %d, spike row %" PRId64 ": time %.17g before the previous "
                                    "%.17g (unsorted)", what, u, i, t, s->times[i - 1]);
        }
    }
    for (int i = 0; i < s->n_trials; i++) {
        if (!s->trial_start || !s->trial_stop || !isfinite(s->trial_start[i]) || !isfinite(s->trial_stop[i]) ||
            s->trial_stop[i] < s->trial_start[i])
            return cf_set_error(CF_ERR_FORMAT, "%s: trial %d is not a finite interval with start <= stop", what, i);
        if (i > 0 && s->trial_start[i] < s->trial_start[i - 1])
            return cf_set_error(CF_ERR_FORMAT, "%s: trial %d starts before trial %d (unsorted)", what, i, i - 1);
    }
    if (s->beh_len < 0 || s->beh_dim < 0 || (s->beh_len > 0 && s->beh_dim > 0 && (!s->beh_t || !s->beh || !s->beh_names)))
        return cf_set_error(CF_ERR_FORMAT, "%s: malformed behaviour", what);
    for (int64_t i = 0; i < s->beh_len && s->beh_dim > 0; i++) {
        if (!isfinite(s->beh_t[i]) || (i > 0 && !(s->beh_t[i] > s->beh_t[i - 1])))
            return cf_set_error(CF_ERR_FORMAT, "%s: behaviour timestamp row %" PRId64 ": %.17g (must be finite and "
                                "increasing)", what, i, s->beh_t[i]);
        for (int j = 0; j < s->beh_dim; j++)
            if (!isfinite(s->beh[i * s->beh_dim + j]))
                return cf_set_error(CF_ERR_FORMAT, "%s: behaviour '%s' row %" PRId64 ": not finite", what, s->beh_names[j], i);
    }
    if (s->frames) return cf_frames_validate(s->frames, what);
    return CF_OK;
}

cf_spikes *cf_spikes_copy(const cf_spikes *s)
{
    if (cf_spikes_validate(s, "cf_spikes_copy") != CF_OK) return NULL;
    cf_spikes *c = alloc_spikes(s->n_units, s->n_spikes);
    if (!c) goto oom;
    memcpy(c->offsets, s->offsets, ((size_t)s->n_units + 1) * sizeof *c->offsets);
    if (s->n_spikes) memcpy(c->times, s->times, (size_t)s->n_spikes * sizeof *c->times);
    c->t_start = s->t_start;
    c->t_end = s->t_end;
    if (s->unit_ids) {
        if (!(c->unit_ids = xcalloc((size_t)s->n_units, sizeof *c->unit_ids))) goto oom;
        memcpy(c->unit_ids, s->unit_ids, (size_t)s->n_units * sizeof *c->unit_ids);
    }
    if (cf_spikes_set_trials(c, s->n_trials, s->trial_start, s->trial_stop) != CF_OK ||
        cf_spikes_set_behavior(c, s->beh_len, s->beh_dim, s->beh_t, s->beh, (const char *const *)s->beh_names) != CF_OK ||
        cf_spikes_set_frames(c, s->frames) != CF_OK) {
        cf_spikes_free(c);
        return NULL;
    }
    return c;
oom:
    cf_spikes_free(c);
    cf_set_error(CF_ERR_OOM, "cf_spikes_copy: out of memory");
    return NULL;
}

#define DIFF(...) \
    do { \
        if (why) snprintf(why, why_n, __VA_ARGS__); \
        return false; \
    } while (0)

bool cf_spikes_equal(const cf_spikes *a, const cf_spikes *b, char *why, size_t why_n)
{
    if (!a || !b) DIFF("NULL spikes");
    if (a->n_units != b->n_units) DIFF("units: %d vs %d", a->n_units, b->n_units);
    if (a->n_spikes != b->n_spikes) DIFF("spikes: %" PRId64 " vs %" PRId64, a->n_spikes, b->n_spikes);
    if (a->t_start != b->t_start || a->t_end != b->t_end)
        DIFF("span: [%.17g, %.17g) vs [%.17g, %.17g)", a->t_start, a->t_end, b->t_start, b->t_end);
    for (int u = 0; u <= a->n_units; u++)
        if (a->offsets[u] != b->offsets[u]) DIFF("offsets[%d]: %" PRId64 " vs %" PRId64, u, a->offsets[u], b->offsets[u]);
    for (int64_t i = 0; i < a->n_spikes; i++)
        if (a->times[i] != b->times[i]) DIFF("times[%" PRId64 "]: %.17g vs %.17g", i, a->times[i], b->times[i]);
    for (int u = 0; u < a->n_units; u++) {
        int64_t ia = a->unit_ids ? a->unit_ids[u] : u, ib = b->unit_ids ? b->unit_ids[u] : u;
        if (ia != ib) DIFF("unit_ids[%d]: %" PRId64 " vs %" PRId64, u, ia, ib);
    }
    if (a->n_trials != b->n_trials) DIFF("trials: %d vs %d", a->n_trials, b->n_trials);
    for (int i = 0; i < a->n_trials; i++)
        if (a->trial_start[i] != b->trial_start[i] || a->trial_stop[i] != b->trial_stop[i])
            DIFF("trial %d: [%.17g, %.17g) vs [%.17g, %.17g)", i, a->trial_start[i], a->trial_stop[i], b->trial_start[i],
                 b->trial_stop[i]);
    if (a->beh_len != b->beh_len || a->beh_dim != b->beh_dim)
        DIFF("behaviour: [%" PRId64 ", %d] vs [%" PRId64 ", %d]", a->beh_len, a->beh_dim, b->beh_len, b->beh_dim);
    for (int j = 0; j < a->beh_dim; j++)
        if (strcmp(a->beh_names[j], b->beh_names[j]) != 0)
            DIFF("behaviour name %d: '%s' vs '%s'", j, a->beh_names[j], b->beh_names[j]);
    for (int64_t i = 0; i < a->beh_len; i++) {
        if (a->beh_t[i] != b->beh_t[i]) DIFF("behaviour timestamp %" PRId64 ": %.17g vs %.17g", i, a->beh_t[i], b->beh_t[i]);
        for (int j = 0; j < a->beh_dim; j++)
            if (a->beh[i * a->beh_dim + j] != b->beh[i * b->beh_dim + j])
                DIFF("behaviour '%s' row %" PRId64 ": %.17g vs %.17g", a->beh_names[j], i, a->beh[i * a->beh_dim + j],
                     b->beh[i * b->beh_dim + j]);
    }
    if (!cf_frames_equal(a->frames, b->frames, why, why_n)) return false;
    if (why && why_n) why[0] = 0;
    return true;
}

/* ---- binning and rates ---- */

int64_t cf_spikes_bin_of(const cf_spikes *s, double t, double dt)
{
    return (int64_t)floor((t - s->t_start) / dt + BIN_EPS);
}

int64_t cf_spikes_n_bins(const cf_spikes *s, double dt)
{
    if (!s || !(dt > 0)) return 0;
    double x = (s->t_end - s->t_start) / dt;
    int64_t n = (int64_t)ceil(x - BIN_EPS);
    return n > 0 ? n : 0;
}

cf_status cf_spikes_bin(const cf_spikes *s, double dt, int64_t n_bins, int32_t *counts)
{
    if (!s || !(dt > 0) || !isfinite(dt) || n_bins < 0 || (n_bins > 0 && s->n_units > 0 && !counts))
        return cf_set_error(CF_ERR_ARG, "cf_spikes_bin: bad arguments (dt %g, %" PRId64 " bins)", dt, n_bins);
    if (s->n_units > 0 && n_bins > 0) memset(counts, 0, (size_t)s->n_units * (size_t)n_bins * sizeof *counts);
    for (int u = 0; u < s->n_units; u++)
        for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
            int64_t b = cf_spikes_bin_of(s, s->times[i], dt);
            if (b >= 0 && b < n_bins) counts[(int64_t)u * n_bins + b]++;
        }
    return CF_OK;
}

/* First index in t[0..n) with t[i] >= x. */
static int64_t lower_bound(const double *t, int64_t n, double x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

cf_status cf_spikes_rates(const cf_spikes *s, double t_from, double t_to, double *rates_hz)
{
    if (!s || !rates_hz) return cf_set_error(CF_ERR_ARG, "cf_spikes_rates: NULL argument");
    double a = t_from > s->t_start ? t_from : s->t_start, b = t_to < s->t_end ? t_to : s->t_end;
    if (!(b > a)) return cf_set_error(CF_ERR_ARG, "cf_spikes_rates: [%g, %g) does not overlap the recording [%g, %g)",
                                      t_from, t_to, s->t_start, s->t_end);
    for (int u = 0; u < s->n_units; u++) {
        const double *t = s->times + s->offsets[u];
        int64_t m = s->offsets[u + 1] - s->offsets[u];
        rates_hz[u] = (double)(lower_bound(t, m, b) - lower_bound(t, m, a)) / (b - a);
    }
    return CF_OK;
}

/* ---- splits ---- */

void cf_time_ranges_free(cf_time_ranges *r)
{
    if (!r) return;
    free(r->from);
    free(r->to);
    memset(r, 0, sizeof *r);
}

double cf_time_ranges_total(const cf_time_ranges *r)
{
    double t = 0;
    for (int i = 0; r && i < r->n; i++) t += r->to[i] - r->from[i];
    return t;
}

/* Appends [a, b) to r, merging with the last range when they touch. */
static cf_status ranges_push(cf_time_ranges *r, double a, double b, int cap)
{
    if (!(b > a)) return CF_OK;
    if (r->n > 0 && r->to[r->n - 1] == a) {
        r->to[r->n - 1] = b;
        return CF_OK;
    }
    if (r->n >= cap) return cf_set_error(CF_ERR_INTERNAL, "split: range capacity exceeded");
    r->from[r->n] = a;
    r->to[r->n] = b;
    r->n++;
    return CF_OK;
}

cf_status cf_spikes_split_blocks(const cf_spikes *s, double train_frac, double val_frac, double block_s, uint64_t seed,
                                 cf_time_ranges *train, cf_time_ranges *val, cf_time_ranges *test)
{
    if (!s || !train || !val || !test) return cf_set_error(CF_ERR_ARG, "cf_spikes_split_blocks: NULL argument");
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    memset(test, 0, sizeof *test);
    if (!(train_frac >= 0) || !(val_frac >= 0) || train_frac + val_frac > 1 + 1e-12)
        return cf_set_error(CF_ERR_ARG, "cf_spikes_split_blocks: fractions train %g, val %g (need >= 0, sum <= 1)",
                            train_frac, val_frac);
    if (!isfinite(block_s)) return cf_set_error(CF_ERR_ARG, "cf_spikes_split_blocks: block length %g", block_s);
    double t0 = s->t_start, dur = s->t_end - s->t_start;
    if (!(dur > 0)) return cf_set_error(CF_ERR_ARG, "cf_spikes_split_blocks: empty recording [%g, %g)", s->t_start, s->t_end);
    int64_t nblk = block_s > 0 ? (int64_t)ceil(dur / block_s - 1e-9) : 3;
    if (nblk < 1) nblk = 1;
    if (nblk > (1 << 26))
        return cf_set_error(CF_ERR_ARG, "cf_spikes_split_blocks: %" PRId64 " blocks of %g s (too many)", nblk, block_s);
    int cap = (int)nblk;
    cf_time_ranges *out[3] = {train, val, test};
    for (int k = 0; k < 3; k++) {
        out[k]->from = xcalloc((size_t)cap, sizeof(double));
        out[k]->to = xcalloc((size_t)cap, sizeof(double));
        if (!out[k]->from || !out[k]->to) {
            for (int j = 0; j < 3; j++) cf_time_ranges_free(out[j]);
            return cf_set_error(CF_ERR_OOM, "cf_spikes_split_blocks: out of memory");
        }
    }
    cf_status st = CF_OK;
    if (block_s <= 0) {
        double a = t0 + train_frac * dur, b = t0 + (train_frac + val_frac) * dur;
        if (b > s->t_end) b = s->t_end;
        st = ranges_push(train, t0, a, cap);
        if (st == CF_OK) st = ranges_push(val, a, b, cap);
        if (st == CF_OK) st = ranges_push(test, b, s->t_end, cap);
    } else {
        int64_t n_train = llround(train_frac * (double)nblk), n_val = llround(val_frac * (double)nblk);
        if (n_train > nblk) n_train = nblk;
        if (n_val > nblk - n_train) n_val = nblk - n_train;
        int64_t *perm = malloc((size_t)nblk * sizeof *perm);
        int8_t *which = malloc((size_t)nblk);
        if (!perm || !which) {
            free(perm);
            free(which);
            for (int j = 0; j < 3; j++) cf_time_ranges_free(out[j]);
            return cf_set_error(CF_ERR_OOM, "cf_spikes_split_blocks: out of memory");
        }
        cf_philox_key key = cf_rng_key(seed, 0x5B1175B10C5ull);
        for (int64_t i = 0; i < nblk; i++) perm[i] = i;
        for (int64_t i = nblk - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = (int64_t)(cf_rng_uniform(key, 0, (uint64_t)i) * (double)(i + 1));
            if (j > i) j = i;
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int64_t i = 0; i < nblk; i++) which[perm[i]] = i < n_train ? 0 : i < n_train + n_val ? 1 : 2;
        for (int64_t b = 0; b < nblk && st == CF_OK; b++) {
            double a = t0 + (double)b * block_s, e = b + 1 == nblk ? s->t_end : t0 + (double)(b + 1) * block_s;
            if (e > s->t_end) e = s->t_end;
            st = ranges_push(out[which[b]], a, e, cap);
        }
        free(perm);
        free(which);
    }
    if (st != CF_OK)
        for (int j = 0; j < 3; j++) cf_time_ranges_free(out[j]);
    return st;
}
