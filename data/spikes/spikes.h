/* Spike data for Neuroformer-style models: one in-memory representation (cf_spikes), the loaders for the
 * formats neuroscientists have (NWB-style HDF5, (time, unit[, trial]) CSV, [N, T] binned counts in HDF5),
 * an NWB-style writer, binning, time-block splits, and the tokenizing dataset (Neuroformer's tokenization,
 * Antoniades et al., ICLR 2024).
 *
 * ---- the representation ----
 * Spikes are per-unit sorted times in seconds, stored CSR-style: unit u fired at
 *     times[offsets[u]], ..., times[offsets[u+1] - 1]   (ascending; repeats allowed = several spikes in a bin)
 * Every spike lies in the recording span [t_start, t_end). Trials (optional) are [start, stop) intervals sorted
 * by start. Behaviour (optional) is k variables sampled at beh_len strictly increasing timestamps, values
 * row-major [beh_len, k], each variable with a name.
 *
 * ---- files ----
 * NWB-style HDF5 (cf_spikes_read_nwb / cf_spikes_write_nwb):
 *   /units/spike_times [S] (float) and /units/spike_times_index [N] (integer; entry u = END offset of unit u's
 *   spikes, the NWB ragged-array convention), optional /units/id [N], optional /units/obs_intervals (+ _index)
 *   (only widen the recording span), /units/electrodes (ignored);
 *   /intervals/trials/start_time, stop_time [n] (optional);
 *   /processing/behavior/...: every group below it (searched 4 levels deep) that holds a `data` dataset [T] or
 *   [T, k] is a time series, timed by a `timestamps` dataset [T], or by `starting_time` (a scalar dataset with
 *   a `rate` attribute, as NWB writes it, or attributes `starting_time` and `rate` on the group). A series is
 *   named by its path below processing/behavior ("Position/xy"); the columns of a [T, k] series are named
 *   "name[0]", "name[1]", ... All variables share the first series' timestamps: a series sampled at other
 *   times is linearly interpolated onto them (held constant beyond its ends).
 *   The recording span is read from the /units attributes t_start and t_end when present (files we write
 *   have them); otherwise it is [0, max(last spike + 1e-3, last trial stop, last obs_interval end, last
 *   behaviour sample)].
 * Binned counts in HDF5 (cf_spikes_read_counts_h5): dataset `counts` [N, T] of any numeric type, bin width
 *   from an attribute `bin_width` (on the dataset or the root) or a scalar dataset `bin_width`; optional
 *   `t_start` likewise (default 0). Counts are rounded to the nearest integer (as Neuroformer's loader does:
 *   calcium traces must be deconvolved or thresholded first); k counts in bin b become k spikes at the bin's
 *   start t_start + b * bin_width. Trials and behaviour are read as in NWB files when present.
 * CSV (cf_spikes_read_csv): one spike per line, `time,unit[,trial]`; see cf_spikes_csv_options.
 * A directory in the official Neuroformer Visnav layout, as released (cf_spikes_read_visnav), all NumPy .npy
 *   (data/npy.h): spikerates_dt_<dt>.npy [N, T] counts in bins of <dt> s from time 0 (the bin width comes from
 *   the name); every other <name>_dt_<dt>.npy [T'] is a behaviour variable <name> (behavior_speed, phi, th)
 *   sampled at i * <dt> (all go onto the first one's grid, in name order, others interpolated linearly);
 *   stimulus.npy [n, 1, h, w] or [n, h, w] is the movie at 20 Hz from time 0 (cf_frames_read on the
 *   directory); an optional sel*.csv lists the 1-based neurons to keep (unit_ids keep those labels).
 *   Non-integer counts are rounded with a note on stderr, as the official loader rounds them (calcium traces
 *   must be deconvolved first); negative or non-finite counts are errors naming the neuron and bin.
 *
 * Bad input never crashes: the loaders return NULL with cf_last_error() naming the file, the dataset (or
 * the CSV line) and the offending row. HDF5's own error printing is silenced while we read and write.
 * Data beyond the bounds of a cf_spike_limits (units, recording span; see "bounds" below) is refused before
 * anything is allocated for it, and so is an HDF5 dataset the file does not back: over 1 MiB declared with
 * less than 1/4096 of it stored (never written, HDF5 would hand back its fill value; deflate stays near 1000:1).
 * Without HDF5 in the build (CF_HAVE_HDF5 undefined) the HDF5 functions fail with CF_ERR_UNSUPPORTED.
 *
 * ---- splits ----
 * Adjacent windows share spikes (the previous window of one is the current window of the one before), so a
 * random split by window (the official code's) leaks between train and test. Split by contiguous time blocks
 * instead (cf_spikes_split_blocks) and open one dataset per split over its time ranges. */
