/* The (time, unit[, trial]) CSV reader: one spike per line, header optional. */
#include "autograd/fileio.h"
#include "data/spikes/spikes.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 64

cf_spikes_csv_options cf_spikes_csv_defaults(void)
{
    cf_spikes_csv_options o = {0};
    o.trial_relative = true;
    o.resolution = 0.01;
    return o;
}

/* Splits line in place at ',', ';' or tab; trims spaces and one pair of surrounding double quotes. */
static int split_fields(char *line, char **fields)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *start = p;
        while (*p && *p != ',' && *p != ';' && *p != '\t') p++;
        char end = *p;
        *p = 0;
        while (isspace((unsigned char)*start)) start++;
        char *e = start + strlen(start);
        while (e > start && isspace((unsigned char)e[-1])) *--e = 0;
        if (e - start >= 2 && start[0] == '"' && e[-1] == '"') {
            e[-1] = 0;
            start++;
        }
        if (n < MAX_FIELDS) fields[n] = start;
        n++;
        if (!end) break;
        p++;
    }
    return n;
}

static bool parse_num(const char *s, double *v)
{
    if (!*s) return false;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == 0;
}

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return true;
    return false;
}

typedef struct {
    double *t;
    int64_t *unit, *trial;
    int64_t n, cap;
} events;

static bool events_push(events *e, double t, int64_t unit, int64_t trial)
{
    if (e->n == e->cap) {
        int64_t cap = e->cap ? e->cap * 2 : 4096;
        double *nt = realloc(e->t, (size_t)cap * sizeof *nt);
        if (nt) e->t = nt;
        int64_t *nu = realloc(e->unit, (size_t)cap * sizeof *nu);
        if (nu) e->unit = nu;
        int64_t *nr = realloc(e->trial, (size_t)cap * sizeof *nr);
        if (nr) e->trial = nr;
        if (!nt || !nu || !nr) return false;
        e->cap = cap;
    }
    e->t[e->n] = t;
    e->unit[e->n] = unit;
    e->trial[e->n] = trial;
    e->n++;
    return true;
}

