/* `data.type: ts`: a UEA/UCR .ts split as batches {series [B, V, T] float32, label [B] int64}, and
 * `cformer data motifs` (the planted-motif set of data/series/motifs.h written as .ts files). */
#include "data/series/motifs.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"
#include "recipes/shapeformer/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    cf_dataset base;
    float *x;
    int64_t *y;
    int64_t dims, length, classes;
    char split[16];
} ts_ds;

static cf_status ts_get(cf_dataset *d, int64_t index, cf_batch *b, int row)
{
    ts_ds *s = (ts_ds *)d;
    int64_t n = s->dims * s->length;
    memcpy((float *)cf_data(b->fields[0]) + (int64_t)row * n, s->x + index * n, (size_t)n * sizeof(float));
    ((int64_t *)cf_data(b->fields[1]))[row] = s->y[index];
    return CF_OK;
}

static cf_status ts_make_batch(cf_dataset *d, int rows, cf_batch *b)
{
    ts_ds *s = (ts_ds *)d;
    CF_TRY(cf_batch_add(b, "series", CF_F32, CF_SHAPE(rows, s->dims, s->length)));
    return cf_batch_add(b, "label", CF_I64, CF_SHAPE(rows));
}

static void ts_free(cf_dataset *d)
{
    ts_ds *s = (ts_ds *)d;
    free(s->x), free(s->y), free(s);
}

static const cf_dataset_vtable ts_vt = {"ts", ts_get, ts_make_batch, ts_free};

bool cf_ts_dataset_view(const cf_dataset *ds, cf_ts_dense_view *out)
{
    if (!ds || ds->vt != &ts_vt) return false;
    const ts_ds *s = (const ts_ds *)ds;
    *out = (cf_ts_dense_view){s->x, s->y, ds->len, s->dims, s->length, s->classes, s->split};
    return true;
}

/* The file suffix of a split; the val split reads NAME_<val_file>.ts (VAL, or TEST for the UEA archive, which
 * ships TRAIN and TEST only: validation is then a view of the test split, monitored, never used to select). */
static const char *split_file(const char *split, const char *val_file)
{
    return strcmp(split, "train") == 0 ? "TRAIN" : strcmp(split, "val") == 0 ? val_file : "TEST";
}