#ifndef CF_SPIKES_H
#define CF_SPIKES_H

#include "data/dataset.h"

#define CF_SPIKES_NWB_FORMAT "cformer-spikes-nwb"
#define CF_SPIKES_NWB_FORMAT_VERSION 1

typedef struct cf_spikes {
    int n_units;
    int64_t n_spikes;
    int64_t *offsets;  /* [n_units + 1] */
    double *times;     /* [n_spikes], seconds, ascending within each unit */
    int64_t *unit_ids; /* [n_units] labels from the file (NWB units/id, CSV ids); NULL means 0..n_units-1 */
    double t_start, t_end;
    int n_trials;
    double *trial_start, *trial_stop; /* [n_trials]; NULL when there are none */
    int64_t beh_len;  /* samples (0: no behaviour) */
    int beh_dim;      /* variables */
    double *beh_t;    /* [beh_len] */
    double *beh;      /* [beh_len * beh_dim] */
    char **beh_names; /* [beh_dim] */
    struct cf_frames *frames; /* the stimulus movie (NULL: none; see "frames" below) */
} cf_spikes;

/* ---- building, checking, freeing ---- */

/* From n (time, unit) events in any order: sorted into the per-unit representation. Units must lie in
 * [0, n_units), times be finite and in [t_start, t_end). `what` names the source in messages ("spikes.csv");
 * the offending event is named by its index. */
cf_spikes *cf_spikes_from_events(const double *times, const int64_t *units, int64_t n, int n_units, double t_start,
                                 double t_end, const char *what);
/* From an [n_units, n_bins] count matrix (row-major): k counts in bin b become k spikes at t_start + b*bin_width.
 * Span [t_start, t_start + n_bins * bin_width). Negative counts are an error naming row and column. */
cf_spikes *cf_spikes_from_counts(const int32_t *counts, int n_units, int64_t n_bins, double bin_width, double t_start);
/* Replaces the trials (copies). Each start <= stop, finite, starts ascending. */
cf_status cf_spikes_set_trials(cf_spikes *s, int n, const double *start, const double *stop);
/* Replaces the behaviour (copies): T samples of k variables, times strictly increasing and finite, values
 * finite, names non-empty (at most 255 bytes). T == 0 removes it. */
cf_status cf_spikes_set_behavior(cf_spikes *s, int64_t T, int k, const double *t, const double *values,
                                 const char *const *names);
/* Replaces the frames (a copy; NULL removes them). They must pass cf_frames_validate. */
cf_status cf_spikes_set_frames(cf_spikes *s, const struct cf_frames *f);
/* Checks every invariant above; the message names `what`, the unit and the row of the first violation. */
cf_status cf_spikes_validate(const cf_spikes *s, const char *what);
cf_spikes *cf_spikes_copy(const cf_spikes *s);
/* True when a and b hold the same units, spike times (bit-exact), span, trials, behaviour and frames; otherwise false
 * with the first difference described in why (may be NULL). */
bool cf_spikes_equal(const cf_spikes *a, const cf_spikes *b, char *why, size_t why_n);
void cf_spikes_free(cf_spikes *s); /* NULL is fine */

/* ---- binning and rates ---- */

/* Bins of width dt covering the span: ceil((t_end - t_start) / dt) (a bin edge within 1e-9 of t_end does not
 * add a bin). */
int64_t cf_spikes_n_bins(const cf_spikes *s, double dt);
/* counts[u * n_bins + b] = spikes of unit u in [t_start + b dt, t_start + (b+1) dt). Spike times are snapped to
 * bins with a 1e-6-bin tolerance, so a spike written at a bin edge (k * dt) lands in bin k despite rounding.
 * Spikes at or past bin n_bins are not counted. The official code's resolution is dt = 0.01 s. */
