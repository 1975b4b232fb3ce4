/* The checkpoint save: the whole file is built in memory and written atomically. The layout is described
 * in checkpoint.h and docs/design.md "Formats"; it is a contract with h5py users. */
#include "autograd/fileio.h"
#include "recipes/checkpoint/checkpoint_internal.h"

#ifdef CF_HAVE_HDF5

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings are fixed-length (UTF-8, NUL-terminated), stored inside the checksummed object header: a
 * variable-length string lives in the global heap, which has no checksum, and HDF5 1.10 crashes on a
 * damaged one. (h5py returns these as bytes: f.attrs["recipe"].decode().) */
static int attr_write_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (t >= 0 && s >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 &&
        H5Tset_cset(t, H5T_CSET_UTF8) >= 0)
        a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, t, value) >= 0) rc = 0;
    cf_h5_close(&a), cf_h5_close(&s), cf_h5_close(&t);
    return rc;
}

static int attr_write_i64(hid_t obj, const char *name, int64_t v)
{
    hid_t s = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (s >= 0) a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0) rc = 0;
    cf_h5_close(&a), cf_h5_close(&s);
    return rc;
}

static hid_t file_type_of(cf_dtype dt)
{
    switch (dt) {
    case CF_F32: return H5T_IEEE_F32LE;
    case CF_F64: return H5T_IEEE_F64LE;
    case CF_BF16:
    case CF_F16: return H5T_STD_U16LE;
    default: return -1;
    }
}

enum { CHUNK_MIN_BYTES = 4 << 10, CHUNK_TARGET_BYTES = 1 << 20, DEFLATE_LEVEL = 4 };


/* Chunks of at most ~1 MiB made by halving leading dims first, so a chunk holds whole rows where it can. */
static void choose_chunk(int ndim, const hsize_t *dims, size_t es, hsize_t *chunk)
{
    for (int d = 0; d < ndim; d++) chunk[d] = dims[d];
    for (int d = 0; d < ndim; d++)
        for (;;) {
            hsize_t bytes = es;
            for (int k = 0; k < ndim; k++) bytes *= chunk[k];
            if (bytes <= CHUNK_TARGET_BYTES || chunk[d] <= 1) break;
            chunk[d] = (chunk[d] + 1) / 2;
        }
}

/* An array of es-byte elements as a dataset, chunked with checksums from 4 KiB on and compact below; returns
 * the open dataset or -1 (HDF5's error stack holds why). */
static hid_t write_array(hid_t loc, const char *name, hid_t ftype, hid_t mtype, size_t es, int ndim,
                         const int64_t *shape, const void *data)
{
    hsize_t dims[CF_MAX_DIMS], chunk[CF_MAX_DIMS];
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i], numel *= shape[i];
    hid_t space = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), dset = -1;
    if (space < 0 || dcpl < 0) goto done;
    if (ndim > 0 && numel > 0 && (size_t)numel * es >= CHUNK_MIN_BYTES) {
        choose_chunk(ndim, dims, es, chunk);
        /* shuffle groups the bytes of each float, which deflate compresses much better; fletcher32 lets a
         * corrupted chunk fail the read instead of loading silently wrong weights */
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0 ||
            H5Pset_fletcher32(dcpl) < 0)
            goto done;
    } else if (H5Pset_layout(dcpl, H5D_COMPACT) < 0) {
        /* below 4 KiB (small tensors, scalars, the training state) the bytes live in the dataset's object
         * header, which HDF5 checksums like all metadata, so a damaged byte fails the open instead of loading;
         * a fletcher32 chunk would cost a chunk index about the size of the data, and scalars cannot be chunked */
        goto done;
    }
    dset = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset >= 0 && numel > 0 && H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) cf_h5_close(&dset);
done:
    cf_h5_close(&dcpl), cf_h5_close(&space);
    return dset;
}

/* One tensor as a dataset; returns 0 or -1. */
static int write_tensor(hid_t loc, const char *name, cf_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    hid_t d = write_array(loc, name, file_type_of(dt), ckpt_mem_type_of(dt), cf_dtype_size(dt), ndim, shape, data);
    int rc = d < 0 || ((dt == CF_BF16 || dt == CF_F16) && attr_write_str(d, "dtype", cf_dtype_name(dt)) < 0) ? -1 : 0;
    cf_h5_close(&d);
    return rc;
}

