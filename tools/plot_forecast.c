/* `cformer plot forecast EVAL.json [-o FILE.png]`: the windows a forecasting evaluation saved (eval.json key
 * "forecast", written with eval.plot_windows by a forecasting paper's evaluation) as one panel per window: the input
 * steps and the truth after them in grey and black, the model's forecast in blue and the seasonal-naive
 * forecast in orange, against the step relative to the forecast's start (negative: the input). Default
 * output: forecast.png beside EVAL.json.
 *
 *     "forecast": {"variable": 6, "season": 24,
 *                  "windows": [{"index": 0, "input": [I values], "truth": [O], "forecast": [O], "naive": [O]}]} */
#include "autograd/json_read.h"
#include "tools/cli.h"
#include "tools/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FC_MAX_WINDOWS 64
#define FC_MAX_STEPS 100000

static const rgb INK = {30, 30, 30}, GRID = {232, 232, 232}, AXIS = {90, 90, 90}, INPUT = {150, 150, 150},
                 FORECAST = {31, 119, 180}, NAIVE = {255, 127, 14};

typedef struct {
    const cf_jv *part[4]; /* input, truth, forecast, naive */
    double index;
} fc_window;

static const char *const PARTS[4] = {"input", "truth", "forecast", "naive"};

/* Checks the "forecast" object: windows with numeric arrays of the same input / output lengths. Returns the
 * window count (windows filled), or -1 with an error naming the file and the entry. */
static int read_windows(const cf_jv *fc, const char *json, fc_window *w, int *I, int *O)
{
    if (!fc || fc->type != CF_JSON_OBJECT)
        return cf_set_error(CF_ERR_FORMAT, "%s: no \"forecast\" object (evaluate a forecasting model with "
                            "eval.plot_windows > 0)", json), -1;
    const cf_jv *ws = cf_json_get(fc, "windows");
    if (!ws || ws->type != CF_JSON_ARRAY || ws->n < 1 || ws->n > FC_MAX_WINDOWS)
        return cf_set_error(CF_ERR_FORMAT, "%s: forecast.windows must be an array of 1..%d windows", json,
                            FC_MAX_WINDOWS), -1;
    for (int k = 0; k < ws->n; k++) {
        const cf_jv *e = &ws->items[k], *ix = cf_json_get(e, "index");
        w[k].index = ix && ix->type == CF_JSON_NUMBER ? ix->num : k;
        for (int p = 0; p < 4; p++) {
            const cf_jv *a = cf_json_get(e, PARTS[p]);
            int want = p == 0 ? *I : *O;
            if (!a || a->type != CF_JSON_ARRAY || a->n < 1 || a->n > FC_MAX_STEPS)
                return cf_set_error(CF_ERR_FORMAT, "%s: forecast window %d has no \"%s\" array of 1..%d values (line %d)",
                                    json, k, PARTS[p], FC_MAX_STEPS, e->line), -1;
            if (want > 0 && a->n != want)
                return cf_set_error(CF_ERR_FORMAT, "%s: forecast window %d: \"%s\" has %d values, the others %d (line %d)",
                                    json, k, PARTS[p], a->n, want, a->line), -1;
            if (p == 0) *I = a->n;
            else *O = a->n;
            for (int t = 0; t < a->n; t++)
                if (a->items[t].type != CF_JSON_NUMBER && a->items[t].type != CF_JSON_NULL)
                    return cf_set_error(CF_ERR_FORMAT, "%s: forecast window %d: %s[%d] is not a number (line %d)", json,
                                        k, PARTS[p], t, a->items[t].line), -1;
            w[k].part[p] = a;
        }
    }
    return ws->n;
}

static double value(const cf_jv *a, int t) { return a->items[t].type == CF_JSON_NUMBER ? a->items[t].num : NAN; }

/* one series of a panel: values a[0..n) at steps first, first + 1, ...; a gap at each missing value */
static void curve(canvas *c, const cf_jv *a, int first, int x0, double sx, int smin, int y1, double lo, double sy, rgb col)
{
    int px = 0, py = 0;
    bool prev = false;
    for (int t = 0; t < a->n; t++) {
        double v = value(a, t);
        if (!isfinite(v)) {
            prev = false;
            continue;
        }
        int x = plot_to_px(x0 + (first + t - smin) * sx), y = plot_to_px(y1 - (v - lo) * sy);
        if (prev) plot_line(c, px, py, x, y, col);
        else plot_fill(c, x, y, x, y, col);
        px = x, py = y, prev = true;
    }
}

