/* The ETT-layout CSV reader and its forecasting windows (data/series/csv.h, csv_dataset.h): dates and time
 * features against hand-computed values; every malformed case refused with file, line and column; the three
 * NaN policies; the 7:1:2 and ETT 12/4/4 borders; z-scoring with training statistics only (a change in the
 * test rows leaves the training scale alone); windows whose targets never leave their split; the batch
 * fields against the file. */
#define CHECK_SHOW_LAST_ERROR
#include "data/series/csv_dataset.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <stdlib.h>

static const char *write_text(const char *name, const char *text)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static void test_dates(void)
{
    int64_t s;
    CHECK(cf_parse_datetime("1970-01-01 00:00:00", &s) && s == 0);
    CHECK(cf_parse_datetime("2016-07-01 01:00:00", &s) && s == 1467334800);
    CHECK(cf_parse_datetime("2016-07-01T01:00", &s) && s == 1467334800);
    CHECK(cf_parse_datetime("2016/07/01", &s) && s == 1467331200);
    CHECK(cf_parse_datetime("1958-03-29", &s) && s == -371174400);
    CHECK(cf_parse_datetime("2016-02-29 23:59:59", &s));
    CHECK(!cf_parse_datetime("2015-02-29", &s), "2015 is not a leap year");
    CHECK(!cf_parse_datetime("2016-13-01", &s) && !cf_parse_datetime("2016-01-01 24:00", &s));
    CHECK(!cf_parse_datetime("2016-01-01x", &s) && !cf_parse_datetime("16-01-01", &s) && !cf_parse_datetime("", &s));
    CHECK(!cf_parse_datetime("2016-01/01", &s), "mixed separators");
    char buf[32];
    cf_format_datetime(-371174400 + 3661, buf, sizeof buf);
    CHECK(strcmp(buf, "1958-03-29 01:01:01") == 0, "%s", buf);
    /* 2016-07-01 was a Friday (weekday 4), day 183 of a leap year; 13:45 */
    CHECK(cf_parse_datetime("2016-07-01 13:45:00", &s));
    float f[5];
    CHECK(cf_time_features("h") == 4 && cf_time_features("t") == 5 && cf_time_features("d") == 3);
    CHECK(cf_time_features("w") == -1 && cf_time_features(NULL) == -1);
    cf_time_features_of("t", s, f);
    CHECK_NEAR(f[0], 45.0 / 59 - 0.5, 1e-6);
    CHECK_NEAR(f[1], 13.0 / 23 - 0.5, 1e-6);
    CHECK_NEAR(f[2], 4.0 / 6 - 0.5, 1e-6);
    CHECK_NEAR(f[3], 0.0 / 30 - 0.5, 1e-6);
    CHECK_NEAR(f[4], 182.0 / 365 - 0.5, 1e-6);
    cf_time_features_of("d", s, f);
    CHECK_NEAR(f[0], 4.0 / 6 - 0.5, 1e-6);
    CHECK_NEAR(f[2], 182.0 / 365 - 0.5, 1e-6);
}

/* the file is refused with an error containing every fragment */
static void refused(const char *name, const char *text, cf_nan_policy nan, const char *frag1, const char *frag2,
                    int line)
{
    cf_series_table t; /* line: the case's index, for messages */
    const char *p = write_text(name, text);
    cf_status st = cf_series_csv_read(p, "date", nan, &t);
    CHECK(st != CF_OK, "case %d: %s accepted", line, name);
    CHECK(t.rows == 0 && t.values == NULL, "case %d: a refused table is not empty", line);
    if (st == CF_OK) return;
    const char *e = cf_last_error();
    CHECK(strstr(e, p) != NULL, "case %d: '%s' does not name the file", line, e);
    CHECK(strstr(e, frag1) != NULL, "case %d: '%s' lacks '%s'", line, e, frag1);
    CHECK(!frag2 || strstr(e, frag2) != NULL, "case %d: '%s' lacks '%s'", line, e, frag2);
}

