/* The `images` dataset's recipe keys for normalisation and augmentation (recipes/run/datasets_images.c), shared
 * with papers whose own image datasets (generated in memory) take the same keys:
 *   data.height, data.width, data.mean, data.std, data.seed, and on the training split data.augment.*
 *
 *     cf_augment a; uint64_t seed;
 *     if (cf_images_augment_from_recipe(r, src, train, &a, &seed) != CF_OK) ...   // errors name file:line
 *     cf_dataset *ds = cf_images_dataset_open(src, &a, seed, NULL, src->n, name);
 *
 * or, for pixels made in memory, both steps at once (takes px and lab, malloc'ed, even on failure):
 *     cf_dataset *ds = cf_images_dataset_from_memory(r, train, px, lab, n, 32, 32, 1, 8, "glyphs seed 1 [train]");
 */
#ifndef CF_DATASETS_IMAGES_H
#define CF_DATASETS_IMAGES_H

#include "data/images/images.h"
#include "recipes/recipe/recipe.h"

/* Splits: "train" is the training items, augmented; "train-eval" the same items as evaluation sees them (no
 * augmentation: `cformer eval --set eval.split=train-eval` gives the training accuracy, to set beside the test
 * accuracy for the train-test gap); any other name is the held-out items. */
bool cf_images_split_train_items(const char *split);
bool cf_images_split_augmented(const char *split);

cf_status cf_images_augment_from_recipe(cf_recipe *r, const cf_image_source *src, bool train, cf_augment *a,
                                       uint64_t *seed);
/* px [n, h, w, c] uint8 and lab [n] as a dataset with the recipe's normalisation (and, for train, augmentation) */
cf_dataset *cf_images_dataset_from_memory(cf_recipe *r, bool train, uint8_t *px, int32_t *lab, int64_t n, int64_t h,
                                          int64_t w, int64_t c, int64_t classes, const char *name);

#endif
