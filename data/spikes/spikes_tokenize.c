/* Neuroformer tokenization (Antoniades et al., ICLR 2024; as the official code) and the dataset of spike
 * windows over a cf_spikes. */
#include "data/spikes/spikes.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BIN_EPS 1e-6 /* as in spikes.c: times snap to bins with this tolerance (in bins) */
#define MAX_BLOCK (1 << 20)

cf_spike_token_config cf_spike_token_defaults(void)
{
    cf_spike_token_config c;
    memset(&c, 0, sizeof c);
    c.dt = 0.01;
    c.window_curr = 0.05;
    c.window_prev = 0.10;
    c.block_size = 32;
    c.prev_block_size = 64;
    c.use_trials = true;
    c.behavior = true;
    return c;
}

/* The number of dt bins in w, or -1 when w is not a positive multiple of dt. */
static int64_t bins_in(double w, double dt)
{
    if (!(w > 0) || !isfinite(w)) return -1;
    double x = w / dt;
    int64_t n = llround(x);
    return n >= 1 && fabs(x - (double)n) < BIN_EPS * 100 ? n : -1;
}

cf_status cf_spike_vocab_make(int n_units, const cf_spike_token_config *c, cf_spike_vocab *v)
{
    if (!c || !v) return cf_set_error(CF_ERR_ARG, "cf_spike_vocab_make: NULL argument");
    if (n_units < 1 || n_units > (1 << 24)) return cf_set_error(CF_ERR_ARG, "spike tokens: %d units (need 1..2^24)", n_units);
    if (!(c->dt > 0) || !isfinite(c->dt)) return cf_set_error(CF_ERR_ARG, "spike tokens: dt %g (need > 0)", c->dt);
    int64_t nc = bins_in(c->window_curr, c->dt), np = bins_in(c->window_prev, c->dt);
    if (nc < 0 || nc > MAX_BLOCK)
        return cf_set_error(CF_ERR_ARG, "spike tokens: window_curr %g is not a positive multiple of dt %g", c->window_curr, c->dt);
    if (np < 0 || np > MAX_BLOCK)
        return cf_set_error(CF_ERR_ARG, "spike tokens: window_prev %g is not a positive multiple of dt %g", c->window_prev, c->dt);
    if (c->block_size < 2 || c->block_size > MAX_BLOCK)
        return cf_set_error(CF_ERR_ARG, "spike tokens: block_size %d (need 2..%d: SOS and EOS take two)", c->block_size, MAX_BLOCK);
    if (c->prev_block_size < 2 || c->prev_block_size > MAX_BLOCK)
        return cf_set_error(CF_ERR_ARG, "spike tokens: prev_block_size %d (need 2..%d)", c->prev_block_size, MAX_BLOCK);
    memset(v, 0, sizeof *v);
    v->n_units = n_units;
    v->id_sos = n_units;
    v->id_eos = n_units + 1;
    v->id_pad = n_units + 2;
    v->id_size = n_units + 3;
    v->dt_max = (int)(nc > np ? nc : np);
    v->dt_sos = v->dt_max + 1;
    v->dt_eos = v->dt_max + 2;
    v->dt_pad = v->dt_max + 3;
    v->dt_size = v->dt_max + 4;
    v->curr_bins = (int)nc;
    v->prev_bins = (int)np;
    v->dt = c->dt;
    return CF_OK;
}

double cf_spike_dt_value(const cf_spike_vocab *v, int64_t dt_class)
{
    if (!v || dt_class < 0 || dt_class > v->dt_max) return NAN;
    return (double)dt_class * v->dt;
}

/* Checks the n spikes of a window against the vocabulary; `which` names the window in messages. */
static cf_status check_window(const cf_spike_vocab *v, const int32_t *units, const int64_t *bins, int64_t bin0, int64_t n,
                              const char *which)
{
    if (n < 0 || (n > 0 && (!units || !bins))) return cf_set_error(CF_ERR_ARG, "%s window: bad spike list", which);
    for (int64_t i = 0; i < n; i++) {
        if (units[i] < 0 || units[i] >= v->n_units)
            return cf_set_error(CF_ERR_ARG, "%s window: spike %" PRId64 ": unit %" PRId32 " outside [0, %d)", which, i, units[i],
                                v->n_units);
        int64_t d = bins[i] - bin0;
        if (d < 0 || d > v->dt_max)
            return cf_set_error(CF_ERR_ARG, "%s window: spike %" PRId64 ": dt class %" PRId64 " outside [0, %d]", which, i, d,
                                v->dt_max);
    }
    return CF_OK;
}

