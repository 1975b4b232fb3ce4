/* The stimulus movie of spike data (data/spikes/spikes.h "frames"): the movie-driven simulator (deterministic, its
 * outputs without a movie pinned to those of the build before movies existed, rates near the target, the
 * same movie in every trial giving stimulus-locked PSTHs), the NWB ImageSeries round trip through the writer,
 * foreign layouts ([n, 1, h, w], timestamps, group attributes, the counts format's /frames), every kind of
 * bad input failing with the file, dataset and fault named, and the clip timing (the default
 * clip ending at the window's end, the official one a frame later, blank frames before the recording and
 * outside the trial) in cf_frames_clip and in the dataset's "frames" field. */
#include "data/spikes/simulate_spikes.h"
#include "data/spikes/spikes.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <stdlib.h>
#include <unistd.h>

#ifdef CF_HAVE_HDF5
#include <hdf5.h>
#endif


/* FNV-1a over (unit, bin) of every spike, unit by unit. */
static uint64_t spike_hash(const cf_spikes *s, double dt)
{
    uint64_t h = 1469598103934665603ull;
    for (int u = 0; u < s->n_units; u++)
        for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
            h = (h ^ (uint64_t)u) * 1099511628211ull;
            h = (h ^ (uint64_t)llround(s->times[i] / dt)) * 1099511628211ull;
        }
    return h;
}

/* ---- the simulator ---- */

/* Without a movie a seed gives exactly what it gave before movies existed (the hashes were taken from that
 * build's `cformer simulate spikes` output); with one the connectivity is the same and the spikes are not. */
static void test_sim_unchanged_without_movie(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 60, c.seed = 3;
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    CHECK(s && s->n_spikes == 12294 && spike_hash(s, 0.01) == 0xd490bae5db163140ull && !s->frames);
    cf_spikes_free(s);
    c = cf_sim_defaults();
    c.n_neurons = 20, c.seconds = 60, c.seed = 5, c.stim_gain = 1, c.trial_s = 7;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    CHECK(s && s->n_spikes == 26378 && spike_hash(s, 0.01) == 0x53cad2b333fd508dull);
    cf_spikes_free(s);
    /* a movie: same wiring and hubs, other spikes */
    c = cf_sim_defaults();
    c.seconds = 60, c.seed = 3;
    double w0[1600], w1[1600];
    int h0[3], h1[3];
    CHECK(cf_sim_weights(&c, w0) == CF_OK && cf_sim_hubs(&c, h0) == CF_OK);
    c.movie_h = 6, c.movie_w = 10;
    CHECK(cf_sim_weights(&c, w1) == CF_OK && cf_sim_hubs(&c, h1) == CF_OK);
    CHECK(memcmp(w0, w1, sizeof w0) == 0 && memcmp(h0, h1, sizeof h0) == 0);
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    CHECK(s && spike_hash(s, 0.01) != 0xd490bae5db163140ull);
    CHECK(s && s->frames && s->frames->n == 1200 && s->frames->h == 6 && s->frames->w == 10 && !s->frames->per_trial);
    cf_spikes_free(s);
    /* config checks name the field */
    c.movie_h = 0;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("movie 0x10");
    c.movie_h = 6, c.movie_rate_hz = 0;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("movie_rate_hz");
    c.movie_rate_hz = 20, c.movie_w = 1000, c.movie_h = 1000;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("too large");
}

/* The movie: deterministic, in (-1, 1), smooth, the same in every trial; receptive fields of |sum| 1; the
 * calibrated rates near the target; and each trial's PSTH predicts the others' (stimulus-locked). */
