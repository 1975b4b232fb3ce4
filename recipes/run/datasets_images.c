/* The `images` dataset of a recipe (`data.type: images`): reads the data.* keys, opens the format's source
 * (data/images/images.h) and the split, and sets up augmentation for the training split.
 *
 *   data.format       idx | h5 | folder                                   (idx)
 *   data.path         idx: the folder of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
 *                     h5: the file; folder: the root of train/ and val/ class trees
 *   data.images, data.labels   h5 dataset names                          (images, ans: Galaxy10)
 *   data.val_fraction h5, and folder without a val/ tree: the share held out for val/test (0.1)
 *   data.height, data.width, data.channels   the size images are read at (folder) and the output size
 *   data.seed         the augmentation and mixing seed                     (0)
 *   data.mean, data.std          per-channel normalisation lists on [0, 1] pixels (0 and 1)
 *   data.augment.crop, .flip      random resized crop and horizontal flip (training split only; off)
 *   splits: train (augmented), train-eval (the training items unaugmented, for `cformer eval`), val / test
 *   data.augment.scale, .ratio    crop area fraction [lo, hi] and aspect ratio [lo, hi] ([0.08, 1], [3/4, 4/3])
 *   data.augment.mixup, .cutmix   Beta alphas (0 = off); .mix_prob (1); .smoothing (0)
 */
#include "data/images/images.h"
#include "recipes/run/limits.h"
#include "recipes/run/datasets_images.h"
#include "recipes/run/registry_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* idx: the file `stem` in dir, gzip'ed or not. */
static const char *idx_file(const char *dir, const char *stem, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s.gz", dir, stem);
    if (exists(buf)) return buf;
    snprintf(buf, n, "%s/%s", dir, stem);
    return buf;
}

static cf_image_source *open_source(cf_recipe *r, const char *fmt, const char *path, bool train, bool *split_here)
{
    *split_here = false;
    if (strcmp(fmt, "idx") == 0) {
        char ib[2300], lb[2300], stem[64];
        const char *pre = train ? "train" : "t10k";
        snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", pre);
        idx_file(path, stem, ib, sizeof ib);
        snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", pre);
        idx_file(path, stem, lb, sizeof lb);
        return cf_image_source_idx(ib, lb);
    }
    if (strcmp(fmt, "h5") == 0) {
        *split_here = true;
        return cf_image_source_h5(path, cf_recipe_str(r, "data.images", "images"), cf_recipe_str(r, "data.labels", "ans"));
    }
    /* folder */
    int h = (int)cf_recipe_int_in(r, "data.height", 32, 1, CF_IMAGE_MAX_SIDE), w = (int)cf_recipe_int_in(r, "data.width", 32, 1, CF_IMAGE_MAX_SIDE);
    int c = (int)cf_recipe_int_in(r, "data.channels", 3, 1, 4);
    char sub[2300];
    snprintf(sub, sizeof sub, "%s/%s", path, train ? "train" : "val");
    if (!train && !exists(sub)) snprintf(sub, sizeof sub, "%s/train", path), *split_here = true;
    if (!exists(sub)) snprintf(sub, sizeof sub, "%s", path), *split_here = true;
    return cf_image_source_folder(sub, h, w, c);
}

bool cf_images_split_train_items(const char *split)
{
    return strcmp(split, "train") == 0 || strcmp(split, "train-eval") == 0;
}

bool cf_images_split_augmented(const char *split) { return strcmp(split, "train") == 0; }