static void test_malformed(void)
{
#define H "date,A,B\n"
    static const struct {
        const char *name, *text;
        cf_nan_policy nan;
        const char *frag1, *frag2;
    } cases[] = {
        {"empty.csv", "", CF_NAN_REFUSE, "empty", NULL},
        {"header-only.csv", H, CF_NAN_REFUSE, "no data rows", NULL},
        {"no-date.csv", "time,A\n2016-01-01,1\n", CF_NAN_REFUSE, ":1:", "no date column 'date'"},
        {"only-date.csv", "date\n2016-01-01\n", CF_NAN_REFUSE, ":1:", "no numeric column"},
        {"dup.csv", "date,A,A\n2016-01-01,1,2\n", CF_NAN_REFUSE, ":1: column 3", "repeats column 2"},
        {"empty-name.csv", "date,,B\n2016-01-01,1,2\n", CF_NAN_REFUSE, ":1: column 2", "empty name"},
        {"short-row.csv", H "2016-01-01 00:00,1,2\n2016-01-01 01:00,1\n", CF_NAN_REFUSE, ":3:",
         "2 fields, the header has 3"},
        {"long-row.csv", H "2016-01-01 00:00,1,2,3\n", CF_NAN_REFUSE, ":2:", "more than 3 fields"},
        {"text-cell.csv", H "2016-01-01 00:00,1,2\n2016-01-01 01:00,1,x7\n", CF_NAN_REFUSE, ":3: column 3 'B'",
         "'x7' is not a finite number"},
        {"half-number.csv", H "2016-01-01 00:00,1.5e,2\n", CF_NAN_REFUSE, ":2: column 2 'A'", "'1.5e'"},
        {"inf.csv", H "2016-01-01 00:00,inf,2\n", CF_NAN_REFUSE, ":2: column 2 'A'", "finite"},
        {"bad-date.csv", H "2016-01-01 00:00,1,2\n2016-02-30 00:00,1,2\n", CF_NAN_REFUSE, ":3: column 1 'date'",
         "'2016-02-30 00:00' is not a date"},
        {"backwards.csv", H "2016-01-01 02:00,1,2\n2016-01-01 01:00,1,2\n", CF_NAN_REFUSE, ":3: column 1 'date'",
         "is not after the previous row's 2016-01-01 02:00:00"},
        {"repeated-date.csv", H "2016-01-01 01:00,1,2\n2016-01-01 01:00,1,2\n", CF_NAN_REFUSE, ":3:",
         "dates must increase"},
        {"blank-line.csv", H "2016-01-01 00:00,1,2\n\n2016-01-01 01:00,1,2\n", CF_NAN_REFUSE, ":3:", "empty line"},
        {"nan-refused.csv", H "2016-01-01 00:00,1,2\n2016-01-01 01:00,NaN,2\n", CF_NAN_REFUSE, ":3: column 2 'A'",
         "missing value"},
        {"nan-column.csv", "B,date,A\n1,2016-01-01 00:00,\n2,2016-01-01 01:00,\n", CF_NAN_FFILL, ":2: column 3 'A'",
         "no value at all"},
    };
#undef H
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i].name, cases[i].text, cases[i].nan, cases[i].frag1, cases[i].frag2, (int)i);
    cf_series_table t;
    CHECK(cf_series_csv_read(tmp_path("does-not-exist.csv"), "date", CF_NAN_REFUSE, &t) == CF_ERR_IO);
    CHECK_ERROR_HAS("does-not-exist.csv");
}

static void test_nan_policies(void)
{
    /* the date in the middle, CRLF line ends, a byte-order mark, quoted names, a trailing newline missing */
    const char *text = "\xEF\xBB\xBF\"A\",date,B\r\n"
                       ",2016-01-01 00:00,1\r\n"
                       "2,2016-01-01 01:00,nan\r\n"
                       "NA,2016-01-01 02:00,3\r\n"
                       "8,2016-01-01 03:00,\r\n"
                       "null,2016-01-01 05:00,5";
    const char *p = write_text("nan.csv", text);
    cf_series_table t;
    CHECK(cf_series_csv_read(p, "date", CF_NAN_FFILL, &t) == CF_OK);
    CHECK(t.rows == 5 && t.cols == 2 && strcmp(t.names[0], "A") == 0 && strcmp(t.names[1], "B") == 0);
    CHECK(t.filled == 5, "filled %lld", (long long)t.filled);
    double ffill[10] = {2, 1, 2, 1, 2, 3, 8, 3, 8, 5};
    for (int i = 0; t.values && i < 10; i++) CHECK_NEAR(t.values[i], ffill[i], 1e-12);
    CHECK(t.stamps && t.stamps[4] - t.stamps[3] == 7200, "a gap of two hours is kept");
    cf_series_table_free(&t);
    CHECK(cf_series_csv_read(p, "date", CF_NAN_LINEAR, &t) == CF_OK);
    double linear[10] = {2, 1, 2, 2, 5, 3, 8, 4, 8, 5};
    for (int i = 0; t.values && i < 10; i++) CHECK_NEAR(t.values[i], linear[i], 1e-12);
    cf_series_table_free(&t);
    cf_nan_policy n;
    CHECK(cf_nan_policy_parse("linear", &n) && n == CF_NAN_LINEAR && !cf_nan_policy_parse("zero", &n));
}