static void test_sim_movie(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 200, c.seed = 7, c.trial_s = 5, c.movie_h = 8, c.movie_w = 8, c.movie_gain = 2.5;
    CHECK(cf_sim_movie_frames(&c) == 100);
    float *m1 = malloc(100 * 64 * sizeof *m1), *m2 = malloc(100 * 64 * sizeof *m2), *rf = malloc(40 * 64 * sizeof *rf);
    double g[40];
    CHECK(cf_sim_movie(&c, m1) == CF_OK && cf_sim_movie(&c, m2) == CF_OK && memcmp(m1, m2, 100 * 64 * sizeof *m1) == 0);
    double lo = 1, hi = -1, step = 0;
    for (int i = 0; i < 100 * 64; i++) lo = fmin(lo, m1[i]), hi = fmax(hi, m1[i]);
    for (int i = 64; i < 100 * 64; i++) step += fabs(m1[i] - m1[i - 64]) / (99 * 64);
    printf("  movie in [%.3f, %.3f], mean frame-to-frame change %.3f\n", lo, hi, step);
    CHECK(lo > -1 && hi < 1 && hi - lo > 1);
    CHECK(step > 0.005 && step < 0.2);
    CHECK(cf_sim_receptive_fields(&c, rf, g) == CF_OK);
    int neg = 0;
    for (int u = 0; u < 40; u++) {
        double sum = 0;
        for (int k = 0; k < 64; k++) sum += rf[u * 64 + k];
        CHECK(fabs(fabs(sum) - 1) < 1e-4);
        neg += sum < 0;
        CHECK(g[u] >= 0.5 * 2.5 && g[u] <= 1.5 * 2.5);
    }
    CHECK(neg > 0 && neg < 40);
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    if (s && s->frames) {
        CHECK(s->frames->per_trial && s->frames->n == 100 && s->frames->rate == 20);
        CHECK(memcmp(s->frames->data, m1, 100 * 64 * sizeof *m1) == 0);
        CHECK_NEAR(s->frames->t[99], 4.95, 1e-12);
        /* rates near the target with the drive; the trials' PSTHs agree (split halves, 50 ms bins) */
        int hubs[3];
        CHECK(cf_sim_hubs(&c, hubs) == CF_OK);
        double r[40], mean = 0;
        CHECK(cf_spikes_rates(s, 0, 200, r) == CF_OK);
        for (int u = 0; u < 40; u++) mean += (u == hubs[0] || u == hubs[1] || u == hubs[2] ? 0 : r[u] / 37);
        double *a = calloc(40 * 100, sizeof *a), *b = calloc(40 * 100, sizeof *b), rsum = 0;
        for (int u = 0; u < 40; u++)
            for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
                int64_t bin = llround(s->times[i] / 0.01), trial = bin / 500, k = (bin % 500) / 5;
                (trial % 2 ? a : b)[u * 100 + k] += 1;
            }
        for (int u = 0; u < 40; u++) {
            double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
            for (int k = 0; k < 100; k++) ma += a[u * 100 + k] / 100, mb += b[u * 100 + k] / 100;
            for (int k = 0; k < 100; k++) {
                double x = a[u * 100 + k] - ma, y = b[u * 100 + k] - mb;
                sab += x * y, saa += x * x, sbb += y * y;
            }
            rsum += saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) / 40 : 0;
        }
        printf("  non-hub rate %.2f Hz (target 5), split-half PSTH r %.3f\n", mean, rsum);
        CHECK(mean > 4 && mean < 7);
        CHECK(rsum > 0.3);
        free(a);
        free(b);
    } else {
        CHECK(!"simulation with a movie");
    }
    cf_spikes_free(s);
    free(m1);
    free(m2);
    free(rf);
}

/* ---- the clip ---- */

/* A movie whose frame i is the constant i + 1 (0 stays the blank screen). */
static cf_frames *counting_movie(int64_t n, bool per_trial)
{
    float *d = malloc((size_t)n * 6 * sizeof *d);
    for (int64_t i = 0; i < n * 6; i++) d[i] = (float)(i / 6 + 1);
    cf_frames *f = cf_frames_make("count", n, 2, 3, d, NULL, 0.0, 20.0, per_trial);
    free(d);
    return f;
}

static void clip_values(const float *clip, int F, int *v)
{
    for (int k = 0; k < F; k++) v[k] = (int)clip[k * 6];
}