cf_status cf_images_augment_from_recipe(cf_recipe *r, const cf_image_source *src, bool train, cf_augment *a,
                                       uint64_t *seed)
{
    cf_augment_defaults(a, src->c, (int)cf_recipe_int_in(r, "data.height", src->h, 1, CF_IMAGE_MAX_SIDE),
                        (int)cf_recipe_int_in(r, "data.width", src->w, 1, CF_IMAGE_MAX_SIDE), src->classes);
    double mean[CF_AUGMENT_MAX_CHANNELS], sd[CF_AUGMENT_MAX_CHANNELS], zero = 0, one = 1, sc[2], ra[2];
    int nm = cf_recipe_float_list_in(r, "data.mean", mean, CF_AUGMENT_MAX_CHANNELS, &zero, 1, -10, 10);
    int ns = cf_recipe_float_list_in(r, "data.std", sd, CF_AUGMENT_MAX_CHANNELS, &one, 1, 1e-6, 1e6);
    for (int c = 0; c < src->c; c++) a->mean[c] = (float)mean[nm == 1 ? 0 : c < nm ? c : 0], a->std[c] = (float)sd[ns == 1 ? 0 : c < ns ? c : 0];
    if ((nm > 1 && nm != src->c) || (ns > 1 && ns != src->c))
        cf_recipe_fail(r, nm > 1 && nm != src->c ? "data.mean" : "data.std", CF_ERR_ARG,
                       "needs one value or one per channel (%d), not %d", src->c, nm > 1 && nm != src->c ? nm : ns);
    const double dsc[2] = {0.08, 1.0}, dra[2] = {3.0 / 4.0, 4.0 / 3.0};
    int nsc = cf_recipe_float_list_in(r, "data.augment.scale", sc, 2, dsc, 2, 1e-6, 1);
    int nra = cf_recipe_float_list_in(r, "data.augment.ratio", ra, 2, dra, 2, 1e-3, 1e3);
    if ((nsc >= 0 && nsc != 2) || (nra >= 0 && nra != 2) || (nsc == 2 && sc[0] > sc[1]) || (nra == 2 && ra[0] > ra[1]))
        cf_recipe_fail(r, nsc != 2 || sc[0] > sc[1] ? "data.augment.scale" : "data.augment.ratio", CF_ERR_ARG, "needs [lo, hi] with lo <= hi");
    *seed = (uint64_t)cf_recipe_int_in(r, "data.seed", 0, 0, CF_MAX_SEED);
    if (train) {
        a->crop = cf_recipe_bool(r, "data.augment.crop", false), a->flip = cf_recipe_bool(r, "data.augment.flip", false);
        a->scale_lo = sc[0], a->scale_hi = sc[1], a->ratio_lo = ra[0], a->ratio_hi = ra[1];
        a->mixup_alpha = cf_recipe_float_in(r, "data.augment.mixup", 0, 0, 100, CF_RANGE_CLOSED);
        a->cutmix_alpha = cf_recipe_float_in(r, "data.augment.cutmix", 0, 0, 100, CF_RANGE_CLOSED);
        a->mix_prob = cf_recipe_float_in(r, "data.augment.mix_prob", 1, 0, 1, CF_RANGE_CLOSED);
        a->smoothing = cf_recipe_float_in(r, "data.augment.smoothing", 0, 0, 1, CF_RANGE_OPEN_HI);
    }
    return cf_recipe_status(r);
}

cf_dataset *cf_images_dataset_from_memory(cf_recipe *r, bool train, uint8_t *px, int32_t *lab, int64_t n, int64_t h,
                                          int64_t w, int64_t c, int64_t classes, const char *name)
{
    cf_image_source *src = cf_image_source_memory(px, lab, n, h, w, c, classes, name);
    if (!src) return NULL;
    cf_augment a;
    uint64_t seed = 0;
    if (cf_images_augment_from_recipe(r, src, train, &a, &seed) != CF_OK) return cf_image_source_free(src), NULL;
    return cf_images_dataset_open(src, &a, seed, NULL, n, name);
}

static cf_dataset *images_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char pbuf[2048];
    const char *path = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), pbuf, sizeof pbuf);
    const char *fmt = cf_recipe_str(r, "data.format", "idx");
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (strcmp(fmt, "idx") != 0 && strcmp(fmt, "h5") != 0 && strcmp(fmt, "folder") != 0) {
        cf_recipe_fail(r, "data.format", CF_ERR_ARG, "'%s' is not an image format (idx, h5 or folder)", fmt);
        return NULL;
    }
    bool train = cf_images_split_train_items(split), split_here = false;
    cf_image_source *src = open_source(r, fmt, path, train, &split_here);
    if (!src) return NULL;
    double frac = cf_recipe_float_in(r, "data.val_fraction", 0.1, 0, 1, CF_RANGE_OPEN);
    cf_augment a;
    uint64_t seed = 0;
    cf_images_augment_from_recipe(r, src, cf_images_split_augmented(split), &a, &seed);
    if (cf_recipe_status(r) != CF_OK) return cf_image_source_free(src), NULL;
    char name[256];
    snprintf(name, sizeof name, "images %s [%s]", path, split);
    if (!split_here) return cf_images_dataset_open(src, &a, seed, NULL, src->n, name);
    int64_t *items = malloc(sizeof *items * (size_t)src->n);
    if (!items) return cf_image_source_free(src), cf_set_error(CF_ERR_OOM, "%s: out of memory", name), NULL;
    int64_t k = cf_images_split(src->n, frac, !train, items);
    cf_dataset *ds = k > 0 ? cf_images_dataset_open(src, &a, seed, items, k, name) : NULL;
    if (k == 0) {
        cf_recipe_fail(r, "data.val_fraction", CF_ERR_ARG, "%g of %lld images leaves the %s split empty", frac, (long long)src->n, split);
        cf_image_source_free(src);
    }
    free(items);
    return ds;
}

void cf_register_image_datasets(void) { cf_dataset_register("images", images_factory); }
