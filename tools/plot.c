/* `cformer plot`: reads a run's metrics.jsonl and draws each metric against the step as stacked panels in a
 * PNG. The JSON reader and the rasteriser are ours (a few hundred lines, no dependency); libpng only encodes.
 * This file picks the panels, lays them out and draws them; plot_internal.h lists the other pieces. */
#include "tools/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PANELS 64      /* keeps the image a sane size; --metrics picks among more */
#define MAX_PIXELS (1 << 25) /* 32 Mpixel, 96 MiB of RGB */

static const rgb GRID = {232, 232, 232}, AXIS = {90, 90, 90}, TEXT = {30, 30, 30},
                 MUTED = {120, 120, 120};
static const rgb PALETTE[] = {{31, 119, 180}, {214, 39, 40},  {44, 160, 44},   {255, 127, 14}, {148, 103, 189},
                              {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

typedef struct {
    const series *s;
    bool log;
    bool empty; /* no finite value */
    double lo, hi; /* y range in axis units (padded) */
    ticks yt;
    double last_v, last_step;
} panel;

static bool drawable(const panel *pn, double v)
{
    return isfinite(v) && (!pn->log || v > 0);
}

static cf_status panel_setup(panel *pn, const char *path, bool want_log, bool quiet)
{
    const series *s = pn->s;
    double lo = INFINITY, hi = -INFINITY;
    bool nonpos = false;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].v;
        if (!isfinite(v)) continue;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        nonpos |= v <= 0;
        pn->last_v = v;
        pn->last_step = s->p[i].step;
    }
    pn->empty = lo > hi;
    if (pn->empty) {
        pn->lo = 0;
        pn->hi = 1;
        pn->yt.n = 0; /* no scale to show */
        return CF_OK;
    }
    pn->log = want_log && !nonpos;
    if (want_log && nonpos && !quiet)
        fprintf(stderr, "cformer plot: warning: %s: \"%s\" has values <= 0; drawing it on a linear scale\n", path,
                s->name);
    if (pn->log) {
        lo = log10(lo);
        hi = log10(hi);
    }
    if (!isfinite(hi - lo))
        return cf_set_error(CF_ERR_FORMAT, "%s: the values of \"%s\" span too wide a range to plot", path, s->name);
    double mid = 0.5 * (lo + hi), span = hi - lo;
    if (span <= 1e-9 * fmax(fabs(lo), fabs(hi)) || span < 1e-290) { /* constant: centre it in a small window */
        double half = fabs(mid) * 0.1;
        if (half < 1e-290 || pn->log) half = pn->log ? 0.5 : 1.0;
        lo = mid - half;
        hi = mid + half;
    } else {
        lo -= 0.05 * span;
        hi += 0.05 * span;
    }
    if (!isfinite(lo) || !isfinite(hi))
        return cf_set_error(CF_ERR_FORMAT, "%s: the values of \"%s\" are too large to plot", path, s->name);
    pn->lo = lo;
    pn->hi = hi;
    if (pn->log) plot_log_ticks(&pn->yt, lo, hi);
    else plot_linear_ticks(&pn->yt, lo, hi, 5, false, false);
    return CF_OK;
}

typedef struct {
    int x0, x1;       /* plot rectangle columns */
    double smin, smax; /* step range */
    ticks xt;
    const char *name; /* the x key */
} xaxis;