cf_status cf_spike_tokens_current(const cf_spike_vocab *v, const int32_t *units, const int64_t *bins, int64_t bin0,
                                  int64_t n, int T, int64_t *id_x, int64_t *id_y, int64_t *dt_x, int64_t *dt_y)
{
    if (!v || T < 2 || !id_x || !id_y || !dt_x || !dt_y) return cf_set_error(CF_ERR_ARG, "cf_spike_tokens_current: bad arguments");
    /* a fuller window keeps its LAST T-2 spikes (as the official code) */
    int64_t keep = n < T - 2 ? n : T - 2, skip = n - keep;
    cf_status st = check_window(v, units + (n > 0 ? skip : 0), bins + (n > 0 ? skip : 0), bin0, keep, "current");
    if (st != CF_OK) return st;
    units += skip, bins += skip;
    /* seq[0] = SOS (dt class 0), seq[1..keep] = spikes, seq[keep+1] = EOS, then PAD, up to seq[T] */
    for (int64_t p = 0; p <= T; p++) {
        int64_t id, dt;
        if (p == 0) id = v->id_sos, dt = 0;
        else if (p <= keep) id = units[p - 1], dt = bins[p - 1] - bin0;
        else if (p == keep + 1) id = v->id_eos, dt = v->dt_eos;
        else id = v->id_pad, dt = v->dt_pad;
        if (p < T) id_x[p] = id, dt_x[p] = dt;
        if (p > 0) {
            id_y[p - 1] = id == v->id_pad ? CF_SPIKE_IGNORE : id;
            dt_y[p - 1] = dt == v->dt_pad ? CF_SPIKE_IGNORE : dt;
        }
    }
    return CF_OK;
}

cf_status cf_spike_tokens_prev(const cf_spike_vocab *v, const int32_t *units, const int64_t *bins, int64_t bin0,
                               int64_t n, int Tp, int64_t *id, int64_t *dt, bool *pad)
{
    if (!v || Tp < 2 || !id || !dt) return cf_set_error(CF_ERR_ARG, "cf_spike_tokens_prev: bad arguments");
    int64_t keep = n < Tp - 2 ? n : Tp - 2, skip = n - keep;
    cf_status st = check_window(v, units + (n > 0 ? skip : 0), bins + (n > 0 ? skip : 0), bin0, keep, "previous");
    if (st != CF_OK) return st;
    units += skip, bins += skip;
    for (int64_t p = 0; p < Tp; p++) {
        if (p == 0) id[p] = v->id_sos, dt[p] = 0;
        else if (p <= keep) id[p] = units[p - 1], dt[p] = bins[p - 1] - bin0;
        else if (p == keep + 1) id[p] = v->id_eos, dt[p] = v->dt_eos;
        else id[p] = v->id_pad, dt[p] = v->dt_pad;
        if (pad) pad[p] = id[p] == v->id_pad;
    }
    return CF_OK;
}

/* ---- the dataset ---- */

typedef struct spike_ds {
    cf_dataset base;
    cf_spike_vocab v;
    int T, Tp;
    /* every spike as (bin, unit), sorted by bin then unit: the token order */
    int64_t n_ev;
    int64_t *ev_bin;
    int32_t *ev_unit;
    /* windows: end bin, trial (-1: none), first bin the previous window may use */
    int64_t *win_end, *win_floor;
    int32_t *win_trial;
    int beh_dim;
    float *beh; /* [len, beh_dim] */
    char **beh_names;
    double t_start, t_end;
    /* frames: the movie, the clip length and shift, and the trials (for per-trial movies and the blank
     * screen outside a window's trial) */
    cf_frames *frames;
    cf_spikes *recording; /* cf_spike_dataset_keep_recording: the whole recording, owned */
    int F;
    double shift;
    int n_trials;
    double *trial_start, *trial_stop;
} spike_ds;

