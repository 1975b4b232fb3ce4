/* The synthetic hourly series for Autoformer's small experiment, written in the ETT layout (date, V0, V1, V2,
 * OT), and `cformer data series`. Per column c, hourly from 2016-07-01 00:00:00:
 *     x_c(t) = a_c sin(2 pi t / 24 + phi_c) + b_c sin(2 pi t / 168 + psi_c) + trend_c(t) + eps_c(t)
 * a_c ~ U[0.5, 1.5], b_c ~ U[0.3, 1]; trend_c piecewise linear with a new slope every 800-1200 steps, its
 * total drift about twice the seasonal part's std; eps AR(1), rho 0.5, innovations N(0, 0.2^2). The daily (24)
 * and weekly (168) periods are what Auto-Correlation should find; the drifting trend is what the
 * decomposition should absorb (Wu et al., NeurIPS 2021, Sec. 3.1). */
#include "recipes/autoformer/model.h"

#include "autograd/fileio.h"
#include "autograd/rng.h"
#include "data/series/csv.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586

cf_status cf_series_synth_write(const char *path, int64_t rows, uint64_t seed)
{
    cf_series_table t = {.rows = rows, .cols = 4};
    t.names = calloc(4, sizeof *t.names);
    t.values = calloc((size_t)(rows * 4), sizeof *t.values);
    t.stamps = calloc((size_t)rows, sizeof *t.stamps);
    if (!t.names || !t.values || !t.stamps) {
        cf_series_table_free(&t);
        return cf_set_error(CF_ERR_OOM, "data series: out of memory for %lld rows", (long long)rows);
    }
    static const char *const names[4] = {"V0", "V1", "V2", "OT"};
    int64_t start;
    cf_parse_datetime("2016-07-01 00:00:00", &start);
    for (int64_t i = 0; i < rows; i++) t.stamps[i] = start + 3600 * i;
    for (int c = 0; c < 4; c++) {
        snprintf(t.names[c], CF_SERIES_NAME_MAX, "%s", names[c]);
        cf_philox_key key = cf_rng_key(seed, (uint64_t)c + 1);
        double a = 0.5 + cf_rng_uniform(key, 0, 0), b = 0.3 + 0.7 * cf_rng_uniform(key, 0, 1);
        double phi = TWO_PI * cf_rng_uniform(key, 0, 2), psi = TWO_PI * cf_rng_uniform(key, 0, 3);
        double sd = sqrt(a * a / 2 + b * b / 2), level = 0, slope = 0, eps = 0;
        int64_t next_change = 0;
        for (int64_t i = 0; i < rows; i++) {
            if (i == next_change) { /* a new slope: a drift of about +-2 sd over the series in ~8 segments */
                slope = (2 * cf_rng_uniform(key, 1, (uint64_t)i) - 1) * 2 * sd / 1000.0 * 1.5;
                next_change = i + 800 + (int64_t)(400 * cf_rng_uniform(key, 2, (uint64_t)i));
            }
            level += slope;
            eps = 0.5 * eps + 0.2 * cf_rng_normal(key, 3, (uint64_t)i);
            double tt = (double)i;
            t.values[i * 4 + c] = a * sin(TWO_PI * tt / 24 + phi) + b * sin(TWO_PI * tt / 168 + psi) + level + eps;
        }
    }
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) *slash = '\0';
    cf_status st = slash && slash != dir ? cf_mkdirs(dir) : CF_OK;
    if (st == CF_OK) st = cf_series_csv_write(path, &t);
    cf_series_table_free(&t);
    return st;
}

int cf_series_synth_cmd(int argc, char **argv)
{
    const char *usage = "usage: cformer data series --out FILE.csv [--rows N] [--seed S]\n"
                        "  writes the synthetic hourly series (date,V0,V1,V2,OT; daily and weekly seasons, a drifting\n"
                        "  piecewise-linear trend, AR(1) noise) in the ETT CSV layout; default 8000 rows\n";
    const char *out = NULL;
    int64_t rows = 8000, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (!a) {
            fprintf(stderr, "data series: %s needs a value\n%s", o, usage);
            return 2;
        }
        i++;
        bool ok = true;
        if (strcmp(o, "--out") == 0) out = a;
        else if (strcmp(o, "--rows") == 0) ok = cf_cli_int("data series", o, a, 2, CF_MAX_COUNT, &rows);
        else if (strcmp(o, "--seed") == 0) ok = cf_cli_int("data series", o, a, 0, CF_MAX_SEED, &seed);
        else {
            fprintf(stderr, "data series: unknown option %s\n%s", o, usage);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!out) {
        fprintf(stderr, "data series: --out FILE.csv is required\n%s", usage);
        return 2;
    }
    if (cf_series_synth_write(out, rows, (uint64_t)seed) != CF_OK) {
        fprintf(stderr, "data series: %s\n", cf_last_error());
        return 1;
    }
    printf("wrote %s: %lld hourly rows, columns V0 V1 V2 OT\n", out, (long long)rows);
    return 0;
}
