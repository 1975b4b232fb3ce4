/* Image augmentation for classification, seeded per (seed, item index, epoch) with the Philox RNG of
 * autograd/rng.h so a resumed run draws exactly the views it would have drawn; nothing is allocated.
 *
 *  - random resized crop (Szegedy et al., "Going deeper with convolutions", sec. 6; the torchvision
 *    RandomResizedCrop convention): area fraction in [scale_lo, scale_hi], aspect ratio log-uniform in
 *    [ratio_lo, ratio_hi], 10 tries, else the largest centred crop; bilinear resampling (align_corners off)
 *  - horizontal flip with probability 1/2
 *  - per-channel normalisation: (pixel/255 - mean[c]) / std[c]
 *  - mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", eq. 1): x = lam*xa + (1-lam)*xb,
 *    lam ~ Beta(alpha, alpha); cutmix (Yun et al., "CutMix", sec. 3.1, eq. 1-2): a box of area (1-lam)
 *    of the output is taken from xb, and lam is recomputed from the clipped box's area
 *  - label smoothing (Szegedy et al., "Rethinking the Inception Architecture", sec. 7):
 *    t = (1-eps)*t + eps/K.  Targets always sum to 1.
 *
 * The partner of a mixed item is another item of the same split drawn from the item's own stream, so the
 * mix depends on (seed, index, epoch) only, never on batch composition or thread count.
 *
 *     cf_augment a; cf_augment_defaults(&a, 3, 32, 32, 10);
 *     a.mixup_alpha = 0.8;
 *     cf_augment_mix mix = cf_augment_draw_mix(&a, seed, index, epoch, len);
 *     cf_augment_view(&a, src, h, w, seed, index, epoch, 0, out);            // [C, out_h, out_w]
 *     if (mix.mode) { ... decode mix.partner into src2 ...
 *         cf_augment_view(&a, src2, h, w, seed, mix.partner, epoch, 1, tmp); cf_augment_apply_mix(&a, &mix, out, tmp); }
 *     cf_augment_targets(&a, label, label2, mix.lam, targets);              // [classes], sums to 1
 */
#ifndef CF_AUGMENT_H
#define CF_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#define CF_AUGMENT_MAX_CHANNELS 4

typedef struct cf_augment {
    int channels, out_h, out_w, classes;
    bool crop;                  /* random resized crop; off: the whole image resized to out_h x out_w */
    bool flip;                  /* horizontal flip, p = 1/2 */
    double scale_lo, scale_hi;  /* crop area as a fraction of the image, 0 < lo <= hi <= 1 */
    double ratio_lo, ratio_hi;  /* crop aspect ratio w/h, 0 < lo <= hi */
    float mean[CF_AUGMENT_MAX_CHANNELS], std[CF_AUGMENT_MAX_CHANNELS]; /* std > 0 */
    double mixup_alpha, cutmix_alpha; /* 0 = off; both > 0: each mixed item picks one with p = 1/2 */
    double mix_prob;            /* probability that an item is mixed when an alpha is on, in [0, 1] */
    double smoothing;           /* eps in [0, 1) */
} cf_augment;

/* No augmentation: whole image resized, no flip, mean 0, std 1, no mixing or smoothing. */
void cf_augment_defaults(cf_augment *a, int channels, int out_h, int out_w, int classes);

typedef enum { CF_MIX_NONE = 0, CF_MIX_MIXUP = 1, CF_MIX_CUTMIX = 2 } cf_mix_mode;
typedef struct cf_augment_mix {
    cf_mix_mode mode;
    int64_t partner;       /* the other item's index (mode != NONE) */
    double lam;            /* weight of the item itself, in [0, 1]; 1 when not mixed */
    int y0, y1, x0, x1;    /* cutmix box in output pixels, [y0, y1) x [x0, x1) */
} cf_augment_mix;

/* Draws whether and how item `index` of a split of `len` items is mixed in `epoch`. */
cf_augment_mix cf_augment_draw_mix(const cf_augment *a, uint64_t seed, int64_t index, int64_t epoch, int64_t len);
/* Writes the augmented view of an h x w x channels uint8 HWC image as float [channels, out_h, out_w].
 * `role` 0 for the item itself, 1 for it as a mixing partner (an independent draw). */
void cf_augment_view(const cf_augment *a, const uint8_t *hwc, int h, int w, uint64_t seed, int64_t index, int64_t epoch,
                     int role, float *out);
/* Mixes the partner's view `other` into `out` (both [channels, out_h, out_w]) as mix says. */
void cf_augment_apply_mix(const cf_augment *a, const cf_augment_mix *mix, float *out, const float *other);
/* Soft targets [classes]: lam on label_a, 1-lam on label_b, then smoothing. Labels in [0, classes). */
void cf_augment_targets(const cf_augment *a, int label_a, int label_b, double lam, float *targets);
/* A Beta(alpha, alpha) draw from the stream (key seed/index, step epoch, elements from `at` on). */
double cf_augment_beta(double alpha, uint64_t seed, int64_t index, int64_t epoch, uint64_t at);

#endif
