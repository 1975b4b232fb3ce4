/* The `kws` dataset (synthetic keyword spotting, data/audio/kws.h) for recipes, and `cformer data kws`. */
#include "data/audio/kws.h"
#include "recipes/lmuformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct kws_ds {
    cf_dataset base;
    cf_kws_set s;
} kws_ds;

static cf_status kws_get(cf_dataset *d, int64_t index, cf_batch *b, int row)
{
    kws_ds *k = (kws_ds *)d;
    cf_tensor *x = cf_batch_get(b, "x"), *y = cf_batch_get(b, "label");
    if (!x || !y) return cf_last_status();
    float *dst = (float *)cf_data(x) + (int64_t)row * k->s.mels * k->s.frames;
    const float *src = k->s.x + index * k->s.frames * k->s.mels;
    for (int64_t t = 0; t < k->s.frames; t++) /* [frames, mels] -> channel-first [mels, frames] */
        for (int64_t f = 0; f < k->s.mels; f++) dst[f * k->s.frames + t] = src[t * k->s.mels + f];
    ((int64_t *)cf_data(y))[row] = k->s.label[index];
    return CF_OK;
}

static cf_status kws_make_batch(cf_dataset *d, int rows, cf_batch *b)
{
    kws_ds *k = (kws_ds *)d;
    CF_TRY(cf_batch_add(b, "x", CF_F32, CF_SHAPE(rows, k->s.mels, k->s.frames)));
    return cf_batch_add(b, "label", CF_I64, CF_SHAPE(rows));
}

static void kws_free(cf_dataset *d)
{
    kws_ds *k = (kws_ds *)d;
    cf_kws_free(&k->s);
    free(k);
}

static const cf_dataset_vtable kws_vt = {"kws", kws_get, kws_make_batch, kws_free};

typedef struct gen_keys {
    cf_kws_config c;
    int64_t count[3], seed;
} gen_keys;

static const char *const splits[3] = {"train", "val", "test"};

/* Writes every split that is missing (data.generate given), else requires the files. */
static cf_status ensure(cf_recipe *r, const char *dir, const char *split)
{
    gen_keys g = {.c = cf_kws_defaults()};
    static const int64_t dflt[3] = {4000, 500, 1000};
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, "data.generate.%s", splits[i]);
        g.count[i] = cf_recipe_int_in(r, key, dflt[i], 1, CF_MAX_COUNT);
    }
    g.seed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    g.c.classes = (int)cf_recipe_int_in(r, "data.generate.classes", g.c.classes, 2, 1000);
    g.c.mels = (int)cf_recipe_int_in(r, "data.generate.mels", g.c.mels, 6, 4096);
    g.c.frames = (int)cf_recipe_int_in(r, "data.generate.frames", g.c.frames, 8, 1 << 16);
    g.c.shift = (int)cf_recipe_int_in(r, "data.generate.shift", g.c.shift, 0, 1 << 14);
    g.c.noise = cf_recipe_float_in(r, "data.generate.noise", g.c.noise, 0, 100, CF_RANGE_CLOSED);
    bool generate = cf_recipe_has(r, "data.generate");
    CF_TRY(cf_recipe_status(r));
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.npy", dir, split);
    struct stat sb;
    if (stat(path, &sb) == 0) return CF_OK;
    if (!generate)
        return cf_recipe_fail(r, "data.path", CF_ERR_IO, "%s: %s (give data.generate to write it, or run `cformer data kws`)",
                              path, strerror(errno));
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s.npy", dir, splits[i]);
        if (stat(path, &sb) == 0) continue;
        cf_status st = cf_kws_write(dir, splits[i], &g.c, g.count[i], (uint64_t)g.seed * 3 + (uint64_t)i);
        if (st != CF_OK) return cf_recipe_fail(r, "data.generate", st, "%s", cf_last_error());
    }
    return CF_OK;
}

