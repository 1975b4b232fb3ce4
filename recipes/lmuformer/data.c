/* The `kws` dataset (synthetic keyword spotting, data/audio/kws.h) for recipes, and `cformer data kws`. */
#include "data/audio/kws.h"
#include "data/series/pseq.h"
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

/* what data.generate asks for */
typedef struct gen_keys {
    bool pseq; /* data.generate.kind: kws (default) or pseq */
    cf_kws_config c;
    cf_pseq_config p;
    int64_t count[3], seed;
} gen_keys;

static const char *const splits[3] = {"train", "val", "test"};

/* Writes every split that is missing (data.generate given), else requires the files. */
static cf_status ensure(cf_recipe *r, const char *dir, const char *split)
{
    gen_keys g = {.c = cf_kws_defaults(), .p = cf_pseq_defaults()};
    const char *kind = cf_recipe_str(r, "data.generate.kind", "kws");
    g.pseq = kind && strcmp(kind, "pseq") == 0;
    if (kind && !g.pseq && strcmp(kind, "kws") != 0)
        return cf_recipe_fail(r, "data.generate.kind", CF_ERR_ARG, "unknown value '%s' (choose from kws, pseq)", kind);
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
    g.c.noise = cf_recipe_float_in(r, "data.generate.noise", g.pseq ? g.p.noise : g.c.noise, 0, 100, CF_RANGE_CLOSED);
    g.p.pixels = (int)cf_recipe_int_in(r, "data.generate.pixels", g.p.pixels, 2, 1 << 16);
    g.p.classes = g.c.classes, g.p.noise = g.c.noise;
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
        uint64_t seed = (uint64_t)g.seed * 3 + (uint64_t)i;
        cf_status st = g.pseq ? cf_pseq_write(dir, splits[i], &g.p, g.count[i], seed)
                              : cf_kws_write(dir, splits[i], &g.c, g.count[i], seed);
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

/* the options both generators take; extra parses a generator's own (returns false on a bad or unknown one) */
typedef struct gen_args {
    const char *cmd, *usage, *out;
    int64_t count[3], seed, classes;
    double noise;
    bool (*extra)(struct gen_args *g, const char *opt, const char *val, void *user);
    void *user;
} gen_args;

/* 0: parsed, -1: --help printed, 2: a usage error (printed) */
static int parse(gen_args *g, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(g->usage, stdout);
            return -1;
        }
        if (!a) {
            fprintf(stderr, "%s: %s needs a value\n%s", g->cmd, o, g->usage);
            return 2;
        }
        i++;
        bool ok = true;
        if (strcmp(o, "--out") == 0) g->out = a;
        else if (strcmp(o, "--seed") == 0) ok = cf_cli_int(g->cmd, o, a, 0, CF_MAX_SEED, &g->seed);
        else if (strcmp(o, "--train") == 0) ok = cf_cli_int(g->cmd, o, a, 1, CF_MAX_COUNT, &g->count[0]);
        else if (strcmp(o, "--val") == 0) ok = cf_cli_int(g->cmd, o, a, 1, CF_MAX_COUNT, &g->count[1]);
        else if (strcmp(o, "--test") == 0) ok = cf_cli_int(g->cmd, o, a, 1, CF_MAX_COUNT, &g->count[2]);
        else if (strcmp(o, "--classes") == 0) ok = cf_cli_int(g->cmd, o, a, 2, 1000, &g->classes);
        else if (strcmp(o, "--noise") == 0) ok = cf_cli_float(g->cmd, o, a, 0, 100, CF_RANGE_CLOSED, &g->noise);
        else ok = g->extra(g, o, a, g->user);
        if (!ok) return 2;
    }
    if (!g->out) {
        fprintf(stderr, "%s: --out DIR is required\n%s", g->cmd, g->usage);
        return 2;
    }
    return 0;
}

static bool unknown(gen_args *g, const char *o)
{
    fprintf(stderr, "%s: unknown option %s\n%s", g->cmd, o, g->usage);
    return false;
}