static int64_t lb_bin(const spike_ds *d, int64_t bin)
{
    int64_t lo = 0, hi = d->n_ev;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (d->ev_bin[mid] < bin) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The index ranges of window i's current and previous spikes. */
static void window_ranges(const spike_ds *d, int64_t i, int64_t *c_lo, int64_t *c_hi, int64_t *p_lo, int64_t *p_start)
{
    int64_t e = d->win_end[i], cs = e - d->v.curr_bins, ps = cs - d->v.prev_bins;
    *c_lo = lb_bin(d, cs);
    *c_hi = lb_bin(d, e);
    *p_lo = lb_bin(d, ps > d->win_floor[i] ? ps : d->win_floor[i]);
    *p_start = ps;
}

enum { F_ID, F_ID_T, F_DT, F_DT_T, F_PREV_ID, F_PREV_DT, F_PREV_PAD, F_BEH };

/* Window index's frame clip into out [F, h, w]. */
static void window_frames(const spike_ds *d, int64_t index, float *out)
{
    int tr = d->win_trial[index];
    double lo = tr >= 0 ? d->trial_start[tr] : d->t_start, hi = tr >= 0 ? d->trial_stop[tr] : d->t_end;
    double te = d->t_start + (double)d->win_end[index] * d->v.dt;
    cf_frames_clip(d->frames, te, d->shift, d->F, lo, hi, d->n_trials, d->trial_start, d->trial_stop, out);
}

static cf_status spike_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    spike_ds *d = (spike_ds *)ds;
    int f_frames = d->beh_dim ? F_BEH + 1 : F_BEH, need = f_frames + (d->F > 0);
    if (b->nfields < need || b->fields[F_ID]->dtype != CF_I64 || b->fields[F_PREV_PAD]->dtype != CF_BOOL ||
        (d->F > 0 && b->fields[f_frames]->dtype != CF_F32))
        return cf_set_error(CF_ERR_ARG, "%s: the batch lacks the spike fields", ds->name);
    int64_t T = d->T, Tp = d->Tp, c_lo, c_hi, p_lo, p_start;
    window_ranges(d, index, &c_lo, &c_hi, &p_lo, &p_start);
#define ROW(f, type, width) ((type *)cf_data(b->fields[f]) + (int64_t)row * (width))
    cf_status st = cf_spike_tokens_current(&d->v, d->ev_unit + c_lo, d->ev_bin + c_lo, d->win_end[index] - d->v.curr_bins,
                                           c_hi - c_lo, d->T, ROW(F_ID, int64_t, T), ROW(F_ID_T, int64_t, T),
                                           ROW(F_DT, int64_t, T), ROW(F_DT_T, int64_t, T));
    if (st == CF_OK)
        st = cf_spike_tokens_prev(&d->v, d->ev_unit + p_lo, d->ev_bin + p_lo, p_start, c_lo - p_lo, d->Tp,
                                  ROW(F_PREV_ID, int64_t, Tp), ROW(F_PREV_DT, int64_t, Tp), ROW(F_PREV_PAD, bool, Tp));
    if (st == CF_OK && d->beh_dim)
        memcpy(ROW(F_BEH, float, d->beh_dim), d->beh + index * d->beh_dim, (size_t)d->beh_dim * sizeof(float));
    if (st == CF_OK && d->F > 0)
        window_frames(d, index, ROW(f_frames, float, (int64_t)d->F * d->frames->h * d->frames->w));
#undef ROW
    if (st != CF_OK) cf_error_prefix("%s: item %" PRId64 ": ", ds->name, index);
    return st;
}

static cf_status spike_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    spike_ds *d = (spike_ds *)ds;
    int64_t sc[2] = {rows, d->T}, sp[2] = {rows, d->Tp}, sb[2] = {rows, d->beh_dim};
    cf_status st = cf_batch_add(b, "id", CF_I64, 2, sc);
    if (st == CF_OK) st = cf_batch_add(b, "id_target", CF_I64, 2, sc);
    if (st == CF_OK) st = cf_batch_add(b, "dt", CF_I64, 2, sc);
    if (st == CF_OK) st = cf_batch_add(b, "dt_target", CF_I64, 2, sc);
    if (st == CF_OK) st = cf_batch_add(b, "prev_id", CF_I64, 2, sp);
    if (st == CF_OK) st = cf_batch_add(b, "prev_dt", CF_I64, 2, sp);
    if (st == CF_OK) st = cf_batch_add(b, "prev_pad", CF_BOOL, 2, sp);
    if (st == CF_OK && d->beh_dim) st = cf_batch_add(b, "behavior", CF_F32, 2, sb);
    if (st == CF_OK && d->F > 0) {
        int64_t sf[5] = {rows, 1, d->F, d->frames->h, d->frames->w};
        st = cf_batch_add(b, "frames", CF_F32, 5, sf);
    }
    return st;
}

