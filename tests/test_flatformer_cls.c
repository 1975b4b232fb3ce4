/* FlatFormer's primitive-classification set and classifier (data/pointcloud/primitives.h,
 * recipes/flatformer/cls_model.c):
 *  - the generator is deterministic in (seed, index), balanced by class, inside the unit sphere, and its
 *    shapes are what they claim (a sphere's points at one radius, a cube's not);
 *  - the ModelNet40 HDF5 layout round-trips, reads other types and shapes ([N] int32 labels, float64 points,
 *    any P), and every bad file is an error naming the file, the dataset and what is wrong (wrong rank or last
 *    dimension, label count, labels out of range, NaN coordinates, a missing dataset);
 *  - the classifier's logits do not change when the points of a cloud are permuted (pillars by cell, max-pools,
 *    the window sort), in all three encoder modes, and do change when the cloud does. */
#define CHECK_SHOW_LAST_ERROR
#include "data/pointcloud/primitives.h"
#include "recipes/flatformer/internal.h"
#include "recipes/run/model.h"

#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CF_HAVE_HDF5
#include <hdf5.h>
#endif

static cf_ctx *ctx;
static char tmpdir[256];

static void test_generator(void)
{
    enum { P = 256, N = 12 };
    float a[P * 3], b[P * 3];
    int la, lb;
    cf_primitive_cloud(5, 7, P, a, &la);
    cf_primitive_cloud(5, 7, P, b, &lb);
    CHECK(la == lb && la == 7 % CF_PRIM_NCLASS && !memcmp(a, b, sizeof a), "not deterministic");
    cf_primitive_cloud(6, 7, P, b, &lb);
    CHECK(memcmp(a, b, sizeof a) != 0, "another seed gave the same cloud");
    cf_pc_cls_set s;
    CHECK(cf_primitives_make(&s, N, P, 3) == CF_OK && s.n == N && s.P == P);
    int count[CF_PRIM_NCLASS] = {0};
    double maxr = 0;
    for (int i = 0; i < N && s.label; i++) {
        count[s.label[i]]++;
        double mean = 0, m2 = 0;
        for (int j = 0; j < P; j++) {
            const float *p = s.xyz + ((size_t)i * P + (size_t)j) * 3;
            double r = sqrt((double)p[0] * p[0] + (double)p[1] * p[1] + (double)p[2] * p[2]);
            maxr = fmax(maxr, r);
            mean += r, m2 += r * r;
        }
        mean /= P;
        double sd = sqrt(fmax(0, m2 / P - mean * mean));
        /* a sphere's points lie at one radius (jitter 0.01); a cube's range from its inradius to its corners */
        if (s.label[i] == CF_PRIM_SPHERE) CHECK(sd < 0.02 && mean > 0.55 && mean < 0.97, "sphere: radius %g +- %g", mean, sd);
        if (s.label[i] == CF_PRIM_CUBE) CHECK(sd > 0.04, "cube: radius sd %g", sd);
    }
    for (int c = 0; c < CF_PRIM_NCLASS; c++) CHECK(count[c] == 2, "class %d: %d clouds", c, count[c]);
    CHECK(maxr < 1.0, "a point at radius %g, outside the unit sphere", maxr);
    cf_pc_cls_set_free(&s);
    CHECK(cf_primitives_make(&s, 0, P, 3) == CF_ERR_ARG && s.xyz == NULL);
}

#ifdef CF_HAVE_HDF5
/* a file with `data` of type dt and shape d (rank 3) filled from x, and `label` of type lt, rank lr */
static void write_raw(const char *path, hid_t dt, const hsize_t d[3], const double *x, hid_t lt, int lr, const hsize_t *ld,
                      const int64_t *lab)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (x) {
        hid_t sp = H5Screate_simple(3, d, NULL), ds = H5Dcreate2(f, "data", dt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        H5Dclose(ds), H5Sclose(sp);
    }
    if (lab) {
        hid_t sp = H5Screate_simple(lr, ld, NULL), ds = H5Dcreate2(f, "label", lt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab);
        H5Dclose(ds), H5Sclose(sp);
    }
    H5Fclose(f);
}

static void expect_error(const char *path, int nclass, const char *a, const char *b)
{
    cf_pc_cls_set s;
    cf_status st = cf_pc_cls_h5_read(path, nclass, &s);
    const char *e = cf_last_error();
    CHECK(st != CF_OK && strstr(e, path) && strstr(e, a) && (!b || strstr(e, b)), "%s: expected an error with '%s' '%s', got %d '%s'",
          path, a, b ? b : "", (int)st, st == CF_OK ? "" : e);
    CHECK(s.xyz == NULL && s.label == NULL);
}