cf_status cf_spikes_bin(const cf_spikes *s, double dt, int64_t n_bins, int32_t *counts);
/* The bin of time t on the grid t_start + k dt (the same snapping). */
int64_t cf_spikes_bin_of(const cf_spikes *s, double t, double dt);
/* Mean rate of each unit (Hz) over [t_from, t_to) (clipped to the span). rates_hz: [n_units]. */
cf_status cf_spikes_rates(const cf_spikes *s, double t_from, double t_to, double *rates_hz);

/* ---- splits by contiguous time blocks ---- */

typedef struct cf_time_ranges {
    int n;
    double *from, *to; /* [n] half-open [from, to), ascending, disjoint, adjacent ones merged */
} cf_time_ranges;

/* Splits the span into train / val / test time ranges.
 *   block_s <= 0: three contiguous pieces: the first train_frac of the span is train, the next val_frac is
 *                 val, the rest is test (so 0.8 / 0.1 gives the first 80% / 10% / 10% of time).
 *   block_s > 0:  the span is cut into ceil(duration / block_s) blocks of block_s seconds (the last may be
 *                 shorter); round(train_frac * blocks) of them go to train and round(val_frac * blocks) to
 *                 val, the rest to test, chosen by a Philox permutation keyed by seed (the same on every
 *                 machine). Neighbouring blocks of one split are merged into one range.
 * A window belongs to a split when its end time lies in one of the split's ranges; its previous window may
 * reach up to window_curr + window_prev seconds back into a neighbouring block (inputs only, never targets).
 * Fractions must be >= 0 with train_frac + val_frac <= 1. Free the outputs with cf_time_ranges_free. */
cf_status cf_spikes_split_blocks(const cf_spikes *s, double train_frac, double val_frac, double block_s, uint64_t seed,
                                 cf_time_ranges *train, cf_time_ranges *val, cf_time_ranges *test);
/* Total length of the ranges in seconds. */
double cf_time_ranges_total(const cf_time_ranges *r);
void cf_time_ranges_free(cf_time_ranges *r); /* frees the arrays and zeroes *r */

/* ---- bounds on what a file may imply ----
 * One outlier row -- a spike at 1e7 s, a unit id of 16000000 -- would make the tokenizer lay a billion time
 * bins (or 2e8 windows) over the recording, or the model a vocabulary of millions of units: gigabytes and
 * minutes for what is almost always a corrupt or mistyped row. The readers refuse data beyond these bounds
 * as soon as the row is read (before allocating for it), naming the file, the row (CSV line; HDF5 dataset
 * and row; .npy file and shape) and the bound by the name the caller gives it, so the message says how to
 * raise it:
 *     spikes.csv:7: column 2 (unit): unit id 16000000 exceeds data.max_units (100000); raise data.max_units
 *     if the recording has that many units, or set data.remap_ids: true to number the distinct ids 0, 1, ...
 * The span bound is on t_end - t_start: a CSV's span starts at 0, an NWB file's at 0 or at its /units
 * attribute t_start. */
#define CF_SPIKES_MAX_UNITS 100000   /* the default max_units */
#define CF_SPIKES_MAX_SECONDS 1e6    /* the default max_seconds (11.6 days) */
#define CF_SPIKES_UNITS_CEILING (1 << 24) /* max_units itself is at most this */

typedef struct cf_spike_limits {
    int64_t max_units;      /* units in the recording, 1..CF_SPIKES_UNITS_CEILING; 0: CF_SPIKES_MAX_UNITS */
    double max_seconds;     /* the recording's span t_end - t_start, finite > 0; 0: CF_SPIKES_MAX_SECONDS */
    const char *key_prefix; /* messages call the bounds <prefix>max_units, <prefix>max_seconds (and the CSV
                             * option <prefix>remap_ids): "data." for the recipe keys; NULL: "" */
} cf_spike_limits;