static void spike_free(cf_dataset *ds)
{
    spike_ds *d = (spike_ds *)ds;
    if (!d) return;
    free(d->ev_bin);
    free(d->ev_unit);
    free(d->win_end);
    free(d->win_floor);
    free(d->win_trial);
    free(d->beh);
    if (d->beh_names)
        for (int j = 0; j < d->beh_dim; j++) free(d->beh_names[j]);
    free(d->beh_names);
    cf_frames_free(d->frames);
    cf_spikes_free(d->recording);
    free(d->trial_start);
    free(d->trial_stop);
    free(d);
}

static const cf_dataset_vtable spike_vt = {"spikes", spike_get, spike_make_batch, spike_free};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Bin ranges [lo, hi) of window END bins selected by the time ranges. A range reaching the end of the
 * recording also takes the window that ends exactly there. */
typedef struct {
    int64_t lo, hi;
} bin_range;

static bool selected(const bin_range *br, int n, int64_t e)
{
    for (int i = 0; i < n; i++)
        if (e >= br[i].lo && e < br[i].hi) return true;
    return false;
}

/* Builds the events, windows and behaviour of d. */
static cf_status build(spike_ds *d, const cf_spikes *s, const cf_spike_token_config *c, const cf_time_ranges *r)
{
    const double dt = c->dt;
    const int64_t nb = cf_spikes_n_bins(s, dt), N = s->n_units;
    /* events sorted by (bin, unit): pack as bin * N + unit */
    d->n_ev = s->n_spikes;
    int64_t *key = malloc((size_t)(d->n_ev ? d->n_ev : 1) * sizeof *key);
    d->ev_bin = malloc((size_t)(d->n_ev ? d->n_ev : 1) * sizeof *d->ev_bin);
    d->ev_unit = malloc((size_t)(d->n_ev ? d->n_ev : 1) * sizeof *d->ev_unit);
    if (!key || !d->ev_bin || !d->ev_unit) {
        free(key);
        return cf_set_error(CF_ERR_OOM, "spike dataset: out of memory for %" PRId64 " spikes", d->n_ev);
    }
    if (nb > INT64_MAX / (N + 1) - 1) {
        free(key);
        return cf_set_error(CF_ERR_ARG, "spike dataset: %" PRId64 " bins of %g s is too many", nb, dt);
    }
    for (int u = 0; u < N; u++)
        for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
            int64_t b = cf_spikes_bin_of(s, s->times[i], dt);
            if (b < 0) b = 0;
            if (b >= nb) b = nb; /* a spike within BIN_EPS of t_end: kept past the last window, never used */
            key[i] = b * N + u;
        }
    qsort(key, (size_t)d->n_ev, sizeof *key, cmp_i64);
    for (int64_t i = 0; i < d->n_ev; i++) d->ev_bin[i] = key[i] / N, d->ev_unit[i] = (int32_t)(key[i] % N);
    free(key);
    /* the selected end bins */
    bin_range *br = malloc((size_t)(r->n ? r->n : 1) * sizeof *br);
    if (!br) return cf_set_error(CF_ERR_OOM, "spike dataset: out of memory");
    for (int i = 0; i < r->n; i++) {
        double a = (r->from[i] - s->t_start) / dt, b = (r->to[i] - s->t_start) / dt;
        br[i].lo = a <= 0 ? 0 : a >= (double)nb + 1 ? nb + 1 : (int64_t)ceil(a - BIN_EPS);
        br[i].hi = b <= 0 ? 0 : b >= (double)nb + 1 ? nb + 1 : (int64_t)ceil(b - BIN_EPS);
        if (b >= (double)nb - BIN_EPS) br[i].hi = nb + 1;
    }
    /* windows: trial by trial, or over the whole recording */
    bool trials = c->use_trials && s->n_trials > 0;
    int n_groups = trials ? s->n_trials : 1;
    const int64_t nc = d->v.curr_bins;
    for (int pass = 0; pass < 2; pass++) {
        int64_t n = 0;
        for (int g = 0; g < n_groups; g++) {
            int64_t first = 0, last = nb; /* window ends: first + k nc <= last */
            if (trials) {
                first = llround((s->trial_start[g] - s->t_start) / dt);
                last = (int64_t)floor((s->trial_stop[g] - s->t_start) / dt + BIN_EPS);
                if (first < 0) first = 0;
                if (last > nb) last = nb;
            }
            for (int64_t e = first + nc; e <= last; e += nc) {
                if (!selected(br, r->n, e)) continue;
                if (pass == 1) {
                    d->win_end[n] = e;
                    d->win_floor[n] = first;
                    d->win_trial[n] = trials ? g : -1;
                }
                n++;
            }
        }
        if (pass == 0) {
            if (n == 0) {
                free(br);
                return cf_set_error(CF_ERR_ARG, "%s: no window of %g s ends in the selected time (recording [%g, %g)%s)",
                                    d->base.name, c->window_curr, s->t_start, s->t_end,
                                    trials ? ", windows inside trials" : "");
            }
            d->base.len = n;
            d->win_end = malloc((size_t)n * sizeof *d->win_end);
            d->win_floor = malloc((size_t)n * sizeof *d->win_floor);
            d->win_trial = malloc((size_t)n * sizeof *d->win_trial);
            if (!d->win_end || !d->win_floor || !d->win_trial) {
                free(br);
                return cf_set_error(CF_ERR_OOM, "spike dataset: out of memory for %" PRId64 " windows", n);
            }
        }
    }
    free(br);
    /* frames: a copy of the movie and of the trials */
    if (c->frames > 0) {
        if (!s->frames)
            return cf_set_error(CF_ERR_ARG, "%s: a clip of %d frames per window was asked for, but the recording has no "
                                "frames", d->base.name, c->frames);
        if (c->frames > 100000) return cf_set_error(CF_ERR_ARG, "%s: %d frames per clip (at most 100000)", d->base.name, c->frames);
        if (s->frames->per_trial && s->n_trials == 0)
            return cf_set_error(CF_ERR_ARG, "%s: the movie '%s' is timed from each trial's start but the recording has no "
                                "trials", d->base.name, s->frames->name);
        d->F = c->frames;
        d->shift = c->frames_official_offset ? c->window_curr : 0.0;
        d->n_trials = s->n_trials;
        /* A movie timed on the recording (a real one can be hundreds of MB) is copied only over the span
         * this dataset's clips can reach, plus the frame after it, whose onset ends the last one's hold. */
        const cf_frames *f = s->frames;
        int64_t i0 = 0, i1 = f->n;
        if (!f->per_trial) {
            double te0 = s->t_start + (double)d->win_end[0] * dt, te1 = te0;
            for (int64_t w = 1; w < d->base.len; w++) {
                double te = s->t_start + (double)d->win_end[w] * dt;
                te0 = te < te0 ? te : te0, te1 = te > te1 ? te : te1;
            }
            double lo = te0 + d->shift - (double)c->frames / f->rate - 1.0 / f->rate, hi = te1 + d->shift + 1.0 / f->rate;
            while (i0 + 1 < f->n && f->t[i0 + 1] <= lo) i0++;
            i1 = i0;
            while (i1 < f->n && f->t[i1] <= hi) i1++;
            if (i1 < f->n) i1++;
            if (i1 <= i0) i1 = i0 + 1;
        }
        size_t px = (size_t)f->h * (size_t)f->w;
        if (!(d->frames = cf_frames_make(f->name, i1 - i0, f->h, f->w, f->data + (size_t)i0 * px, f->t + i0, 0, f->rate,
                                         f->per_trial)))
            return cf_last_status();
        if (s->n_trials > 0) {
            d->trial_start = malloc((size_t)s->n_trials * sizeof *d->trial_start);
            d->trial_stop = malloc((size_t)s->n_trials * sizeof *d->trial_stop);
            if (!d->trial_start || !d->trial_stop) return cf_set_error(CF_ERR_OOM, "spike dataset: out of memory");
            memcpy(d->trial_start, s->trial_start, (size_t)s->n_trials * sizeof *d->trial_start);
            memcpy(d->trial_stop, s->trial_stop, (size_t)s->n_trials * sizeof *d->trial_stop);
        }
    }
    /* behaviour per window */
    if (!c->behavior || s->beh_len == 0 || s->beh_dim == 0) return CF_OK;
    int k = s->beh_dim;
    int64_t *sb = malloc((size_t)s->beh_len * sizeof *sb);
    d->beh = malloc((size_t)d->base.len * (size_t)k * sizeof *d->beh);
    d->beh_names = calloc((size_t)k, sizeof *d->beh_names);
    if (!sb || !d->beh || !d->beh_names) {
        free(sb);
        return cf_set_error(CF_ERR_OOM, "spike dataset: out of memory for behaviour");
    }
    d->beh_dim = k;
    for (int j = 0; j < k; j++)
        if (!(d->beh_names[j] = strdup(s->beh_names[j]))) {
            free(sb);
            return cf_set_error(CF_ERR_OOM, "spike dataset: out of memory");
        }
    for (int64_t i = 0; i < s->beh_len; i++) sb[i] = cf_spikes_bin_of(s, s->beh_t[i], dt);
    for (int64_t w = 0; w < d->base.len; w++) {
        int64_t e = d->win_end[w], cs = e - nc, lo = 0, hi = s->beh_len;
        /* first sample with bin >= cs, then first with bin >= e */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (sb[mid] < cs) lo = mid + 1;
            else hi = mid;
        }
        int64_t a = lo;
        hi = s->beh_len;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (sb[mid] < e) lo = mid + 1;
            else hi = mid;
        }
        int64_t b = lo;
        for (int j = 0; j < k; j++) {
            double v;
            if (b > a) {
                v = 0;
                for (int64_t i = a; i < b; i++) v += s->beh[i * k + j];
                v /= (double)(b - a);
            } else {
                v = s->beh[(a > 0 ? a - 1 : 0) * k + j]; /* last sample before the window (or the first) */
            }
            if (c->behavior_mean) v -= c->behavior_mean[j];
            if (c->behavior_std) v /= c->behavior_std[j];
            d->beh[w * k + j] = (float)v;
        }
    }
    free(sb);
    return CF_OK;
}