static bool kws_opt(gen_args *g, const char *o, const char *a, void *user)
{
    cf_kws_config *c = user;
    int64_t v = 0;
    bool ok;
    if (strcmp(o, "--mels") == 0) ok = cf_cli_int(g->cmd, o, a, 6, 4096, &v), c->mels = (int)v;
    else if (strcmp(o, "--frames") == 0) ok = cf_cli_int(g->cmd, o, a, 8, 1 << 16, &v), c->frames = (int)v;
    else if (strcmp(o, "--shift") == 0) ok = cf_cli_int(g->cmd, o, a, 0, 1 << 14, &v), c->shift = (int)v;
    else return unknown(g, o);
    return ok;
}

static bool pseq_opt(gen_args *g, const char *o, const char *a, void *user)
{
    cf_pseq_config *c = user;
    int64_t v = 0;
    if (strcmp(o, "--pixels") != 0) return unknown(g, o);
    bool ok = cf_cli_int(g->cmd, o, a, 2, 1 << 16, &v);
    c->pixels = (int)v;
    return ok;
}

static cf_status kws_write(gen_args *g, const char *split, int64_t count, uint64_t seed)
{
    cf_kws_config *c = g->user;
    c->classes = (int)g->classes, c->noise = g->noise;
    return cf_kws_write(g->out, split, c, count, seed);
}

static cf_status pseq_write(gen_args *g, const char *split, int64_t count, uint64_t seed)
{
    cf_pseq_config *c = g->user;
    c->classes = (int)g->classes, c->noise = g->noise;
    return cf_pseq_write(g->out, split, c, count, seed);
}

/* parses the options and writes the three splits; -1: --help shown, else a process exit code */
static int generate(gen_args *g, int argc, char **argv, cf_status (*write)(gen_args *, const char *, int64_t, uint64_t))
{
    int rc = parse(g, argc, argv);
    if (rc) return rc;
    for (int i = 0; i < 3; i++)
        if (write(g, splits[i], g->count[i], (uint64_t)g->seed * 3 + (uint64_t)i) != CF_OK) {
            fprintf(stderr, "%s: %s\n", g->cmd, cf_last_error());
            return 1;
        }
    printf("wrote %s/{train,val,test}.npy|.csv: %" PRId64 "/%" PRId64 "/%" PRId64 " items, %" PRId64 " classes, ", g->out,
           g->count[0], g->count[1], g->count[2], g->classes);
    return 0;
}

int cf_kws_cmd(int argc, char **argv)
{
    cf_kws_config c = cf_kws_defaults();
    gen_args g = {"data kws",
                  "usage: cformer data kws --out DIR [--seed S] [--train N] [--val N] [--test N] [--classes K]\n"
                  "                        [--mels F] [--frames N] [--shift S] [--noise SIGMA]\n"
                  "  writes DIR/{train,val,test}.npy (float32 [items, frames, mels]) and .csv (index,label)\n",
                  NULL, {4000, 500, 1000}, 1, c.classes, c.noise, kws_opt, &c};
    int rc = generate(&g, argc, argv, kws_write);
    if (rc == 0) printf("%d frames x %d mels\n", c.frames, c.mels);
    return rc < 0 ? 0 : rc;
}

int cf_pseq_cmd(int argc, char **argv)
{
    cf_pseq_config c = cf_pseq_defaults();
    gen_args g = {"data pseq",
                  "usage: cformer data pseq --out DIR [--seed S] [--train N] [--val N] [--test N] [--classes K]\n"
                  "                         [--pixels P] [--noise SIGMA]\n"
                  "  writes DIR/{train,val,test}.npy (float32 [items, pixels, 1]) and .csv (index,label)\n",
                  NULL, {4000, 500, 1000}, 1, c.classes, c.noise, pseq_opt, &c};
    int rc = generate(&g, argc, argv, pseq_write);
    if (rc == 0) printf("%d pixels\n", c.pixels);
    return rc < 0 ? 0 : rc;
}