/* l with the defaults applied (l NULL: all defaults; key_prefix never NULL in out). A negative or non-finite
 * bound, or max_units above CF_SPIKES_UNITS_CEILING, is CF_ERR_ARG naming the bound. */
cf_status cf_spike_limits_resolve(const cf_spike_limits *l, cf_spike_limits *out);

/* The error for data beyond a bound (CF_ERR_FORMAT, returned): the formatted subject (the file, the row and
 * the value) followed by "exceeds <prefix>max_units (N); raise ..." -- for CF_SPIKE_UNIT_IDS the advice adds
 * <prefix>remap_ids -- or "exceeds <prefix>max_seconds (S s), the longest recording span accepted; ...". */
typedef enum cf_spike_bound { CF_SPIKE_UNITS, CF_SPIKE_UNIT_IDS, CF_SPIKE_SECONDS } cf_spike_bound;
cf_status cf_spike_limit_error(const cf_spike_limits *l, cf_spike_bound which, const char *fmt, ...) CF_PRINTF(3, 4);

/* ---- loaders ----
 * cf_spikes_read_nwb, cf_spikes_read_counts_h5 and cf_spikes_read_h5_mem apply the default bounds;
 * cf_spikes_load applies those of its options (every format it reads). */

cf_spikes *cf_spikes_read_nwb(const char *path);
/* dataset NULL means "counts". */
cf_spikes *cf_spikes_read_counts_h5(const char *path, const char *dataset);
/* The ground-truth weights a simulation stored at /simulation/weights [N, N] (w[i * N + j] = weight of the
 * edge from unit i to unit j). *w is malloc'ed (free it). An error names the file when it has none. */
cf_status cf_spikes_read_weights(const char *path, int *n, double **w);
/* The hub units of a simulation (/simulation/hubs), malloc'ed into *hubs (NULL when n_hubs is 0). */
cf_status cf_spikes_read_hubs(const char *path, int *n_hubs, int **hubs);

typedef struct cf_spikes_csv_options {
    /* Units are integers >= 0. n_units > 0: ids must be < n_units. 0: n_units = largest id + 1, or, with
     * remap_ids, the distinct ids are numbered 0, 1, ... in ascending order (s->unit_ids keeps the originals). */
    int n_units;
    bool remap_ids;
    /* With a trial column: trial_relative (the default) means times count from their trial's start, as in
     * Neuroformer's (Time, ID, Trial) tables; trials are laid end to end on one time line in ascending trial
     * id, each trial_duration seconds long (0: the smallest multiple of `resolution` that holds every trial's
     * last spike). Otherwise times are absolute and trial k spans [its first spike, its last spike +
     * resolution). */
    bool trial_relative;
    double trial_duration;
    double resolution; /* 0.01 by default */
    /* The bounds (zero: the defaults). The unit bound applies to the largest id + 1, to n_units, or with
     * remap_ids to the distinct ids; a line whose time reaches max_seconds is refused at that line.
     * cf_spikes_load applies these bounds to every format it reads, not only to CSV. */
    cf_spike_limits limits;
} cf_spikes_csv_options;

cf_spikes_csv_options cf_spikes_csv_defaults(void);
/* CSV of spikes, one per line: time (seconds, finite, >= 0), unit (integer), optional trial (integer).
 * Fields are separated by ',', ';' or tab, and may be padded with spaces. Blank lines and lines starting with
 * '#' are skipped. A first line whose first field is not a number is a header: then the columns are found by
 * name (time: time / t / spike_time / spike_times / timestamp; unit: unit / id / unit_id / neuron / neuron_id
 * / cluster; trial: trial / trial_id; case-insensitive; other columns are ignored); without a header they are
 * time, unit[, trial]. Lines need not be sorted. The span is [0, last spike + resolution) (or the trials'
 * extent). Errors name path:line and the column. o NULL: cf_spikes_csv_defaults(). */
cf_spikes *cf_spikes_read_csv(const char *path, const cf_spikes_csv_options *o);

/* The Visnav directory layout above. dt > 0 picks spikerates_dt_<dt>.npy when there are several; 0: the only
 * one. Missing files are errors naming the directory and the layout expected. The shape of the counts is
 * checked against the bounds (limits NULL: the defaults) before the array is read: neurons (after the
 * selection) against max_units, T * dt against max_seconds. A count above 1e6 in one bin is an error naming
 * the neuron and bin. */
