/* A synthetic keyword-spotting set, the stand-in for Google Speech Commands v2 used to check LMUFormer
 * (Liu et al., ICLR 2024) without network access: log-mel-like feature arrays and labels.
 *
 * Each class is a "word" of 3 formant bands, each sweeping linearly in frequency over the utterance with a
 * class-specific start and slope (drawn once from a fixed seed, shared by every split). An item is the
 * class's bands on a grid of `mels` x `frames`, with a random time shift in [-shift, shift] frames, an
 * amplitude jitter in [0.7, 1.3] and Gaussian noise of std `noise`.
 *
 * Files, in the layout real feature pipelines write (a feature array plus a label table):
 *     DIR/<split>.npy   float32 [items, frames, mels]   (C order, NumPy format 1.0)
 *     DIR/<split>.csv   "index,label" then one row per item, label in 0 .. classes-1
 *
 *     cf_kws_config c = cf_kws_defaults();        // 10 classes, 32 mels, 64 frames, noise 0.5, shift 8
 *     cf_kws_write("data/kws", "train", &c, 4000, 1);
 *     cf_kws_set s; cf_kws_read("data/kws", "train", &s); ... cf_kws_free(&s);
 */
#ifndef CF_DATA_KWS_H
#define CF_DATA_KWS_H

#include "autograd/cf_base.h"

#include <stdint.h>

typedef struct cf_kws_config {
    int classes, mels, frames, shift;
    double noise;
} cf_kws_config;

cf_kws_config cf_kws_defaults(void);
/* Writes DIR/<split>.npy and .csv atomically (count items, drawn from seed). */
cf_status cf_kws_write(const char *dir, const char *split, const cf_kws_config *c, int64_t count, uint64_t seed);
/* Writes any labelled feature sequences x [items, frames, mels] in this layout (other generators share it:
 * data/series/pseq.h). */
cf_status cf_kws_save(const char *dir, const char *split, const float *x, const int64_t *label, int64_t items,
                      int64_t frames, int64_t mels);
/* The generators' random numbers: splitmix64 steps, uniform [0, 1), standard normal. */
uint64_t cf_kws_next(uint64_t *state);
double cf_kws_uniform(uint64_t *state);
double cf_kws_normal(uint64_t *state);

typedef struct cf_kws_set {
    int64_t items, frames, mels;
    float *x;       /* [items, frames, mels] */
    int64_t *label; /* [items] */
    int classes;    /* 1 + the largest label */
} cf_kws_set;

/* Reads DIR/<split>.npy and .csv; errors name the file and what is wrong (shape, count, a bad label). */
cf_status cf_kws_read(const char *dir, const char *split, cf_kws_set *s);
void cf_kws_free(cf_kws_set *s);

#endif
