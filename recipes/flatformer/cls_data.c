/* `data.type: pointcloud-cls`: point-cloud classification batches {points f32 [B, P, 4] (x y z, intensity 0),
 * npoints i64 [B] (= P), labels i64 [B]} from the synthetic primitives (data.source: primitives, generated when
 * the split opens) or from HDF5 files in ModelNet40's layout (data.source: h5, data.path: DIR holding files
 * whose names contain the split, e.g. ply_data_train0.h5, ply_data_test0.h5; the first data.points points of
 * each cloud are used, as PointNet does with 1024 of ModelNet's 2048). And `cformer data primitives`. */
#include "data/pointcloud/primitives.h"
#include "recipes/flatformer/internal.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_dataset base;
    cf_pc_cls_set set; /* P = data.points (clouds cut to their first P points) */
} cls_ds;

static cf_status cls_get(cf_dataset *d, int64_t index, cf_batch *bt, int row)
{
    cls_ds *s = (cls_ds *)d;
    int64_t P = s->set.P;
    float *pts = (float *)cf_data(bt->fields[FF_POINTS]) + (size_t)row * (size_t)P * 4;
    const float *src = s->set.xyz + (size_t)index * (size_t)P * 3;
    for (int64_t j = 0; j < P; j++) {
        pts[4 * j] = src[3 * j], pts[4 * j + 1] = src[3 * j + 1], pts[4 * j + 2] = src[3 * j + 2];
        pts[4 * j + 3] = 0;
    }
    ((int64_t *)cf_data(bt->fields[FF_NPOINTS]))[row] = P;
    ((int64_t *)cf_data(bt->fields[FF_CLS_LABELS]))[row] = s->set.label[index];
    return CF_OK;
}

static cf_status cls_make_batch(cf_dataset *d, int rows, cf_batch *b)
{
    cls_ds *s = (cls_ds *)d;
    CF_TRY(cf_batch_add(b, "points", CF_F32, CF_SHAPE(rows, s->set.P, 4)));
    CF_TRY(cf_batch_add(b, "npoints", CF_I64, CF_SHAPE(rows)));
    return cf_batch_add(b, "labels", CF_I64, CF_SHAPE(rows));
}

static void cls_free(cf_dataset *d)
{
    cls_ds *s = (cls_ds *)d;
    cf_pc_cls_set_free(&s->set);
    free(s);
}

static const cf_dataset_vtable cls_vt = {"pointcloud-cls", cls_get, cls_make_batch, cls_free};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* appends the first P points of every cloud of src to dst */
static cf_status append(cf_pc_cls_set *dst, const cf_pc_cls_set *src, int64_t P, const char *file)
{
    if (src->P < P)
        return cf_set_error(CF_ERR_FORMAT, "%s: dataset 'data' holds %lld points per cloud, fewer than data.points = %lld", file,
                            (long long)src->P, (long long)P);
    float *x = realloc(dst->xyz, (size_t)(dst->n + src->n) * (size_t)P * 3 * sizeof(float));
    if (x) dst->xyz = x;
    int32_t *l = realloc(dst->label, (size_t)(dst->n + src->n) * sizeof(int32_t));
    if (l) dst->label = l;
    if (!x || !l) return cf_set_error(CF_ERR_OOM, "%s: out of memory", file);
    for (int64_t i = 0; i < src->n; i++) {
        memcpy(dst->xyz + (size_t)(dst->n + i) * (size_t)P * 3, src->xyz + (size_t)i * (size_t)src->P * 3, (size_t)P * 3 * sizeof(float));
        dst->label[dst->n + i] = src->label[i];
    }
    dst->n += src->n;
    dst->P = P;
    return CF_OK;
}

