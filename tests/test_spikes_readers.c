/* The spike readers: CSV and the HDF5 layouts (NWB as other tools write it, binned counts), on good files and
 * every kind of bad input, which must fail with a message naming file, dataset or line, and row; the bounds that
 * refuse one outlier row at once; the NWB round trip of a simulation. The representation and tokenization are
 * tests/test_spikes.c. */
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

/* ---- CSV ---- */

static void test_csv(void)
{
    const char *p = tmp_path("a.csv");
    test_write_text(p, "Time,ID,Trial,Interval\n"
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
    test_write_text(q, "0.5\t2\n0.1\t0\n0.3\t2\n");
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
    test_write_text(q, "time,unit\n0.1,17\n0.2,5\n0.3,17\n");
    s = cf_spikes_read_csv(q, &o);
    CHECK(s && s->n_units == 2 && s->unit_ids && s->unit_ids[0] == 5 && s->unit_ids[1] == 17);
    if (s) CHECK(s->offsets[2] - s->offsets[1] == 2);
    cf_spikes_free(s);
    /* a corrupt line names path:line and the column */
    test_write_text(q, "time,unit\n0.1,1\n0.2,2\n0.x3,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(q);
    CHECK_ERROR_HAS(":4:");
    CHECK_ERROR_HAS("time");
    CHECK_ERROR_HAS("0.x3");
    test_write_text(q, "0.1,1\n0.2,two\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(":2:");
    CHECK_ERROR_HAS("unit");
    test_write_text(q, "0.1,1\n-0.2,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(":2:");
    CHECK_ERROR_HAS("negative");
    test_write_text(q, "0.1,1\nnan,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS("not finite");
    o = cf_spikes_csv_defaults();
    o.n_units = 4;
    test_write_text(q, "0.1,1\n0.2,3\n0.3,4\n");
    CHECK(cf_spikes_read_csv(q, &o) == NULL);
    CHECK_ERROR_HAS(":3:");
    CHECK_ERROR_HAS("out of range");
    test_write_text(q, "0.1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS(":1:");
    test_write_text(q, "when,who\n0.1,1\n");
    CHECK(cf_spikes_read_csv(q, NULL) == NULL);
    CHECK_ERROR_HAS("header");
    test_write_text(q, "# nothing\n");
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
    test_write_text(path, text);
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
    test_write_text(p, "0,9999994");
    REFUSED(p, NULL, ":1: column 2 (unit): unit id 9999994", "max_units (100000)", NULL);
    double t0 = cf_now();
    CHECK(cf_spikes_read_csv_mem("0,9999994", 9, "nine.csv", NULL) == NULL && cf_now() - t0 < 0.5);
    CHECK_ERROR_HAS("nine.csv:1:");
    /* with remap_ids the ids are labels: only their number is bounded */
    o = cf_spikes_csv_defaults();
    o.remap_ids = true;
    test_write_text(p, "0.1,16000000\n0.2,5\n");
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
    test_write_text(p, "0.5,1\n9.995,0\n");
    REFUSED(p, &o, ":2: the recording up to the latest spike (9.995 s) plus its bin (0.01 s)", "max_seconds (10 s)", NULL);
    /* trial-relative times: the trials laid end to end make the span */
    test_write_text(p, "time,unit,trial\n0.5,1,1\n4,0,2\n0.2,0,3\n");
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
    test_write_text(p, "hello\n");
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

int main(void)
{
    if (!test_dir_make("test_spikes_readers")) return 1;
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
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
