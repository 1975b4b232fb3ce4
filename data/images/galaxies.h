/* Synthetic galaxy images with the ten Galaxy10 DECaLS classes, for Astroformer's low-data comparison
 * (Dagli, arXiv 2304.05350, sec. 4, whose real data is Galaxy10 DECaLS: 17736 images of 256 x 256 x 3, labels
 * 0..9). Each 64 x 64 g/r/z image (stored as RGB) is drawn from analytic profiles, Sersic
 * I(r) = I0 exp(-b_n((r/Re)^(1/n) - 1)), b_n = 2n - 1/3, and exponential disks:
 *
 *   0 disturbed        lumpy asymmetric disk: 2-4 off-centre blobs and a warped brightness
 *   1 merging          two Sersic cores 8-16 px apart and a tidal arc
 *   2 round smooth     n = 4, axis ratio q 0.9-1        3 in-between smooth  n = 3, q 0.5-0.8
 *   4 cigar smooth     n = 2, q 0.15-0.3                 5 barred spiral      disk + bar (q 0.25) + 2 arms
 *   6 tight spiral     2 arms, pitch 10-15 degrees      7 loose spiral       2 arms, pitch 25-35 degrees
 *   8 edge-on          thin disk (q 0.1)                 9 edge-on + bulge    thin disk + round n = 4 bulge
 *
 * then rotated uniformly, scaled 0.7-1.3, blurred by a Gaussian PSF (sigma 0.8-1.5 px), with sky and
 * Poisson-like plus Gaussian noise; bulges are redder and disks and arms bluer across g/r/z; an asinh
 * stretch maps flux to 0..255. Classes are drawn in proportion to Galaxy10 DECaLS' counts (334 cigars of
 * 17736 to 2645 round), and 10% of the labels of the neighbouring pairs 2/3, 6/7 and 8/9 are swapped, as
 * volunteers' votes blur them. Items are a pure function of (seed, split stream, index).
 *
 *     uint8_t img[CF_GALAXY_SIDE * CF_GALAXY_SIDE * 3]; int32_t y;
 *     cf_galaxy_render(seed, CF_GALAXY_TRAIN, i, img, &y, NULL);   // HWC
 *     cf_galaxies_write_h5("gal.h5", 2000, seed, CF_GALAXY_TRAIN);  // Galaxy10 layout: images, ans
 */
#ifndef CF_GALAXIES_H
#define CF_GALAXIES_H

#include "autograd/cf_base.h"

#define CF_GALAXY_SIDE 64
#define CF_GALAXY_CLASSES 10
enum { CF_GALAXY_TRAIN = 1, CF_GALAXY_TEST = 2 };

extern const int cf_galaxy10_counts[CF_GALAXY_CLASSES]; /* Galaxy10 DECaLS' images per class */

/* drawn: the class rendered (before label noise); label: the class reported. drawn may be NULL. */
void cf_galaxy_render(uint64_t seed, int split, int64_t index, uint8_t *hwc, int32_t *label, int32_t *drawn);
/* n items of the stream as an HDF5 file with `images` uint8 [n, 64, 64, 3] and `ans` uint8 [n] (the Galaxy10
 * DECaLS layout), written atomically; CF_ERR_UNSUPPORTED in a build without HDF5. */
cf_status cf_galaxies_write_h5(const char *path, int64_t n, uint64_t seed, int split);

#endif