cf_dataset *cf_ts_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char dbuf[2048], path[4096];
    const char *dir = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), dbuf, sizeof dbuf);
    const char *name = cf_recipe_str(r, "data.name", "Motifs");
    int64_t length = cf_recipe_int_in(r, "data.length", 0, 0, CF_MAX_SEQ);
    cf_ts_pad pad;
    cf_ts_missing missing;
    const char *pad_s = cf_recipe_str(r, "data.padding", "zero"), *miss_s = cf_recipe_str(r, "data.missing", "noise");
    const char *val_file = cf_recipe_str(r, "data.val_file", "VAL");
    bool generate = cf_recipe_has(r, "data.generate");
    bool imbalanced = cf_recipe_bool(r, "data.generate.imbalanced", false);
    double amplitude = cf_recipe_float_in(r, "data.generate.amplitude", 2.0, 0, 100, CF_RANGE_CLOSED);
    int64_t seed = cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (!cf_ts_pad_parse(pad_s, &pad)) {
        cf_recipe_fail(r, "data.padding", CF_ERR_ARG, "unknown value '%s' (choose from zero, edge, refuse)", pad_s);
        return NULL;
    }
    if (!cf_ts_missing_parse(miss_s, &missing)) {
        cf_recipe_fail(r, "data.missing", CF_ERR_ARG, "unknown value '%s' (choose from noise, zero, refuse)", miss_s);
        return NULL;
    }
    if (strcmp(val_file, "VAL") != 0 && strcmp(val_file, "TEST") != 0) {
        cf_recipe_fail(r, "data.val_file", CF_ERR_ARG, "unknown value '%s' (choose from VAL, TEST)", val_file);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s_%s.ts", dir, name, split_file(split, val_file));
    struct stat sb;
    if (generate && stat(path, &sb) != 0) {
        fprintf(stderr, "ts: generating the motif set in %s (%s, seed %lld)\n", dir, imbalanced ? "imbalanced" : "balanced",
                (long long)seed);
        if (cf_motifs_write_splits(dir, name, imbalanced, amplitude, (uint64_t)seed) != CF_OK) {
            cf_recipe_fail(r, "data.generate", cf_last_status(), "%s", cf_last_error());
            return NULL;
        }
    }
    cf_ts_set *set = cf_ts_read(path);
    if (!set) {
        cf_recipe_fail(r, "data.path", cf_last_status(), "%s%s", cf_last_error(),
                       generate ? "" : " (give data.generate or run `cformer data motifs`)");
        return NULL;
    }
    if (!set->class_label) {
        cf_recipe_fail(r, "data.path", CF_ERR_FORMAT, "%s has no class labels (@classLabel false)", path);
        cf_ts_free(set);
        return NULL;
    }
    int64_t T = length ? length : set->max_len;
    ts_ds *d = calloc(1, sizeof *d);
    float *x = malloc((size_t)(set->cases * set->dims * T) * sizeof *x);
    int64_t *y = malloc((size_t)set->cases * sizeof *y);
    cf_status st = d && x && y ? cf_ts_dense(set, T, pad, missing, (uint64_t)seed, x) : cf_set_error(CF_ERR_OOM, "ts: out of memory");
    if (st != CF_OK) {
        cf_recipe_fail(r, "data.path", st, "%s: %s", path, cf_last_error());
        cf_ts_free(set), free(d), free(x), free(y);
        return NULL;
    }
    memcpy(y, set->label, (size_t)set->cases * sizeof *y);
    *d = (ts_ds){.x = x, .y = y, .dims = set->dims, .length = T, .classes = set->nlabels};
    snprintf(d->split, sizeof d->split, "%s", split);
    d->base.vt = &ts_vt;
    d->base.len = set->cases;
    snprintf(d->base.name, sizeof d->base.name, "ts %.200s [%s]", path, split);
    d->base.info.seq = T;
    d->base.info.units = set->dims;
    d->base.info.vocab = set->nlabels;
    cf_ts_free(set);
    return &d->base;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data motifs -o DIR [--name NAME] [--imbalanced] [--amplitude A] [--seed S]\n\n"
               "Writes the planted-motif classification set (3 dimensions, 100 steps, 4 classes; data/series/motifs.h)\n"
               "as UEA .ts files DIR/NAME_{TRAIN,VAL,TEST}.ts (NAME default Motifs): 20 training cases per class\n"
               "(--imbalanced: 40/20/10/5), 10 validation and 50 test cases per class. Amplitude default 2.0, seed 1.\n\n"
               "  cformer data motifs -o data/motifs-imbalanced --imbalanced\n");
}

int cf_shapeformer_motifs_cmd(int argc, char **argv)
{
    const char *cmd = "data motifs", *out = NULL, *name = "Motifs";
    int64_t seed = 1;
    double amplitude = 2.0;
    bool imbalanced = false;
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED), CF_CLI_OPT_FLOAT("--amplitude", &amplitude, 0, 100, CF_RANGE_CLOSED),
        CF_CLI_OPT_FLAG("--imbalanced", &imbalanced),   CF_CLI_OPT_STRING("--name", &name),
        CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse(cmd, argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    if (cf_motifs_write_splits(out, name, imbalanced, amplitude, (uint64_t)seed) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("wrote %s/%s_{TRAIN,VAL,TEST}.ts (%s, amplitude %g, seed %lld)\n", out, name,
           imbalanced ? "imbalanced 40/20/10/5" : "balanced 20 per class", amplitude, (long long)seed);
    return 0;
}
