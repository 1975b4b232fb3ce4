/* The shapes task of data/lra/shapes.h: seeded generator, writer and reader of LRA-style TSV files. */
#include "data/lra/shapes.h"
#include "autograd/fileio.h"
#include "autograd/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* uniform integer in [0, n): element k of the draw at step `index` of stream (seed, 0) */
typedef struct draw { cf_philox_key key; uint64_t index, k; } draw;
static int64_t uniform_int(draw *d, int64_t n)
{
    int64_t v = (int64_t)(cf_rng_uniform(d->key, d->index, d->k++) * (double)n);
    return v < n ? v : n - 1;
}

int cf_lra_shapes_draw(uint8_t *px, int64_t size, double noise, uint64_t seed, uint64_t index)
{
    draw d = {cf_rng_key(seed, 0), index, 0};
    memset(px, 0, (size_t)(size * size));
    int cls = (int)uniform_int(&d, CF_LRA_SHAPE_CLASSES);
    int64_t len = size / 2 + uniform_int(&d, size / 4 + 1);
    int64_t r = uniform_int(&d, size - len + 1), c = uniform_int(&d, size - len + 1), line = uniform_int(&d, size);
    switch (cls) {
    case 0: for (int64_t k = 0; k < len; k++) px[line * size + c + k] = 255; break;
    case 1: for (int64_t k = 0; k < len; k++) px[(r + k) * size + line] = 255; break;
    case 2: {
        bool down_left = uniform_int(&d, 2);
        for (int64_t k = 0; k < len; k++) px[(r + k) * size + (down_left ? c + len - 1 - k : c + k)] = 255;
        break;
    }
    default: /* a plus sign whose arms cross at the middle of a len x len box */
        for (int64_t k = 0; k < len; k++) px[(r + len / 2) * size + c + k] = px[(r + k) * size + c + len / 2] = 255;
    }
    /* salt noise: stream (seed, 1), one uniform per pixel */
    cf_philox_key salt = cf_rng_key(seed, 1);
    for (int64_t i = 0; i < size * size; i++)
        if (cf_rng_uniform(salt, index, (uint64_t)i) < noise) px[i] = 255;
    return cls;
}

cf_status cf_lra_shapes_write(const char *path, int64_t size, int64_t count, double noise, uint64_t seed,
                              uint64_t first)
{
    if (size < 4 || size > CF_LRA_MAX_SIDE || count < 1 || !(noise >= 0 && noise <= 1))
        return cf_set_error(CF_ERR_ARG, "%s: shapes need size in [4, %d], count >= 1, noise in [0, 1]", path,
                            CF_LRA_MAX_SIDE);
    uint8_t *px = malloc((size_t)(size * size));
    cf_atomic_file *af = px ? cf_atomic_open(path) : NULL;
    if (!af) {
        free(px);
        return px ? cf_last_status() : cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    }
    cf_atomic_printf(af, "Source\tTarget\n");
    for (int64_t i = 0; i < count; i++) {
        int cls = cf_lra_shapes_draw(px, size, noise, seed, first + (uint64_t)i);
        FILE *f = cf_atomic_stream(af);
        for (int64_t t = 0; f && t < size * size; t++) fprintf(f, t ? " %d" : "%d", px[t]);
        cf_atomic_printf(af, "\t%d\n", cls);
    }
    free(px);
    return cf_atomic_commit(af);
}

void cf_lra_shapes_path(char *buf, size_t n, const char *dir, int64_t size, const char *split)
{
    snprintf(buf, n, "%s/shapes%lld_%s.tsv", dir, (long long)size, split);
}

cf_status cf_lra_shapes_write_splits(const char *dir, int64_t size, const int64_t counts[3], double noise,
                                     uint64_t seed, bool only_missing)
{
    static const char *const splits[3] = {"train", "val", "test"};
    CF_TRY(cf_mkdirs(dir));
    uint64_t first = 0;
    for (int k = 0; k < 3; k++) {
        char path[4096];
        cf_lra_shapes_path(path, sizeof path, dir, size, splits[k]);
        struct stat sb;
        if (!(only_missing && stat(path, &sb) == 0)) CF_TRY(cf_lra_shapes_write(path, size, counts[k], noise, seed, first));
        first += (uint64_t)counts[k];
    }
    return CF_OK;
}

void cf_lra_free(cf_lra_set *s)
{
    if (!s) return;
    free(s->pixels), free(s->labels), free(s);
}

static cf_lra_set *read_fail(cf_lra_set *s, FILE *f, char *line)
{
    if (f) fclose(f);
    free(line);
    cf_lra_free(s);
    return NULL;
}

cf_lra_set *cf_lra_read(const char *path, int64_t seq)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cf_lra_set *s = calloc(1, sizeof *s);
    char *line = NULL;
    size_t cap = 0;
    int64_t lineno = 0, alloc = 0;
    if (!s) return read_fail(s, f, line);
    s->seq = seq;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            if (strcmp(line, "Source\tTarget") != 0) {
                cf_set_error(CF_ERR_FORMAT, "%s:1: expected the header 'Source<TAB>Target'", path);
                return read_fail(s, f, line);
            }
            continue;
        }
        if (!line[0]) continue;
        if (s->count == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            uint8_t *px = realloc(s->pixels, (size_t)(alloc * seq));
            if (px) s->pixels = px;
            int64_t *lb = realloc(s->labels, sizeof(int64_t) * (size_t)alloc);
            if (lb) s->labels = lb;
            if (!px || !lb) {
                cf_set_error(CF_ERR_OOM, "%s:%lld: out of memory", path, (long long)lineno);
                return read_fail(s, f, line);
            }
        }
        char *p = line, *end;
        uint8_t *row = s->pixels + s->count * seq;
        for (int64_t t = 0; t < seq; t++) {
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || v < 0 || v > 255 || (*end != ' ' && *end != '\t')) {
                cf_set_error(CF_ERR_FORMAT, "%s:%lld: Source value %lld is not an integer in [0, 255] followed by a "
                             "space or tab (%lld values expected)", path, (long long)lineno, (long long)t + 1,
                             (long long)seq);
                return read_fail(s, f, line);
            }
            row[t] = (uint8_t)v;
            p = end + (*end == ' ');
        }
        errno = 0;
        long lab = *p == '\t' ? strtol(p + 1, &end, 10) : -1;
        if (*p != '\t' || end == p + 1 || *end || errno || lab < 0 || lab >= (1L << 20)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%lld: expected exactly %lld Source values, a tab and an integer Target "
                         "in [0, 2^20)", path, (long long)lineno, (long long)seq);
            return read_fail(s, f, line);
        }
        s->labels[s->count++] = lab;
        if (lab + 1 > s->classes) s->classes = lab + 1;
    }
    if (s->count == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: no examples", path);
        return read_fail(s, f, line);
    }
    fclose(f);
    free(line);
    return s;
}
