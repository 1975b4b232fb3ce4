/* `data.type: lra_shapes` (the shapes task of data/lra/shapes.h as batches) and `cformer data lra-shapes`. */
#include "data/lra/shapes.h"
#include "recipes/ecoformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_dataset base;
    cf_lra_set *set;
} shapes_ds;

static cf_status shapes_get(cf_dataset *d, int64_t index, cf_batch *b, int row)
{
    shapes_ds *s = (shapes_ds *)d;
    int64_t N = s->set->seq;
    float *px = (float *)cf_data(b->fields[0]) + (int64_t)row * N;
    const uint8_t *src = s->set->pixels + index * N;
    for (int64_t t = 0; t < N; t++) px[t] = (float)src[t] / 255.0f;
    ((int64_t *)cf_data(b->fields[1]))[row] = s->set->labels[index];
    return CF_OK;
}

static cf_status shapes_make_batch(cf_dataset *d, int rows, cf_batch *b)
{
    shapes_ds *s = (shapes_ds *)d;
    CF_TRY(cf_batch_add(b, "pixels", CF_F32, CF_SHAPE(rows, s->set->seq)));
    return cf_batch_add(b, "label", CF_I64, CF_SHAPE(rows));
}

static void shapes_free(cf_dataset *d)
{
    cf_lra_free(((shapes_ds *)d)->set);
    free(d);
}

static const cf_dataset_vtable shapes_vt = {"lra_shapes", shapes_get, shapes_make_batch, shapes_free};

cf_dataset *cf_lra_shapes_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char dbuf[2048], path[4096];
    const char *dir = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), dbuf, sizeof dbuf);
    int64_t size = cf_recipe_int_in(r, "data.size", 16, 4, CF_LRA_MAX_SIDE);
    int64_t counts[3] = {cf_recipe_int_in(r, "data.generate.train", 8000, 1, CF_MAX_COUNT),
                         cf_recipe_int_in(r, "data.generate.val", 1000, 1, CF_MAX_COUNT),
                         cf_recipe_int_in(r, "data.generate.test", 2000, 1, CF_MAX_COUNT)};
    double noise = cf_recipe_float_in(r, "data.generate.noise", 0.1, 0, 1, CF_RANGE_CLOSED);
    int64_t seed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    bool generate = cf_recipe_has(r, "data.generate");
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (generate && cf_lra_shapes_write_splits(dir, size, counts, noise, (uint64_t)seed, true) != CF_OK) {
        cf_recipe_fail(r, "data.generate", cf_last_status(), "%s", cf_last_error());
        return NULL;
    }
    cf_lra_shapes_path(path, sizeof path, dir, size, split);
    shapes_ds *d = calloc(1, sizeof *d);
    if (!d) {
        cf_set_error(CF_ERR_OOM, "lra_shapes: out of memory");
        return NULL;
    }
    d->set = cf_lra_read(path, size * size);
    if (!d->set) {
        cf_recipe_fail(r, "data.path", cf_last_status(), "%s%s", cf_last_error(),
                       generate ? "" : " (give data.generate: {train, val, test, seed} or run `cformer data lra-shapes`)");
        free(d);
        return NULL;
    }
    d->base.vt = &shapes_vt;
    d->base.len = d->set->count;
    snprintf(d->base.name, sizeof d->base.name, "lra_shapes %.200s [%s]", path, split);
    d->base.info.seq = size * size;
    d->base.info.vocab = d->set->classes; /* a classification set: the classes its labels use */
    d->base.info.frame_h = d->base.info.frame_w = size;
    return &d->base;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data lra-shapes -o DIR [--size S] [--train N] [--val N] [--test N] [--noise P] [--seed S]\n\n"
               "Writes the synthetic long-range shapes task (S x S images, default 16, of a horizontal bar, a vertical bar,\n"
               "a diagonal or a cross at a random position, salt noise P = 0.1, flattened row-major) as LRA-style TSV\n"
               "files DIR/shapes<S>_{train,val,test}.tsv (header Source<TAB>Target). Defaults: 8000 / 1000 / 2000, seed 1.\n\n"
               "  cformer data lra-shapes -o recipes/ecoformer/data\n");
}

int cf_ecoformer_shapes_cmd(int argc, char **argv)
{
    const char *cmd = "data lra-shapes", *out = NULL;
    int64_t size = 16, counts[3] = {8000, 1000, 2000}, seed = 1;
    double noise = 0.1;
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--size", &size, 4, CF_LRA_MAX_SIDE),     CF_CLI_OPT_INT("--train", &counts[0], 1, CF_MAX_COUNT),
        CF_CLI_OPT_INT("--val", &counts[1], 1, CF_MAX_COUNT),     CF_CLI_OPT_INT("--test", &counts[2], 1, CF_MAX_COUNT),
        CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED),          CF_CLI_OPT_FLOAT("--noise", &noise, 0, 1, CF_RANGE_CLOSED),
        CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse(cmd, argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    if (cf_lra_shapes_write_splits(out, size, counts, noise, (uint64_t)seed, false) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("wrote %s/shapes%lld_{train,val,test}.tsv: %lld / %lld / %lld images of %lldx%lld, seed %lld\n", out,
           (long long)size, (long long)counts[0], (long long)counts[1], (long long)counts[2], (long long)size,
           (long long)size, (long long)seed);
    return 0;
}
