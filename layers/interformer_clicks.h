/* InterFormer's click side (Huang et al., "InterFormer: Real-time Interactive Image Segmentation", ICCV 2023,
 * Sec. 3.2 and the released click simulation): the 5-state reference map, the click simulator (exact Euclidean
 * distance transform of the error regions) and the per-click metrics. Plain C on host bytes, no tape: the map
 * reaches the network through cf_if_click_embed (layers/interformer.h).
 *
 * Reference-map states (one byte per pixel, full image resolution):
 *     0 definitely background   1 possibly background   2 unknown   3 possibly foreground   4 definitely foreground
 * A click stamps a disk of radius r (Euclidean, d <= r) with 4 (positive) or 0 (negative). After each prediction p
 * every pixel not in {0, 4} drifts one step towards it: p = 1: 2 -> 3, 1 -> 2; p = 0: 2 -> 1, 3 -> 2.
 *
 *     uint8_t ref[H * W]; cf_if_ref_reset(ref, H * W);
 *     cf_if_clicker *ck = cf_if_clicker_new(H, W);                    // scratch, allocated once
 *     cf_if_click c;
 *     if (cf_if_next_click(ck, gt, pred, ref, 1.0, key, &c)) cf_if_ref_click(ref, H, W, c, radius);
 *     ... predict ... cf_if_ref_update(ref, pred, H * W);
 */
#ifndef CF_LAYERS_INTERFORMER_CLICKS_H
#define CF_LAYERS_INTERFORMER_CLICKS_H

#include "autograd/cformer.h"
#include "autograd/rng.h"

enum { CF_IF_DEF_BG = 0, CF_IF_POS_BG = 1, CF_IF_UNKNOWN = 2, CF_IF_POS_FG = 3, CF_IF_DEF_FG = 4, CF_IF_STATES = 5 };

typedef struct cf_if_click {
    int y, x;
    bool positive;
} cf_if_click;

void cf_if_ref_reset(uint8_t *ref, int64_t n);
/* Stamps the click's disk (pixels within Euclidean distance radius of (y, x)) with 4 or 0. */
void cf_if_ref_click(uint8_t *ref, int H, int W, cf_if_click c, int radius);
/* The drift after a prediction pred (0/1 per pixel); states 0 and 4 never change. */
void cf_if_ref_update(uint8_t *ref, const uint8_t *pred, int64_t n);

/* Scratch of the click simulator for H x W images (the padded distance maps); allocated once. */
typedef struct cf_if_clicker cf_if_clicker;
cf_if_clicker *cf_if_clicker_new(int H, int W);
void cf_if_clicker_free(cf_if_clicker *ck);

/* Exact Euclidean distance transform: out[i] = distance from pixel i of mask (non-zero = inside) to the nearest
 * pixel outside it, the image border counting as outside (the mask is zero-padded by one pixel). */
void cf_if_edt(cf_if_clicker *ck, const uint8_t *mask, float *out);

/* The next simulated click (Sec. 3.3, and the released simulator): FN = gt & !pred, FP = pred & !gt, minus the
 * pixels already clicked (ref in {0, 4}); D = the EDT of each. The click is positive in FN when max D_FN > max D_FP,
 * else negative in FP; it is drawn uniformly among the pixels with D >= max D / k (k = 1: the points farthest from
 * the region's border; training uses k = 1.7), using the counter-based RNG (key, counter). false when both error
 * regions are empty (no click). */
bool cf_if_next_click(cf_if_clicker *ck, const uint8_t *gt, const uint8_t *pred, const uint8_t *ref, double k,
                      cf_philox_key key, uint64_t counter, cf_if_click *out);

/* Foreground IoU of pred against gt (1 when both are empty). */
double cf_if_iou(const uint8_t *gt, const uint8_t *pred, int64_t n);
/* NoC@tau of one sample's IoU-vs-click curve iou[0..n-1] (click t = index t - 1): the first t with iou >= tau, or
 * n (the cap) when none reaches it. */
int cf_if_noc(const double *iou, int n, double tau);

#endif
