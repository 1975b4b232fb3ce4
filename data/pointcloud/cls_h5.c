/* The point-cloud classification HDF5 layout (data/pointcloud/primitives.h): ModelNet40's `data` [N, P, 3] and
 * `label` [N, 1] (or [N]), read with every shape, label and coordinate checked, and written by cformer's
 * generator. */
#include "data/pointcloud/primitives.h"

#include "autograd/fileio.h"
#include "data/h5util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef CF_HAVE_HDF5
cf_status cf_pc_cls_h5_read(const char *path, int nclass, cf_pc_cls_set *out)
{
    (void)nclass;
    memset(out, 0, sizeof *out);
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (configure with -DCF_HDF5=ON)", path);
}
bool cf_pc_cls_h5_probe(const char *path)
{
    (void)path;
    return false;
}
cf_status cf_pc_cls_h5_write(const char *path, const cf_pc_cls_set *s)
{
    (void)s;
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (configure with -DCF_HDF5=ON)", path);
}
#else
/* opens dataset key with rank in [lo, hi] and a numeric type HDF5 converts safely; -1 with a message */
static hid_t open_ds(hid_t f, const char *path, const char *key, int lo, int hi, hsize_t dims[3], int *rank)
{
    if (!cf_h5_exists(f, key)) {
        cf_set_error(CF_ERR_FORMAT, "%s: no dataset '%s' (a point-cloud classification file holds 'data' [N, P, 3] and 'label' [N, 1])", path, key);
        return -1;
    }
    hid_t d = H5Dopen2(f, key, H5P_DEFAULT);
    if (d < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: '%s' is not a dataset", path, key);
        return -1;
    }
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    *rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (*rank >= lo && *rank <= hi) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5T_class_t tc = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    bool type_ok = (tc == H5T_INTEGER || tc == H5T_FLOAT) && cf_h5_numeric_type_ok(t);
    cf_h5_close(&sp);
    cf_h5_close(&t);
    if (*rank < lo || *rank > hi) {
        cf_set_error(CF_ERR_FORMAT, "%s: dataset '%s' has %d dimensions, expected %s", path, key, *rank,
                     lo == 3 ? "3 ([N, P, 3])" : "1 or 2 ([N] or [N, 1])");
        cf_h5_close(&d);
        return -1;
    }
    if (!type_ok) {
        cf_set_error(CF_ERR_FORMAT, "%s: dataset '%s' does not hold numbers", path, key);
        cf_h5_close(&d);
        return -1;
    }
    return d;
}

cf_status cf_pc_cls_h5_read(const char *path, int nclass, cf_pc_cls_set *out)
{
    memset(out, 0, sizeof *out);
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t f = cf_h5_open_read(path), dd = -1, dl = -1, lt = -1;
    hsize_t xd[3] = {0}, ld[3] = {0};
    int xr = 0, lr = 0;
    int64_t *lab = NULL;
    cf_status st = CF_OK;
    if (f < 0 || (dd = open_ds(f, path, "data", 3, 3, xd, &xr)) < 0 || (dl = open_ds(f, path, "label", 1, 2, ld, &lr)) < 0) {
        st = cf_last_status();
        goto done;
    }
    lt = H5Dget_type(dl);
    if (H5Tget_class(lt) != H5T_INTEGER) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: dataset 'label' must hold integer class indices", path);
        goto done;
    }
    int64_t n = (int64_t)xd[0], P = (int64_t)xd[1];
    if (xd[2] != 3 || n < 1 || P < 1 || n > CF_PC_CLS_MAX_ITEMS || P > CF_PC_CLS_MAX_POINTS) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: dataset 'data' is [%lld, %lld, %lld]: expected [N, P, 3] with 1..%lld clouds of 1..%lld points",
                          path, (long long)xd[0], (long long)xd[1], (long long)xd[2], (long long)CF_PC_CLS_MAX_ITEMS,
                          (long long)CF_PC_CLS_MAX_POINTS);
        goto done;
    }
    if ((int64_t)ld[0] != n || (lr == 2 && ld[1] != 1)) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: dataset 'label' is [%lld%s] but 'data' holds %lld clouds (expected [%lld, 1] or [%lld])",
                          path, (long long)ld[0], lr == 2 ? (ld[1] == 1 ? ", 1" : ", >1") : "", (long long)n, (long long)n,
                          (long long)n);
        goto done;
    }
    if ((uint64_t)n * (uint64_t)P > ((uint64_t)1 << 32)) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: dataset 'data' holds %lld x %lld points, more than the 2^32 read into memory", path,
                          (long long)n, (long long)P);
        goto done;
    }
    out->xyz = malloc((size_t)n * (size_t)P * 3 * sizeof(float));
    out->label = malloc((size_t)n * sizeof(int32_t));
    lab = malloc((size_t)n * sizeof *lab);
    if (!out->xyz || !out->label || !lab) {
        st = cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld clouds of %lld points", path, (long long)n, (long long)P);
        goto done;
    }
    if (H5Dread(dd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->xyz) < 0) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: cannot read dataset 'data' as float32", path);
        goto done;
    }
    if (H5Dread(dl, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) < 0) {
        st = cf_set_error(CF_ERR_FORMAT, "%s: cannot read dataset 'label' as integers", path);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        if (lab[i] < 0 || lab[i] >= nclass) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: dataset 'label': item %lld has class %lld, outside [0, %d)", path, (long long)i,
                              (long long)lab[i], nclass);
            goto done;
        }
        out->label[i] = (int32_t)lab[i];
    }
    for (int64_t i = 0; i < n * P * 3; i++)
        if (!isfinite(out->xyz[i])) {
            st = cf_set_error(CF_ERR_FORMAT, "%s: dataset 'data': cloud %lld, point %lld has a coordinate that is %s", path,
                              (long long)(i / (3 * P)), (long long)(i / 3 % P), isnan(out->xyz[i]) ? "NaN" : "infinite");
            goto done;
        }
    out->n = n, out->P = P;
