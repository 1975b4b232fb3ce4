/* The HDF5 image source: images [N, H, W, C] or [N, H, W] uint8 and integer labels [N] (the Galaxy10
 * DECaLS layout: `images` [17736, 256, 256, 3] and `ans` [17736]), dataset names chosen by the caller. */
#include "data/images/images.h"

#include "data/h5util.h"

#include <stdlib.h>
#include <string.h>

#ifndef CF_HAVE_HDF5
cf_image_source *cf_image_source_h5(const char *path, const char *images_key, const char *labels_key)
{
    (void)images_key, (void)labels_key;
    cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (configure with -DCF_HDF5=ON)", path);
    return NULL;
}
#else
/* Opens dataset `key` and checks its rank; -1 with a message naming the file and the entry. */
static hid_t open_ds(hid_t f, const char *path, const char *key, int rank_lo, int rank_hi, hsize_t *dims, int *rank)
{
    if (!cf_h5_exists(f, key)) {
        cf_set_error(CF_ERR_FORMAT, "%s: no dataset '%s'", path, key);
        return -1;
    }
    hid_t d = H5Dopen2(f, key, H5P_DEFAULT);
    if (d < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: '%s' is not a dataset", path, key);
        return -1;
    }
    hid_t sp = H5Dget_space(d);
    *rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (*rank >= rank_lo && *rank <= rank_hi) H5Sget_simple_extent_dims(sp, dims, NULL);
    cf_h5_close(&sp);
    if (*rank < rank_lo || *rank > rank_hi) {
        cf_set_error(CF_ERR_FORMAT, "%s: dataset '%s' has %d dimensions, expected %d..%d", path, key, *rank, rank_lo, rank_hi);
        cf_h5_close(&d);
        return -1;
    }
    return d;
}

cf_image_source *cf_image_source_h5(const char *path, const char *images_key, const char *labels_key)
{
    cf_h5_quiet q = cf_h5_quiet_on();
    uint8_t *pixels = NULL;
    int32_t *labels = NULL;
    hid_t f = cf_h5_open_read(path), di = -1, dl = -1, ti = -1, tl = -1;
    hsize_t idims[4] = {0}, ldims[1] = {0};
    int irank = 0, lrank = 0;
    cf_image_source *src = NULL;
    if (f < 0) goto done;
    if ((di = open_ds(f, path, images_key, 3, 4, idims, &irank)) < 0) goto done;
    if ((dl = open_ds(f, path, labels_key, 1, 1, ldims, &lrank)) < 0) goto done;
    ti = H5Dget_type(di), tl = H5Dget_type(dl);
    if (H5Tget_class(ti) != H5T_INTEGER || H5Tget_size(ti) != 1 || H5Tget_sign(ti) != H5T_SGN_NONE) {
        cf_set_error(CF_ERR_UNSUPPORTED, "%s: dataset '%s' must hold unsigned 8-bit integers (uint8 pixels)", path, images_key);
        goto done;
    }
    if (H5Tget_class(tl) != H5T_INTEGER || !cf_h5_numeric_type_ok(tl)) {
        cf_set_error(CF_ERR_FORMAT, "%s: dataset '%s' must hold integer class labels", path, labels_key);
        goto done;
    }
    int64_t n = (int64_t)idims[0], c = irank == 4 ? (int64_t)idims[3] : 1;
    if ((int64_t)ldims[0] != n) {
        cf_set_error(CF_ERR_FORMAT, "%s: '%s' has %lld entries but '%s' has %lld images", path, labels_key,
                     (long long)ldims[0], images_key, (long long)n);
        goto done;
    }
    if (n < 1 || idims[1] < 1 || idims[2] < 1 || idims[1] > CF_IMAGE_MAX_SIDE || idims[2] > CF_IMAGE_MAX_SIDE || c < 1 ||
        c > CF_AUGMENT_MAX_CHANNELS) {
        cf_set_error(CF_ERR_FORMAT, "%s: dataset '%s' is [%lld, %lld, %lld, %lld]: need N >= 1, sides 1..%d, 1..%d channels",
                     path, images_key, (long long)n, (long long)idims[1], (long long)idims[2], (long long)c,
                     CF_IMAGE_MAX_SIDE, CF_AUGMENT_MAX_CHANNELS);
        goto done;
    }
    size_t item = (size_t)idims[1] * idims[2] * (size_t)c; /* <= 2^28: the sides and channels are bounded */
    if ((uint64_t)n > ((uint64_t)1 << 40) / item) {
        cf_set_error(CF_ERR_FORMAT, "%s: dataset '%s' holds %lld images of %zu bytes, more than the 1 TiB read into memory",
                     path, images_key, (long long)n, item);
        goto done;
    }
    size_t bytes = (size_t)n * item;
    pixels = malloc(bytes), labels = malloc(sizeof *labels * (size_t)n);
    if (!pixels || !labels) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %zu bytes of images", path, bytes);
        goto done;
    }
    if (H5Dread(di, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels) < 0 ||
        H5Dread(dl, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) < 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: reading '%s' or '%s' failed (corrupt data or labels out of int32 range)", path,
                     images_key, labels_key);
        goto done;
    }
    char name[256];
    snprintf(name, sizeof name, "%s:%s", path, images_key);
    src = cf_image_source_memory(pixels, labels, n, (int)idims[1], (int)idims[2], (int)c, 0, name);
    pixels = NULL, labels = NULL;
done:
    free(pixels);
    free(labels);
    cf_h5_close(&ti), cf_h5_close(&tl), cf_h5_close(&di), cf_h5_close(&dl), cf_h5_close(&f);
    cf_h5_quiet_off(q);
    return src;
}
#endif