cf_spikes *cf_spikes_read_visnav(const char *dir, double dt, const cf_spike_limits *limits);
/* True when path names a directory. */
bool cf_path_is_dir(const char *path);

/* From memory (n bytes at buf; `what` names them in messages, as the path does for the readers above): the
 * CSV reader, and the HDF5 reader that picks NWB-style or binned counts as cf_spikes_load does. */
cf_spikes *cf_spikes_read_csv_mem(const void *buf, size_t n, const char *what, const cf_spikes_csv_options *o);
cf_spikes *cf_spikes_read_h5_mem(const void *buf, size_t n, const char *what);

/* Picks the reader by content: a directory is a Visnav layout; an HDF5 file is a counts file when it has /counts and no /units group, else
 * NWB-style; anything that is not HDF5 is read as CSV (csv may be NULL). */
cf_spikes *cf_spikes_load(const char *path, const cf_spikes_csv_options *csv);

/* ---- writer ---- */

struct cf_sim_config;
/* Writes s as an NWB-style HDF5 file (the layout above: units, intervals/trials when s has trials,
 * processing/behavior/<name>/{data, timestamps} per behaviour variable, the frames as the ImageSeries
 * /stimulus/presentation/<name> (data [n, h, w] float32, starting_time with its rate, or timestamps when the
 * onsets are not on a grid), /units attributes t_start and t_end, root attributes format and
 * format_version). With weights (n == s->n_units), /simulation/weights [n, n] is
 * written too; with sim, /simulation carries the generator's configuration as attributes, and
 * /simulation/hubs, /simulation/baselines and /simulation/stim_gains (with a movie also
 * /simulation/receptive_fields [N, h, w] and /simulation/movie_gains [N]) the rest of the ground truth (the
 * baselines are recomputed with cf_sim_parameters: a few milliseconds per unit). Atomic: built in memory, written to a temporary file in the same
 * directory, fsynced, renamed over path; on failure path is untouched. */
cf_status cf_spikes_write_nwb(const cf_spikes *s, const char *path, const double *weights, int n,
                              const struct cf_sim_config *sim);

/* ---- frames: the stimulus movie (as the official code and data release use it) ----
 *
 * A grayscale movie: n frames of h x w pixels, frame i on screen from its onset t[i] until the next onset
 * (the last one for 1 / rate seconds). With per_trial the onsets count from each trial's start: the movie
 * is shown again in every trial (V1AL's repeated stimuli); otherwise they are times of the recording.
 *
 * Files (cf_frames_read):
 *   NWB ImageSeries: /stimulus/presentation/<name>/data [n, h, w] or [n, 1, h, w] (any numeric type; the
 *   `conversion` and `offset` attributes of data are applied as NWB defines them), timed by
 *   /stimulus/presentation/<name>/timestamps [n] (strictly increasing; rate = (n - 1) / (t[n-1] - t[0]), 20
 *   for a single frame) or by starting_time (a scalar dataset with a `rate` attribute, as NWB writes it, or
 *   attributes starting_time and rate on the group): t[i] = starting_time + i / rate. The group attribute
 *   time_reference = "trial_start" (ours; NWB has no word for it) marks a per-trial movie.
 *   Binned counts HDF5 (the counts format of cf_spikes_read_counts_h5): a dataset /frames [n, h, w] or
 *   [n, 1, h, w] with an attribute frame_rate (on the dataset or the root); onsets t_start + i / frame_rate
 *   (t_start as for the counts, or an attribute frame_start on the dataset); time_reference as above.
 * Errors name the file, the dataset and what is wrong: a wrong rank, a non-finite pixel (with its frame),
 * timestamps that do not increase (with the row), a rate <= 0, a missing series or dataset. */
typedef struct cf_frames {
    char name[128]; /* the ImageSeries' name ("movie") */
    int64_t n;
    int h, w;
    float *data;    /* [n, h, w] */
    double *t;      /* [n] onsets, strictly increasing */
    double rate;    /* frames per second: the slot width of a clip (cf_frames_clip) */
    bool per_trial;
} cf_frames;