static void test_h5(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/prim.h5", tmpdir);
    cf_pc_cls_set s, r;
    CHECK(cf_primitives_make(&s, 9, 50, 11) == CF_OK);
    CHECK(cf_pc_cls_h5_write(path, &s) == CF_OK);
    CHECK(cf_pc_cls_h5_probe(path));
    CHECK(cf_pc_cls_h5_read(path, CF_PRIM_NCLASS, &r) == CF_OK && r.n == 9 && r.P == 50);
    CHECK(r.xyz && !memcmp(r.xyz, s.xyz, 9 * 50 * 3 * sizeof(float)) && !memcmp(r.label, s.label, 9 * sizeof(int32_t)), "round trip");
    cf_pc_cls_set_free(&r);
    /* written as ModelNet40's: float32 data [N, P, 3], uint8 label [N, 1] */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "label", H5P_DEFAULT), t = H5Dget_type(d), sp = H5Dget_space(d);
    hsize_t dims[2] = {0};
    CHECK(H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, dims, NULL) == 2 && dims[0] == 9 && dims[1] == 1);
    CHECK(H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE);
    H5Tclose(t), H5Sclose(sp), H5Dclose(d);
    d = H5Dopen2(f, "data", H5P_DEFAULT), t = H5Dget_type(d);
    CHECK(H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 4);
    H5Tclose(t), H5Dclose(d), H5Fclose(f);
    cf_pc_cls_set_free(&s);

    /* other layouts a real file may have: float64 points, int32 labels of rank 1, any P; labels in [0, 40) */
    double x[2 * 3 * 3];
    for (int i = 0; i < 18; i++) x[i] = 0.1 * i - 0.9;
    int64_t lab[2] = {39, 0};
    hsize_t d3[3] = {2, 3, 3}, l1[1] = {2}, l2[2] = {2, 1};
    write_raw(path, H5T_IEEE_F64LE, d3, x, H5T_STD_I32LE, 1, l1, lab);
    CHECK(cf_pc_cls_h5_read(path, 40, &r) == CF_OK && r.n == 2 && r.P == 3 && r.label[0] == 39 && fabsf(r.xyz[17] - 0.8f) < 1e-6f);
    cf_pc_cls_set_free(&r);
    expect_error(path, 39, "'label'", "item 0 has class 39, outside [0, 39)");
    lab[1] = -1;
    write_raw(path, H5T_IEEE_F32LE, d3, x, H5T_STD_I32LE, 2, l2, lab);
    expect_error(path, 40, "'label'", "item 1 has class -1");
    lab[1] = 0;
    x[3 * 3 + 3 + 1] = NAN; /* cloud 1, point 1, y */
    write_raw(path, H5T_IEEE_F32LE, d3, x, H5T_STD_U8LE, 2, l2, lab);
    expect_error(path, 40, "'data'", "cloud 1, point 1 has a coordinate that is NaN");
    x[3 * 3 + 3 + 1] = 0;
    hsize_t bad3[3] = {2, 9, 1};
    write_raw(path, H5T_IEEE_F32LE, bad3, x, H5T_STD_U8LE, 2, l2, lab);
    expect_error(path, 40, "'data' is [2, 9, 1]", "[N, P, 3]");
    hsize_t l3[1] = {1};
    write_raw(path, H5T_IEEE_F32LE, d3, x, H5T_STD_U8LE, 1, l3, lab);
    expect_error(path, 40, "'label' is [1]", "holds 2 clouds");
    hsize_t l22[2] = {1, 2};
    write_raw(path, H5T_IEEE_F32LE, d3, x, H5T_STD_U8LE, 2, l22, lab);
    expect_error(path, 40, "'label' is [1, >1]", NULL);
    write_raw(path, H5T_IEEE_F32LE, d3, x, H5T_STD_U8LE, 2, l2, NULL);
    expect_error(path, 40, "no dataset 'label'", NULL);
    CHECK(!cf_pc_cls_h5_probe(path));
    write_raw(path, H5T_IEEE_F32LE, d3, x, H5T_IEEE_F32LE, 2, l2, lab);
    expect_error(path, 40, "'label' must hold integer", NULL);
    snprintf(path, sizeof path, "%s/missing.h5", tmpdir);
    expect_error(path, 40, "missing.h5", NULL);
}
#endif

