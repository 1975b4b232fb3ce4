/* Spike data: the representation, binning, splits, the CSV / NWB / counts readers (good files and every
 * kind of bad input, which must fail with a message naming file, dataset or line, and row), the NWB round
 * trip of a simulation, and the Neuroformer tokenization on hand-made windows. */
#include "autograd/clock.h"
#include "data/loader.h"
#include "data/spikes/simulate_spikes.h"
#include "data/spikes/spikes.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef CF_HAVE_HDF5
#include <hdf5.h>
#endif


static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* A small cf_spikes from (time, unit) pairs. */
static cf_spikes *hand_spikes(int n_units, const double *t, const int64_t *u, int64_t n, double t_end)
{
    cf_spikes *s = cf_spikes_from_events(t, u, n, n_units, 0.0, t_end, "hand");
    if (!s) fprintf(stderr, "hand_spikes: %s\n", cf_last_error());
    return s;
}

/* ---- representation ---- */

static void test_from_events(void)
{
    double t[] = {0.5, 0.1, 0.3, 0.2, 0.05};
    int64_t u[] = {1, 1, 0, 1, 2};
    cf_spikes *s = hand_spikes(3, t, u, 5, 1.0);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(s->n_units == 3 && s->n_spikes == 5);
    CHECK(s->offsets[0] == 0 && s->offsets[1] == 1 && s->offsets[2] == 4 && s->offsets[3] == 5);
    CHECK(s->times[0] == 0.3);
    CHECK(s->times[1] == 0.1 && s->times[2] == 0.2 && s->times[3] == 0.5); /* sorted within unit 1 */
    CHECK(cf_spikes_validate(s, "x") == CF_OK);
    cf_spikes *c = cf_spikes_copy(s);
    CHECK(c && cf_spikes_equal(s, c, NULL, 0));
    c->times[2] = 0.25;
    char why[256];
    CHECK(!cf_spikes_equal(s, c, why, sizeof why));
    CHECK(strstr(why, "times[2]") != NULL);
    cf_spikes_free(c);
    /* errors name the event */
    int64_t bad_u[] = {1, 1, 0, 7, 2};
    CHECK(cf_spikes_from_events(t, bad_u, 5, 3, 0.0, 1.0, "ev.bin") == NULL);
    CHECK_ERROR_HAS("ev.bin");
    CHECK_ERROR_HAS("spike 3");
    CHECK_ERROR_HAS("unit 7");
    double bad_t[] = {0.5, 0.1, -0.3, 0.2, 0.05};
    CHECK(cf_spikes_from_events(bad_t, u, 5, 3, 0.0, 1.0, "ev.bin") == NULL);
    CHECK_ERROR_HAS("spike 2");
    /* trials and behaviour validation */
    double ts[] = {0.0, 0.5}, te[] = {0.5, 0.4};
    CHECK(cf_spikes_set_trials(s, 2, ts, te) != CF_OK);
    CHECK_ERROR_HAS("trial 1");
    double bt[] = {0.0, 0.1, 0.1}, bv[] = {1, 2, 3};
    const char *names[] = {"speed"};
    CHECK(cf_spikes_set_behavior(s, 3, 1, bt, bv, names) != CF_OK);
    CHECK_ERROR_HAS("row 2");
    cf_spikes_free(s);
}

static void test_binning(void)
{
    /* times written at bin edges k * 0.01 must land in bin k despite rounding */
    double t[] = {0.03, 0.03, 0.07, 0.0999, 0.1, 0.29};
    int64_t u[] = {0, 0, 1, 1, 0, 1};
    cf_spikes *s = hand_spikes(2, t, u, 6, 0.3);
    if (!s) return;
    int64_t nb = cf_spikes_n_bins(s, 0.01);
    CHECK(nb == 30);
    int32_t counts[60];
    CHECK(cf_spikes_bin(s, 0.01, nb, counts) == CF_OK);
    CHECK(counts[3] == 2 && counts[10] == 1);
    CHECK(counts[30 + 7] == 1 && counts[30 + 9] == 1 && counts[30 + 29] == 1);
    int32_t sum = 0;
    for (int i = 0; i < 60; i++) sum += counts[i];
    CHECK(sum == 6);
    CHECK(cf_spikes_bin_of(s, 0.03, 0.01) == 3);
    /* coarser bins */
    CHECK(cf_spikes_n_bins(s, 0.05) == 6);
    int32_t c5[12];
    CHECK(cf_spikes_bin(s, 0.05, 6, c5) == CF_OK);
    CHECK(c5[0] == 2 && c5[2] == 1 && c5[6 + 1] == 2 && c5[6 + 5] == 1); /* 0.07 and 0.0999 share [0.05, 0.10) */
    double rates[2];
    CHECK(cf_spikes_rates(s, 0.0, 0.3, rates) == CF_OK);
    CHECK_NEAR(rates[0], 3 / 0.3, 1e-9);
    CHECK(cf_spikes_rates(s, 0.0, 0.1, rates) == CF_OK);
    CHECK_NEAR(rates[0], 2 / 0.1, 1e-9);
    CHECK_NEAR(rates[1], 2 / 0.1, 1e-9);
    /* from counts and back */
    int32_t m[] = {0, 2, 0, 1, 1, 0, 0, 3};
    cf_spikes *c = cf_spikes_from_counts(m, 2, 4, 0.01, 0.0);
    CHECK(c && c->n_spikes == 7 && c->t_end == 0.04);
    if (c) {
        int32_t back[8];
        CHECK(cf_spikes_bin(c, 0.01, 4, back) == CF_OK);
        CHECK(memcmp(back, m, sizeof m) == 0);
    }
    cf_spikes_free(c);
    m[5] = -1;
    CHECK(cf_spikes_from_counts(m, 2, 4, 0.01, 0.0) == NULL);
    CHECK_ERROR_HAS("row 1");
    CHECK_ERROR_HAS("column 1");
    cf_spikes_free(s);
}