/* A validated copy of n frames: data [n * h * w] (NULL: zeros), onsets t [n] or NULL for t0 + i / rate. */
cf_frames *cf_frames_make(const char *name, int64_t n, int h, int w, const float *data, const double *t, double t0,
                          double rate, bool per_trial);
/* n >= 1, 1 <= h, w <= 4096, finite pixels, finite strictly increasing onsets, finite rate > 0; the message
 * names `what` and the frame or row at fault. */
cf_status cf_frames_validate(const cf_frames *f, const char *what);
cf_frames *cf_frames_copy(const cf_frames *f);
bool cf_frames_equal(const cf_frames *a, const cf_frames *b, char *why, size_t why_n);
void cf_frames_free(cf_frames *f); /* NULL is fine */

/* Reads a movie from an HDF5 file (or a Visnav directory: cf_frames_read_dir): the ImageSeries /stimulus/presentation/<name>; name NULL picks the only
 * ImageSeries there (an error lists them when there are several); a file without /stimulus/presentation
 * but with a dataset /frames (the counts format) gives that one (name "frames"). */
cf_frames *cf_frames_read(const char *path, const char *name);
/* Frames from an .npy file [n, 1, h, w] or [n, h, w] (any numeric dtype, finite), onsets t0 + i / rate. */
cf_frames *cf_frames_read_npy(const char *path, double rate, double t0);
/* A Visnav directory's movie: <dir>/<name>.npy (name NULL: stimulus.npy) at 20 Hz from time 0. cf_frames_read
 * calls this when path is a directory. */
cf_frames *cf_frames_read_dir(const char *dir, const char *name);
/* cf_frames_read, checked against s (a per-trial movie needs trials), then attached to s (its copy freed
 * when s is). */
cf_status cf_spikes_load_frames(cf_spikes *s, const char *path, const char *name);

/* The frame on screen at time t (relative to the trial's start for a per-trial movie), or -1: before the
 * first onset or after the last frame's 1 / rate seconds. */
int64_t cf_frames_index(const cf_frames *f, double t);
/* A clip of F frames for a window ending at t_end: slot k = 0..F-1 covers [a + k / rate, a +
 * (k + 1) / rate) with a = t_end + shift - F / rate (shift 0 by default, window_curr for the official
 * code's offset, which puts the last frame past the window) and shows the frame on screen at the slot's
 * middle. A slot whose middle lies outside [lo, hi) (the recording, or the window's trial) or when nothing
 * is on screen is ZEROS (a blank screen: before the recording start, outside the trial). A per-trial movie
 * is looked up relative to the start of the trial holding the slot (trials: n_trials sorted [start, stop)
 * intervals; none holding it: zeros). out: [F, h, w]. */
void cf_frames_clip(const cf_frames *f, double t_end, double shift, int F, double lo, double hi, int n_trials,
                    const double *trial_start, const double *trial_stop, float *out);

/* ---- tokenization (Neuroformer's, as the official code implements it) ----
 *
 * A window is keyed by its end time t_end (on the grid t_start + k * window_curr, or trial start + k *
 * window_curr inside a trial). Current window [t_end - w_c, t_end); previous window [t_end - w_c - w_p,
 * t_end - w_c), clipped to the recording (or to the trial). Spikes are listed bin by bin (bins of dt on the
 * grid t_start + k dt), within a bin by ascending unit, a unit with k spikes in a bin k times.
 *   ID vocabulary: units 0..N-1, then SOS = N, EOS = N+1, PAD = N+2 (size N+3).
 *   dt vocabulary: classes 0..M for the offsets 0, dt, ..., M dt with M = round(max(w_c, w_p) / dt), then
 *                  SOS = M+1, EOS = M+2, PAD = M+3 (size M+4; w_c = w_p = 0.05, dt = 0.01 gives 9).
 *   Current window, block size T: seq = [SOS] + ids + [EOS] right-padded with PAD to T+1; dt seq =
 *     [0] + dt classes + [dt-EOS] padded with dt-PAD. Only the LAST T-2 spikes of a fuller window are kept.
 *     Inputs x = seq[0:T], targets y = seq[1:T+1] with PAD targets replaced by CF_SPIKE_IGNORE (-100, the
 *     cross-entropy default ignore_index); EOS is a target.
 *   Previous window, block size Tp: [SOS] + last Tp-2 ids + [EOS] padded with PAD to Tp (dt likewise; dt
 *     classes count from the nominal previous-window start). Input only; prev_pad marks the PAD positions
 *     (true = padding, the key_padding convention of cf_sdpa), which the official code does not mask. */