/* n values of a file type as a 1-D dataset, or one as a scalar dataset (n = 0); returns 0 or -1. */
static int write_values(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int64_t n, const void *v)
{
    hid_t d = write_array(loc, name, ftype, mtype, H5Tget_size(ftype), n ? 1 : 0, &n, v);
    int rc = d < 0 ? -1 : 0;
    cf_h5_close(&d);
    return rc;
}

static int write_scalar(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    return write_values(loc, name, ftype, mtype, 0, v);
}

/* The recipe text: a root attribute while it fits in the root group's (checksummed) header; a longer one
 * would go to HDF5's dense attribute storage, which has no checksum over large values, so it becomes the
 * chunked, checksummed byte dataset /recipe instead. */
static int write_recipe(hid_t file, const char *text)
{
    int64_t n = (int64_t)strlen(text);
    if (n < CKPT_RECIPE_ATTR_MAX) return attr_write_str(file, "recipe", text);
    return write_values(file, "recipe", H5T_STD_U8LE, H5T_NATIVE_UCHAR, n, text);
}

static int write_state(hid_t file, const cf_train_state *st)
{
    hid_t g = H5Gcreate2(file, "train_state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), x = -1;
    int rc = -1;
    int32_t ws = st->world_size;
    if (g < 0 || write_scalar(g, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->step) < 0 ||
        write_scalar(g, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &st->seed) < 0 ||
        write_scalar(g, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->epoch) < 0 ||
        write_scalar(g, "cursor", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->cursor) < 0 ||
        write_scalar(g, "world_size", H5T_STD_I32LE, H5T_NATIVE_INT32, &ws) < 0)
        goto done;
    if (st->n_rng > 0 && write_values(g, "rng", H5T_STD_U64LE, H5T_NATIVE_UINT64, st->n_rng, st->rng) < 0)
        goto done;
    if ((x = H5Gcreate2(g, "extra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto done;
    for (int i = 0; i < st->n_extra; i++)
        if (write_scalar(x, st->extra[i].key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &st->extra[i].value) < 0) goto done;
    rc = 0;
done:
    cf_h5_close(&x), cf_h5_close(&g);
    return rc;
}

static bool name_ok(const char *s) { return s && s[0] && !strchr(s, '/') && strcmp(s, ".") != 0; }

static cf_status check_save_args(const char *path, const cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                                 const cf_train_state *st)
{
    if (!path || !path[0] || !ps) return cf_set_error(CF_ERR_ARG, "checkpoint save: no path or no parameters");
    if (ps->dtype != CF_F32 && ps->dtype != CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "%s: parameters of dtype %s cannot be saved", path, cf_dtype_name(ps->dtype));
    for (int i = 0; i < ps->count; i++)
        if (!name_ok(ps->items[i].name))
            return cf_set_error(CF_ERR_ARG, "%s: parameter name '%s' cannot be a dataset name (empty, '.' or has '/')",
                                path, ps->items[i].name);
    if (nslots < 0 || (nslots > 0 && !slots)) return cf_set_error(CF_ERR_ARG, "%s: bad optimizer slot list", path);
    for (int i = 0; i < nslots; i++) {
        if (!name_ok(slots[i].name) || !slots[i].flat)
            return cf_set_error(CF_ERR_ARG, "%s: optimizer slot %d has a bad name '%s' or no buffer", path, i,
                                slots[i].name ? slots[i].name : "(null)");
        for (int j = 0; j < i; j++)
            if (strcmp(slots[i].name, slots[j].name) == 0)
                return cf_set_error(CF_ERR_ARG, "%s: optimizer slot '%s' given twice", path, slots[i].name);
    }
    /* never write a state the reader would refuse */
    return st ? ckpt_state_check(st, path, CF_ERR_ARG) : CF_OK;
}

/* Builds the whole checkpoint in memory with HDF5's core driver and returns its image (malloc'ed).
 * Why not let HDF5 write the file: HDF5 1.10 does not recover from a failed disk write (ENOSPC, EFBIG):
 * the file stays half-closed and the library crashes in a later H5Fclose or in its exit handler. So HDF5
 * never touches the disk here, and we write the image ourselves, where a full disk is an ordinary error.
 * The price is memory: the image (about the size of parameters + slots, less compression) is held until
 * it is written. */
static cf_status build_image(const char *path, const cf_params *ps, const void *values, int nslots,
                             const cf_ckpt_slot *slots, const cf_train_state *st, const char *recipe_text, void **image,
                             size_t *image_len)
{
    char why[256], where[2 * CF_PARAM_NAME_MAX + 32];
    const char *stage = "creating the file in memory";
    size_t es = cf_dtype_size(ps->dtype);
    size_t estimate = (size_t)(1 + nslots) * (size_t)ps->total * es + (recipe_text ? strlen(recipe_text) : 0) + (1 << 20);
    size_t increment = estimate / 4 > (1 << 20) ? estimate / 4 : (1 << 20);
    cf_h5image im;
    hid_t file = -1, g = -1, og = -1;
    *image = NULL, *image_len = 0;
    if ((file = cf_h5image_create(&im, path, increment)) < 0) goto fail;
    /* chunked datasets get the 1.10 chunk indexes (single chunk, fixed array), which are checksummed like all
     * 1.10 metadata; the 1.8 v1 B-tree is not, and a damaged key there reads a chunk as zeros or unfiltered */
    stage = "choosing the HDF5 format";
    if (H5Fset_libver_bounds(file, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0) goto fail;
    stage = "writing the root attributes";
    if (attr_write_str(file, "format", CF_CHECKPOINT_FORMAT) < 0 ||
        attr_write_i64(file, "format_version", CF_CHECKPOINT_FORMAT_VERSION) < 0 ||
        write_recipe(file, recipe_text ? recipe_text : "") < 0 ||
        attr_write_str(file, "created_by", "cformer 0.1.0") < 0)
        goto fail;
    stage = "creating /model";
    if ((g = H5Gcreate2(file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto fail;
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        snprintf(where, sizeof where, "writing /model/%s", p->name);
        stage = where;
        if (write_tensor(g, p->name, ps->dtype, p->value->ndim, p->value->shape,
                         (const char *)values + p->offset * (int64_t)es) < 0)
            goto fail;
    }
    cf_h5_close(&g);
    stage = "creating /optim";
    if ((og = H5Gcreate2(file, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto fail;
    for (int s = 0; s < nslots; s++) {
        snprintf(where, sizeof where, "creating /optim/%s", slots[s].name);
        stage = where;
        if ((g = H5Gcreate2(og, slots[s].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto fail;
        for (int i = 0; i < ps->count; i++) {
            const cf_param *p = &ps->items[i];
            snprintf(where, sizeof where, "writing /optim/%s/%s", slots[s].name, p->name);
            if (write_tensor(g, p->name, ps->dtype, p->value->ndim, p->value->shape,
                             (const char *)slots[s].flat + p->offset * (int64_t)es) < 0)
                goto fail;
        }
        cf_h5_close(&g);
    }
    cf_h5_close(&og);
    stage = "writing /train_state";
    if (write_state(file, st) < 0) goto fail;
    cf_status rc = cf_h5image_finish(&im, file, path, image, image_len);
    return rc;
fail:
    ckpt_h5_detail(why, sizeof why);
    cf_h5_close(&g), cf_h5_close(&og), cf_h5_close(&file);
    cf_h5image_discard(&im);
    if (strstr(why, "allocat"))
        return cf_set_error(CF_ERR_OOM, "%s: out of memory building the checkpoint%s", path, why);
    return cf_set_error(CF_ERR_IO, "%s: checkpoint save failed while %s%s; the previous file (if any) is unchanged", path,
                        stage, why);
}

cf_status cf_checkpoint_save(const char *path, cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                             const cf_train_state *st, const char *recipe_text)
{
    cf_status rc = check_save_args(path, ps, nslots, slots, st);
    if (rc != CF_OK) return rc;
    const void *values = cf_params_values_host(ps); /* the values themselves, or their host mirror */
    if (!values) return cf_last_status();
    static const cf_train_state zero_state = {.world_size = 1};
    void *image = NULL;
    size_t len = 0;
    cf_h5_quiet q = cf_h5_quiet_on();
    rc = build_image(path, ps, values, nslots, slots, st ? st : &zero_state, recipe_text, &image, &len);
    cf_h5_quiet_off(q);
    if (rc == CF_OK) rc = cf_write_file_atomic(path, image, len);
    free(image);
    return rc;
}

#endif /* CF_HAVE_HDF5 */