static void test_clip_timing(void)
{
    cf_frames *f = counting_movie(100, false); /* 5 s */
    float clip[8 * 6];
    int v[8];
    CHECK(f != NULL);
    if (!f) return;
    CHECK(cf_frames_index(f, -0.01) == -1 && cf_frames_index(f, 0) == 0 && cf_frames_index(f, 0.0499) == 0);
    CHECK(cf_frames_index(f, 0.05) == 1 && cf_frames_index(f, 4.999) == 99 && cf_frames_index(f, 5.0) == -1);
    /* default: the 4 frames before t_end = 1.0, i.e. frames 16..19 (values 17..20) */
    cf_frames_clip(f, 1.0, 0.0, 4, 0, 5, 0, NULL, NULL, clip);
    clip_values(clip, 4, v);
    CHECK(v[0] == 17 && v[1] == 18 && v[2] == 19 && v[3] == 20);
    /* the official offset (+ w_c = 0.05): one frame later, the last one past the window */
    cf_frames_clip(f, 1.0, 0.05, 4, 0, 5, 0, NULL, NULL, clip);
    clip_values(clip, 4, v);
    CHECK(v[0] == 18 && v[3] == 21);
    /* near the start: slots before the recording are blank */
    cf_frames_clip(f, 0.1, 0.0, 4, 0, 5, 0, NULL, NULL, clip);
    clip_values(clip, 4, v);
    CHECK(v[0] == 0 && v[1] == 0 && v[2] == 1 && v[3] == 2);
    for (int i = 0; i < 12; i++) CHECK(clip[i] == 0);
    /* past the movie's end: blank */
    cf_frames_clip(f, 5.1, 0.0, 4, 0, 10, 0, NULL, NULL, clip);
    clip_values(clip, 4, v);
    CHECK(v[0] == 99 && v[1] == 100 && v[2] == 0 && v[3] == 0);
    cf_frames_free(f);
    /* a per-trial movie: trials [0, 2) and [2.5, 4.5); a window of the second trial ending at 2.6 sees the
     * movie's first frames of that trial, blanks before the trial's start */
    f = counting_movie(40, true);
    double ts[2] = {0, 2.5}, te[2] = {2, 4.5};
    cf_frames_clip(f, 2.6, 0.0, 4, ts[1], te[1], 2, ts, te, clip);
    clip_values(clip, 4, v);
    CHECK(v[0] == 0 && v[1] == 0 && v[2] == 1 && v[3] == 2);
    /* not limited to one trial (windows across the recording): the gap between trials is blank */
    cf_frames_clip(f, 2.6, 0.0, 8, 0, 4.5, 2, ts, te, clip);
    clip_values(clip, 8, v);
    CHECK(v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0 && v[4] == 0 && v[5] == 0 && v[6] == 1 && v[7] == 2);
    cf_frames_clip(f, 1.0, 0.0, 2, 0, 4.5, 2, ts, te, clip);
    clip_values(clip, 2, v);
    CHECK(v[0] == 19 && v[1] == 20);
    cf_frames_free(f);
}

/* The dataset's "frames" field: [B, 1, F, h, w], each row the clip of its window, with the official offset
 * one frame later; a recording without frames is an error when a clip is asked for. */
static void test_dataset_frames(void)
{
    double t[3] = {0.101, 0.52, 1.33};
    int64_t u[3] = {0, 1, 0};
    cf_spikes *s = cf_spikes_from_events(t, u, 3, 2, 0.0, 2.0, "hand");
    cf_frames *f = counting_movie(40, false);
    cf_spike_token_config c = cf_spike_token_defaults();
    c.frames = 4;
    cf_status st;
    CHECK(s && f);
    if (!s || !f) return;
    CHECK(cf_spike_dataset_open(s, &c, 0, 2, &st) == NULL && st != CF_OK);
    CHECK_ERROR_HAS("no frames");
    CHECK(cf_spikes_set_frames(s, f) == CF_OK);
    cf_dataset *ds = cf_spike_dataset_open(s, &c, 0, 2, &st);
    cf_batch b = {0};
    CHECK(ds && cf_dataset_make_batch(ds, 2, &b) == CF_OK);
    int h = 0, w = 0;
    CHECK(ds && cf_spike_dataset_frames(ds, &h, &w) == 4 && h == 2 && w == 3);
    cf_tensor *fr = ds ? cf_batch_get(&b, "frames") : NULL;
    CHECK(fr && fr->ndim == 5 && fr->shape[0] == 2 && fr->shape[1] == 1 && fr->shape[2] == 4 && fr->shape[3] == 2 &&
          fr->shape[4] == 3);
    if (fr) {
        /* window 0 ends at 0.05, window 19 at 1.0 */
        CHECK(cf_dataset_get(ds, 0, &b, 0) == CF_OK && cf_dataset_get(ds, 19, &b, 1) == CF_OK);
        const float *p = cf_data(fr);
        int v0[4], v1[4];
        clip_values(p, 4, v0);
        clip_values(p + 24, 4, v1);
        CHECK(v0[0] == 0 && v0[2] == 0 && v0[3] == 1);
        CHECK(v1[0] == 17 && v1[3] == 20);
    }
    cf_batch_free(&b);
    cf_dataset_free(ds);
    c.frames_official_offset = true;
    ds = cf_spike_dataset_open(s, &c, 0, 2, &st);
    CHECK(ds && cf_dataset_make_batch(ds, 1, &b) == CF_OK && cf_dataset_get(ds, 19, &b, 0) == CF_OK);
    if (ds) CHECK(((const float *)cf_data(cf_batch_get(&b, "frames")))[3 * 6] == 21);
    cf_batch_free(&b);
    cf_dataset_free(ds);
    /* a dataset over part of the recording keeps only the frames its clips reach: every clip is still the
     * full movie's */
    c.frames = 8;
    ds = cf_spike_dataset_open(s, &c, 1.2, 1.6, &st);
    CHECK(ds && ds->len == 8 && cf_dataset_make_batch(ds, 1, &b) == CF_OK);
    bool same = true;
    for (int64_t i = 0; ds && i < ds->len; i++) {
        double te;
        float want[8 * 6];
        CHECK(cf_dataset_get(ds, i, &b, 0) == CF_OK && cf_spike_dataset_window(ds, i, &te, NULL, NULL, NULL) == CF_OK);
        cf_frames_clip(f, te, 0.05, 8, 0, 2, 0, NULL, NULL, want);
        same &= memcmp(want, cf_data(cf_batch_get(&b, "frames")), sizeof want) == 0;
    }
    CHECK(same);
    cf_batch_free(&b);
    cf_dataset_free(ds);
    cf_frames_free(f);
    cf_spikes_free(s);
}