#define CF_SPIKE_IGNORE (-100)

typedef struct cf_spike_token_config {
    double dt;          /* bin / dt-class resolution, seconds (0.01) */
    double window_curr; /* w_c (0.05); a multiple of dt */
    double window_prev; /* w_p (0.05); a multiple of dt */
    int block_size;     /* T = block_size.id (32); >= 2 */
    int prev_block_size; /* Tp = block_size.prev_id (64); >= 2 */
    /* When the spikes have trials (and this is true, the default), windows are laid inside each trial from
     * its start (rounded to the dt grid) and the previous window is clipped to the trial. Otherwise windows
     * tile the whole span from t_start and the previous window is clipped at t_start. */
    bool use_trials;
    /* Adds the field "behavior" f32 [B, k] when the spikes have behaviour: per variable, the mean of its
     * samples inside the current window; with none there, the last sample before t_end (the first sample
     * before any). Standardised as (v - mean[j]) / std[j] when behavior_mean / behavior_std are given ([k]
     * each, copied at open; std must be > 0). */
    bool behavior;
    const double *behavior_mean, *behavior_std;
    /* frames > 0 adds the field "frames" f32 [B, 1, frames, h, w]: each window's clip of the recording's
     * movie (cf_frames_clip; the spikes must have frames): by default the frames slots [t_end - frames / rate,
     * t_end), with frames_official_offset those shifted by window_curr (the official code's clip, whose last
     * frame lies past the window). Slots before the recording start, or outside the window's trial when
     * windows are laid in trials, are blank (zeros). */
    int frames;
    bool frames_official_offset;
} cf_spike_token_config;

/* cformer's small CPU configuration: dt 0.01, windows w_c 0.05 / w_p 0.10, block sizes 32 / 64, use_trials
 * and behavior on, no standardisation, no frames. (The official lateral config has w_p 0.05, block sizes
 * 100 / 700.) */
cf_spike_token_config cf_spike_token_defaults(void);

typedef struct cf_spike_vocab {
    int n_units;
    int id_size, id_sos, id_eos, id_pad;
    int dt_max; /* M: classes 0..M are offsets k * dt */
    int dt_size, dt_sos, dt_eos, dt_pad;
    int curr_bins, prev_bins; /* w_c / dt and w_p / dt */
    double dt;
} cf_spike_vocab;

/* Checks the config (windows multiples of dt, block sizes >= 2) and fills v. */
cf_status cf_spike_vocab_make(int n_units, const cf_spike_token_config *c, cf_spike_vocab *v);
/* The time offset a dt class stands for (class * dt), or NaN for the special classes. */
double cf_spike_dt_value(const cf_spike_vocab *v, int64_t dt_class);

/* One window's tokens from its n spikes in token order: units[i] and bins[i] - bin0 (the dt class, in
 * [0, M]). The current window fills T entries of each of id_x, id_y, dt_x, dt_y; the previous window fills
 * Tp entries of id, dt and pad (pad may be NULL). Fails on a unit or dt class out of range. */
cf_status cf_spike_tokens_current(const cf_spike_vocab *v, const int32_t *units, const int64_t *bins, int64_t bin0,
                                  int64_t n, int T, int64_t *id_x, int64_t *id_y, int64_t *dt_x, int64_t *dt_y);
cf_status cf_spike_tokens_prev(const cf_spike_vocab *v, const int32_t *units, const int64_t *bins, int64_t bin0,
                               int64_t n, int Tp, int64_t *id, int64_t *dt, bool *pad);

