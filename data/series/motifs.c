/* The planted-motif classification set of data/series/motifs.h. */
#include "autograd/fileio.h"
#include "autograd/rng.h"
#include "data/series/motifs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TWO_PI 6.283185307179586

static const int64_t motif_dim[CF_MOTIF_CLASSES] = {0, 1, 2, 0}, motif_at[CF_MOTIF_CLASSES] = {20, 50, 30, 70};

/* The motif of class c at u in [0, 1] across its span, unit amplitude. */
static double motif(int c, double u)
{
    switch (c) {
    case 0: return exp(-0.5 * pow((u - 0.5) / 0.18, 2));
    case 1: return -(1 - fabs(2 * u - 1));
    case 2: return 1;
    default: return exp(-0.5 * pow((u - 0.25) / 0.1, 2)) + exp(-0.5 * pow((u - 0.75) / 0.1, 2));
    }
}

cf_ts_set *cf_motifs_make(const int64_t counts[CF_MOTIF_CLASSES], double amplitude, uint64_t seed, cf_motif **planted)
{
    static const char *const labels[CF_MOTIF_CLASSES] = {"c0", "c1", "c2", "c3"};
    int64_t n = 0;
    for (int c = 0; c < CF_MOTIF_CLASSES; c++) n += counts[c];
    const int64_t V = CF_MOTIF_DIMS, T = CF_MOTIF_LENGTH;
    cf_ts_set *s = cf_ts_new_equal("Motifs", n, V, T, CF_MOTIF_CLASSES, labels);
    cf_motif *pl = s ? malloc((size_t)n * sizeof *pl) : NULL;
    if (!s || !pl) {
        cf_ts_free(s);
        if (s) cf_set_error(CF_ERR_OOM, "motifs: out of memory");
        return NULL;
    }
    cf_philox_key key = cf_rng_key(seed, 0x6d6f74);
    int64_t i = 0;
    for (int c = 0; c < CF_MOTIF_CLASSES; c++)
        for (int64_t j = 0; j < counts[c]; j++, i++) {
            uint64_t r = 0, step = (uint64_t)i;
#define U() cf_rng_uniform(key, step, r++)
#define N() cf_rng_normal(key, step, r++)
            for (int64_t d = 0; d < V; d++) {
                double P = 20 + 20 * U(), phi = TWO_PI * U(), walk = 0;
                double *x = s->values + (i * V + d) * T;
                for (int64_t t = 0; t < T; t++) {
                    walk += 0.05 * N();
                    x[t] = sin(TWO_PI * (double)t / P + phi) + walk + 0.3 * N();
                }
            }
            int64_t L = 12 + (int64_t)(9 * U()), centre = motif_at[c] - 8 + (int64_t)(17 * U());
            double a = amplitude * (0.8 + 0.4 * U());
            int64_t start = centre - L / 2;
            double *x = s->values + (i * V + motif_dim[c]) * T;
            for (int64_t t = 0; t < L; t++) x[start + t] += a * motif(c, (double)t / (double)(L - 1));
            s->label[i] = c;
            pl[i] = (cf_motif){motif_dim[c], start, start + L};
#undef U
#undef N
        }
    if (planted) *planted = pl;
    else free(pl);
    return s;
}

cf_status cf_motifs_write_splits(const char *dir, const char *name, bool imbalanced, double amplitude, uint64_t seed)
{
    static const char *const split[3] = {"TRAIN", "VAL", "TEST"};
    int64_t counts[3][CF_MOTIF_CLASSES] = {{20, 20, 20, 20}, {10, 10, 10, 10}, {50, 50, 50, 50}};
    if (imbalanced) counts[0][0] = 40, counts[0][1] = 20, counts[0][2] = 10, counts[0][3] = 5;
    CF_TRY(cf_mkdirs(dir));
    for (int k = 0; k < 3; k++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s_%s.ts", dir, name, split[k]) >= sizeof path)
            return cf_set_error(CF_ERR_ARG, "motifs: path too long under %s", dir);
        cf_ts_set *s = cf_motifs_make(counts[k], amplitude, seed + (uint64_t)k, NULL);
        if (!s) return cf_last_status();
        snprintf(s->problem, sizeof s->problem, "%s", name);
        cf_status st = cf_ts_write(path, s);
        cf_ts_free(s);
        CF_TRY(st);
    }
    return CF_OK;
}