static void panel_draw(canvas *c, const panel *pn, const xaxis *xa, int top, int height, rgb col, int scale)
{
    char buf[128], lastbuf[48], stepbuf[48];
    int title_h = CF_FONT_H * 2 * scale + 12;
    int y0 = top + title_h, y1 = top + height - (CF_FONT_H * scale + 16);
    int x0 = xa->x0, x1 = xa->x1;

    /* title: the metric's name, and its last value */
    plot_text(c, x0, top + 8, pn->s->name, 2 * scale, TEXT);
    if (pn->empty) snprintf(buf, sizeof buf, "(no finite values)");
    else {
        plot_fmt_value(lastbuf, sizeof lastbuf, pn->last_v);
        if (pn->last_step == floor(pn->last_step) && fabs(pn->last_step) < 1e15)
            snprintf(stepbuf, sizeof stepbuf, "%.0f", pn->last_step);
        else plot_fmt_value(stepbuf, sizeof stepbuf, pn->last_step);
        snprintf(buf, sizeof buf, "last %s at %s %s%s", lastbuf, xa->name, stepbuf, pn->log ? "   (log scale)" : "");
    }
    plot_text(c, x0 + plot_text_width(pn->s->name, 2 * scale) + 12 * scale, top + 8 + CAP_H * scale, buf, scale, MUTED);

    /* grid and tick labels */
    double sx = (x1 - x0) / (xa->smax - xa->smin), sy = (y1 - y0) / (pn->hi - pn->lo);
    for (int i = 0; i < pn->yt.n; i++) {
        int y = plot_to_px(y1 - (pn->yt.pos[i] - pn->lo) * sy);
        if (y < y0 || y > y1) continue;
        plot_fill(c, x0, y, x1, y, GRID);
        plot_fill(c, x0 - 4, y, x0 - 1, y, AXIS);
        const char *l = pn->yt.label[i];
        plot_text(c, x0 - 8 - plot_text_width(l, scale), y - CAP_H * scale / 2, l, scale, TEXT);
    }
    for (int i = 0; i < xa->xt.n; i++) {
        int x = plot_to_px(x0 + (xa->xt.pos[i] - xa->smin) * sx);
        if (x < x0 || x > x1) continue;
        plot_fill(c, x, y0, x, y1, GRID);
        plot_fill(c, x, y1 + 1, x, y1 + 4, AXIS);
        const char *l = xa->xt.label[i];
        plot_text(c, x - plot_text_width(l, scale) / 2, y1 + 8, l, scale, TEXT);
    }
    plot_fill(c, x0, y0, x0, y1, AXIS);
    plot_fill(c, x0, y1, x1, y1, AXIS);

    /* the curve: consecutive finite values joined, a gap at each null; a value alone between gaps is a dot.
     * Clipped a little outside the axes so that a dot on the last step is whole. */
    c->cx0 = x0 - 3;
    c->cx1 = x1 + 3;
    c->cy0 = y0 - 3;
    c->cy1 = y1 + 3;
    int px = 0, py = 0;
    size_t run = 0;
    for (size_t i = 0; i <= pn->s->n; i++) {
        double v = i < pn->s->n ? pn->s->p[i].v : NAN;
        if (!drawable(pn, v)) {
            if (run == 1) plot_fill(c, px - 2, py - 2, px + 3, py + 3, col);
            run = 0;
            continue;
        }
        int x = plot_to_px(x0 + (pn->s->p[i].step - xa->smin) * sx);
        int y = plot_to_px(y1 - ((pn->log ? log10(v) : v) - pn->lo) * sy);
        if (run > 0) plot_line(c, px, py, x, y, col);
        px = x;
        py = y;
        run++;
    }
    plot_clip_all(c);
}

static bool default_metric(const char *name)
{
    return strcmp(name, "elapsed_s") != 0 && strcmp(name, "tokens_per_s") != 0 && strcmp(name, "data_wait_s") != 0 &&
           strcmp(name, "data_stalls") != 0;
}

static cf_status select_panels(metrics *m, const char *path, const cf_plot_options *o, panel *pn, int *np)
{
    int n = 0;
    if (o->metrics && o->n_metrics > 0) {
        for (int i = 0; i < o->n_metrics; i++) {
            const series *s = plot_metrics_find(m, o->metrics[i]);
            if (!s) {
                char have[512] = "";
                size_t len = 0;
                for (int j = 0; j < m->n && len < sizeof have - 8; j++)
                    len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", j ? ", " : "", m->s[j].name);
                if (len >= sizeof have) snprintf(have + sizeof have - 5, 5, "...");
                return cf_set_error(CF_ERR_ARG, "%s: no metric \"%s\" in it (it has: %s)", path, o->metrics[i],
                                    m->n ? have : "none");
            }
            if (n == MAX_PANELS) return cf_set_error(CF_ERR_ARG, "more than %d metrics asked for", MAX_PANELS);
            pn[n++].s = s;
        }
    } else {
        const series *loss = plot_metrics_find(m, "loss");
        if (loss) pn[n++].s = loss;
        for (int i = 0; i < m->n; i++) {
            if (&m->s[i] == loss || !default_metric(m->s[i].name)) continue;
            if (n == MAX_PANELS)
                return cf_set_error(CF_ERR_ARG, "%s: more than %d metrics; pick some with --metrics", path, MAX_PANELS);
            pn[n++].s = &m->s[i];
        }
    }
    *np = n;
    return CF_OK;
}