#ifdef CF_HAVE_HDF5

/* ---- files ---- */

static void test_round_trip(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.n_neurons = 12, c.n_hubs = 1, c.hub_targets = 4, c.seconds = 30, c.seed = 9, c.trial_s = 6, c.movie_h = 5, c.movie_w = 7;
    cf_spikes *s = NULL;
    double w[144];
    CHECK(cf_simulate_spikes(&c, &s, w) == CF_OK && s && s->frames);
    if (!s) return;
    const char *p = tmp_path("movie.nwb");
    CHECK(cf_spikes_write_nwb(s, p, w, 12, &c) == CF_OK);
    cf_spikes *r = cf_spikes_read_nwb(p);
    CHECK(r && !r->frames); /* the spike readers leave the movie alone */
    CHECK(r && cf_spikes_load_frames(r, p, NULL) == CF_OK);
    char why[256] = "";
    CHECK(r && cf_spikes_equal(s, r, why, sizeof why));
    if (why[0]) fprintf(stderr, "  %s\n", why);
    cf_frames *f = cf_frames_read(p, "movie");
    CHECK(f && f->per_trial && f->n == 120 && f->h == 5 && f->w == 7 && strcmp(f->name, "movie") == 0);
    cf_frames_free(f);
    /* the receptive fields are in /simulation */
    hid_t file = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(file, "simulation/receptive_fields", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[3] = {0};
    CHECK(d >= 0 && H5Sget_simple_extent_ndims(sp) == 3 && H5Sget_simple_extent_dims(sp, dims, NULL) == 3);
    CHECK(dims[0] == 12 && dims[1] == 5 && dims[2] == 7);
    H5Sclose(sp), H5Dclose(d), H5Fclose(file);
    /* onsets off a grid travel as timestamps */
    double on[3] = {0.5, 0.6, 2.0};
    float px[3 * 35];
    for (int i = 0; i < 105; i++) px[i] = (float)i / 7;
    f = cf_frames_make("irregular", 3, 5, 7, px, on, 0, 10, false);
    CHECK(f && cf_spikes_set_frames(s, f) == CF_OK);
    cf_frames_free(f);
    CHECK(cf_spikes_write_nwb(s, p, NULL, 0, NULL) == CF_OK);
    cf_spikes_free(r);
    r = cf_spikes_read_nwb(p);
    CHECK(r && cf_spikes_load_frames(r, p, NULL) == CF_OK && r->frames && r->frames->t[2] == 2.0);
    CHECK(r && r->frames && fabs(r->frames->rate - 2.0 / 1.5) < 1e-12); /* (n - 1) / span */
    cf_spikes_free(r);
    /* a per-trial movie on a recording without trials is refused */
    CHECK(cf_spikes_set_trials(s, 0, NULL, NULL) == CF_OK);
    f = cf_frames_make("movie", 3, 5, 7, px, NULL, 0, 20, true);
    CHECK(cf_spikes_set_frames(s, f) == CF_OK);
    cf_frames_free(f);
    CHECK(cf_spikes_write_nwb(s, p, NULL, 0, NULL) == CF_OK);
    r = cf_spikes_read_nwb(p);
    CHECK(r && cf_spikes_load_frames(r, p, NULL) != CF_OK);
    CHECK_ERROR_HAS("no trials");
    cf_spikes_free(r);
    cf_spikes_free(s);
}

/* Writing foreign files by hand. */
static hid_t mkgroup(hid_t loc, const char *path)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(loc, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

static void put(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *buf)
{
    hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(d), H5Sclose(sp);
}

static void put_attr(hid_t obj, const char *name, double v)
{
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a), H5Sclose(sp);
}

static void put_attr_str(hid_t obj, const char *name, const char *v)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(v));
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, v);
    H5Aclose(a), H5Sclose(sp), H5Tclose(type);
}