cf_dataset *cf_kws_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char pbuf[2048];
    const char *dir = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), pbuf, sizeof pbuf);
    if (cf_recipe_status(r) != CF_OK || ensure(r, dir, split) != CF_OK) return NULL;
    kws_ds *k = calloc(1, sizeof *k);
    if (!k) {
        cf_set_error(CF_ERR_OOM, "kws: out of memory");
        return NULL;
    }
    if (cf_kws_read(dir, split, &k->s) != CF_OK) {
        free(k);
        return NULL;
    }
    k->base.vt = &kws_vt;
    k->base.len = k->s.items;
    snprintf(k->base.name, sizeof k->base.name, "kws %s [%s]", dir, split);
    k->base.info.units = k->s.mels, k->base.info.frames = k->s.frames, k->base.info.vocab = k->s.classes;
    return &k->base;
}

#define KWS_USAGE \
    "usage: cformer data kws --out DIR [--seed S] [--train N] [--val N] [--test N] [--classes K] [--mels F]\n" \
    "                        [--frames N] [--shift S] [--noise SIGMA]\n" \
    "  writes DIR/{train,val,test}.npy (float32 [items, frames, mels]) and .csv (index,label)\n"

int cf_kws_cmd(int argc, char **argv)
{
    cf_kws_config c = cf_kws_defaults();
    int64_t count[3] = {4000, 500, 1000}, seed = 1, v;
    double noise = c.noise;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(KWS_USAGE, stdout);
            return 0;
        }
        if (!a) {
            fprintf(stderr, "data kws: %s needs a value\n" KWS_USAGE, o);
            return 2;
        }
        i++;
        bool ok = true;
        if (strcmp(o, "--out") == 0) out = a;
        else if (strcmp(o, "--seed") == 0) ok = cf_cli_int("data kws", o, a, 0, CF_MAX_SEED, &seed);
        else if (strcmp(o, "--train") == 0) ok = cf_cli_int("data kws", o, a, 1, CF_MAX_COUNT, &count[0]);
        else if (strcmp(o, "--val") == 0) ok = cf_cli_int("data kws", o, a, 1, CF_MAX_COUNT, &count[1]);
        else if (strcmp(o, "--test") == 0) ok = cf_cli_int("data kws", o, a, 1, CF_MAX_COUNT, &count[2]);
        else if (strcmp(o, "--classes") == 0) ok = cf_cli_int("data kws", o, a, 2, 1000, &v), c.classes = (int)v;
        else if (strcmp(o, "--mels") == 0) ok = cf_cli_int("data kws", o, a, 6, 4096, &v), c.mels = (int)v;
        else if (strcmp(o, "--frames") == 0) ok = cf_cli_int("data kws", o, a, 8, 1 << 16, &v), c.frames = (int)v;
        else if (strcmp(o, "--shift") == 0) ok = cf_cli_int("data kws", o, a, 0, 1 << 14, &v), c.shift = (int)v;
        else if (strcmp(o, "--noise") == 0) ok = cf_cli_float("data kws", o, a, 0, 100, CF_RANGE_CLOSED, &noise);
        else {
            fprintf(stderr, "data kws: unknown option %s\n" KWS_USAGE, o);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!out) {
        fputs("data kws: --out DIR is required\n" KWS_USAGE, stderr);
        return 2;
    }
    c.noise = noise;
    for (int i = 0; i < 3; i++)
        if (cf_kws_write(out, splits[i], &c, count[i], (uint64_t)seed * 3 + (uint64_t)i) != CF_OK) {
            fprintf(stderr, "data kws: %s\n", cf_last_error());
            return 1;
        }
    printf("wrote %s/{train,val,test}.npy|.csv: %" PRId64 "/%" PRId64 "/%" PRId64 " items, %d classes, %d frames x %d mels\n",
           out, count[0], count[1], count[2], c.classes, c.frames, c.mels);
    return 0;
}