/* The dataset of windows whose t_end lies in [t_from, t_to) (a range reaching the end of the recording also
 * takes the window that ends exactly there, so [t_start, t_end) selects every window). Batch fields:
 *   "id", "id_target", "dt", "dt_target"  i64 [B, T]   (targets use CF_SPIKE_IGNORE for PAD)
 *   "prev_id", "prev_dt"                  i64 [B, Tp]
 *   "prev_pad"                            bool [B, Tp] (true = PAD)
 *   "behavior"                            f32 [B, k]   (only with cfg->behavior and behaviour in s)
 *   "frames"                              f32 [B, 1, F, h, w] (only with cfg->frames = F > 0)
 * Everything needed is copied at open: s may be freed afterwards. Items are windows in time order (trial by
 * trial). Fails (NULL, *st set) on a bad config or when no window falls in the range. */
cf_dataset *cf_spike_dataset_open(const cf_spikes *s, const cf_spike_token_config *cfg, double t_from, double t_to,
                                  cf_status *st);
/* The same over the union of ranges (e.g. a split from cf_spikes_split_blocks). */
cf_dataset *cf_spike_dataset_open_ranges(const cf_spikes *s, const cf_spike_token_config *cfg,
                                         const cf_time_ranges *r, cf_status *st);
/* The vocabulary (NULL with an error when ds is not a spike dataset). */
const cf_spike_vocab *cf_spike_dataset_vocab(const cf_dataset *ds);
/* Item index's window: its end time, its trial (-1 without trials) and its spike counts before truncation
 * (any pointer may be NULL). */
cf_status cf_spike_dataset_window(const cf_dataset *ds, int64_t index, double *t_end, int *trial, int64_t *n_curr,
                                  int64_t *n_prev);
/* Hands the dataset the recording it was built from (ownership moves: the dataset frees it), so an evaluation
 * handed the dataset can reach the whole recording (rates, trial averages, ground truth) without reading the
 * file again. cf_spike_dataset_recording returns it, or NULL (with an error) when none was kept. */
cf_status cf_spike_dataset_keep_recording(cf_dataset *ds, cf_spikes *s);
const cf_spikes *cf_spike_dataset_recording(const cf_dataset *ds);
/* Frames per clip in the "frames" field (0 when absent) and their size (h, w may be NULL). */
int cf_spike_dataset_frames(const cf_dataset *ds, int *h, int *w);
/* Variables in the "behavior" field (0 when absent) and the name of variable j (NULL when out of range). */
int cf_spike_dataset_behavior_dim(const cf_dataset *ds);
const char *cf_spike_dataset_behavior_name(const cf_dataset *ds, int j);

/* Window spike counts over the dataset, to size block_size from a high percentile (a window with more than
 * T-2 spikes loses its earliest ones, silently in the official code). */
typedef struct cf_spike_window_stats {
    int64_t windows;
    int64_t truncated_curr, truncated_prev; /* windows with more than T-2 / Tp-2 spikes */
    int64_t max_curr, max_prev;
    int64_t p99_curr, p99_prev; /* 99th percentile (nearest rank) */
    double mean_curr, mean_prev;
} cf_spike_window_stats;
cf_status cf_spike_dataset_stats(const cf_dataset *ds, cf_spike_window_stats *out);

/* ---- a dataset by name ----
 * For the registry (dataset.h): recipes/ can register cf_spike_factory as "spikes" and fill the options from
 * data.* keys. Each call loads the file (cf_spikes_load), splits it with cf_spikes_split_blocks and opens
 * the split's windows; the dataset's name carries the path and the split. */
typedef struct cf_spike_options {
    const char *path;
    const cf_spikes_csv_options *csv; /* NULL: defaults; its limits bound every format (cf_spikes_load) */
    cf_spike_token_config tokens;
    double train_frac, val_frac; /* 0.8, 0.1 */
    double block_s;              /* 0 (default): the first 80% / next 10% / last 10% of time */
    uint64_t split_seed;
    const char *frames_name;     /* with tokens.frames > 0: the movie to read (cf_spikes_load_frames; NULL: the only one) */
} cf_spike_options;

cf_spike_options cf_spike_options_defaults(void);
/* options: a `const cf_spike_options *`; split: "train", "val" or "test". */
cf_dataset *cf_spike_factory(void *options, const char *split);

#endif