done:
    cf_h5_close(&lt);
    cf_h5_close(&dd);
    cf_h5_close(&dl);
    cf_h5_close(&f);
    cf_h5_quiet_off(q);
    free(lab);
    if (st != CF_OK) cf_pc_cls_set_free(out);
    return st;
}

bool cf_pc_cls_h5_probe(const char *path)
{
    cf_h5_quiet q = cf_h5_quiet_on();
    hid_t f = cf_h5_open_read(path);
    bool yes = f >= 0 && cf_h5_exists(f, "data") && cf_h5_exists(f, "label");
    cf_h5_close(&f);
    cf_h5_quiet_off(q);
    return yes;
}

static herr_t write_ds(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *buf)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL), d = -1;
    herr_t rc = -1;
    if (sp >= 0 && (d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        rc = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    cf_h5_close(&d);
    cf_h5_close(&sp);
    return rc;
}

cf_status cf_pc_cls_h5_write(const char *path, const cf_pc_cls_set *s)
{
    if (s->n < 1 || s->P < 1 || !s->xyz || !s->label) return cf_set_error(CF_ERR_ARG, "%s: an empty point-cloud set", path);
    uint8_t *lab = malloc((size_t)s->n);
    if (!lab) return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    for (int64_t i = 0; i < s->n; i++) {
        if (s->label[i] < 0 || s->label[i] > 255) {
            free(lab);
            return cf_set_error(CF_ERR_ARG, "%s: item %lld has class %d, which a uint8 label cannot hold", path, (long long)i, s->label[i]);
        }
        lab[i] = (uint8_t)s->label[i];
    }
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_h5image im;
    size_t bytes = (size_t)s->n * (size_t)s->P * 12 + (size_t)s->n + (1 << 16);
    hid_t f = cf_h5image_create(&im, path, bytes < (64u << 20) ? bytes : (64u << 20));
    hsize_t xd[3] = {(hsize_t)s->n, (hsize_t)s->P, 3}, ld[2] = {(hsize_t)s->n, 1};
    void *image = NULL;
    size_t len = 0;
    cf_status st = CF_OK;
    if (f < 0 || write_ds(f, "data", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, xd, s->xyz) < 0 ||
        write_ds(f, "label", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, ld, lab) < 0) {
        cf_h5_close(&f);
        cf_h5image_discard(&im);
        st = cf_set_error(CF_ERR_IO, "%s: HDF5 failed while building the file", path);
    } else {
        st = cf_h5image_finish(&im, f, path, &image, &len);
    }
    cf_h5_quiet_off(q);
    if (st == CF_OK) st = cf_write_file_atomic(path, image, len);
    free(image);
    free(lab);
    return st;
}
#endif
