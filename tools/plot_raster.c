/* The canvas of `cformer plot`: an RGB pixel buffer with clipped fills, lines and text in our 5x7 font
 * (png_font.c), so no graphics or font library is needed. */
#include "tools/plot_internal.h"

#include <math.h>
#include <stdlib.h>

static void put(canvas *c, int x, int y, rgb col)
{
    if (x < c->cx0 || x > c->cx1 || y < c->cy0 || y > c->cy1) return;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

void plot_clip_all(canvas *c)
{
    c->cx0 = c->cy0 = 0;
    c->cx1 = c->w - 1;
    c->cy1 = c->h - 1;
}

void plot_fill(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col);
}

/* Bresenham with a 2x2 pen, so a curve stays visible over the grid. */
void plot_line(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        plot_fill(c, x0, y0, x0 + 1, y0 + 1, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* A UTF-8 continuation byte: the font draws one '?' per non-ASCII character, not one per byte. */
static bool continuation(char c)
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

int plot_text_width(const char *s, int scale)
{
    int n = 0;
    for (; *s; s++) n += !continuation(*s);
    return n ? (n * (CF_FONT_W + 1) - 1) * scale : 0;
}

void plot_text(canvas *c, int x, int y, const char *s, int scale, rgb col)
{
    for (; *s; s++) {
        if (continuation(*s)) continue;
        const uint8_t *g = cf_font5x7_glyph((unsigned char)*s);
        for (int gx = 0; gx < CF_FONT_W; gx++)
            for (int gy = 0; gy < CF_FONT_H; gy++)
                if (g[gx] >> gy & 1)
                    plot_fill(c, x + gx * scale, y + gy * scale, x + gx * scale + scale - 1, y + gy * scale + scale - 1,
                              col);
        x += (CF_FONT_W + 1) * scale;
    }
}

/* A double mapped to a pixel coordinate, clamped so that the int conversion is always defined. */
int plot_to_px(double v)
{
    if (!(v > -1e6)) return -1000000;
    if (v > 1e6) return 1000000;
    return (int)lround(v);
}