static void events_free(events *e)
{
    free(e->t);
    free(e->unit);
    free(e->trial);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct values of v[0..n) (malloc'ed) and their count. */
static int64_t *distinct(const int64_t *v, int64_t n, int64_t *nd)
{
    int64_t *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    if (!d) return NULL;
    if (n) memcpy(d, v, (size_t)n * sizeof *d);
    qsort(d, (size_t)n, sizeof *d, cmp_i64);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (k == 0 || d[k - 1] != d[i]) d[k++] = d[i];
    *nd = k;
    return d;
}

static int64_t index_of(const int64_t *sorted, int64_t n, int64_t x)
{
    const int64_t *p = bsearch(&x, sorted, (size_t)n, sizeof x, cmp_i64);
    return p ? p - sorted : -1;
}

typedef struct {
    double start, stop;
} span;

static int cmp_span(const void *a, const void *b)
{
    double x = ((const span *)a)->start, y = ((const span *)b)->start;
    return (x > y) - (x < y);
}

/* Reads the CSV from f (which the caller closes), named path in messages. */
static cf_spikes *read_csv(FILE *f, const char *path, const cf_spikes_csv_options *opt)
{
    cf_spikes_csv_options o = opt ? *opt : cf_spikes_csv_defaults();
    if (!(o.resolution > 0) || !isfinite(o.resolution) || o.n_units < 0 || !(o.trial_duration >= 0)) {
        cf_set_error(CF_ERR_ARG, "%s: CSV options: resolution %g, n_units %d, trial_duration %g", path, o.resolution,
                     o.n_units, o.trial_duration);
        return NULL;
    }
    cf_spike_limits lim;
    if (cf_spike_limits_resolve(&o.limits, &lim) != CF_OK) {
        cf_error_prefix("%s: CSV options: ", path);
        return NULL;
    }
    if (!o.remap_ids && o.n_units > lim.max_units) {
        cf_spike_limit_error(&lim, CF_SPIKE_UNITS, "%s: the CSV option n_units %d", path, o.n_units);
        return NULL;
    }
    static const char *const time_names[] = {"time", "t", "spike_time", "spike_times", "timestamp", "times", NULL};
    static const char *const unit_names[] = {"unit", "id", "unit_id", "neuron", "neuron_id", "cluster", "units", NULL};
    static const char *const trial_names[] = {"trial", "trial_id", "trials", NULL};
    int c_time = 0, c_unit = 1, c_trial = -1, need = 2;
    bool first = true, have_trial_col = false;
    char *line = NULL, *fields[MAX_FIELDS];
    size_t cap = 0;
    ssize_t len;
    int64_t line_no = 0, max_unit = -1, max_t_line = 0;
    double max_t = -1;
    events ev = {0};
    cf_spikes *s = NULL;
    int64_t *ids = NULL, *trial_ids = NULL;
    span *tr = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        int nf = split_fields(p, fields);
        if (nf > MAX_FIELDS) nf = MAX_FIELDS;
        double v;
        if (first) {
            first = false;
            if (!parse_num(fields[0], &v)) { /* a header */
                c_time = c_unit = c_trial = -1;
                for (int k = 0; k < nf; k++) {
                    if (c_time < 0 && name_in(fields[k], time_names)) c_time = k;
                    else if (c_unit < 0 && name_in(fields[k], unit_names)) c_unit = k;
                    else if (c_trial < 0 && name_in(fields[k], trial_names)) c_trial = k;
                }
                if (c_time < 0 || c_unit < 0) {
                    cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": header has no %s column (known names: time, t, spike_time, "
                                 "timestamp for times; unit, id, unit_id, neuron, cluster for units)", path, line_no,
                                 c_time < 0 ? "time" : "unit");
                    goto fail;
                }
                have_trial_col = c_trial >= 0;
                need = 1 + (c_time > c_unit ? c_time : c_unit);
                if (c_trial + 1 > need) need = c_trial + 1;
                continue;
            }
            if (nf >= 3) { /* no header: a third column is the trial */
                c_trial = 2;
                have_trial_col = true;
                need = 3;
            }
        }
        if (nf < need) {
            cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": %d field%s, expected %d (time, unit%s)", path, line_no, nf,
                         nf == 1 ? "" : "s", need, have_trial_col ? ", trial" : "");
            goto fail;
        }
        double t, u, trial = 0;
        if (!parse_num(fields[c_time], &t)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (time): '%s' is not a number", path, line_no, c_time + 1,
                         fields[c_time]);
            goto fail;
        }
        if (!isfinite(t) || t < 0) {
            cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (time): %s is %s", path, line_no, c_time + 1,
                         fields[c_time], isfinite(t) ? "negative" : "not finite");
            goto fail;
        }
        if (t >= lim.max_seconds) { /* the span starts at 0 (a trial-relative time: the trial is this long) */
            cf_spike_limit_error(&lim, CF_SPIKE_SECONDS, "%s:%" PRId64 ": column %d (time): time %s s", path, line_no,
                                 c_time + 1, fields[c_time]);
            goto fail;
        }
        if (!parse_num(fields[c_unit], &u) || u != floor(u) || !isfinite(u)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (unit): '%s' is not an integer", path, line_no, c_unit + 1,
                         fields[c_unit]);
            goto fail;
        }
        if (u < 0 || u > 9.2e18 || (!o.remap_ids && o.n_units > 0 && u >= o.n_units)) {
            if (o.n_units > 0 && !o.remap_ids)
                cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (unit): id %s out of range [0, %d)", path, line_no,
                             c_unit + 1, fields[c_unit], o.n_units);
            else
                cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (unit): id %s is negative or too large", path, line_no,
                             c_unit + 1, fields[c_unit]);
            goto fail;
        }
        if (!o.remap_ids && o.n_units == 0 && u >= (double)lim.max_units) { /* ids are array indices */
            cf_spike_limit_error(&lim, CF_SPIKE_UNIT_IDS, "%s:%" PRId64 ": column %d (unit): unit id %s", path, line_no,
                                 c_unit + 1, fields[c_unit]);
            goto fail;
        }
        if (have_trial_col) {
            if (!parse_num(fields[c_trial], &trial) || trial != floor(trial) || !isfinite(trial) || fabs(trial) > 9.2e18) {
                cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (trial): '%s' is not an integer", path, line_no,
                             c_trial + 1, fields[c_trial]);
                goto fail;
            }
            if (o.trial_relative && o.trial_duration > 0 && t >= o.trial_duration) {
                cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": column %d (time): %s is not inside the trial duration %g s",
                             path, line_no, c_time + 1, fields[c_time], o.trial_duration);
                goto fail;
            }
        }
        if ((int64_t)u > max_unit) max_unit = (int64_t)u;
        if (t > max_t) {
            max_t = t;
            max_t_line = line_no;
        }
        if (!events_push(&ev, t, (int64_t)u, (int64_t)trial)) {
            cf_set_error(CF_ERR_OOM, "%s:%" PRId64 ": out of memory", path, line_no);
            goto fail;
        }
    }
    if (ferror(f)) {
        cf_set_error(CF_ERR_IO, "%s: read error after line %" PRId64 ": %s", path, line_no, strerror(errno));
        goto fail;
    }
    free(line);
    line = NULL;
    if (ev.n == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: no spike lines", path);
        goto fail;
    }
    /* units */
    int n_units;
    int64_t n_ids = 0;
    if (o.remap_ids) {
        if (!(ids = distinct(ev.unit, ev.n, &n_ids))) goto oom;
        if (n_ids > lim.max_units) {
            cf_spike_limit_error(&lim, CF_SPIKE_UNITS, "%s: the number of distinct unit ids (%" PRId64 ")", path, n_ids);
            goto fail;
        }
        for (int64_t i = 0; i < ev.n; i++) ev.unit[i] = index_of(ids, n_ids, ev.unit[i]);
        n_units = (int)n_ids;
    } else if (o.n_units > 0) {
        n_units = o.n_units;
    } else {
        n_units = (int)max_unit + 1; /* below max_units: checked line by line */
    }
    /* trials and the span */
    double res = o.resolution, t_end;
    int n_trials = 0;
    int64_t n_tid = 0;
    if (have_trial_col) {
        if (!(trial_ids = distinct(ev.trial, ev.n, &n_tid))) goto oom;
        if (n_tid > INT32_MAX / 2) {
            cf_set_error(CF_ERR_FORMAT, "%s: %" PRId64 " trials", path, n_tid);
            goto fail;
        }
        n_trials = (int)n_tid;
        if (!(tr = calloc((size_t)n_trials, sizeof *tr))) goto oom;
        if (o.trial_relative) {
            double D = o.trial_duration > 0 ? o.trial_duration : (floor(max_t / res + 1e-6) + 1) * res;
            for (int64_t i = 0; i < ev.n; i++) ev.t[i] += (double)index_of(trial_ids, n_tid, ev.trial[i]) * D;
            for (int k = 0; k < n_trials; k++) tr[k].start = k * D, tr[k].stop = (k + 1) * D;
            t_end = n_trials * D;
        } else {
            for (int k = 0; k < n_trials; k++) tr[k].start = INFINITY, tr[k].stop = -INFINITY;
            for (int64_t i = 0; i < ev.n; i++) {
                span *p = &tr[index_of(trial_ids, n_tid, ev.trial[i])];
                if (ev.t[i] < p->start) p->start = ev.t[i];
                if (ev.t[i] + res > p->stop) p->stop = ev.t[i] + res;
            }
            qsort(tr, (size_t)n_trials, sizeof *tr, cmp_span);
            t_end = max_t + res;
        }
    } else {
        t_end = max_t + res;
    }
    if (t_end > lim.max_seconds) {
        if (n_trials && o.trial_relative && o.trial_duration > 0)
            cf_spike_limit_error(&lim, CF_SPIKE_SECONDS, "%s: %d trials of trial_duration %g s laid end to end make a %g s "
                                 "recording, which", path, n_trials, o.trial_duration, t_end);
        else if (n_trials && o.trial_relative)
            cf_spike_limit_error(&lim, CF_SPIKE_SECONDS, "%s: %d trials of %g s (as long as the latest time in a trial, "
                                 "line %" PRId64 ") laid end to end make a %g s recording, which", path, n_trials,
                                 t_end / n_trials, max_t_line, t_end);
        else
            cf_spike_limit_error(&lim, CF_SPIKE_SECONDS, "%s:%" PRId64 ": the recording up to the latest spike (%g s) plus "
                                 "its bin (%g s)", path, max_t_line, max_t, res);
        goto fail;
    }
    if (!(s = cf_spikes_from_events(ev.t, ev.unit, ev.n, n_units, 0.0, t_end, path))) goto fail;
    events_free(&ev);
    memset(&ev, 0, sizeof ev);
    if (ids) {
        s->unit_ids = ids;
        ids = NULL;
    }
    if (n_trials) {
        double *a = malloc((size_t)n_trials * sizeof *a), *b = malloc((size_t)n_trials * sizeof *b);
        if (!a || !b) {
            free(a);
            free(b);
            goto oom;
        }
        for (int k = 0; k < n_trials; k++) a[k] = tr[k].start, b[k] = tr[k].stop;
        cf_status st = cf_spikes_set_trials(s, n_trials, a, b);
        free(a);
        free(b);
        if (st != CF_OK) {
            cf_error_prefix("%s: ", path);
            goto fail;
        }
    }
    free(trial_ids);
    free(tr);
    return s;
oom:
    cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
fail:
    free(line);
    events_free(&ev);
    free(ids);
    free(trial_ids);
    free(tr);
    cf_spikes_free(s);
    return NULL;
}

cf_spikes *cf_spikes_read_csv(const char *path, const cf_spikes_csv_options *o)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_spikes_read_csv: NULL path");
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open spike CSV: %s", path, strerror(errno));
        return NULL;
    }
    cf_spikes *s = read_csv(f, path, o);
    fclose(f);
    return s;
}

cf_spikes *cf_spikes_read_csv_mem(const void *buf, size_t n, const char *what, const cf_spikes_csv_options *o)
{
    if (!what) what = "(spike CSV buffer)";
    FILE *f = cf_open_mem(buf, n, what);
    cf_spikes *s = f ? read_csv(f, what, o) : NULL;
    if (f) fclose(f);
    return s;
}
