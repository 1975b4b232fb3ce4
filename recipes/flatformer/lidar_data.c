/* `data.type: lidar`: LiDAR frames with their 3-D boxes as batches {points f32 [B, max_points, 4], npoints
 * i64 [B], boxes f32 [B, max_boxes, 8] (class x y z l w h yaw, LiDAR frame), nboxes i64 [B]}, from a KITTI-layout
 * folder (velodyne/ with .bin, .ply or .pcd scans, label_2/ and calib/ text files when present) or from the
 * synthetic scenes generated on the fly; the training split augmented (flips, rotation, scaling, point drop,
 * boxes moved with the points). And `cformer data lidar-scenes`, which writes the synthetic scenes as KITTI files. */
#include "recipes/flatformer/internal.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    cf_dataset base;
    int synthetic;
    cf_lidar_scene_cfg scene;
    uint64_t seed;
    char dir[2048];
    char **stems;   /* kitti: scan file names under velodyne/ */
    int augment;
    cf_pc_augment aug;
    uint64_t draws; /* gets so far: each draw of the augmentation is new */
    int64_t max_points, max_boxes;
} lidar_ds;

static int has_ext(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && (!strcmp(s + n - 4, ".bin") || !strcmp(s + n - 4, ".ply") || !strcmp(s + n - 4, ".pcd"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the scan names of dir/velodyne, sorted */
static char **list_scans(const char *dir, int64_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/velodyne", dir);
    DIR *d = opendir(path);
    *n = 0;
    if (!d) {
        cf_set_error(CF_ERR_IO, "%s: cannot open the scan folder (a KITTI-layout folder has velodyne/, label_2/ and optionally calib/)", path);
        return NULL;
    }
    int64_t cap = 64;
    char **v = malloc((size_t)cap * sizeof *v);
    for (struct dirent *e; v && (e = readdir(d));) {
        if (!has_ext(e->d_name)) continue;
        if (*n == cap) {
            char **nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (!v) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    qsort(v, (size_t)*n, sizeof *v, cmp_str);
    if (*n == 0) {
        free(v);
        cf_set_error(CF_ERR_FORMAT, "%s: no .bin, .ply or .pcd scans", path);
        return NULL;
    }
    return v;
}

/* reads frame index of a KITTI-layout folder: the scan, its labels (through its calibration when present) */
static cf_status read_frame(const lidar_ds *s, int64_t index, cf_points *p, cf_boxes *b)
{
    char path[4096], stem[256];
    const char *name = s->stems[index];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - 4), name);
    snprintf(path, sizeof path, "%s/velodyne/%s", s->dir, name);
    CF_TRY(cf_pc_read(path, p));
    cf_kitti_calib cal, *calp = NULL;
    snprintf(path, sizeof path, "%s/calib/%s.txt", s->dir, stem);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        cf_status st = cf_kitti_calib_read(path, &cal);
        if (st != CF_OK) {
            cf_points_free(p);
            return st;
        }
        calp = &cal;
    }
    snprintf(path, sizeof path, "%s/label_2/%s.txt", s->dir, stem);
    cf_status st = cf_kitti_labels_read(path, calp, b);
    if (st != CF_OK) cf_points_free(p);
    return st;
}

static cf_status lidar_get(cf_dataset *d, int64_t index, cf_batch *bt, int row)
{
    lidar_ds *s = (lidar_ds *)d;
    cf_points p;
    cf_boxes b;
    if (s->synthetic) CF_TRY(cf_lidar_scene(&s->scene, s->seed, (uint64_t)index, &p, &b));
    else CF_TRY(read_frame(s, index, &p, &b));
    if (s->augment) cf_pc_augment_apply(&s->aug, s->seed, s->draws++, &p, &b);
    cf_status st = CF_OK;
    if (p.n > s->max_points)
        st = cf_set_error(CF_ERR_FORMAT, "%s: frame %lld has %lld points, more than data.max_points = %lld", s->base.name, (long long)index, (long long)p.n, (long long)s->max_points);
    else if (b.n > s->max_boxes)
        st = cf_set_error(CF_ERR_FORMAT, "%s: frame %lld has %d boxes, more than data.max_boxes = %lld", s->base.name, (long long)index, b.n, (long long)s->max_boxes);
    if (st == CF_OK) {
        float *pts = (float *)cf_data(bt->fields[FF_POINTS]) + (size_t)row * (size_t)s->max_points * 4;
        memcpy(pts, p.xyzi, (size_t)p.n * 4 * sizeof(float));
        memset(pts + p.n * 4, 0, (size_t)(s->max_points - p.n) * 4 * sizeof(float));
        ((int64_t *)cf_data(bt->fields[FF_NPOINTS]))[row] = p.n;
        float *bx = (float *)cf_data(bt->fields[FF_BOXES]) + (size_t)row * (size_t)s->max_boxes * FF_BOX_VALUES;
        memset(bx, 0, (size_t)s->max_boxes * FF_BOX_VALUES * sizeof(float));
        for (int i = 0; i < b.n; i++) {
            const cf_box3d *q = &b.b[i];
            float v[FF_BOX_VALUES] = {(float)q->cls, q->x, q->y, q->z, q->l, q->w, q->h, q->yaw};
            memcpy(bx + i * FF_BOX_VALUES, v, sizeof v);
        }
        ((int64_t *)cf_data(bt->fields[FF_NBOXES]))[row] = b.n;
    }
    cf_points_free(&p);
    cf_boxes_free(&b);
    return st;
}

static cf_status lidar_make_batch(cf_dataset *d, int rows, cf_batch *b)
{
    lidar_ds *s = (lidar_ds *)d;
    CF_TRY(cf_batch_add(b, "points", CF_F32, CF_SHAPE(rows, s->max_points, 4)));
    CF_TRY(cf_batch_add(b, "npoints", CF_I64, CF_SHAPE(rows)));
    CF_TRY(cf_batch_add(b, "boxes", CF_F32, CF_SHAPE(rows, s->max_boxes, FF_BOX_VALUES)));
    return cf_batch_add(b, "nboxes", CF_I64, CF_SHAPE(rows));
}

static void lidar_free(cf_dataset *d)
{
    lidar_ds *s = (lidar_ds *)d;
    for (int64_t i = 0; s->stems && i < s->base.len; i++) free(s->stems[i]);
    free(s->stems);
    free(s);
}

static const cf_dataset_vtable lidar_vt = {"lidar", lidar_get, lidar_make_batch, lidar_free};

cf_dataset *ff_lidar_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    const char *source = cf_recipe_str(r, "data.source", "synthetic");
    char dbuf[2048];
    /* every split's count is read whichever split opens, so that none is refused as unknown */
    static const char *const splits[3] = {"train", "val", "test"};
    int64_t nscenes = 0;
    for (int k = 0; k < 3; k++) {
        char key[64];
        snprintf(key, sizeof key, "data.scenes.%s", splits[k]);
        int64_t v = cf_recipe_int_in(r, key, k == 0 ? 500 : 100, 1, CF_MAX_COUNT);
        if (!strcmp(split, splits[k])) nscenes = v;
    }
    if (!nscenes) nscenes = 100;
    int64_t seed = cf_recipe_int_in(r, "data.seed", 1, 0, CF_MAX_SEED);
    int64_t max_points = cf_recipe_int_in(r, "data.max_points", 20000, 1, CF_PC_MAX_POINTS);
    int64_t max_boxes = cf_recipe_int_in(r, "data.max_boxes", 32, 1, CF_PC_MAX_BOXES);
    int augment = cf_recipe_bool(r, "data.augment.enabled", true) && !strcmp(split, "train");
    cf_pc_augment aug = {
        .rot = (float)cf_recipe_float_in(r, "data.augment.rot", CF_PC_PI / 4, 0, CF_PC_PI, CF_RANGE_CLOSED),
        .scale_lo = (float)cf_recipe_float_in(r, "data.augment.scale_lo", 0.95, 0.1, 10, CF_RANGE_CLOSED),
        .scale_hi = (float)cf_recipe_float_in(r, "data.augment.scale_hi", 1.05, 0.1, 10, CF_RANGE_CLOSED),
        .flip_x = (float)cf_recipe_float_in(r, "data.augment.flip_x", 0.5, 0, 1, CF_RANGE_CLOSED),
        .flip_y = (float)cf_recipe_float_in(r, "data.augment.flip_y", 0.5, 0, 1, CF_RANGE_CLOSED),
        .drop = (float)cf_recipe_float_in(r, "data.augment.drop", 0.0, 0, 1, CF_RANGE_OPEN_HI),
    };
    cf_lidar_scene_cfg sc;
    cf_lidar_scene_cfg_default(&sc);
    sc.rings = (int)cf_recipe_int_in(r, "data.scene.rings", sc.rings, 1, 256);
    sc.azimuths = (int)cf_recipe_int_in(r, "data.scene.azimuths", sc.azimuths, 1, 8192);
    const char *path = cf_recipe_has(r, "data.path") ? cf_recipe_path(r, "data.path", cf_recipe_str(r, "data.path", ""), dbuf, sizeof dbuf) : NULL;
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (aug.scale_hi < aug.scale_lo) {
        cf_recipe_fail(r, "data.augment.scale_hi", CF_ERR_ARG, "%g is below data.augment.scale_lo %g", aug.scale_hi, aug.scale_lo);
        return NULL;
    }
    int synthetic = !strcmp(source, "synthetic");
    if (!synthetic && strcmp(source, "kitti")) {
        cf_recipe_fail(r, "data.source", CF_ERR_ARG, "unknown value '%s' (choose from synthetic, kitti)", source);
        return NULL;
    }
    if (!synthetic && !path) {
        cf_recipe_fail(r, "data.path", CF_ERR_ARG, "data.source: kitti needs data.path (a folder with train/, val/, test/ in the KITTI layout; `cformer data lidar-scenes` writes one)");
        return NULL;
    }
    lidar_ds *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->base.vt = &lidar_vt;
    d->synthetic = synthetic;
    d->scene = sc;
    /* each split its own scenes: the seed moved by the split */
    d->seed = (uint64_t)seed * 3 + (!strcmp(split, "train") ? 0 : !strcmp(split, "val") ? 1 : 2);
    d->augment = augment;
    d->aug = aug;
    d->max_points = max_points;
    d->max_boxes = max_boxes;
    if (synthetic) {
        d->base.len = nscenes;
        snprintf(d->base.name, sizeof d->base.name, "lidar synthetic scenes [%s]", split);
    } else {
        snprintf(d->dir, sizeof d->dir, "%s/%s", path, split);
        d->stems = list_scans(d->dir, &d->base.len);
        if (!d->stems) {
            cf_recipe_fail(r, "data.path", cf_last_status(), "%s", cf_last_error());
            free(d);
            return NULL;
        }
        snprintf(d->base.name, sizeof d->base.name, "lidar %.200s", d->dir);
    }
    d->base.info.seq = max_points;
    return &d->base;
}

/* ---- cformer data lidar-scenes ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data lidar-scenes -o DIR [--train N] [--val N] [--test N] [--seed S] [--rings R] [--azimuths A]\n\n"
               "Writes FlatFormer's synthetic LiDAR scenes (a 40 x 40 m area, a 32-beam x 512-step LiDAR ray-cast against\n"
               "the ground, 3-10 cars, pedestrians and cyclists and unlabelled poles and walls) in the KITTI layout:\n"
               "DIR/{train,val,test}/velodyne/NNNNNN.bin, label_2/NNNNNN.txt, calib/NNNNNN.txt. Defaults: 500 / 100 / 100\n"
               "scenes, seed 1 (the same scenes as data.source: synthetic with data.seed 1).\n\n"
               "  cformer data lidar-scenes -o data/lidar --train 200 --val 50 --test 50\n");
}

int ff_scenes_cmd(int argc, char **argv)
{
    const char *cmd = "data lidar-scenes", *out = NULL;
    int64_t n[3] = {500, 100, 100}, seed = 1, rings = 32, az = 512;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool val = i + 1 < argc, ok = true;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(s, "-o") && val) out = argv[++i];
        else if (!strcmp(s, "--train") && val) ok = cf_cli_int(cmd, s, argv[++i], 0, 1000000, &n[0]);
        else if (!strcmp(s, "--val") && val) ok = cf_cli_int(cmd, s, argv[++i], 0, 1000000, &n[1]);
        else if (!strcmp(s, "--test") && val) ok = cf_cli_int(cmd, s, argv[++i], 0, 1000000, &n[2]);
        else if (!strcmp(s, "--seed") && val) ok = cf_cli_int(cmd, s, argv[++i], 0, CF_MAX_SEED / 4, &seed);
        else if (!strcmp(s, "--rings") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 256, &rings);
        else if (!strcmp(s, "--azimuths") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 8192, &az);
        else {
            fprintf(stderr, "cformer %s: unknown or incomplete argument '%s'\n", cmd, s);
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!out) {
        usage(stderr);
        return 2;
    }
    cf_lidar_scene_cfg sc;
    cf_lidar_scene_cfg_default(&sc);
    sc.rings = (int)rings, sc.azimuths = (int)az;
    static const char *const split[3] = {"train", "val", "test"};
    for (int k = 0; k < 3; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", out, split[k]);
        if (n[k] && cf_lidar_scenes_write(dir, &sc, (uint64_t)seed * 3 + (uint64_t)k, (int)n[k]) != CF_OK) {
            fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
            return 1;
        }
        printf("%s: %lld scenes\n", dir, (long long)n[k]);
    }
    return 0;
}

int ff_scenes_describe(const char *path)
{
    size_t n = strlen(path);
    if (n < 4 || (strcmp(path + n - 4, ".bin") && strcmp(path + n - 4, ".ply") && strcmp(path + n - 4, ".pcd"))) return -1;
    cf_points p;
    if (cf_pc_read(path, &p) != CF_OK) {
        fprintf(stderr, "%s\n", cf_last_error());
        return 1;
    }
    double lo[4] = {1e30, 1e30, 1e30, 1e30}, hi[4] = {-1e30, -1e30, -1e30, -1e30};
    for (int64_t i = 0; i < p.n; i++)
        for (int k = 0; k < 4; k++) {
            double v = p.xyzi[4 * i + k];
            lo[k] = v < lo[k] ? v : lo[k];
            hi[k] = v > hi[k] ? v : hi[k];
        }
    printf("%s: point cloud, %lld points%s", path, (long long)p.n, p.has_intensity ? "" : " (no intensity)");
    if (p.dropped) printf(", %lld NaN points left out", (long long)p.dropped);
    printf("\n");
    if (p.n)
        printf("  x [%.3f, %.3f]  y [%.3f, %.3f]  z [%.3f, %.3f]  intensity [%.3f, %.3f]\n", lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], lo[3], hi[3]);
    cf_points_free(&p);
    return 0;
}