/* logits of a pointcloud-cls batch from a freshly made classifier (f64 parameters) */
static void test_permutation(const char *mode)
{
    cf_register_builtins();
    const cf_model_vtable *vt = cf_model_find("flatformer-cls");
    CHECK(vt != NULL);
    if (!vt) return;
    char text[1024];
    snprintf(text, sizeof text,
             "model:\n  type: flatformer-cls\n  mode: %s\n  dim: 16\n  heads: 2\n  layers: 4\n  group: 8\n  window: 4\n  vfe_hidden: 8\n"
             "  range: [-1, -1, -1, 1, 1, 1]\n  pillar: 0.1\n"
             "data:\n  type: pointcloud-cls\n  samples: {train: 6, val: 6, test: 6}\n  points: 200\n",
             mode);
    cf_recipe *r = cf_recipe_parse(text, "t.yaml");
    cf_dataset *ds = cf_dataset_create("pointcloud-cls", &(cf_dataset_config){.recipe = r, .split = "train"});
    CHECK(ds && ds->len == 6 && ds->info.vocab == CF_PRIM_NCLASS);
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_model *m = ds ? vt->create(r, ps, &ds->info) : NULL;
    CHECK(m != NULL, "%s", cf_recipe_error(r));
    if (m) {
        enum { B = 3, P = 200 };
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(ds, B, &b) == CF_OK);
        for (int i = 0; i < B; i++) CHECK(cf_dataset_get(ds, i, &b, i) == CF_OK);
        bool prev = cf_set_grad_enabled(ctx, false);
        cf_tensor *l0 = ff_cls_logits(m, ctx, &b);
        CHECK(l0 && l0->shape[0] == B && l0->shape[1] == CF_PRIM_NCLASS);
        double want[B * CF_PRIM_NCLASS];
        for (int i = 0; l0 && i < B * CF_PRIM_NCLASS; i++) want[i] = cf_get_flat(l0, i);
        cf_step_reset(ctx);
        /* reverse cloud 0, rotate cloud 1 by 77 and swap pairs in cloud 2 */
        float *pts = cf_data(b.fields[FF_POINTS]), tmp[P * 4];
        memcpy(tmp, pts, sizeof tmp);
        for (int j = 0; j < P; j++) memcpy(pts + 4 * j, tmp + 4 * (P - 1 - j), 4 * sizeof(float));
        memcpy(tmp, pts + P * 4, sizeof tmp);
        for (int j = 0; j < P; j++) memcpy(pts + P * 4 + 4 * j, tmp + 4 * ((j + 77) % P), 4 * sizeof(float));
        memcpy(tmp, pts + 2 * P * 4, sizeof tmp);
        for (int j = 0; j < P; j++) memcpy(pts + 2 * P * 4 + 4 * j, tmp + 4 * (j ^ 1), 4 * sizeof(float));
        cf_tensor *l1 = ff_cls_logits(m, ctx, &b);
        double worst = 0;
        for (int i = 0; l1 && i < B * CF_PRIM_NCLASS; i++) worst = fmax(worst, fabs(cf_get_flat(l1, i) - want[i]));
        CHECK(l1 && worst < 1e-9, "%s: logits moved by %g under a permutation of the points", mode, worst);
        cf_step_reset(ctx);
        /* a different cloud in row 0 (another class) changes row 0's logits */
        CHECK(cf_dataset_get(ds, 4, &b, 0) == CF_OK);
        cf_tensor *l2 = ff_cls_logits(m, ctx, &b);
        double moved = 0;
        for (int k = 0; l2 && k < CF_PRIM_NCLASS; k++) moved = fmax(moved, fabs(cf_get_flat(l2, k) - want[k]));
        CHECK(l2 && moved > 1e-6, "%s: another cloud gave the same logits", mode);
        cf_step_reset(ctx);
        cf_set_grad_enabled(ctx, prev);
        /* the loss is a finite cross entropy near log 6 at initialisation, with accuracy reported */
        cf_metrics met = {0};
        cf_tensor *l = vt->loss(m, ctx, &b, &met);
        double acc;
        CHECK(l && isfinite(cf_item(l)) && cf_item(l) > 0.5 && cf_item(l) < 5 && cf_metrics_get(&met, "acc", &acc));
        cf_step_reset(ctx);
        cf_batch_free(&b);
        vt->free(m);
    }
    cf_params_free(ps);
    cf_dataset_free(ds);
    cf_recipe_free(r);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cf_ffcls_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_generator();
#ifdef CF_HAVE_HDF5
    test_h5();
#else
    cf_pc_cls_set s;
    CHECK(cf_pc_cls_h5_read("x.h5", 40, &s) == CF_ERR_UNSUPPORTED);
#endif
    test_permutation("flatformer");
    test_permutation("no-shift");
    test_permutation("window-padded");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
