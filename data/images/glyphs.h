/* The "local + global" glyph task for MAFormer's ablation (Wang et al., arXiv 2209.01620, sec. 4.4: a local
 * window branch and a global down-sampled branch each see only part of what the fusion sees). Each 32 x 32
 * greyscale image holds textured background noise of random brightness and two 6 x 6 glyphs in opposite
 * quadrants (top-left with bottom-right, or top-right with bottom-left), each drawn from 4 shapes (ring, plus,
 * cross, diamond) filled with one of 2 pixel textures (stripes: every other row bright; checker: every other
 * pixel bright), and at most one of them underlined by a bar two rows below it. The label (8 classes) is
 *
 *     label = 4 * [the two shapes are equal] + 2 * [the upper glyph's texture is checker] + [a bar is drawn]
 *
 * so a model needs a pixel-level texture (local) and a comparison across the image (global). Items are a
 * pure function of (seed, split stream, index): the same call always draws the same image, balanced over the
 * 8 classes by construction (each bit is a fair coin).
 *
 *     uint8_t img[CF_GLYPHS_SIDE * CF_GLYPHS_SIDE]; int32_t y;
 *     cf_glyphs_render(seed, CF_GLYPHS_TRAIN, i, img, &y);
 */
#ifndef CF_GLYPHS_H
#define CF_GLYPHS_H

#include <stdint.h>

#define CF_GLYPHS_SIDE 32
#define CF_GLYPHS_CLASSES 8
enum { CF_GLYPHS_TRAIN = 1, CF_GLYPHS_TEST = 2 };

/* the glyph parts an image was drawn with (for tests) */
typedef struct cf_glyphs_item {
    int shape[2], texture[2]; /* [0] the upper glyph; shapes 0..3, textures 0 stripes / 1 checker */
    int bar;                  /* -1 none, else the glyph underlined */
    int row[2], col[2];       /* top-left pixel of each glyph's 6 x 6 box */
} cf_glyphs_item;

/* Draws item `index` of stream `split` into img [32*32] (row-major) and its label; parts may be NULL. */
void cf_glyphs_render(uint64_t seed, int split, int64_t index, uint8_t *img, int32_t *label, cf_glyphs_item *parts);
/* 1 when pixel (r, c) of the 6 x 6 box belongs to shape s */
int cf_glyphs_shape_pixel(int s, int r, int c);

#endif