typedef struct {
    int rank;          /* 3, 4 (or anything else to test the error) */
    hsize_t dims[4];
    const double *data;
    const double *timestamps;
    hsize_t n_ts;
    double rate;       /* with starting_time (a dataset) when > -1e9 and no timestamps */
    bool no_timing, group_attrs;
    const char *name;
    const char *reference;
} series_spec;

static void make_series(const char *path, const series_spec *sp)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    char gp[256];
    snprintf(gp, sizeof gp, "stimulus/presentation/%s", sp->name ? sp->name : "movie");
    hid_t g = mkgroup(f, gp);
    if (sp->data) put(g, "data", H5T_NATIVE_DOUBLE, sp->rank, sp->dims, sp->data);
    if (sp->timestamps) {
        put(g, "timestamps", H5T_NATIVE_DOUBLE, 1, &sp->n_ts, sp->timestamps);
    } else if (!sp->no_timing && sp->group_attrs) {
        put_attr(g, "starting_time", 1.0);
        put_attr(g, "rate", sp->rate);
    } else if (!sp->no_timing) {
        double t0 = 0.5;
        put(g, "starting_time", H5T_NATIVE_DOUBLE, 0, NULL, &t0);
        hid_t d = H5Dopen2(g, "starting_time", H5P_DEFAULT);
        put_attr(d, "rate", sp->rate);
        H5Dclose(d);
    }
    if (sp->reference) put_attr_str(g, "time_reference", sp->reference);
    H5Gclose(g);
    H5Fclose(f);
}

static void expect_error(const char *file, const char *name, const char *frag1, const char *frag2)
{
    CHECK(cf_frames_read(file, name) == NULL);
    CHECK_ERROR_HAS(file);
    if (frag1) CHECK_ERROR_HAS(frag1);
    if (frag2) CHECK_ERROR_HAS(frag2);
}