/* a T-row hourly file with columns A (= row index), B (= 1000 + row) and OT (= -row), target OT */
static const char *ramp_file(const char *name, int64_t T, double test_bump)
{
    cf_series_table t = {.rows = T, .cols = 3};
    t.names = calloc(3, sizeof *t.names);
    t.values = calloc((size_t)(3 * T), sizeof *t.values);
    t.stamps = calloc((size_t)T, sizeof *t.stamps);
    snprintf(t.names[0], CF_SERIES_NAME_MAX, "A");
    snprintf(t.names[1], CF_SERIES_NAME_MAX, "OT");
    snprintf(t.names[2], CF_SERIES_NAME_MAX, "B");
    for (int64_t i = 0; i < T; i++) {
        t.stamps[i] = 1467331200 + 3600 * i;
        t.values[3 * i] = (double)i;
        t.values[3 * i + 1] = -(double)i + (i >= (int64_t)(0.8 * (double)T) ? test_bump : 0);
        t.values[3 * i + 2] = 1000 + (double)i;
    }
    const char *p = tmp_path(name);
    CHECK(cf_series_csv_write(p, &t) == CF_OK);
    cf_series_table_free(&t);
    return p;
}

static void test_borders(void)
{
    int64_t b1[3], b2[3];
    CHECK(cf_series_borders(CF_SPLIT_RATIO, 1000, 96, 24, b1, b2) == CF_OK);
    CHECK(b1[0] == 0 && b2[0] == 700 && b1[1] == 604 && b2[1] == 800 && b1[2] == 704 && b2[2] == 1000);
    CHECK(cf_series_borders(CF_SPLIT_ETT_H, 17420, 96, 96, b1, b2) == CF_OK);
    CHECK(b2[0] == 8640 && b1[1] == 8640 - 96 && b2[1] == 11520 && b1[2] == 11520 - 96 && b2[2] == 14400);
    CHECK(cf_series_borders(CF_SPLIT_ETT_M, 69680, 96, 96, b1, b2) == CF_OK);
    CHECK(b2[0] == 34560 && b2[1] == 46080 && b2[2] == 57600);
    CHECK(cf_series_borders(CF_SPLIT_ETT_H, 14399, 96, 96, b1, b2) != CF_OK);
    CHECK_ERROR_HAS("14400 rows");
    CHECK(cf_series_borders(CF_SPLIT_RATIO, 300, 96, 96, b1, b2) != CF_OK);
    CHECK_ERROR_HAS("too few for one window");
}

