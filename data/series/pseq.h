/* Permuted sequential templates: the stand-in for permuted sequential MNIST (psMNIST, the LMU's benchmark in
 * Voelker et al., NeurIPS 2019, and in LMUFormer, Liu et al., ICLR 2024) without the MNIST files.
 *
 * `classes` random templates of `pixels` values in [0, 1) (drawn once from a fixed seed, shared by every
 * split); an item is its class's template plus Gaussian noise of std `noise`, its pixels reordered by one fixed
 * random permutation and fed one pixel per frame: a [pixels, 1] sequence. Written in the labelled-sequence
 * layout of data/audio/kws.h (DIR/<split>.npy float32 [items, pixels, 1] + DIR/<split>.csv), so the `kws`
 * dataset reads it.
 *
 *     cf_pseq_config c = cf_pseq_defaults();   // 10 classes, 64 pixels, noise 0.75
 *     cf_pseq_write("data/pseq", "train", &c, 4000, 1);
 */
#ifndef CF_DATA_PSEQ_H
#define CF_DATA_PSEQ_H

#include "autograd/cf_base.h"

#include <stdint.h>

typedef struct cf_pseq_config {
    int classes, pixels;
    double noise;
} cf_pseq_config;

cf_pseq_config cf_pseq_defaults(void);
cf_status cf_pseq_write(const char *dir, const char *split, const cf_pseq_config *c, int64_t count, uint64_t seed);

#endif