/* every DIR/NAME.h5 whose NAME contains the split, sorted by name, cut to P points and concatenated */
static cf_status load_h5_split(const char *dir, const char *split, int nclass, int64_t P, cf_pc_cls_set *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return cf_set_error(CF_ERR_IO, "%s: cannot open the folder of .h5 files", dir);
    char *names[256];
    int nn = 0;
    for (struct dirent *e; nn < 256 && (e = readdir(d));) {
        size_t k = strlen(e->d_name);
        if (k <= 3 || strcmp(e->d_name + k - 3, ".h5") || !strstr(e->d_name, split)) continue;
        if (!(names[nn] = strdup(e->d_name))) break;
        nn++;
    }
    closedir(d);
    if (!nn) return cf_set_error(CF_ERR_IO, "%s: no .h5 file whose name contains '%s' (the %s split)", dir, split, split);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    cf_status st = CF_OK;
    for (int i = 0; i < nn && st == CF_OK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cf_pc_cls_set one;
        st = cf_pc_cls_h5_read(path, nclass, &one);
        if (st == CF_OK) st = append(out, &one, P, path);
        cf_pc_cls_set_free(&one);
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    if (st != CF_OK) cf_pc_cls_set_free(out);
    return st;
}

cf_dataset *ff_cls_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    const char *source = cf_recipe_str(r, "data.source", "primitives");
    static const char *const splits[3] = {"train", "val", "test"};
    int64_t count = 0;
    int which = 0;
    for (int k = 0; k < 3; k++) {
        char key[64];
        snprintf(key, sizeof key, "data.samples.%s", splits[k]);
        int64_t v = cf_recipe_int_in(r, key, k == 0 ? 960 : 240, 1, CF_PC_CLS_MAX_ITEMS);
        if (!strcmp(split, splits[k])) count = v, which = k;
    }
    if (!count) count = 240;
    int64_t seed = cf_recipe_int_in(r, "data.seed", 1, 0, CF_MAX_SEED / 4);
    int64_t P = cf_recipe_int_in(r, "data.points", 1024, 1, CF_PC_CLS_MAX_POINTS);
    int64_t nclass = cf_recipe_int_in(r, "data.classes", 40, 1, 100000);
    char dbuf[2048];
    const char *path = cf_recipe_has(r, "data.path") ? cf_recipe_path(r, "data.path", cf_recipe_str(r, "data.path", ""), dbuf, sizeof dbuf) : NULL;
    if (cf_recipe_status(r) != CF_OK) return NULL;
    int prim = !strcmp(source, "primitives");
    if (!prim && strcmp(source, "h5")) {
        cf_recipe_fail(r, "data.source", CF_ERR_ARG, "unknown value '%s' (choose from primitives, h5)", source);
        return NULL;
    }
    if (!prim && !path) {
        cf_recipe_fail(r, "data.path", CF_ERR_ARG, "data.source: h5 needs data.path (a folder of .h5 files named by split, e.g. ply_data_train0.h5; `cformer data primitives` writes one)");
        return NULL;
    }
    cls_ds *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base.vt = &cls_vt;
    /* each split its own clouds: the seed moved by the split */
    cf_status st = prim ? cf_primitives_make(&d->set, count, P, (uint64_t)seed * 3 + (uint64_t)which)
                        : load_h5_split(path, split, (int)nclass, P, &d->set);
    if (st != CF_OK) {
        cf_recipe_fail(r, prim ? "data.samples" : "data.path", st, "%s", cf_last_error());
        free(d);
        return NULL;
    }
    d->base.len = d->set.n;
    d->base.info.vocab = prim ? CF_PRIM_NCLASS : nclass;
    d->base.info.seq = P;
    if (prim) snprintf(d->base.name, sizeof d->base.name, "primitives [%s]", split);
    else snprintf(d->base.name, sizeof d->base.name, "point-cloud h5 %.200s [%s]", path, split);
    return &d->base;
}

/* ---- cformer data primitives ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data primitives -o FILE [--count N] [--points P] [--seed S]\n\n"
               "Writes N synthetic primitive clouds (cube, sphere, cylinder, cone, torus, pyramid in turn; P points uniform\n"
               "on the surface, random rotation, scale 0.6-0.95 of the unit sphere, jitter 0.01) in the HDF5 layout of\n"
               "ModelNet40's modelnet40_ply_hdf5_2048: 'data' float32 [N, P, 3], 'label' uint8 [N, 1]. Defaults: 600\n"
               "clouds of 1024 points, seed 1. data.source: h5 reads a folder of such files (names containing the split).\n\n"
               "  cformer data primitives -o prim/train.h5 --count 960 --seed 3\n");
}

int ff_primitives_cmd(int argc, char **argv)
{
    const char *cmd = "data primitives", *out = NULL;
    int64_t count = 600, points = 1024, seed = 1;
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--count", &count, 1, 1000000),
        CF_CLI_OPT_INT("--points", &points, 1, 65536),
        CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED / 4),
        CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse(cmd, argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    cf_pc_cls_set s;
    cf_status st = cf_primitives_make(&s, count, points, (uint64_t)seed);
    if (st == CF_OK) st = cf_pc_cls_h5_write(out, &s);
    cf_pc_cls_set_free(&s);
    if (st != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("%s: %lld clouds of %lld points\n", out, (long long)count, (long long)points);
    return 0;
}

int ff_primitives_describe(const char *path)
{
    size_t n = strlen(path);
    if (n < 3 || strcmp(path + n - 3, ".h5") || !cf_pc_cls_h5_probe(path)) return -1; /* not this layout */
    cf_pc_cls_set s;
    if (cf_pc_cls_h5_read(path, 100000, &s) != CF_OK) {
        fprintf(stderr, "%s\n", cf_last_error());
        return 1;
    }
    int64_t hist[8] = {0}, maxl = 0;
    for (int64_t i = 0; i < s.n; i++) {
        if (s.label[i] < 8) hist[s.label[i]]++;
        if (s.label[i] > maxl) maxl = s.label[i];
    }
    printf("%s: point-cloud classification set, %lld clouds of %lld points, classes 0..%lld\n", path, (long long)s.n, (long long)s.P,
           (long long)maxl);
    if (maxl < CF_PRIM_NCLASS)
        for (int c = 0; c <= maxl; c++) printf("  %d (%s, if primitives): %lld\n", c, cf_prim_class_names[c], (long long)hist[c]);
    cf_pc_cls_set_free(&s);
    return 0;
}