static void test_windows(void)
{
    int64_t T = 1000;
    const char *p = ramp_file("ramp.csv", T, 0), *q = ramp_file("ramp-bumped.csv", T, 500);
    cf_series_spec s = cf_series_spec_defaults();
    s.seq_len = 24, s.label_len = 12, s.pred_len = 8;
    const char *splits[3] = {"train", "val", "test"};
    int64_t b1[3], b2[3];
    CHECK(cf_series_borders(CF_SPLIT_RATIO, T, 24, 8, b1, b2) == CF_OK);
    for (int k = 0; k < 3; k++) {
        cf_dataset *d = cf_series_dataset_open(p, &s, splits[k]);
        CHECK(d != NULL);
        if (!d) continue;
        CHECK(d->len == b2[k] - b1[k] - 24 - 8 + 1, "%s: %lld windows", splits[k], (long long)d->len);
        CHECK(d->info.units == 3 && d->info.channels == 3 && d->info.seq == 24 && d->info.frames == 8);
        CHECK(strcmp(d->info.channel_names[2], "OT") == 0 && strcmp(d->info.channel_names[0], "A") == 0,
              "the target goes last");
        /* no leakage: every target row of every window lies inside the split's own rows [border, b2) */
        int64_t border = k == 0 ? 0 : b2[k - 1], lo = INT64_MAX, hi = -1;
        for (int64_t i = 0; i < d->len; i++) {
            int64_t r0 = cf_series_dataset_row(d, i) + 24;
            lo = r0 < lo ? r0 : lo, hi = r0 + 8 > hi ? r0 + 8 : hi;
        }
        CHECK(lo >= border && hi == b2[k], "%s: targets in [%lld, %lld), split rows [%lld, %lld)", splits[k],
              (long long)lo, (long long)hi, (long long)border, (long long)b2[k]);
        /* the batch against the file: column A is the row index, z-scored with the training rows [0, 700) */
        double mean, sd;
        CHECK(cf_series_dataset_scaler(d, 0, &mean, &sd) == CF_OK);
        CHECK_NEAR(mean, 349.5, 1e-9);
        CHECK_NEAR(sd, sqrt((700.0 * 700.0 - 1) / 12), 1e-9);
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(d, 2, &b) == CF_OK);
        int64_t idx = d->len - 1;
        CHECK(cf_dataset_get(d, idx, &b, 1) == CF_OK);
        int64_t s0 = cf_series_dataset_row(d, idx);
        cf_tensor *x = cf_batch_get(&b, "x"), *y = cf_batch_get(&b, "y"), *dm = cf_batch_get(&b, "dec_mark"),
                  *xm = cf_batch_get(&b, "x_mark");
        CHECK(x && y && dm && xm && x->shape[1] == 24 && dm->shape[1] == 20 && y->shape[1] == 8 && xm->shape[2] == 4);
        if (x && y && dm && xm) {
            CHECK_NEAR(cf_get_flat(x, 24 * 3 + 5 * 3 + 0) * sd + mean, (double)(s0 + 5), 1e-3);
            CHECK_NEAR(cf_get_flat(y, 8 * 3 + 7 * 3 + 0) * sd + mean, (double)(s0 + 24 + 7), 1e-3);
            float f[4];
            cf_time_features_of("h", 1467331200 + 3600 * (s0 + 24 - 12), f);
            CHECK_NEAR(cf_get_flat(dm, 20 * 4 + 0), f[0], 1e-6);
        }
        cf_batch_free(&b);
        cf_dataset_free(d);
    }
    /* training statistics only: a change in the test rows changes neither the scale nor a training window */
    cf_dataset *a = cf_series_dataset_open(p, &s, "train"), *c = cf_series_dataset_open(q, &s, "train");
    double m1 = 0, s1 = 0, m2 = 1, s2 = 1;
    CHECK(a && c && cf_series_dataset_scaler(a, 2, &m1, &s1) == CF_OK && cf_series_dataset_scaler(c, 2, &m2, &s2) == CF_OK);
    CHECK(m1 == m2 && s1 == s2, "the test rows moved the training scale: %g/%g vs %g/%g", m1, s1, m2, s2);
    cf_dataset_free(a);
    cf_dataset_free(c);
    /* S and MS: the target alone out; S also alone in */
    s.features = CF_SERIES_S;
    cf_dataset *d = cf_series_dataset_open(p, &s, "val");
    CHECK(d && d->info.units == 1 && d->info.channels == 1 && strcmp(d->info.channel_names[0], "OT") == 0);
    cf_dataset_free(d);
    s.features = CF_SERIES_MS;
    s.columns[0] = "B", s.columns[1] = "OT";
    d = cf_series_dataset_open(p, &s, "val");
    CHECK(d && d->info.units == 2 && d->info.channels == 1);
    cf_dataset_free(d);
    /* recipe-level errors name the file */
    s.columns[0] = "Z", s.columns[1] = NULL;
    CHECK(cf_series_dataset_open(p, &s, "val") == NULL);
    CHECK_ERROR_HAS("no column 'Z'");
    s.columns[0] = NULL, s.target = "Y";
    CHECK(cf_series_dataset_open(p, &s, "val") == NULL);
    CHECK_ERROR_HAS("no target column 'Y'");
    s.target = "OT", s.freq = "w";
    CHECK(cf_series_dataset_open(p, &s, "val") == NULL);
    CHECK_ERROR_HAS("unknown time-feature freq 'w'");
    s.freq = "h", s.split = CF_SPLIT_ETT_H;
    CHECK(cf_series_dataset_open(p, &s, "train") == NULL);
    CHECK_ERROR_HAS("ramp.csv: the ett_h split needs 20 months");
    s.split = CF_SPLIT_RATIO, s.label_len = 30;
    CHECK(cf_series_dataset_open(p, &s, "train") == NULL);
    CHECK_ERROR_HAS("label_len <= seq_len");
}

int main(void)
{
    if (!test_dir_make("test_series_csv")) return 1;
    RUN(test_dates);
    RUN(test_malformed);
    RUN(test_nan_policies);
    RUN(test_borders);
    RUN(test_windows);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
