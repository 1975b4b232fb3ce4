/* Synthetic keyword-spotting features: generator and reader (data/audio/kws.h). */
#include "data/audio/kws.h"

#include "autograd/fileio.h"
#include "data/npy.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_kws_config cf_kws_defaults(void) { return (cf_kws_config){.classes = 10, .mels = 32, .frames = 64, .shift = 8, .noise = 0.5}; }

uint64_t cf_kws_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
double cf_kws_uniform(uint64_t *s) { return (double)(cf_kws_next(s) >> 11) * 0x1.0p-53; }
double cf_kws_normal(uint64_t *s)
{
    double r = sqrt(-2 * log(1 - cf_kws_uniform(s)));
    return r * cos(6.283185307179586 * cf_kws_uniform(s));
}
static uint64_t next(uint64_t *s) { return cf_kws_next(s); }
static double uni(uint64_t *s) { return cf_kws_uniform(s); }
static double gauss(uint64_t *s) { return cf_kws_normal(s); }

/* class k, band b: start frequency and total sweep in mel bins, from a fixed seed (shared by all splits) */
static void band(const cf_kws_config *c, int k, int b, double *f0, double *sweep)
{
    uint64_t s = 0x5eed0000ull + (uint64_t)k * 16 + (uint64_t)b;
    *f0 = (b + 0.15 + 0.7 * uni(&s)) * c->mels / 3.0;
    *sweep = (uni(&s) - 0.5) * c->mels / 2.5;
}

static void draw(const cf_kws_config *c, int k, uint64_t *s, float *out)
{
    int shift = (int)(next(s) % (uint64_t)(2 * c->shift + 1)) - c->shift;
    double amp = 0.7 + 0.6 * uni(s);
    int on = c->frames / 6 + shift, len = c->frames * 2 / 3;
    for (int t = 0; t < c->frames; t++)
        for (int f = 0; f < c->mels; f++) out[t * c->mels + f] = (float)(c->noise * gauss(s));
    for (int b = 0; b < 3; b++) {
        double f0, sw;
        band(c, k, b, &f0, &sw);
        for (int i = 0; i < len; i++) {
            int t = on + i;
            if (t < 0 || t >= c->frames) continue;
            double centre = f0 + sw * i / len;
            for (int f = 0; f < c->mels; f++)
                out[t * c->mels + f] += (float)(amp * exp(-(f - centre) * (f - centre) / 4.5));
        }
    }
}

static cf_status write_npy(const char *path, const float *x, int64_t n, int64_t frames, int64_t mels)
{
    char dict[128];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64
                                          ", %" PRId64 "), }", n, frames, mels);
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    char head[256];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    uint16_t hl = (uint16_t)(len + pad + 1);
    head[8] = (char)(hl & 0xff), head[9] = (char)(hl >> 8);
    memcpy(head + 10, dict, (size_t)len);
    memset(head + 10 + len, ' ', (size_t)pad);
    head[10 + len + pad] = '\n';
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_status st = cf_atomic_write(af, head, (size_t)(total + pad));
    if (st == CF_OK) st = cf_atomic_write(af, x, (size_t)(n * frames * mels) * sizeof(float)); /* little-endian hosts */
    return st == CF_OK ? cf_atomic_commit(af) : st;
}

static void paths(const char *dir, const char *split, char *npy, char *csv, size_t cap)
{
    snprintf(npy, cap, "%s/%s.npy", dir, split);
    snprintf(csv, cap, "%s/%s.csv", dir, split);
}

cf_status cf_kws_save(const char *dir, const char *split, const float *x, const int64_t *label, int64_t items,
                      int64_t frames, int64_t mels)
{
    char npy[2048], csv[2048];
    paths(dir, split, npy, csv, sizeof npy);
    cf_status st = cf_mkdirs(dir);
    cf_atomic_file *af = st == CF_OK ? cf_atomic_open(csv) : NULL;
    if (!af) return cf_last_status();
    st = cf_atomic_printf(af, "index,label\n");
    for (int64_t i = 0; i < items && st == CF_OK; i++) st = cf_atomic_printf(af, "%" PRId64 ",%" PRId64 "\n", i, label[i]);
    if (st == CF_OK) st = write_npy(npy, x, items, frames, mels);
    return st == CF_OK ? cf_atomic_commit(af) : st;
}

