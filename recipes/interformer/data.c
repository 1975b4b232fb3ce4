/* `data.type: scenes` and `cformer data scenes`: InterFormer's synthetic instance scenes as PNG pairs
 * (data/scenes/scenes.h), one target object per sample. */
#include "recipes/interformer/internal.h"
#include "recipes/recipe/recipe.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    cf_dataset base;
    cf_scenes *s;
    uint64_t seed;
    bool train;
} scenes_ds;

static const double MEAN[3] = {123.675, 116.28, 103.53}, STD[3] = {58.395, 57.12, 57.375};

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
    return z ^ (z >> 29);
}

static cf_status scenes_get(cf_dataset *ds, int64_t index, cf_batch *b, int row)
{
    scenes_ds *d = (scenes_ds *)ds;
    const cf_scenes *s = d->s;
    int64_t px = (int64_t)s->side * s->side;
    cf_tensor *img = cf_batch_get(b, "image"), *msk = cf_batch_get(b, "mask");
    if (!img || !msk) return cf_last_status();
    float *x = (float *)cf_data(img) + (int64_t)row * 3 * px, *y = (float *)cf_data(msk) + (int64_t)row * px;
    const uint8_t *rgb = s->image + index * px * 3, *ids = s->mask + index * px;
    for (int64_t p = 0; p < px; p++)
        for (int c = 0; c < 3; c++) x[c * px + p] = (float)((rgb[p * 3 + c] - MEAN[c]) / STD[c]);
    uint64_t key = mix(d->seed, (uint64_t)index);
    if (d->train) key = mix(key, (uint64_t)(b->epoch > 0 ? b->epoch : 0));
    uint8_t target = s->ids[index][key % s->count[index]];
    for (int64_t p = 0; p < px; p++) y[p] = ids[p] == target ? 1.0f : 0.0f;
    return CF_OK;
}

static cf_status scenes_make_batch(cf_dataset *ds, int rows, cf_batch *b)
{
    int64_t S = ((scenes_ds *)ds)->s->side;
    CF_TRY(cf_batch_add(b, "image", CF_F32, 4, (const int64_t[]){rows, 3, S, S}));
    return cf_batch_add(b, "mask", CF_F32, 4, (const int64_t[]){rows, 1, S, S});
}

static void scenes_free(cf_dataset *ds)
{
    cf_scenes_free(((scenes_ds *)ds)->s);
    free(ds);
}

static const cf_dataset_vtable scenes_vt = {"scenes", scenes_get, scenes_make_batch, scenes_free};

cf_dataset *cf_scenes_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char dbuf[2048], probe[4096];
    const char *dir = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), dbuf, sizeof dbuf);
    int64_t seed = cf_recipe_int_in(r, "data.seed", 0, 0, CF_MAX_SEED);
    int64_t min_area = cf_recipe_int_in(r, "data.min_area", 16, 1, INT64_C(1) << 24);
    bool generate = cf_recipe_has(r, "data.generate");
    int64_t gtrain = cf_recipe_int_in(r, "data.generate.train", 8000, 1, 99999);
    int64_t gval = cf_recipe_int_in(r, "data.generate.val", 500, 1, 99999);
    int64_t gside = cf_recipe_int_in(r, "data.generate.side", 64, 16, CF_SCENES_MAX_SIDE);
    int64_t gseed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    const char *sub = strcmp(split, "train") == 0 ? "train" : "val";
    snprintf(probe, sizeof probe, "%s/%s/images/00000.png", dir, sub);
    struct stat sb;
    if (generate && stat(probe, &sb) != 0) {
        fprintf(stderr, "scenes: generating %lld + %lld %lldx%lld scenes in %s (seed %lld)\n", (long long)gtrain,
                (long long)gval, (long long)gside, (long long)gside, dir, (long long)gseed);
        cf_status st = cf_scenes_generate(dir, "train", gtrain, (int)gside, (uint64_t)gseed);
        if (st == CF_OK) st = cf_scenes_generate(dir, "val", gval, (int)gside, (uint64_t)gseed);
        if (st != CF_OK) {
            cf_recipe_fail(r, "data.generate", st, "%s", cf_last_error());
            return NULL;
        }
    }
    cf_scenes *s = cf_scenes_read(dir, sub, min_area);
    if (!s) {
        cf_recipe_fail(r, "data.path", cf_last_status(), "%s%s", cf_last_error(),
                       generate ? "" : " (give data.generate or run `cformer data scenes`)");
        return NULL;
    }
    scenes_ds *d = calloc(1, sizeof *d);
    if (!d) {
        cf_scenes_free(s);
        cf_set_error(CF_ERR_OOM, "scenes: out of memory");
        return NULL;
    }
    d->s = s, d->seed = (uint64_t)seed, d->train = strcmp(split, "train") == 0;
    d->base.vt = &scenes_vt;
    d->base.len = s->n;
    snprintf(d->base.name, sizeof d->base.name, "%s", s->name);
    d->base.info.frames = 1, d->base.info.frame_h = d->base.info.frame_w = s->side;
    d->base.info.channels = 3, d->base.info.vocab = 2;
    return &d->base;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data scenes -o DIR [--train N] [--val N] [--side S] [--seed S]\n\n"
               "Writes InterFormer's synthetic instance scenes (2..5 ellipses, rectangles, triangles, stars, rings on a\n"
               "gradient + noise background, occluding each other) as PNG pairs DIR/{train,val}/images/NNNNN.png (RGB)\n"
               "and DIR/{train,val}/masks/NNNNN.png (8-bit instance ids, 0 = background). Defaults: 8000 train, 500 val,\n"
               "64 x 64, seed 1.\n\n"
               "  cformer data scenes -o data/scenes\n");
}

int cf_interformer_scenes_cmd(int argc, char **argv)
{
    const char *cmd = "data scenes", *out = NULL;
    int64_t train = 8000, val = 500, side = 64, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc, ok = true;
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(s, "--train") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 1, 99999, &train);
        else if (strcmp(s, "--val") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 1, 99999, &val);
        else if (strcmp(s, "--side") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 16, CF_SCENES_MAX_SIDE, &side);
        else if (strcmp(s, "--seed") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 0, CF_MAX_SEED, &seed);
        else if ((strcmp(s, "-o") == 0 || strcmp(s, "--out") == 0) && v) out = argv[++i];
        else {
            fprintf(stderr, "cformer %s: unexpected argument '%s'\n\n", cmd, s);
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!out) {
        fprintf(stderr, "cformer %s: needs -o DIR\n\n", cmd);
        usage(stderr);
        return 2;
    }
    if (cf_scenes_generate(out, "train", train, (int)side, (uint64_t)seed) != CF_OK ||
        cf_scenes_generate(out, "val", val, (int)side, (uint64_t)seed) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("wrote %s/{train,val}/{images,masks}/ (%lld + %lld scenes, %lldx%lld, seed %lld)\n", out, (long long)train,
           (long long)val, (long long)side, (long long)side, (long long)seed);
    return 0;
}