static void panel(canvas *c, const fc_window *w, int I, int O, int top, int height, int width)
{
    int x0 = 72, x1 = width - 16, y0 = top + 24, y1 = top + height - 24;
    double lo = INFINITY, hi = -INFINITY;
    for (int p = 0; p < 4; p++)
        for (int t = 0; t < w->part[p]->n; t++) {
            double v = value(w->part[p], t);
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
    char title[64];
    snprintf(title, sizeof title, "window %.0f", w->index);
    plot_text(c, x0, top + 6, title, 1, INK);
    if (!(lo <= hi)) return plot_text(c, x0, (y0 + y1) / 2, "(no finite values)", 1, INK);
    if (hi - lo < 1e-12 * fmax(1.0, fabs(hi))) lo -= 0.5, hi += 0.5;
    double pad = 0.05 * (hi - lo);
    lo -= pad, hi += pad;
    ticks yt, xt;
    plot_linear_ticks(&yt, lo, hi, 4, false, false);
    plot_linear_ticks(&xt, -I, O - 1, 8, false, true);
    double sx = (double)(x1 - x0) / (double)(O - 1 + I > 0 ? O - 1 + I : 1), sy = (y1 - y0) / (hi - lo);
    for (int i = 0; i < yt.n; i++) {
        int y = plot_to_px(y1 - (yt.pos[i] - lo) * sy);
        if (y < y0 || y > y1) continue;
        plot_fill(c, x0, y, x1, y, GRID);
        plot_text(c, x0 - 8 - plot_text_width(yt.label[i], 1), y - CAP_H / 2, yt.label[i], 1, INK);
    }
    for (int i = 0; i < xt.n; i++) {
        int x = plot_to_px(x0 + (xt.pos[i] + I) * sx);
        if (x < x0 || x > x1) continue;
        plot_fill(c, x, y1 + 1, x, y1 + 4, AXIS);
        plot_text(c, x - plot_text_width(xt.label[i], 1) / 2, y1 + 8, xt.label[i], 1, INK);
    }
    plot_fill(c, x0, y0, x0, y1, AXIS);
    plot_fill(c, x0, y1, x1, y1, AXIS);
    int xs = plot_to_px(x0 + I * sx); /* the forecast's first step */
    plot_fill(c, xs, y0, xs, y1, AXIS);
    c->cx0 = x0, c->cx1 = x1, c->cy0 = y0 - 2, c->cy1 = y1 + 2;
    curve(c, w->part[0], -I, x0, sx, -I, y1, lo, sy, INPUT);
    curve(c, w->part[3], 0, x0, sx, -I, y1, lo, sy, NAIVE);
    curve(c, w->part[1], 0, x0, sx, -I, y1, lo, sy, INK);
    curve(c, w->part[2], 0, x0, sx, -I, y1, lo, sy, FORECAST);
    plot_clip_all(c);
}

static cf_status draw(const fc_window *w, int n, int I, int O, const cf_jv *fc, const char *json, const char *png)
{
    int width = 960, height = 200, header = 28;
    canvas c = {0};
    c.w = width, c.h = header + n * height;
    if (!(c.px = malloc((size_t)c.w * (size_t)c.h * 3))) return cf_set_error(CF_ERR_OOM, "%s: out of memory for the image", png);
    memset(c.px, 255, (size_t)c.w * (size_t)c.h * 3);
    plot_clip_all(&c);
    const cf_jv *var = cf_json_get(fc, "variable");
    char head[96];
    snprintf(head, sizeof head, "variable %.0f:", var && var->type == CF_JSON_NUMBER ? var->num : 0.0);
    int x = 16;
    plot_text(&c, x, 10, head, 1, INK);
    x += plot_text_width(head, 1) + 12;
    static const char *const labels[] = {"input", "truth", "forecast", "seasonal naive"};
    const rgb cols[] = {INPUT, INK, FORECAST, NAIVE};
    for (int k = 0; k < 4; k++) {
        plot_fill(&c, x, 13, x + 16, 14, cols[k]);
        plot_text(&c, x + 22, 10, labels[k], 1, INK);
        x += 22 + plot_text_width(labels[k], 1) + 16;
    }
    for (int k = 0; k < n; k++) panel(&c, &w[k], I, O, header + k * height, height, width);
    cf_status st = plot_png_write_atomic(png, &c, json);
    free(c.px);
    return st;
}

static const char usage_text[] =
    "usage: cformer plot forecast EVAL.json [-o FILE.png]\n\nDraws the windows a forecasting evaluation saved "
    "(eval.plot_windows) as one panel each: input,\ntruth, forecast and the seasonal-naive forecast, to "
    "forecast.png beside EVAL.json by default.\n";

int cf_cmd_plot_forecast(int argc, char **argv)
{
    const char *json, *out;
    char png[4096];
    int rc = plot_eval_args(argc, argv, "forecast", usage_text, "forecast.png", &json, &out, png, sizeof png);
    if (rc >= 0) return rc;
    cf_json_doc *d = cf_json_parse_file(json, 0);
    fc_window w[FC_MAX_WINDOWS];
    int I = 0, O = 0;
    const cf_jv *fc = d ? cf_json_get(cf_json_root(d), "forecast") : NULL;
    int n = d ? read_windows(fc, json, w, &I, &O) : -1;
    cf_status st = n > 0 ? draw(w, n, I, O, fc, json, out) : cf_last_status();
    cf_json_doc_free(d);
    if (st != CF_OK) {
        fprintf(stderr, "cformer plot forecast: %s\n", cf_last_error());
        return 1;
    }
    printf("%s\n", out);
    return 0;
}
