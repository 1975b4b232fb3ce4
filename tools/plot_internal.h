/* What the pieces of `cformer plot` share: the metrics read from metrics.jsonl (plot_jsonl.c), the canvas
 * and its drawing (plot_raster.c), axis ticks (plot_ticks.c) and the PNG file (plot_png.c); plot.c lays
 * out and draws the panels, plot_cmd.c is the command. Internal to the cformer binary. */
#ifndef CF_PLOT_INTERNAL_H
#define CF_PLOT_INTERNAL_H

#include "tools/plot.h"

#include "tools/png_font.h"

#include <stddef.h>
#include <stdint.h>

#define MAX_KEYS 1024 /* distinct metric names in one file; more is surely not a metrics log */
#define MAX_TICKS 16
#define CAP_H (CF_FONT_H - 1) /* glyph rows above the baseline: what labels are centred and aligned on */

/* ---- metrics.jsonl ---- */

typedef struct {
    double step, v; /* v is NaN for a gap (null or a non-finite number) */
    size_t order;   /* position in the file, so that among equal steps the last line wins */
} point;

typedef struct {
    char *name;
    point *p;
    size_t n, cap;
} series;

typedef struct {
    series s[MAX_KEYS];
    int n;
    long lines; /* lines with an object in them */
} metrics;

/* Reads path into m (zeroed by the caller): one series per metric, each sorted by step with the last
 * line's value kept for a repeated step. An incomplete last line is skipped (with a warning unless quiet). */
/* x_key: the key whose value is each line's x ("step" for a run's metrics). */
cf_status plot_metrics_read(const char *path, const char *x_key, metrics *m, bool quiet);
series *plot_metrics_find(metrics *m, const char *name);
void plot_metrics_free(metrics *m);

/* ---- the canvas ---- */

typedef struct {
    uint8_t r, g, b;
} rgb;

typedef struct {
    uint8_t *px;
    int w, h;
    int cx0, cy0, cx1, cy1; /* clip rectangle, inclusive */
} canvas;

/* Drawing clips to the clip rectangle; plot_clip_all resets it to the whole canvas. */
void plot_clip_all(canvas *c);
void plot_fill(canvas *c, int x0, int y0, int x1, int y1, rgb col);
void plot_line(canvas *c, int x0, int y0, int x1, int y1, rgb col);
/* Text in the 5x7 font, top-left at (x, y), each font pixel scale x scale. */
void plot_text(canvas *c, int x, int y, const char *s, int scale, rgb col);
int plot_text_width(const char *s, int scale);
int plot_to_px(double v);

/* ---- axis ticks ---- */

typedef struct {
    double pos[MAX_TICKS]; /* in axis units (log10 of the value on a log axis) */
    char label[MAX_TICKS][32];
    int n;
} ticks;

void plot_fmt_value(char *out, size_t n, double v);
void plot_linear_ticks(ticks *t, double lo, double hi, int target, bool log_pos, bool integer);
void plot_log_ticks(ticks *t, double llo, double lhi);

/* ---- `cformer plot KIND EVAL.json [-o FILE.png]` (plot_cmd.c) ---- */

/* Parses those arguments: -1 when they are fine (*json set, *out the -o value or default_name beside
 * EVAL.json, written into buf), else the command's exit status (0 after printing usage for --help, 2 after
 * naming a bad argument). */
int plot_eval_args(int argc, char **argv, const char *kind, const char *usage, const char *default_name,
                   const char **json, const char **out, char *buf, size_t n);

/* ---- the PNG file ---- */

/* Writes c to path atomically; source (the metrics file) goes into the PNG's text chunks. */
cf_status plot_png_write_atomic(const char *path, const canvas *c, const char *source);

#endif
