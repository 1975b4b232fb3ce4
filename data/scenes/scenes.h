/* Instance-segmentation scenes as PNG pairs: an RGB image and an 8-bit greyscale instance map of the same size
 * (pixel value k > 0: object k, 0: background), the layout of DAVIS / COCO-style per-image instance PNGs:
 *
 *     DIR/<split>/images/00000.png   RGB (8-bit; greyscale or RGBA files are converted, 16-bit is refused)
 *     DIR/<split>/masks/00000.png    8-bit greyscale instance ids (colour, palette-expanded or 16-bit refused)
 *
 * numbered from 00000 without gaps. cf_scenes_read loads a split into memory and names the file and what is wrong
 * for every bad input (missing mask, size mismatch, wrong colour type, no object of at least min_area pixels).
 *
 * cf_scenes_generate writes the synthetic scenes of InterFormer's small reproduction (our CPU plan, after the
 * paper's Sec. 4 setting of one target object per sample): S x S RGB with a smooth random-gradient + noise
 * background and 2..5 objects (ellipse, rectangle, triangle, star, ring) of random colour and texture (solid or
 * striped, with noise), later objects occluding earlier ones. Item i of a split depends only on (seed, split, i).
 *
 *     cf_scenes_generate("data/scenes", "train", 8000, 64, 1);
 *     cf_scenes *s = cf_scenes_read("data/scenes", "train", 16);
 *     // s->image + i * S * S * 3, s->mask + i * S * S, s->ids[i][0 .. s->count[i])
 */
#ifndef CF_DATA_SCENES_H
#define CF_DATA_SCENES_H

#include "autograd/cformer.h"

#define CF_SCENES_MAX_OBJECTS 255
#define CF_SCENES_MAX_SIDE 4096

typedef struct cf_scenes {
    int64_t n;
    int side;               /* every image is side x side */
    uint8_t *image;         /* [n, side, side, 3] */
    uint8_t *mask;          /* [n, side, side] instance ids */
    uint8_t *count;         /* [n] objects of at least min_area pixels */
    uint8_t (*ids)[CF_SCENES_MAX_OBJECTS]; /* [n][count] their ids */
    char name[256];
} cf_scenes;

cf_status cf_scenes_generate(const char *dir, const char *split, int64_t n, int side, uint64_t seed);
cf_scenes *cf_scenes_read(const char *dir, const char *split, int64_t min_area);
void cf_scenes_free(cf_scenes *s);

#endif