cf_status cf_kws_write(const char *dir, const char *split, const cf_kws_config *c, int64_t count, uint64_t seed)
{
    if (c->classes < 2 || c->mels < 6 || c->frames < 8 || c->shift < 0 || c->shift >= c->frames / 4 || count < 1 ||
        !(c->noise >= 0))
        return cf_set_error(CF_ERR_ARG, "kws: classes %d, mels %d, frames %d, shift %d, count %" PRId64 ", noise %g: want "
                                        "classes >= 2, mels >= 6, frames >= 8, 0 <= shift < frames/4, count >= 1, "
                                        "noise >= 0", c->classes, c->mels, c->frames, c->shift, count, c->noise);
    size_t per = (size_t)c->frames * (size_t)c->mels;
    float *x = malloc((size_t)count * per * sizeof(float));
    int64_t *label = malloc((size_t)count * sizeof *label);
    cf_status st = x && label ? CF_OK : cf_set_error(CF_ERR_OOM, "kws: out of memory for %" PRId64 " items", count);
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
    for (int64_t i = 0; i < count && st == CF_OK; i++) {
        label[i] = (int64_t)(next(&s) % (uint64_t)c->classes);
        draw(c, (int)label[i], &s, x + (size_t)i * per);
    }
    if (st == CF_OK) st = cf_kws_save(dir, split, x, label, count, c->frames, c->mels);
    free(x), free(label);
    return st;
}

void cf_kws_free(cf_kws_set *s)
{
    free(s->x), free(s->label);
    memset(s, 0, sizeof *s);
}

cf_status cf_kws_read(const char *dir, const char *split, cf_kws_set *s)
{
    memset(s, 0, sizeof *s);
    char npy[2048], csv[2048];
    paths(dir, split, npy, csv, sizeof npy);
    cf_npy_info info;
    void *data = NULL;
    cf_status st = cf_npy_read(npy, CF_NPY_OUT_F32, CF_NPY_FINITE, &info, &data);
    if (st != CF_OK) return st;
    s->x = data;
    if (info.ndim != 3 || info.shape[0] < 1 || info.shape[1] < 1 || info.shape[2] < 1) {
        cf_kws_free(s);
        return cf_set_error(CF_ERR_FORMAT, "%s: want a [items, frames, mels] array", npy);
    }
    s->items = info.shape[0], s->frames = info.shape[1], s->mels = info.shape[2];
    s->label = malloc((size_t)s->items * sizeof *s->label);
    FILE *f = fopen(csv, "r");
    char line[256];
    if (!s->label || !f || !fgets(line, sizeof line, f) || strncmp(line, "index,label", 11) != 0) {
        if (f) fclose(f);
        cf_kws_free(s);
        return cf_set_error(CF_ERR_FORMAT, "%s: missing, or no 'index,label' header", csv);
    }
    int64_t n = 0;
    long long idx, lab;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lld,%lld", &idx, &lab) != 2 || idx != n || n >= s->items || lab < 0 || lab > 1000000) {
            fclose(f);
            cf_kws_free(s);
            return cf_set_error(CF_ERR_FORMAT, "%s:%" PRId64 ": want 'index,label' with index %" PRId64
                                               " < %" PRId64 " and 0 <= label <= 1e6",
                                csv, n + 2, n, info.shape[0]);
        }
        s->label[n++] = lab;
        if (lab + 1 > s->classes) s->classes = (int)lab + 1;
    }
    fclose(f);
    if (n != s->items) {
        int64_t items = s->items;
        cf_kws_free(s);
        return cf_set_error(CF_ERR_FORMAT, "%s: %" PRId64 " labels for %" PRId64 " items in %s", csv, n, items, npy);
    }
    return CF_OK;
}