cf_dataset *cf_spike_dataset_open_ranges(const cf_spikes *s, const cf_spike_token_config *cfg, const cf_time_ranges *r,
                                         cf_status *st)
{
    cf_status dummy;
    if (!st) st = &dummy;
    *st = CF_OK;
    cf_spike_token_config c = cfg ? *cfg : cf_spike_token_defaults();
    if (!s || !r || r->n < 0 || (r->n > 0 && (!r->from || !r->to))) {
        *st = cf_set_error(CF_ERR_ARG, "cf_spike_dataset_open: NULL spikes or ranges");
        return NULL;
    }
    if ((*st = cf_spikes_validate(s, "spike dataset")) != CF_OK) return NULL;
    if (c.behavior && s->beh_dim > 0 && c.behavior_std)
        for (int j = 0; j < s->beh_dim; j++)
            if (!(c.behavior_std[j] > 0) || !isfinite(c.behavior_std[j])) {
                *st = cf_set_error(CF_ERR_ARG, "spike dataset: behavior_std[%d] = %g (need > 0)", j, c.behavior_std[j]);
                return NULL;
            }
    spike_ds *d = calloc(1, sizeof *d);
    if (!d) {
        *st = cf_set_error(CF_ERR_OOM, "spike dataset: out of memory");
        return NULL;
    }
    d->base.vt = &spike_vt;
    if (r->n == 1)
        snprintf(d->base.name, sizeof d->base.name, "spikes [%g, %g)", r->from[0], r->to[0]);
    else
        snprintf(d->base.name, sizeof d->base.name, "spikes (%d time ranges, %g s)", r->n, cf_time_ranges_total(r));
    d->T = c.block_size;
    d->Tp = c.prev_block_size;
    d->t_start = s->t_start;
    d->t_end = s->t_end;
    if ((*st = cf_spike_vocab_make(s->n_units, &c, &d->v)) != CF_OK || (*st = build(d, s, &c, r)) != CF_OK) {
        spike_free(&d->base);
        return NULL;
    }
    cf_data_info *in = &d->base.info;
    in->units = s->n_units;
    in->channels = d->beh_dim < CF_DATA_INFO_CHANNELS ? d->beh_dim : CF_DATA_INFO_CHANNELS;
    for (int j = 0; j < in->channels; j++) snprintf(in->channel_names[j], sizeof in->channel_names[j], "%s", d->beh_names[j]);
    if (d->F > 0) in->frames = d->F, in->frame_h = d->frames->h, in->frame_w = d->frames->w;
    return &d->base;
}

