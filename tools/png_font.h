/* A 5x7 bitmap font (plus a descender row) for printable ASCII, so `cformer plot` can label its images without a font library. */
#ifndef CF_PNG_FONT_H
#define CF_PNG_FONT_H

#include <stdint.h>

#define CF_FONT_W 5 /* glyph columns; draw with one blank column between glyphs */
#define CF_FONT_H 8 /* glyph rows: 7 above the baseline, 1 for descenders */

/* The 5 columns of character c, left to right; bit r (LSB = top) of a column is row r. Characters outside
 * printable ASCII get the glyph of '?' (callers skip UTF-8 continuation bytes: one '?' per character). */
const uint8_t *cf_font5x7_glyph(unsigned char c);

#endif