static void test_splits(void)
{
    double t[] = {1.0};
    int64_t u[] = {0};
    cf_spikes *s = hand_spikes(1, t, u, 1, 100.0);
    if (!s) return;
    cf_time_ranges tr, va, te;
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 0, 0, &tr, &va, &te) == CF_OK);
    CHECK(tr.n == 1 && va.n == 1 && te.n == 1);
    CHECK_NEAR(tr.from[0], 0, 1e-12);
    CHECK_NEAR(tr.to[0], 80, 1e-9);
    CHECK_NEAR(va.to[0], 90, 1e-9);
    CHECK_NEAR(te.to[0], 100, 1e-12);
    cf_time_ranges_free(&tr), cf_time_ranges_free(&va), cf_time_ranges_free(&te);
    /* blocks: deterministic by seed, disjoint, covering the span */
    cf_time_ranges a[3], b[3], c[3];
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 5, 7, &a[0], &a[1], &a[2]) == CF_OK);
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 5, 7, &b[0], &b[1], &b[2]) == CF_OK);
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 5, 8, &c[0], &c[1], &c[2]) == CF_OK);
    CHECK_NEAR(cf_time_ranges_total(&a[0]), 80, 1e-9);
    CHECK_NEAR(cf_time_ranges_total(&a[1]), 10, 1e-9);
    CHECK_NEAR(cf_time_ranges_total(&a[2]), 10, 1e-9);
    bool same = true, differs = false;
    for (int k = 0; k < 3; k++) {
        same &= a[k].n == b[k].n;
        for (int i = 0; same && i < a[k].n; i++) same &= a[k].from[i] == b[k].from[i] && a[k].to[i] == b[k].to[i];
        differs |= a[k].n != c[k].n;
        for (int i = 0; !differs && i < a[k].n && i < c[k].n; i++) differs |= a[k].from[i] != c[k].from[i];
    }
    CHECK(same);
    CHECK(differs);
    /* every second of the span belongs to exactly one split; merged ranges never touch */
    for (double x = 0.5; x < 100; x += 1) {
        int hits = 0;
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < a[k].n; i++) hits += x >= a[k].from[i] && x < a[k].to[i];
        CHECK(hits == 1);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 1; i < a[k].n; i++) CHECK(a[k].from[i] > a[k].to[i - 1]);
    for (int k = 0; k < 3; k++) cf_time_ranges_free(&a[k]), cf_time_ranges_free(&b[k]), cf_time_ranges_free(&c[k]);
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.3, 5, 0, &a[0], &a[1], &a[2]) != CF_OK);
    cf_spikes_free(s);
}

/* ---- CSV ---- */