cf_dataset *cf_spike_dataset_open(const cf_spikes *s, const cf_spike_token_config *cfg, double t_from, double t_to,
                                  cf_status *st)
{
    cf_time_ranges r = {1, &t_from, &t_to};
    return cf_spike_dataset_open_ranges(s, cfg, &r, st);
}

static const spike_ds *as_spike(const cf_dataset *ds, const char *who)
{
    if (!ds || ds->vt != &spike_vt) {
        cf_set_error(CF_ERR_ARG, "%s: %s is not a spike dataset", who, ds ? ds->name : "NULL");
        return NULL;
    }
    return (const spike_ds *)ds;
}

const cf_spike_vocab *cf_spike_dataset_vocab(const cf_dataset *ds)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_vocab");
    return d ? &d->v : NULL;
}

cf_status cf_spike_dataset_window(const cf_dataset *ds, int64_t index, double *t_end, int *trial, int64_t *n_curr,
                                  int64_t *n_prev)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_window");
    if (!d) return cf_last_status();
    if (index < 0 || index >= ds->len)
        return cf_set_error(CF_ERR_ARG, "%s: window %" PRId64 " out of range [0, %" PRId64 ")", ds->name, index, ds->len);
    int64_t c_lo, c_hi, p_lo, p_start;
    window_ranges(d, index, &c_lo, &c_hi, &p_lo, &p_start);
    if (t_end) *t_end = d->t_start + (double)d->win_end[index] * d->v.dt;
    if (trial) *trial = d->win_trial[index];
    if (n_curr) *n_curr = c_hi - c_lo;
    if (n_prev) *n_prev = c_lo - p_lo;
    return CF_OK;
}

