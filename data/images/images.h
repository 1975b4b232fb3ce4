/* Image classification data: sources that yield fixed-size uint8 HWC images with integer labels, and the
 * dataset that decodes and augments them on the loader's prefetch thread.
 *
 * Sources (each names its file and the offset or entry in every error):
 *   - IDX (MNIST / Fashion-MNIST): an images file [N, H, W] and a labels file [N], gzip or plain (idx.h)
 *   - HDF5: images [N, H, W, C] (or [N, H, W]) uint8 and integer labels [N] (the Galaxy10 DECaLS layout:
 *     datasets `images` and `ans`), the dataset names given by the caller
 *   - ImageFolder: root/<class>/<file>.png|.jpg|.jpeg, classes sorted by name (label = rank); PNG
 *     greyscale, grey+alpha, RGB, RGBA, palette and 16-bit (scaled to 8 bits), JPEG greyscale and RGB;
 *     every image is decoded when read and resized (bilinear) to the source's h x w
 *
 * The dataset: item i of a split gives
 *     images  f32 [rows, C, out_h, out_w]   augmented and normalised (augment.h)
 *     labels  i64 [rows]                    the item's own label
 *     targets f32 [rows, classes]           soft targets (mixup / cutmix / smoothing), each row sums to 1
 * Its cf_data_info: vocab = classes (labels in [0, vocab)), units = channels, frames = 1, frame_h x frame_w =
 * out_h x out_w.
 * Draws are keyed by (seed, index, epoch) so a resume repeats them; get() allocates nothing.
 *
 *     cf_image_source *s = cf_image_source_idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
 *     cf_augment a; cf_augment_defaults(&a, s->c, s->h, s->w, s->classes);
 *     cf_dataset *ds = cf_images_dataset_open(s, &a, seed, NULL, s->n, "fashion-mnist [train]"); // owns s
 */
#ifndef CF_IMAGES_H
#define CF_IMAGES_H

#include "data/dataset.h"
#include "data/images/augment.h"

/* the largest side and class count a source may have */
#define CF_IMAGE_MAX_SIDE 8192
#define CF_IMAGE_MAX_CLASSES 100000

typedef struct cf_image_source cf_image_source;
struct cf_image_source {
    int64_t n;           /* items */
    int h, w, c;         /* every item is h x w x c uint8, c in 1..4 */
    int classes;         /* labels in [0, classes) */
    char name[256];      /* for messages */
    /* writes item i (0 <= i < n) to hwc[h*w*c] and *label; CF_OK or an error naming the file */
    cf_status (*read)(cf_image_source *s, int64_t i, uint8_t *hwc, int32_t *label);
    void (*free)(cf_image_source *s); /* frees everything, s included */
};

/* A source over arrays in memory; takes ownership of pixels (n*h*w*c) and labels (n) (freed with the
 * source, also on failure). Labels must be in [0, classes): the first that is not is an error naming
 * its entry. classes <= 0: max label + 1. */
cf_image_source *cf_image_source_memory(uint8_t *pixels, int32_t *labels, int64_t n, int h, int w, int c, int classes,
                                        const char *name);
cf_image_source *cf_image_source_idx(const char *images_path, const char *labels_path);
/* HDF5 file with the two dataset names; NULL with CF_ERR_UNSUPPORTED in a build without HDF5. */
cf_image_source *cf_image_source_h5(const char *path, const char *images_key, const char *labels_key);
/* ImageFolder tree; images are resized to h x w with c channels (1: grey, 3: RGB; 4: RGBA). */
cf_image_source *cf_image_source_folder(const char *root, int h, int w, int c);
void cf_image_source_free(cf_image_source *s); /* NULL is fine */

/* The dataset over `count` items of src: item k is source item items[k] (a split of one source; the map
 * is copied), or k itself when items is NULL. Augmented as `aug` says (aug->channels must equal src->c and
 * aug->classes src->classes). Takes ownership of src, also on failure. */
cf_dataset *cf_images_dataset_open(cf_image_source *src, const cf_augment *aug, uint64_t seed, const int64_t *items,
                                   int64_t count, const char *name);
/* The deterministic split of n items: item i belongs to the held-out part when a fixed hash of i falls
 * below `fraction` (so classes stored in order are spread over both parts). Writes the chosen part's
 * source indices to out (n entries of room) and returns how many. held_out: true for the held-out part. */
int64_t cf_images_split(int64_t n, double fraction, bool held_out, int64_t *out);

#endif