static void test_csv(void)
{
    const char *p = tmp_path("a.csv");
    write_text(p, "Time,ID,Trial,Interval\n"
                  "0.012, 3, 1, 0.05\n"
                  "0.004,0,1,0.05\n"
                  "# a comment\n"
                  "\n"
                  "0.031,3,2,0.05\n"
                  "0.20,1,2,0.25\n");
    cf_spikes *s = cf_spikes_read_csv(p, NULL);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->n_units == 4 && s->n_spikes == 4);
        CHECK(s->n_trials == 2);
        /* trial-relative: each trial lasts the smallest multiple of 0.01 holding 0.20 -> 0.21 */
        CHECK_NEAR(s->trial_start[1], 0.21, 1e-12);
        CHECK_NEAR(s->t_end, 0.42, 1e-12);
        CHECK_NEAR(s->times[s->offsets[3]], 0.012, 1e-12);
        CHECK_NEAR(s->times[s->offsets[3] + 1], 0.21 + 0.031, 1e-12);
        CHECK_NEAR(s->times[s->offsets[1]], 0.21 + 0.20, 1e-12);
    }
    cf_spikes_free(s);
    /* no header, absolute times, tab separated, unsorted */
    const char *q = tmp_path("b.csv");
    write_text(q, "0.5\t2\n0.1\t0\n0.3\t2\n");
    s = cf_spikes_read_csv(q, NULL);
    CHECK(s && s->n_units == 3 && s->n_spikes == 3 && s->n_trials == 0);
    if (s) {
        CHECK(s->times[s->offsets[2]] == 0.3 && s->times[s->offsets[2] + 1] == 0.5);
        CHECK_NEAR(s->t_end, 0.51, 1e-12);
    }
    cf_spikes_free(s);
    /* remapped ids */
    cf_spikes_csv_options o = cf_spikes_csv_defaults();
    o.remap_ids = true;
    write_text(q, "time,unit\n0.1,17\n0.2,5\n0.3,17\n");
    s = cf_spikes_read_csv(q, &o);
    CHECK(s && s->n_units == 2 && s->unit_ids && s->unit_ids[0] == 5 && s->unit_ids[1] == 17);
    if (s) CHECK(s->offsets[2] - s->offsets[1] == 2);
    cf_spikes_free(s);
    /* a corrupt line names path:line and the column */
    write_text(q, "time,unit\n0.1,1\n0.2,2\n0.x3,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(q);
    CHECK_ERROR_HAS(":4:");
    CHECK_ERROR_HAS("time");
    CHECK_ERROR_HAS("0.x3");
    write_text(q, "0.1,1\n0.2,two\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(":2:");
    CHECK_ERROR_HAS("unit");
    write_text(q, "0.1,1\n-0.2,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(":2:");
    CHECK_ERROR_HAS("negative");
    write_text(q, "0.1,1\nnan,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS("not finite");
    o = cf_spikes_csv_defaults();
    o.n_units = 4;
    write_text(q, "0.1,1\n0.2,3\n0.3,4\n");
    CHECK(cf_spikes_read_csv(q, &o) == NULL);
    CHECK_ERROR_HAS(":3:");
    CHECK_ERROR_HAS("out of range");
    write_text(q, "0.1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(":1:");
    write_text(q, "when,who\n0.1,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS("header");
    write_text(q, "# nothing\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS("no spike");
    CHECK(cf_spikes_read_csv(tmp_path("missing.csv"), NULL) == NULL);
    CHECK_ERROR_HAS("missing.csv");
    CHECK(cf_last_status() == CF_ERR_IO);
}

/* ---- bounds: one outlier row is refused at once, naming the file, the row and the bound ---- */

/* cf_spikes_load(path, o) fails in well under a second with an error naming path and each fragment. */
static void expect_refused(const char *path, const cf_spikes_csv_options *o, const char *f1, const char *f2,
                           const char *f3, int line)
{
    double t0 = cf_now();
    cf_spikes *s = cf_spikes_load(path, o);
    double took = cf_now() - t0;
    CHECK(s == NULL, "line %d: %s was read", line, path);
    cf_spikes_free(s);
    CHECK(took < 0.5, "line %d: refused after %.2f s", line, took);
    const char *frags[] = {path, f1, f2, f3};
    for (int i = 0; i < 4; i++)
        CHECK(!frags[i] || strstr(cf_last_error(), frags[i]), "line %d: the error lacks '%s': %s", line, frags[i],
              cf_last_error());
}
#define REFUSED(path, o, f1, f2, f3) expect_refused(path, o, f1, f2, f3, __LINE__)

/* `n` ordinary spike lines (time, unit < 10, times < 100 s) with `row` in place of line `at` (1-based). */
static void write_csv_with(const char *path, int n, int at, const char *row)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    for (int i = 1; i <= n; i++) {
        if (i == at) fprintf(f, "%s\n", row);
        else fprintf(f, "%.3f,%d\n", (double)(i % 9973) * 0.01, i % 10);
    }
    fclose(f);
}

/* text is refused under o (the error holding frag) and read once the bound is raised. */
static cf_spikes *refused_until_raised(const char *path, const char *text, const cf_spikes_csv_options *o,
                                       const cf_spikes_csv_options *raised, const char *frag, int line)
{
    write_text(path, text);
    expect_refused(path, o, frag, NULL, NULL, line);
    cf_spikes *s = cf_spikes_load(path, raised);
    CHECK(s != NULL, "line %d: not read with the bound raised: %s", line, cf_last_error());
    return s;
}

static void test_csv_limits(void)
{
    const char *p = tmp_path("outlier.csv");
    cf_spikes_csv_options o = cf_spikes_csv_defaults();
    /* a spike at 1e7 s would lay a billion 10 ms bins: refused at its line, by default (1e6 s) */
    write_csv_with(p, 100000, 7, "1e7,3");
    REFUSED(p, NULL, ":7: column 1 (time): time 1e7 s", "max_seconds (1e+06 s)", "raise max_seconds");
    /* unit id 16000000 would make 16 million units (the largest id + 1) */
    write_csv_with(p, 100000, 7, "1.5,16000000");
    REFUSED(p, NULL, ":7: column 2 (unit): unit id 16000000 exceeds max_units (100000)", "raise max_units",
            "or set remap_ids: true");
    /* the bounds are named as the caller calls them (the recipe keys) */
    o.limits.key_prefix = "data.";
    REFUSED(p, &o, "exceeds data.max_units (100000); raise data.max_units", "data.remap_ids", NULL);
    write_csv_with(p, 10, 3, "2e6,1");
    REFUSED(p, &o, ":3:", "data.max_seconds (1e+06 s)", NULL);
    /* nine bytes naming unit 9999994 (formerly 10 million units built in seconds) */
    write_text(p, "0,9999994");
    REFUSED(p, NULL, ":1: column 2 (unit): unit id 9999994", "max_units (100000)", NULL);
    double t0 = cf_now();
    CHECK(cf_spikes_read_csv_mem("0,9999994", 9, "nine.csv", NULL) == NULL && cf_now() - t0 < 0.5);
    CHECK_ERROR_HAS("nine.csv:1:");
    /* with remap_ids the ids are labels: only their number is bounded */
    o = cf_spikes_csv_defaults();
    o.remap_ids = true;
    write_text(p, "0.1,16000000\n0.2,5\n");
    cf_spikes *s = cf_spikes_load(p, &o);
    CHECK(s && s->n_units == 2 && s->unit_ids && s->unit_ids[1] == 16000000);
    cf_spikes_free(s);
    o.limits.max_units = 1;
    REFUSED(p, &o, "the number of distinct unit ids (2) exceeds max_units (1)", NULL, NULL);
    /* raising a bound admits the data */
    cf_spikes_csv_options lo = cf_spikes_csv_defaults(), hi = lo;
    lo.limits.max_units = 7, hi.limits.max_units = 8;
    s = refused_until_raised(p, "0.1,6\n0.2,7\n", &lo, &hi, ":2: column 2 (unit): unit id 7 exceeds max_units (7)", __LINE__);
    CHECK(s && s->n_units == 8);
    cf_spikes_free(s);
    hi.n_units = 9;
    REFUSED(p, &hi, "the CSV option n_units 9 exceeds max_units (8)", NULL, NULL);
    lo = hi = cf_spikes_csv_defaults();
    lo.limits.max_seconds = 10, hi.limits.max_seconds = 20;
    s = refused_until_raised(p, "0.5,1\n12,0\n", &lo, &hi, ":2: column 1 (time): time 12 s exceeds max_seconds (10 s)",
                             __LINE__);
    CHECK(s && s->n_units == 2 && fabs(s->t_end - 12.01) < 1e-9);
    cf_spikes_free(s);
    /* the span is the latest spike plus its bin: 9.995 + 0.01 passes 10 */
    o = lo;
    write_text(p, "0.5,1\n9.995,0\n");
    REFUSED(p, &o, ":2: the recording up to the latest spike (9.995 s) plus its bin (0.01 s)", "max_seconds (10 s)", NULL);
    /* trial-relative times: the trials laid end to end make the span */
    write_text(p, "time,unit,trial\n0.5,1,1\n4,0,2\n0.2,0,3\n");
    REFUSED(p, &o, "3 trials of 4.01 s (as long as the latest time in a trial, line 3) laid end to end make a 12.03 s "
            "recording, which exceeds max_seconds (10 s)", NULL, NULL);
    o.trial_duration = 5;
    REFUSED(p, &o, "3 trials of trial_duration 5 s laid end to end make a 15 s recording", NULL, NULL);
    o.trial_duration = 3;
    REFUSED(p, &o, ":3: column 1 (time): 4 is not inside the trial duration 3 s", NULL, NULL);
    /* bounds that make no sense are argument errors */
    o = cf_spikes_csv_defaults();
    o.limits.max_units = -1;
    CHECK(cf_spikes_load(p, &o) == NULL && cf_last_status() == CF_ERR_ARG);
    CHECK_ERROR_HAS("max_units -1 outside 1..16777216");
    o.limits.max_units = CF_SPIKES_UNITS_CEILING + 1;
    CHECK(cf_spikes_read_csv(p, &o) == NULL && cf_last_status() == CF_ERR_ARG);
    o.limits.max_units = 0;
    o.limits.max_seconds = NAN;
    CHECK(cf_spikes_read_csv(p, &o) == NULL && cf_last_status() == CF_ERR_ARG);
    CHECK_ERROR_HAS("max_seconds nan");
}

/* ---- HDF5 ---- */

#ifdef CF_HAVE_HDF5

static void ds_f64(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *v)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
}

static void ds_i64(hid_t loc, const char *name, hsize_t n, const int64_t *v)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(loc, name, H5T_STD_U32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* NWB: unsigned index */
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
}

static void attr_f64(hid_t obj, const char *name, double v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Sclose(sp);
}

static hid_t group(hid_t loc, const char *name)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(loc, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

/* What a units table holds; each test breaks one thing. */
typedef struct {
    const double *times;
    hsize_t n_times;
    const int64_t *index;
    hsize_t n_units;
    bool no_times, no_index;
    const double *trial_a, *trial_b;
    hsize_t n_trials;
    bool behavior; /* a 2-column series with starting_time + rate, and a 1-column one with timestamps */
    const double *beh_ts;
    hsize_t n_beh;
} nwb_spec;

static void make_nwb(const char *path, const nwb_spec *sp)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t u = group(f, "units");
    if (!sp->no_times) ds_f64(u, "spike_times", 1, &sp->n_times, sp->times);
    if (!sp->no_index) ds_i64(u, "spike_times_index", sp->n_units, sp->index);
    hsize_t n_obs[2] = {1, 2};
    double obs[2] = {0, 12.5};
    ds_f64(u, "obs_intervals", 2, n_obs, obs);
    int64_t obs_idx[8] = {0};
    for (hsize_t i = 0; i < sp->n_units && i < 8; i++) obs_idx[i] = 1;
    ds_i64(u, "obs_intervals_index", sp->n_units, obs_idx);
    ds_i64(u, "electrodes", sp->n_units, obs_idx); /* ignored */
    H5Gclose(u);
    if (sp->n_trials) {
        hid_t t = group(f, "intervals/trials");
        ds_f64(t, "start_time", 1, &sp->n_trials, sp->trial_a);
        ds_f64(t, "stop_time", 1, &sp->n_trials, sp->trial_b);
        H5Gclose(t);
    }
    if (sp->behavior) {
        hid_t g = group(f, "processing/behavior/Position/pos");
        hsize_t dims[2] = {sp->n_beh, 2};
        double v[64];
        for (hsize_t i = 0; i < 2 * sp->n_beh && i < 64; i++) v[i] = (double)i;
        ds_f64(g, "data", 2, dims, v);
        hsize_t one = 1;
        double t0 = 0.0;
        ds_f64(g, "starting_time", 1, &one, &t0);
        hid_t st = H5Dopen2(g, "starting_time", H5P_DEFAULT);
        attr_f64(st, "rate", 10.0);
        H5Dclose(st);
        H5Gclose(g);
        g = group(f, "processing/behavior/speed");
        ds_f64(g, "data", 1, &sp->n_beh, v);
        ds_f64(g, "timestamps", 1, &sp->n_beh, sp->beh_ts);
        H5Gclose(g);
    }
    H5Fclose(f);
}

static void test_nwb_foreign(void)
{
    const char *p = tmp_path("foreign.nwb");
    double times[] = {0.1, 0.5, 0.2, 0.3, 0.9, 3.0};
    int64_t index[] = {2, 2, 6}; /* unit 1 has no spikes */
    double ta[] = {0.0, 5.0}, tb[] = {5.0, 10.0};
    double bts[] = {0.0, 0.1, 0.2, 0.3};
    nwb_spec sp = {times, 6, index, 3, false, false, ta, tb, 2, true, bts, 4};
    make_nwb(p, &sp);
    cf_spikes *s = cf_spikes_read_nwb(p);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "  %s\n", cf_last_error());
        return;
    }
    CHECK(s->n_units == 3 && s->n_spikes == 6);
    CHECK(s->offsets[1] == 2 && s->offsets[2] == 2 && s->offsets[3] == 6);
    CHECK(s->times[5] == 3.0);
    CHECK(s->n_trials == 2 && s->trial_stop[1] == 10.0);
    CHECK_NEAR(s->t_end, 12.5, 1e-12); /* obs_intervals reach furthest */
    CHECK(s->beh_dim == 3 && s->beh_len == 4);
    if (s->beh_dim == 3) {
        CHECK(strcmp(s->beh_names[0], "Position/pos[0]") == 0);
        CHECK(strcmp(s->beh_names[1], "Position/pos[1]") == 0);
        CHECK(strcmp(s->beh_names[2], "speed") == 0);
        CHECK_NEAR(s->beh_t[3], 0.3, 1e-12);
        CHECK_NEAR(s->beh[3 * 3 + 1], 7, 1e-12); /* row 3, column 1 of pos */
        CHECK_NEAR(s->beh[2 * 3 + 2], 2, 1e-12);
    }
    /* by content */
    cf_spikes *l = cf_spikes_load(p, NULL);
    CHECK(l && cf_spikes_equal(s, l, NULL, 0));
    cf_spikes_free(l);
    cf_spikes_free(s);
}

static void expect_nwb_error(const nwb_spec *sp, const char *name, const char *frag1, const char *frag2)
{
    const char *p = tmp_path(name);
    make_nwb(p, sp);
    cf_spikes *s = cf_spikes_read_nwb(p);
    CHECK(s == NULL);
    cf_spikes_free(s);
    CHECK_ERROR_HAS(p);
    if (frag1) CHECK_ERROR_HAS(frag1);
    if (frag2) CHECK_ERROR_HAS(frag2);
}

static void test_nwb_bad(void)
{
    double times[] = {0.1, 0.5, 0.2, 0.3, 0.9, 3.0};
    int64_t index[] = {2, 2, 6};
    nwb_spec base = {times, 6, index, 3, false, false, NULL, NULL, 0, false, NULL, 0};
    nwb_spec sp = base;
    sp.no_times = true;
    expect_nwb_error(&sp, "b1.nwb", "/units/spike_times", "missing");
    sp = base;
    sp.no_index = true;
    expect_nwb_error(&sp, "b2.nwb", "/units/spike_times_index", "missing");
    int64_t past[] = {2, 2, 9};
    sp = base;
    sp.index = past;
    expect_nwb_error(&sp, "b3.nwb", "/units/spike_times_index: row 2", "past the 6");
    int64_t down[] = {3, 2, 6};
    sp = base;
    sp.index = down;
    expect_nwb_error(&sp, "b4.nwb", "/units/spike_times_index: row 1", NULL);
    double unsorted[] = {0.1, 0.5, 0.2, 0.9, 0.3, 3.0};
    sp = base;
    sp.times = unsorted;
    expect_nwb_error(&sp, "b5.nwb", "/units/spike_times: row 4", "unsorted");
    double neg[] = {0.1, 0.5, -0.2, 0.3, 0.9, 3.0};
    sp = base;
    sp.times = neg;
    expect_nwb_error(&sp, "b6.nwb", "/units/spike_times: row 2", "negative");
    double nan_t[] = {0.1, 0.5, 0.2, 0.3, NAN, 3.0};
    sp = base;
    sp.times = nan_t;
    expect_nwb_error(&sp, "b7.nwb", "row 4", "not finite");
    double ta[] = {0.0, 5.0}, tb[] = {5.0, 4.0};
    sp = base;
    sp.trial_a = ta, sp.trial_b = tb, sp.n_trials = 2;
    expect_nwb_error(&sp, "b8.nwb", "intervals/trials: row 1", NULL);
    double bts[] = {0.0, 0.1, 0.1, 0.3};
    sp = base;
    sp.behavior = true, sp.beh_ts = bts, sp.n_beh = 4;
    expect_nwb_error(&sp, "b9.nwb", "/processing/behavior/speed/timestamps: row 2", NULL);
    int64_t short_idx[] = {2, 2, 5};
    sp = base;
    sp.index = short_idx;
    expect_nwb_error(&sp, "b10.nwb", "spike_times_index", "does not cover");
    /* a string where numbers belong */
    const char *p = tmp_path("b11.nwb");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t u = group(f, "units");
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 4);
    hsize_t one = 1;
    hid_t space = H5Screate_simple(1, &one, NULL);
    hid_t d = H5Dcreate2(u, "spike_times", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abc");
    H5Dclose(d), H5Sclose(space), H5Tclose(type), H5Gclose(u), H5Fclose(f);
    CHECK(cf_spikes_read_nwb(p) == NULL);
    CHECK_ERROR_HAS("/units/spike_times");
    CHECK_ERROR_HAS("not a numeric");
    /* not HDF5 at all, missing file, no units group */
    p = tmp_path("b12.nwb");
    write_text(p, "hello\n");
    CHECK(cf_spikes_read_nwb(p) == NULL);
    CHECK_ERROR_HAS("not an HDF5 file");
    CHECK(cf_spikes_read_nwb(tmp_path("nope.nwb")) == NULL);
    CHECK_ERROR_HAS("nope.nwb");
    p = tmp_path("b13.nwb");
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    CHECK(cf_spikes_read_nwb(p) == NULL);
    CHECK_ERROR_HAS("/units");
    /* a truncated file */
    p = tmp_path("b14.nwb");
    make_nwb(p, &base);
    CHECK(truncate(p, 300) == 0);
    CHECK(cf_spikes_read_nwb(p) == NULL);
    CHECK_ERROR_HAS(p);
}

static void make_counts(const char *path, const double *v, hsize_t n, hsize_t t, double bw, int where)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {n, t};
    if (v) ds_f64(f, "counts", 2, dims, v);
    if (where == 1) { /* attribute on the dataset */
        hid_t d = H5Dopen2(f, "counts", H5P_DEFAULT);
        attr_f64(d, "bin_width", bw);
        H5Dclose(d);
    } else if (where == 2) { /* dataset */
        hsize_t one = 1;
        ds_f64(f, "bin_width", 1, &one, &bw);
    }
    H5Fclose(f);
}

static void test_counts_h5(void)
{
    const char *p = tmp_path("counts.h5");
    double v[] = {0, 2, 0, 1.4, 1, 0, 0.6, 3}; /* 1.4 -> 1, 0.6 -> 1 */
    make_counts(p, v, 2, 4, 0.02, 1);
    cf_spikes *s = cf_spikes_read_counts_h5(p, NULL);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->n_units == 2 && s->n_spikes == 8);
        CHECK_NEAR(s->t_end, 0.08, 1e-12);
        CHECK_NEAR(s->times[0], 0.02, 1e-12);
        CHECK_NEAR(s->times[2], 0.06, 1e-12);
        int32_t c[8];
        CHECK(cf_spikes_bin(s, 0.02, 4, c) == CF_OK);
        CHECK(c[1] == 2 && c[3] == 1 && c[4] == 1 && c[6] == 1 && c[7] == 3);
    }
    cf_spikes *l = cf_spikes_load(p, NULL);
    CHECK(l && s && cf_spikes_equal(s, l, NULL, 0));
    cf_spikes_free(l);
    cf_spikes_free(s);
    make_counts(p, v, 2, 4, 0.02, 2);
    s = cf_spikes_read_counts_h5(p, NULL);
    CHECK(s && s->n_spikes == 8);
    cf_spikes_free(s);
    make_counts(p, v, 2, 4, 0.02, 0);
    CHECK(cf_spikes_read_counts_h5(p, NULL) == NULL);
    CHECK_ERROR_HAS("bin_width");
    make_counts(p, NULL, 2, 4, 0.02, 0);
    CHECK(cf_spikes_read_counts_h5(p, NULL) == NULL);
    CHECK_ERROR_HAS("/counts");
    double bad[] = {0, 2, 0, 1, 1, -3, 0, 3};
    make_counts(p, bad, 2, 4, 0.02, 1);
    CHECK(cf_spikes_read_counts_h5(p, NULL) == NULL);
    CHECK_ERROR_HAS("/counts: row 1 (unit), column 1 (bin)");
    CHECK_ERROR_HAS("negative");
    make_counts(p, v, 2, 4, -1, 1);
    CHECK(cf_spikes_read_counts_h5(p, NULL) == NULL);
    CHECK_ERROR_HAS("bin_width");
}

