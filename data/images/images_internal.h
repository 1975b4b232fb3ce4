/* Shared by the image sources and augmentation: the bilinear tap of resampling (align_corners off). */
#ifndef CF_IMAGES_INTERNAL_H
#define CF_IMAGES_INTERNAL_H

/* Output pixel o of a window [start, start+len) of one axis resampled to n outputs: the two input pixels
 * *i0, *i1 (clamped inside the window) and the weight *w of *i1. */
static inline void bilinear_tap(double start, double len, int n, int o, int *i0, int *i1, double *w)
{
    double f = start + (o + 0.5) * len / n - 0.5;
    if (f < start) f = start;
    if (f > start + len - 1) f = start + len - 1;
    *i0 = (int)f;
    *i1 = *i0 + 1 < (int)(start + len) ? *i0 + 1 : *i0;
    *w = f - *i0;
}

#endif