cf_status cf_spike_dataset_keep_recording(cf_dataset *ds, cf_spikes *s)
{
    spike_ds *d = (spike_ds *)as_spike(ds, "cf_spike_dataset_keep_recording");
    if (!d) return cf_last_status();
    cf_spikes_free(d->recording);
    d->recording = s;
    return CF_OK;
}

const cf_spikes *cf_spike_dataset_recording(const cf_dataset *ds)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_recording");
    if (d && !d->recording) cf_set_error(CF_ERR_STATE, "%s: the dataset did not keep its recording", ds->name);
    return d ? d->recording : NULL;
}

int cf_spike_dataset_frames(const cf_dataset *ds, int *h, int *w)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_frames");
    if (h) *h = d && d->F > 0 ? d->frames->h : 0;
    if (w) *w = d && d->F > 0 ? d->frames->w : 0;
    return d ? d->F : 0;
}

int cf_spike_dataset_behavior_dim(const cf_dataset *ds)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_behavior_dim");
    return d ? d->beh_dim : 0;
}

const char *cf_spike_dataset_behavior_name(const cf_dataset *ds, int j)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_behavior_name");
    return d && j >= 0 && j < d->beh_dim ? d->beh_names[j] : NULL;
}

cf_status cf_spike_dataset_stats(const cf_dataset *ds, cf_spike_window_stats *out)
{
    const spike_ds *d = as_spike(ds, "cf_spike_dataset_stats");
    if (!d) return cf_last_status();
    if (!out) return cf_set_error(CF_ERR_ARG, "cf_spike_dataset_stats: NULL output");
    int64_t n = ds->len;
    int64_t *cc = malloc((size_t)n * sizeof *cc), *pc = malloc((size_t)n * sizeof *pc);
    if (!cc || !pc) {
        free(cc);
        free(pc);
        return cf_set_error(CF_ERR_OOM, "cf_spike_dataset_stats: out of memory");
    }
    memset(out, 0, sizeof *out);
    out->windows = n;
    double sc = 0, sp = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t c_lo, c_hi, p_lo, p_start;
        window_ranges(d, i, &c_lo, &c_hi, &p_lo, &p_start);
        cc[i] = c_hi - c_lo;
        pc[i] = c_lo - p_lo;
        sc += (double)cc[i];
        sp += (double)pc[i];
        out->truncated_curr += cc[i] > d->T - 2;
        out->truncated_prev += pc[i] > d->Tp - 2;
    }
    qsort(cc, (size_t)n, sizeof *cc, cmp_i64);
    qsort(pc, (size_t)n, sizeof *pc, cmp_i64);
    int64_t r = (int64_t)ceil(0.99 * (double)n) - 1;
    if (r < 0) r = 0;
    out->p99_curr = cc[r];
    out->p99_prev = pc[r];
    out->max_curr = cc[n - 1];
    out->max_prev = pc[n - 1];
    out->mean_curr = sc / (double)n;
    out->mean_prev = sp / (double)n;
    free(cc);
    free(pc);
    return CF_OK;
}
