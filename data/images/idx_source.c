/* The IDX image source: an images file [N, H, W] and a labels file [N] (idx.h). */
#include "data/images/idx.h"
#include "data/images/images.h"

#include <stdlib.h>

cf_image_source *cf_image_source_idx(const char *images_path, const char *labels_path)
{
    cf_idx im, lb;
    if (cf_idx_read(images_path, &im) != CF_OK) return NULL;
    if (cf_idx_read(labels_path, &lb) != CF_OK) return cf_idx_free(&im), NULL;
    const char *bad = NULL;
    if (im.ndim != 3 && im.ndim != 4) bad = "the images file must have 3 dimensions [N, H, W] (or 4: [N, H, W, C])";
    else if (lb.ndim != 1) bad = "the labels file must have 1 dimension [N]";
    else if (lb.dims[0] != im.dims[0]) bad = "the two files hold different numbers of items";
    else if (im.dims[1] > CF_IMAGE_MAX_SIDE || im.dims[2] > CF_IMAGE_MAX_SIDE) bad = "images larger than the largest side taken";
    else if (im.ndim == 4 && im.dims[3] > CF_AUGMENT_MAX_CHANNELS) bad = "more channels than 4";
    if (bad) {
        cf_set_error(CF_ERR_FORMAT, "%s and %s: %s (images %d-d, first size %lld; labels %d-d, size %lld)", images_path,
                     labels_path, bad, im.ndim, (long long)im.dims[0], lb.ndim, (long long)lb.dims[0]);
        cf_idx_free(&im), cf_idx_free(&lb);
        return NULL;
    }
    int32_t *labels = malloc(sizeof *labels * (size_t)lb.count);
    if (!labels) {
        cf_idx_free(&im), cf_idx_free(&lb);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", labels_path);
        return NULL;
    }
    for (int64_t i = 0; i < lb.count; i++) labels[i] = lb.data[i];
    cf_idx_free(&lb);
    uint8_t *pixels = im.data;
    im.data = NULL;
    return cf_image_source_memory(pixels, labels, im.dims[0], (int)im.dims[1], (int)im.dims[2],
                                  im.ndim == 4 ? (int)im.dims[3] : 1, 0, images_path);
}