cf_status cf_plot_metrics(const char *jsonl_path, const char *png_path, const cf_plot_options *o)
{
    static const cf_plot_options defaults = {0};
    if (!o) o = &defaults;
    if (!jsonl_path || !png_path) return cf_set_error(CF_ERR_ARG, "cf_plot_metrics: a path is NULL");
    int width = o->width ? o->width : 960, ph = o->panel_height ? o->panel_height : 240;
    if (width < 320 || width > 16384 || ph < 120 || ph > 8192)
        return cf_set_error(CF_ERR_ARG, "plot size %dx%d per panel is outside 320..16384 x 120..8192", width, ph);

    metrics *m = calloc(1, sizeof *m);
    panel *pn = calloc(MAX_PANELS, sizeof *pn);
    canvas c = {0};
    cf_status rc = CF_OK;
    if (!m || !pn) {
        rc = cf_set_error(CF_ERR_OOM, "out of memory");
        goto done;
    }
    if ((rc = plot_metrics_read(jsonl_path, o->x_key ? o->x_key : "step", m, o->quiet)) != CF_OK) goto done;
    int np = 0;
    if ((rc = select_panels(m, jsonl_path, o, pn, &np)) != CF_OK) goto done;

    /* the shared step axis, and whether there is anything to draw at all */
    double smin = INFINITY, smax = -INFINITY;
    bool any = false, integer_steps = true;
    for (int i = 0; i < np; i++) {
        const series *s = pn[i].s;
        if (s->n == 0) continue;
        smin = fmin(smin, s->p[0].step);
        smax = fmax(smax, s->p[s->n - 1].step);
        for (size_t k = 0; k < s->n && integer_steps; k++) integer_steps = s->p[k].step == floor(s->p[k].step);
        for (size_t k = 0; k < s->n && !any; k++) any = isfinite(s->p[k].v);
    }
    if (!any) {
        if (m->lines == 0) rc = cf_set_error(CF_ERR_FORMAT, "%s: no numeric data to plot (no line with a step)", jsonl_path);
        else
            rc = cf_set_error(CF_ERR_FORMAT, "%s: no numeric data to plot (%ld line%s, %s)", jsonl_path, m->lines,
                              m->lines == 1 ? "" : "s", np ? "every value null or not finite" : "no metric but the step");
        goto done;
    }
    if (smin == smax) {
        smin -= 1;
        smax += 1;
    }
    if (!isfinite(smax - smin)) {
        rc = cf_set_error(CF_ERR_FORMAT, "%s: the steps span too wide a range to plot", jsonl_path);
        goto done;
    }
    for (int i = 0; i < np; i++)
        if ((rc = panel_setup(&pn[i], jsonl_path, o->log_loss && strcmp(pn[i].s->name, "loss") == 0, o->quiet)) != CF_OK)
            goto done;

    int scale = width >= 1600 ? 2 : 1;
    xaxis xa = {.smin = smin, .smax = smax, .name = o->x_key ? o->x_key : "step"};
    plot_linear_ticks(&xa.xt, smin, smax, width / 120, false, integer_steps);
    int label_w = 0;
    for (int i = 0; i < np; i++)
        for (int t = 0; t < pn[i].yt.n; t++) {
            int w = plot_text_width(pn[i].yt.label[t], scale);
            label_w = label_w > w ? label_w : w;
        }
    xa.x0 = 16 * scale + (label_w < width / 3 ? label_w : width / 3);
    xa.x1 = width - 24 * scale;

    if ((size_t)width * (size_t)ph * (size_t)np > MAX_PIXELS) {
        rc = cf_set_error(CF_ERR_ARG, "a %dx%d image is too large; use fewer --metrics or a smaller size", width, ph * np);
        goto done;
    }
    c.w = width;
    c.h = ph * np;
    if (!(c.px = malloc((size_t)c.w * (size_t)c.h * 3))) {
        rc = cf_set_error(CF_ERR_OOM, "out of memory for a %dx%d image", c.w, c.h);
        goto done;
    }
    memset(c.px, 255, (size_t)c.w * (size_t)c.h * 3);
    plot_clip_all(&c);
    for (int i = 0; i < np; i++) {
        panel_draw(&c, &pn[i], &xa, i * ph, ph, PALETTE[i % (int)(sizeof PALETTE / sizeof PALETTE[0])], scale);
        if (i > 0) plot_fill(&c, 0, i * ph, c.w - 1, i * ph, GRID); /* separates the panels */
    }
    rc = plot_png_write_atomic(png_path, &c, jsonl_path);
done:
    free(c.px);
    free(pn);
    if (m) plot_metrics_free(m);
    free(m);
    return rc;
}
