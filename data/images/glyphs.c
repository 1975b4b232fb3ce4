/* The glyph task of MAFormer's ablation: see data/images/glyphs.h. */
#include "data/images/glyphs.h"

#include "autograd/rng.h"

#include <string.h>

int cf_glyphs_shape_pixel(int s, int r, int c)
{
    switch (s) {
    case 0: return r == 0 || r == 5 || c == 0 || c == 5;                    /* ring */
    case 1: return (r == 2 || r == 3) || (c == 2 || c == 3);                /* plus */
    case 2: return r == c || r + c == 5;                                    /* cross */
    default: return (r < 3 ? 2 - r : r - 3) + (c < 3 ? 2 - c : c - 3) <= 2; /* diamond */
    }
}

typedef struct {
    cf_philox_key key;
    uint64_t step, i;
} draw;

static int draw_int(draw *d, int n) /* uniform in [0, n) */
{
    int v = (int)(cf_rng_uniform(d->key, d->step, d->i++) * n);
    return v < n ? v : n - 1;
}

static void put_glyph(uint8_t *img, int r0, int c0, int shape, int texture, int bar, int bright, int dim)
{
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < 6; c++)
            if (cf_glyphs_shape_pixel(shape, r, c)) {
                int on = texture ? (r + c) % 2 == 0 : r % 2 == 0;
                img[(r0 + r) * CF_GLYPHS_SIDE + c0 + c] = (uint8_t)(on ? bright : dim);
            }
    if (bar)
        for (int c = 0; c < 6; c++) img[(r0 + 7) * CF_GLYPHS_SIDE + c0 + c] = (uint8_t)bright;
}

void cf_glyphs_render(uint64_t seed, int split, int64_t index, uint8_t *img, int32_t *label, cf_glyphs_item *parts)
{
    draw d = {cf_rng_key(seed, 0x676c797068ULL + (uint64_t)split), (uint64_t)index, 0};
    const int S = CF_GLYPHS_SIDE, Q = S / 2;
    int base = 30 + draw_int(&d, 50), spread = 10 + draw_int(&d, 30);
    for (int p = 0; p < S * S; p++) img[p] = (uint8_t)(base + draw_int(&d, spread));
    cf_glyphs_item it;
    int same = draw_int(&d, 2), diag = draw_int(&d, 2), has_bar = draw_int(&d, 2);
    it.shape[0] = draw_int(&d, 4);
    it.shape[1] = same ? it.shape[0] : (it.shape[0] + 1 + draw_int(&d, 3)) % 4;
    it.texture[0] = draw_int(&d, 2), it.texture[1] = draw_int(&d, 2);
    it.bar = has_bar ? draw_int(&d, 2) : -1;
    /* the 6-wide, 8-tall cell (glyph, gap, bar) inside its 16 x 16 quadrant */
    for (int g = 0; g < 2; g++) {
        int qr = g == 0 ? 0 : Q, qc = (g == 0) == (diag == 0) ? 0 : Q;
        it.row[g] = qr + draw_int(&d, Q - 8 + 1), it.col[g] = qc + draw_int(&d, Q - 6 + 1);
    }
    int bright = 200 + draw_int(&d, 56), dim = 120 + draw_int(&d, 40);
    for (int g = 0; g < 2; g++) put_glyph(img, it.row[g], it.col[g], it.shape[g], it.texture[g], it.bar == g, bright, dim);
    *label = 4 * same + 2 * it.texture[0] + has_bar;
    if (parts) *parts = it;
}