static void test_foreign_and_bad(void)
{
    double px[3 * 4 * 2];
    for (int i = 0; i < 24; i++) px[i] = i * 0.5;
    const char *p = tmp_path("series.nwb");
    /* [n, 1, h, w] with starting_time + rate, and a conversion attribute */
    series_spec base = {.rank = 4, .dims = {3, 1, 4, 2}, .data = px, .rate = 30};
    make_series(p, &base);
    hid_t file = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(file, "stimulus/presentation/movie/data", H5P_DEFAULT);
    put_attr(d, "conversion", 2.0);
    H5Dclose(d), H5Fclose(file);
    cf_frames *f = cf_frames_read(p, NULL);
    CHECK(f && f->n == 3 && f->h == 4 && f->w == 2 && f->rate == 30 && !f->per_trial);
    CHECK(f && f->t[0] == 0.5 && fabs(f->t[2] - (0.5 + 2.0 / 30)) < 1e-15 && f->data[5] == 5.0f);
    cf_frames_free(f);
    /* [n, h, w] with timestamps and group attributes; time_reference */
    double ts[3] = {0, 0.1, 0.3};
    series_spec sp = base;
    sp.rank = 3, sp.dims[0] = 3, sp.dims[1] = 4, sp.dims[2] = 2, sp.timestamps = ts, sp.n_ts = 3, sp.reference = "trial_start";
    make_series(p, &sp);
    f = cf_frames_read(p, "movie");
    CHECK(f && f->per_trial && f->t[2] == 0.3 && fabs(f->rate - 2 / 0.3) < 1e-12);
    cf_frames_free(f);
    sp = base;
    sp.group_attrs = true, sp.rate = 10, sp.name = "grating";
    make_series(p, &sp);
    f = cf_frames_read(p, NULL);
    CHECK(f && f->t[1] == 1.1 && strcmp(f->name, "grating") == 0);
    cf_frames_free(f);

    /* bad inputs: each names the file, the dataset and the fault */
    sp = base;
    sp.rank = 2, sp.dims[0] = 3, sp.dims[1] = 8;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie/data", "rank 2");
    sp = base;
    sp.dims[1] = 3, sp.dims[2] = 2, sp.dims[3] = 1;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie/data", "3 channels");
    double nan_px[24];
    memcpy(nan_px, px, sizeof px);
    nan_px[9] = NAN; /* frame 1, pixel (0, 1) */
    sp = base;
    sp.data = nan_px;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie/data: frame 1, pixel (0, 1)", "not finite");
    double back[3] = {0, 0.2, 0.1};
    sp = base;
    sp.timestamps = back, sp.n_ts = 3;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie/timestamps: row 2", "increasing");
    sp.n_ts = 2;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie/timestamps", "one per frame");
    sp = base;
    sp.rate = 0;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie", "rate 0");
    sp.rate = -20, sp.group_attrs = true;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie", "rate -20");
    sp = base;
    sp.no_timing = true;
    make_series(p, &sp);
    expect_error(p, NULL, "/stimulus/presentation/movie", "no timestamps");
    sp = base;
    sp.reference = "wallclock";
    make_series(p, &sp);
    expect_error(p, NULL, "time_reference 'wallclock'", NULL);
    /* the series the recipe named is missing; a series without data; no frames at all; two series */
    make_series(p, &base);
    expect_error(p, "natural", "missing dataset /stimulus/presentation/natural/data", NULL);
    sp = base;
    sp.data = NULL;
    make_series(p, &sp);
    expect_error(p, "movie", "missing dataset /stimulus/presentation/movie/data", NULL);
    expect_error(p, NULL, "holds no ImageSeries", NULL);
    file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
    expect_error(p, NULL, "no stimulus frames", NULL);
    make_series(p, &base);
    file = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = mkgroup(file, "stimulus/presentation/other");
    put(g, "data", H5T_NATIVE_DOUBLE, 3, (hsize_t[]){3, 4, 2}, px);
    H5Gclose(g), H5Fclose(file);
    expect_error(p, NULL, "2 ImageSeries (movie, other)", NULL);
    f = cf_frames_read(p, "movie");
    CHECK(f != NULL);
    cf_frames_free(f);
    expect_error(tmp_path("nope.nwb"), NULL, "cannot open", NULL);

    /* the counts format: /frames with frame_rate (dataset or root attribute), onsets from t_start */
    p = tmp_path("counts.h5");
    file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    double counts[4] = {0, 1, 2, 0};
    put(file, "counts", H5T_NATIVE_DOUBLE, 2, (hsize_t[]){2, 2}, counts);
    put(file, "frames", H5T_NATIVE_DOUBLE, 3, (hsize_t[]){3, 4, 2}, px);
    put_attr(file, "bin_width", 0.01);
    put_attr(file, "t_start", 2.0);
    H5Fclose(file);
    expect_error(p, NULL, "/frames", "frame_rate");
    file = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    put_attr(file, "frame_rate", 20.0);
    H5Fclose(file);
    f = cf_frames_read(p, NULL);
    CHECK(f && f->n == 3 && f->t[0] == 2.0 && f->t[1] == 2.05 && strcmp(f->name, "frames") == 0);
    cf_frames_free(f);
    file = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    d = H5Dopen2(file, "frames", H5P_DEFAULT);
    put_attr(d, "frame_rate", -1.0);
    H5Dclose(d), H5Fclose(file);
    expect_error(p, NULL, "/frames", "rate -1");
    file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put(file, "frames", H5T_NATIVE_DOUBLE, 1, (hsize_t[]){24}, px);
    put_attr(file, "frame_rate", 20.0);
    H5Fclose(file);
    expect_error(p, NULL, "/frames", "rank 1");
}

#endif

int main(void)
{
    if (!test_dir_make("test_frames")) return 2;
    RUN(test_sim_unchanged_without_movie);
    RUN(test_sim_movie);
    RUN(test_clip_timing);
    RUN(test_dataset_frames);
#ifdef CF_HAVE_HDF5
    RUN(test_round_trip);
    RUN(test_foreign_and_bad);
#endif
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