/* The bounds in HDF5 files: the row (or the attributes, or the shape) at fault is named. */
static void test_h5_limits(void)
{
    const char *p = tmp_path("outlier.nwb");
    double times[] = {0.1, 0.5, 0.2, 0.3, 0.9, 1e7}; /* unit 2's last spike (row 5) at 1e7 s */
    int64_t index[] = {2, 2, 6};
    nwb_spec sp = {times, 6, index, 3, false, false, NULL, NULL, 0, false, NULL, 0};
    make_nwb(p, &sp);
    REFUSED(p, NULL, "/units/spike_times: row 5: time 1e+07 s", "exceeds max_seconds (1e+06 s)", NULL);
    cf_spikes_csv_options o = cf_spikes_csv_defaults();
    o.limits.max_seconds = 2e7;
    cf_spikes *s = cf_spikes_load(p, &o);
    CHECK(s && s->n_units == 3 && s->t_end > 1e7);
    cf_spikes_free(s);
    CHECK(cf_spikes_read_nwb(p) == NULL); /* the direct readers keep the defaults */
    CHECK_ERROR_HAS("max_seconds (1e+06 s)");
    /* a trial ending at 2e6 s */
    times[5] = 3.0;
    double ta[] = {0.0, 5.0}, tb[] = {5.0, 2e6};
    sp.trial_a = ta, sp.trial_b = tb, sp.n_trials = 2;
    make_nwb(p, &sp);
    REFUSED(p, NULL, "/intervals/trials/stop_time: row 1: time 2e+06 s", "max_seconds", NULL);
    /* the span the /units attributes declare */
    sp.n_trials = 0;
    make_nwb(p, &sp);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT), u = H5Oopen(f, "units", H5P_DEFAULT);
    attr_f64(u, "t_start", 0.0);
    attr_f64(u, "t_end", 5e6);
    H5Oclose(u);
    H5Fclose(f);
    REFUSED(p, NULL, "the /units attributes t_start 0, t_end 5e+06: a span of 5e+06 s", "max_seconds", NULL);
    /* more units than the bound: refused from the index's shape, before anything is read */
    make_nwb(p, &(nwb_spec){times, 6, index, 3, false, false, NULL, NULL, 0, false, NULL, 0});
    o = cf_spikes_csv_defaults();
    o.limits.max_units = 2;
    o.limits.key_prefix = "data.";
    REFUSED(p, &o, "/units/spike_times_index: the unit count (3 rows) exceeds data.max_units (2)", NULL, NULL);
    o.limits.max_units = 3;
    s = cf_spikes_load(p, &o);
    CHECK(s && s->n_units == 3);
    cf_spikes_free(s);
    /* binned counts: T bins of bin_width, and N rows */
    const char *q = tmp_path("outlier_counts.h5");
    double v[] = {0, 2, 0, 1, 1, 0, 0, 3};
    make_counts(q, v, 2, 4, 1e6, 1);
    REFUSED(q, NULL, "/counts: shape [2, 4]: 4 bins of bin_width 1e+06 s span 4e+06 s, which exceeds max_seconds", NULL,
            NULL);
    make_counts(q, v, 2, 4, 0.01, 1);
    o.limits.max_units = 1;
    REFUSED(q, &o, "/counts: shape [2, 4]: the unit count (2 rows) exceeds data.max_units (1)", NULL, NULL);
    /* datasets declared but never written (HDF5 returns their fill value): a few KB claiming 16 MB */
    hsize_t big = 2000000;
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = group(f, "units"), space = H5Screate_simple(1, &big, NULL);
    H5Dclose(H5Dcreate2(g, "spike_times", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(space);
    int64_t end_row = (int64_t)big;
    ds_i64(g, "spike_times_index", 1, &end_row);
    H5Gclose(g);
    hsize_t cdims[2] = {2, 1000000};
    space = H5Screate_simple(2, cdims, NULL);
    H5Dclose(H5Dcreate2(f, "counts", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(space);
    attr_f64(f, "bin_width", 0.01);
    H5Fclose(f);
    REFUSED(p, NULL, "/units/spike_times declares 2000000 values (16000000 bytes) but the file stores 0 bytes", NULL, NULL);
    CHECK(cf_spikes_read_counts_h5(p, NULL) == NULL);
    CHECK_ERROR_HAS("/counts declares 2000000 values");
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_nwb_round_trip(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 60;
    c.seed = 11;
    c.stim_gain = 0.8;
    c.trial_s = 7;
    cf_spikes *s = NULL;
    double *w = malloc(40 * 40 * sizeof *w);
    CHECK(cf_simulate_spikes(&c, &s, w) == CF_OK);
    if (!s) {
        free(w);
        return;
    }
    char sub[300];
    snprintf(sub, sizeof sub, "%s/rt", test_dir);
    mkdir(sub, 0700);
    char path[400];
    snprintf(path, sizeof path, "%s/sim.nwb", sub);
    CHECK(cf_spikes_write_nwb(s, path, w, 40, &c) == CF_OK);
    CHECK(count_files(sub) == 1); /* no temporary left behind */
    cf_spikes *r = cf_spikes_read_nwb(path);
    char why[256] = "";
    CHECK(r && cf_spikes_equal(s, r, why, sizeof why));
    if (why[0]) fprintf(stderr, "  round trip differs: %s\n", why);
    CHECK(r && r->n_trials == 9 && r->beh_dim == 1 && strcmp(r->beh_names[0], "stimulus") == 0);
    int n = 0;
    double *w2 = NULL;
    CHECK(cf_spikes_read_weights(path, &n, &w2) == CF_OK);
    CHECK(n == 40 && w2 && memcmp(w, w2, 40 * 40 * sizeof *w) == 0);
    int nh = 0, *hubs = NULL, want[3];
    CHECK(cf_spikes_read_hubs(path, &nh, &hubs) == CF_OK);
    CHECK(cf_sim_hubs(&c, want) == CF_OK);
    CHECK(nh == 3 && hubs && memcmp(hubs, want, sizeof want) == 0);
    free(hubs);
    free(w2);
    /* overwrite atomically with a spikes-only file; no weights there */
    CHECK(cf_spikes_write_nwb(s, path, NULL, 0, NULL) == CF_OK);
    CHECK(cf_spikes_read_weights(path, &n, &w2) != CF_OK);
    CHECK_ERROR_HAS("/simulation/weights");
    /* arbitrary behaviour names (nested) survive in order */
    double bt[] = {0.5, 1.0}, bv[] = {1, 2, 3, 4, 5, 6};
    const char *names[] = {"zeta", "Position/x", "alpha"};
    CHECK(cf_spikes_set_behavior(s, 2, 3, bt, bv, names) == CF_OK);
    CHECK(cf_spikes_write_nwb(s, path, NULL, 0, NULL) == CF_OK);
    cf_spikes_free(r);
    r = cf_spikes_read_nwb(path);
    CHECK(r && cf_spikes_equal(s, r, why, sizeof why));
    const char *clash[] = {"a", "a/b", "c"};
    CHECK(cf_spikes_set_behavior(s, 2, 3, bt, bv, clash) == CF_OK);
    CHECK(cf_spikes_write_nwb(s, path, NULL, 0, NULL) != CF_OK);
    CHECK_ERROR_HAS("nest");
    /* a failed write leaves the old file */
    CHECK(cf_spikes_write_nwb(s, "/nonexistent-dir/x.nwb", NULL, 0, NULL) != CF_OK);
    CHECK_ERROR_HAS("/nonexistent-dir/x.nwb");
    CHECK(count_files(sub) == 1);
    cf_spikes_free(r);
    cf_spikes_free(s);
    free(w);
}

#endif /* CF_HAVE_HDF5 */

/* ---- tokenization ---- */

/* 4 units; windows of 0.05 s at dt 0.01 */
static cf_spikes *token_spikes(void)
{
    double t[] = {
        0.0, 0.02, 0.049,                         /* window [0, 0.05): units 1, 3, 2 */
        0.051, 0.07, 0.07, 0.075, 0.099,          /* window [0.05, 0.10): 2, 0, 3, 0, 1 */
        0.10, 0.11, 0.111, 0.12, 0.13, 0.13, 0.14, 0.149, /* window [0.10, 0.15): 8 spikes */
    };
    int64_t u[] = {1, 3, 2, 2, 0, 3, 0, 1, 0, 1, 2, 3, 0, 2, 1, 3};
    return hand_spikes(4, t, u, 16, 0.2);
}

static void test_vocab(void)
{
    cf_spike_token_config c = cf_spike_token_defaults();
    c.window_prev = 0.05;
    cf_spike_vocab v;
    CHECK(cf_spike_vocab_make(40, &c, &v) == CF_OK);
    CHECK(v.id_size == 43 && v.id_sos == 40 && v.id_eos == 41 && v.id_pad == 42);
    CHECK(v.dt_size == 9 && v.dt_max == 5 && v.dt_sos == 6 && v.dt_eos == 7 && v.dt_pad == 8); /* 6 + SOS, EOS, PAD */
    c.window_prev = 0.15;
    CHECK(cf_spike_vocab_make(40, &c, &v) == CF_OK && v.dt_size == 19 && v.prev_bins == 15 && v.curr_bins == 5);
    CHECK_NEAR(cf_spike_dt_value(&v, 3), 0.03, 1e-12);
    CHECK(isnan(cf_spike_dt_value(&v, v.dt_eos)));
    c.window_curr = 0.055;
    CHECK(cf_spike_vocab_make(40, &c, &v) != CF_OK);
    CHECK_ERROR_HAS("window_curr");
    c = cf_spike_token_defaults();
    c.block_size = 1;
    CHECK(cf_spike_vocab_make(40, &c, &v) != CF_OK);
    CHECK_ERROR_HAS("block_size");
}

static bool eq64(const int64_t *a, const int64_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) {
            fprintf(stderr, "  [%d]: %" PRId64 " vs %" PRId64 "\n", i, a[i], b[i]);
            return false;
        }
    return true;
}

static void test_tokens_window(void)
{
    cf_spikes *s = token_spikes();
    if (!s) return;
    cf_spike_token_config c = cf_spike_token_defaults();
    c.window_prev = 0.05;
    c.block_size = 8;
    c.prev_block_size = 6;
    cf_status st;
    cf_dataset *ds = cf_spike_dataset_open(s, &c, 0.0, 1.0, &st);
    CHECK(ds != NULL && st == CF_OK);
    if (!ds) {
        cf_spikes_free(s);
        return;
    }
    CHECK(ds->len == 4); /* windows ending 0.05, 0.10, 0.15, 0.20 */
    const cf_spike_vocab *v = cf_spike_dataset_vocab(ds);
    CHECK(v && v->id_size == 7 && v->dt_size == 9);
    cf_batch b = {0};
    CHECK(cf_dataset_make_batch(ds, 2, &b) == CF_OK);
    CHECK(b.nfields == 7); /* no behaviour */
    CHECK(cf_dataset_get(ds, 1, &b, 0) == CF_OK);
    CHECK(cf_dataset_get(ds, 2, &b, 1) == CF_OK);
    const int64_t *id = cf_data(cf_batch_get(&b, "id")), *idt = cf_data(cf_batch_get(&b, "id_target"));
    const int64_t *dt = cf_data(cf_batch_get(&b, "dt")), *dtt = cf_data(cf_batch_get(&b, "dt_target"));
    const int64_t *pid = cf_data(cf_batch_get(&b, "prev_id")), *pdt = cf_data(cf_batch_get(&b, "prev_dt"));
    const bool *pad = cf_data(cf_batch_get(&b, "prev_pad"));
    const int S = 4, E = 5, P = 6, dE = 7, dP = 8, I = CF_SPIKE_IGNORE;
    /* window [0.05, 0.10): bin 5 unit 2; bin 7 units 0, 0, 3 (ascending, repeats); bin 9 unit 1 */
    int64_t x0[] = {S, 2, 0, 0, 3, 1, E, P}, y0[] = {2, 0, 0, 3, 1, E, I, I};
    int64_t dx0[] = {0, 0, 2, 2, 2, 4, dE, dP}, dy0[] = {0, 2, 2, 2, 4, dE, I, I};
    CHECK(eq64(id, x0, 8) && eq64(idt, y0, 8) && eq64(dt, dx0, 8) && eq64(dtt, dy0, 8));
    /* its previous window [0, 0.05): units 1 (bin 0), 3 (bin 2), 2 (bin 4) */
    int64_t p0[] = {S, 1, 3, 2, E, P}, pd0[] = {0, 0, 2, 4, dE, dP};
    CHECK(eq64(pid, p0, 6) && eq64(pdt, pd0, 6));
    CHECK(!pad[0] && !pad[4] && pad[5]);
    /* window [0.10, 0.15) holds 8 spikes > T-2 = 6: the LAST six are kept, then EOS */
    /* bins: 10: u0; 11: u1, u2; 12: u3; 13: u0, u2; 14: u1, u3 -> keep u2(11) u3(12) u0 u2(13) u1 u3(14) */
    int64_t x1[] = {S, 2, 3, 0, 2, 1, 3, E}, y1[] = {2, 3, 0, 2, 1, 3, E, I};
    int64_t dx1[] = {0, 1, 2, 3, 3, 4, 4, dE}, dy1[] = {1, 2, 3, 3, 4, 4, dE, I};
    CHECK(eq64(id + 8, x1, 8) && eq64(idt + 8, y1, 8) && eq64(dt + 8, dx1, 8) && eq64(dtt + 8, dy1, 8));
    /* its previous window [0.05, 0.10) has 5 spikes > Tp-2 = 4: the last four, no padding */
    int64_t p1[] = {S, 0, 0, 3, 1, E}, pd1[] = {0, 2, 2, 2, 4, dE};
    CHECK(eq64(pid + 6, p1, 6) && eq64(pdt + 6, pd1, 6));
    for (int i = 0; i < 6; i++) CHECK(!pad[6 + i]);
    /* the first window has an empty (clipped) previous window: SOS EOS PAD... */
    CHECK(cf_dataset_get(ds, 0, &b, 0) == CF_OK);
    int64_t p2[] = {S, E, P, P, P, P};
    CHECK(eq64(pid, p2, 6));
    CHECK(!pad[0] && !pad[1] && pad[2] && pad[5]);
    /* an empty current window (0.15, 0.20): SOS EOS, EOS is the first target */
    CHECK(cf_dataset_get(ds, 3, &b, 0) == CF_OK);
    int64_t x3[] = {S, E, P, P, P, P, P, P}, y3[] = {E, I, I, I, I, I, I, I};
    CHECK(eq64(id, x3, 8) && eq64(idt, y3, 8));
    double t_end;
    int trial;
    int64_t nc, np;
    CHECK(cf_spike_dataset_window(ds, 2, &t_end, &trial, &nc, &np) == CF_OK);
    CHECK_NEAR(t_end, 0.15, 1e-12);
    CHECK(trial == -1 && nc == 8 && np == 5);
    cf_spike_window_stats ws;
    CHECK(cf_spike_dataset_stats(ds, &ws) == CF_OK);
    CHECK(ws.windows == 4 && ws.truncated_curr == 1 && ws.truncated_prev == 2 && ws.max_curr == 8 && ws.p99_curr == 8);
    CHECK_NEAR(ws.mean_curr, 16.0 / 4, 1e-12);
    cf_batch_free(&b);
    cf_dataset_free(ds);
    /* the direct token functions agree, and reject bad spikes */
    int32_t units[] = {2, 0, 0, 3, 1};
    int64_t bins[] = {5, 7, 7, 7, 9};
    cf_spike_vocab vv;
    CHECK(cf_spike_vocab_make(4, &c, &vv) == CF_OK);
    int64_t a[8], bb[8], cc[8], dd[8];
    CHECK(cf_spike_tokens_current(&vv, units, bins, 5, 5, 8, a, bb, cc, dd) == CF_OK);
    CHECK(eq64(a, x0, 8) && eq64(bb, y0, 8) && eq64(cc, dx0, 8) && eq64(dd, dy0, 8));
    units[1] = 4;
    CHECK(cf_spike_tokens_current(&vv, units, bins, 5, 5, 8, a, bb, cc, dd) != CF_OK);
    CHECK_ERROR_HAS("unit 4");
    cf_spikes_free(s);
}

static void test_dataset_ranges_trials_behavior(void)
{
    cf_spikes *s = token_spikes();
    if (!s) return;
    cf_spike_token_config c = cf_spike_token_defaults();
    c.window_prev = 0.05;
    c.block_size = 8;
    c.prev_block_size = 6;
    cf_status st;
    /* t_end in [0.1, 0.19): windows ending 0.10 and 0.15 */
    cf_dataset *ds = cf_spike_dataset_open(s, &c, 0.1, 0.19, &st);
    CHECK(ds && ds->len == 2);
    double t_end = 0;
    if (ds) CHECK(cf_spike_dataset_window(ds, 0, &t_end, NULL, NULL, NULL) == CF_OK);
    CHECK_NEAR(t_end, 0.10, 1e-12);
    cf_dataset_free(ds);
    /* a range reaching the end of the recording takes the window ending there */
    ds = cf_spike_dataset_open(s, &c, 0.16, 0.2, &st);
    CHECK(ds && ds->len == 1);
    cf_dataset_free(ds);
    ds = cf_spike_dataset_open(s, &c, 0.5, 0.9, &st);
    CHECK(ds == NULL && st != CF_OK);
    CHECK_ERROR_HAS("no window");
    /* two ranges */
    double from[] = {0.0, 0.15}, to[] = {0.06, 0.16};
    cf_time_ranges r = {2, from, to};
    ds = cf_spike_dataset_open_ranges(s, &c, &r, &st);
    CHECK(ds && ds->len == 2);
    cf_dataset_free(ds);
    /* trials: windows inside each, the previous window clipped at the trial start */
    double ta[] = {0.0, 0.1}, tb[] = {0.1, 0.2};
    CHECK(cf_spikes_set_trials(s, 2, ta, tb) == CF_OK);
    ds = cf_spike_dataset_open(s, &c, 0.0, 1.0, &st);
    CHECK(ds && ds->len == 4);
    if (ds) {
        int trial = -2;
        int64_t np = -1;
        CHECK(cf_spike_dataset_window(ds, 2, &t_end, &trial, NULL, &np) == CF_OK);
        CHECK_NEAR(t_end, 0.15, 1e-12);
        CHECK(trial == 1 && np == 0); /* the spikes of [0.05, 0.10) belong to trial 0 */
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(ds, 1, &b) == CF_OK);
        CHECK(cf_dataset_get(ds, 2, &b, 0) == CF_OK);
        const int64_t *pid = cf_data(cf_batch_get(&b, "prev_id"));
        CHECK(pid[0] == 4 && pid[1] == 5 && pid[2] == 6);
        cf_batch_free(&b);
    }
    cf_dataset_free(ds);
    /* behaviour: the mean of the samples in the current window, else the last before it */
    double bt[] = {0.0, 0.05, 0.08, 0.12}, bv[] = {1, 10, 2, 20, 4, 40, 8, 80};
    const char *names[] = {"speed", "phi"};
    CHECK(cf_spikes_set_behavior(s, 4, 2, bt, bv, names) == CF_OK);
    double mean[] = {1, 0}, sd[] = {2, 10};
    c.behavior_mean = mean;
    c.behavior_std = sd;
    c.use_trials = false;
    ds = cf_spike_dataset_open(s, &c, 0.0, 1.0, &st);
    CHECK(ds && cf_spike_dataset_behavior_dim(ds) == 2);
    if (ds) {
        CHECK(strcmp(cf_spike_dataset_behavior_name(ds, 1), "phi") == 0);
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(ds, 4, &b) == CF_OK && b.nfields == 8);
        for (int i = 0; i < 4; i++) CHECK(cf_dataset_get(ds, i, &b, i) == CF_OK);
        const float *bh = cf_data(cf_batch_get(&b, "behavior"));
        CHECK_NEAR(bh[0], (1 - 1) / 2.0, 1e-6);       /* [0, 0.05): sample 0.0 */
        CHECK_NEAR(bh[2], ((2 + 4) / 2.0 - 1) / 2.0, 1e-6); /* [0.05, 0.10): 0.05 and 0.08 */
        CHECK_NEAR(bh[3], (30) / 10.0, 1e-6);
        CHECK_NEAR(bh[4], (8 - 1) / 2.0, 1e-6);       /* [0.10, 0.15): 0.12 */
        CHECK_NEAR(bh[6], (8 - 1) / 2.0, 1e-6);       /* [0.15, 0.20): none, hold 0.12 */
        cf_batch_free(&b);
        /* through the loader: one shuffled batch of all windows */
        cf_loader_config lc = cf_loader_defaults();
        lc.batch_size = 4;
        lc.seed = 3;
        cf_loader *l = cf_loader_create(ds, &lc);
        CHECK(l != NULL);
        const cf_batch *lb = l ? cf_loader_next(l) : NULL;
        CHECK(lb && lb->rows == 4);
        cf_loader_free(l);
    }
    cf_dataset_free(ds);
    cf_spikes_free(s);
}

static void test_dataset_on_simulation(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 100;
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    if (!s) return;
    cf_time_ranges tr, va, te;
    CHECK(cf_spikes_split_blocks(s, 0.8, 0.1, 10, 1, &tr, &va, &te) == CF_OK);
    cf_spike_token_config tc = cf_spike_token_defaults();
    cf_status st;
    cf_dataset *a = cf_spike_dataset_open_ranges(s, &tc, &tr, &st), *b = cf_spike_dataset_open_ranges(s, &tc, &va, &st),
               *d = cf_spike_dataset_open_ranges(s, &tc, &te, &st);
    CHECK(a && b && d);
    if (a && b && d) {
        CHECK(a->len + b->len + d->len == 2000); /* every window of 0.05 s in 100 s, each in one split */
        CHECK(a->len >= 1599 && a->len <= 1601); /* the first block lacks t_end = 0, the last has t_end = 100 */
        /* every current-window spike becomes one token */
        cf_batch bt = {0};
        CHECK(cf_dataset_make_batch(a, 1, &bt) == CF_OK);
        int64_t tokens = 0, spikes = 0;
        for (int64_t i = 0; i < a->len; i++) {
            CHECK(cf_dataset_get(a, i, &bt, 0) == CF_OK);
            const int64_t *y = cf_data(cf_batch_get(&bt, "id_target"));
            for (int k = 0; k < tc.block_size; k++) tokens += y[k] >= 0 && y[k] < 40;
            int64_t nc;
            cf_spike_dataset_window(a, i, NULL, NULL, &nc, NULL);
            spikes += nc < tc.block_size - 2 ? nc : tc.block_size - 2;
        }
        CHECK(tokens == spikes && spikes > 0);
        cf_batch_free(&bt);
    }
    cf_dataset_free(a), cf_dataset_free(b), cf_dataset_free(d);
    cf_time_ranges_free(&tr), cf_time_ranges_free(&va), cf_time_ranges_free(&te);
    cf_spikes_free(s);
}

static void test_factory(void)
{
    /* a CSV of 20 s: spikes of 3 units every 0.1 s */
    const char *p = tmp_path("f.csv");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 200; i++) fprintf(f, "%.2f,%d\n", i * 0.1, i % 3);
    fclose(f);
    cf_spike_options o = cf_spike_options_defaults();
    o.path = p;
    int64_t total = 0;
    const char *splits[] = {"train", "val", "test"};
    for (int k = 0; k < 3; k++) {
        cf_dataset *ds = cf_spike_factory(&o, splits[k]);
        CHECK(ds != NULL);
        if (!ds) continue;
        CHECK(strstr(ds->name, "f.csv") && strstr(ds->name, splits[k]));
        total += ds->len;
        cf_dataset_free(ds);
    }
    CHECK(total == 398); /* windows ending 0.05 .. 19.90 (the span is [0, 19.91)) */
    CHECK(cf_spike_factory(&o, "dev") == NULL);
    CHECK_ERROR_HAS("dev");
    o.path = tmp_path("none.csv");
    CHECK(cf_spike_factory(&o, "train") == NULL);
    CHECK_ERROR_HAS("none.csv");
}

int main(void)
{
    if (!test_dir_make("test_spikes")) return 1;
    RUN(test_from_events);
    RUN(test_binning);
    RUN(test_splits);
    RUN(test_csv);
    RUN(test_csv_limits);
#ifdef CF_HAVE_HDF5
    RUN(test_nwb_foreign);
    RUN(test_nwb_bad);
    RUN(test_counts_h5);
    RUN(test_h5_limits);
    RUN(test_nwb_round_trip);
#else
    printf("(no HDF5 in this build: the NWB and counts tests are skipped)\n");
#endif
    RUN(test_vocab);
    RUN(test_tokens_window);
    RUN(test_dataset_ranges_trials_behavior);
    RUN(test_dataset_on_simulation);
    RUN(test_factory);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
