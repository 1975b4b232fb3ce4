/* The HDF5 plumbing the spike readers share: checked whole-dataset reads, numbers found as attributes or
 * datasets, a dataset's row count, the recording span's end as the data imply it. */
#include "data/spikes/spikes_h5_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef CF_HAVE_HDF5

/* ---- HDF5 plumbing ---- */

/* Shape of a numeric dataset: rank (0..2) and dims; CF_ERR_FORMAT naming it otherwise. */
cf_status cf_spikes_h5_numeric_shape(hid_t d, const char *file, const char *name, int *rank, hsize_t dims[2])
{
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    H5T_class_t cls = type >= 0 && cf_h5_numeric_type_ok(type) ? H5Tget_class(type) : H5T_NO_CLASS;
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dd[8] = {0};
    if (r >= 0 && r <= 8) H5Sget_simple_extent_dims(space, dd, NULL);
    cf_h5_close(&type);
    cf_h5_close(&space);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: not a numeric dataset", file, name);
    if (r < 0 || r > 2) return cf_set_error(CF_ERR_FORMAT, "%s: %s: rank %d (expected 1 or 2)", file, name, r);
    *rank = r;
    dims[0] = r >= 1 ? dd[0] : 1;
    dims[1] = r >= 2 ? dd[1] : 1;
    return CF_OK;
}

/* A dataset's declared size must be backed by the file before it is read: HDF5 returns the fill value for
 * storage never written, so a file of a few KB can declare gigabytes of "values". Refuses (naming the
 * dataset) more than 1 MiB declared with over 4096 times less stored -- beyond what deflate (about 1000:1 at
 * best) compresses to. */
cf_status cf_spikes_h5_check_stored(hid_t d, const char *file, const char *shown, uint64_t n_values)
{
    hid_t type = H5Dget_type(d);
    size_t size = type >= 0 ? H5Tget_size(type) : 8;
    cf_h5_close(&type);
    if (size == 0 || n_values > UINT64_MAX / 2 / size)
        return cf_set_error(CF_ERR_FORMAT, "%s: %s declares %" PRIu64 " values: too many to read", file, shown, n_values);
    uint64_t declared = n_values * (uint64_t)size, stored = H5Dget_storage_size(d);
    if (declared <= (1u << 20) || stored >= declared / 4096) return CF_OK;
    return cf_set_error(CF_ERR_FORMAT, "%s: %s declares %" PRIu64 " values (%" PRIu64 " bytes) but the file stores %" PRIu64
                        " bytes of them: a placeholder of fill values, not data", file, shown, n_values, declared, stored);
}

/* Reads a whole numeric dataset (rank 0..max_rank) converted to memtype (NATIVE_DOUBLE or NATIVE_INT64).
 * Missing: CF_ERR_FORMAT naming it when required, else CF_OK with *out NULL and *n 0. dims gets the shape. */
cf_status cf_spikes_h5_read_all_as(hid_t loc, const char *file, const char *name, const char *shown, bool required,
                             int max_rank, hid_t memtype, void **out, hsize_t dims[2])
{
    *out = NULL;
    dims[0] = dims[1] = 0;
    if (!cf_h5_exists(loc, name)) {
        if (!required) return CF_OK;
        return cf_set_error(CF_ERR_FORMAT, "%s: missing dataset %s", file, shown);
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return cf_set_error(CF_ERR_FORMAT, "%s: %s is not a dataset", file, shown);
    int rank;
    cf_status st = cf_spikes_h5_numeric_shape(d, file, shown, &rank, dims);
    if (st == CF_OK && rank > max_rank)
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: rank %d (expected at most %d)", file, shown, rank, max_rank);
    if (st == CF_OK && dims[1] > 0 && dims[0] > (hsize_t)(SIZE_MAX / 8) / dims[1])
        st = cf_set_error(CF_ERR_FORMAT, "%s: %s: shape [%llu, %llu] is too large to read", file, shown,
                          (unsigned long long)dims[0], (unsigned long long)dims[1]);
    size_t n = st == CF_OK ? (size_t)dims[0] * (size_t)dims[1] : 0;
    if (st == CF_OK) st = cf_spikes_h5_check_stored(d, file, shown, n);
    if (st != CF_OK) {
        cf_h5_close(&d);
        return st;
    }
    void *buf = malloc((n ? n : 1) * 8);
    if (!buf) {
        cf_h5_close(&d);
        return cf_set_error(CF_ERR_OOM, "%s: %s: out of memory for %zu values", file, shown, n);
    }
    if (n && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        cf_h5_close(&d);
        return cf_set_error(CF_ERR_FORMAT, "%s: %s: cannot read its values as numbers (corrupt, or out of range)", file, shown);
    }
    cf_h5_close(&d);
    *out = buf;
    return CF_OK;
}

/* read_all_as for a path below the root, shown as "/path". */
cf_status cf_spikes_h5_read_all(hid_t loc, const char *file, const char *name, bool required, int max_rank, hid_t memtype,
                          void **out, hsize_t dims[2])
{
    char shown[600];
    snprintf(shown, sizeof shown, "/%s", name);
    return cf_spikes_h5_read_all_as(loc, file, name, shown, required, max_rank, memtype, out, dims);
}

/* A number given as an attribute `name` of obj, or else of the root, or else as a one-value dataset `name`:
 * 1 found, 0 absent, CF_ERR_FORMAT (-1) naming the place when it is not a number. */
int cf_spikes_h5_find_number(hid_t file, hid_t obj, const char *fname, const char *where, const char *name, double *v)
{
    int rc = cf_h5_attr_double(obj, name, v);
    if (rc == 0) rc = cf_h5_attr_double(file, name, v);
    if (rc < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: attribute %s (on %s or the root) is not a numeric scalar", fname, name, where);
        return -1;
    }
    if (rc == 1) return 1;
    if (!cf_h5_exists(file, name)) return 0;
    void *buf;
    hsize_t dims[2];
    if (cf_spikes_h5_read_all(file, fname, name, true, 1, H5T_NATIVE_DOUBLE, &buf, dims) != CF_OK) return -1;
    if (dims[0] * dims[1] != 1) {
        free(buf);
        cf_set_error(CF_ERR_FORMAT, "%s: dataset /%s holds %llu values (expected one)", fname, name,
                     (unsigned long long)(dims[0] * dims[1]));
        return -1;
    }
    *v = *(double *)buf;
    free(buf);
    return 1;
}


void cf_spikes_h5_span_extend(cf_spikes_span_end *e, double t_max, double t, const char *where, int64_t row)
{
    if (!(t_max > e->t_max)) return;
    e->t_max = t_max, e->t = t, e->row = row;
    snprintf(e->where, sizeof e->where, "%s", where);
}

/* The number of rows of dataset name (its first dimension), or -1 when it is absent or not a dataset. */
int64_t cf_spikes_h5_rows_of(hid_t loc, const char *name)
{
    if (!cf_h5_exists(loc, name)) return -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[8] = {0};
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (r >= 1 && r <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    cf_h5_close(&space);
    cf_h5_close(&d);
    return r < 0 ? -1 : r == 0 ? 1 : (int64_t)dims[0];
}

#endif
