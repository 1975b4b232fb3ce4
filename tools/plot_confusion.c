/* `cformer plot confusion EVAL.json [-o FILE.png]`: the confusion matrix a classification evaluation wrote
 * (eval.json key "confusion": [classes][classes] counts, rows = true class, columns = prediction) as a
 * heat map. Each cell's shade is its share of its row (per-class recall on the diagonal); counts are
 * printed in the cells when they fit. Default output: confusion.png beside EVAL.json. */
#include "autograd/json_read.h"
#include "tools/cli.h"
#include "tools/plot_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_MAX_CLASSES 1000

static cf_status draw(const cf_jv *conf, int k, const char *json, const char *png)
{
    int cell = k <= 10 ? 48 : k <= 40 ? 16 : k <= 200 ? 4 : 1, margin = 56;
    canvas c = {0};
    c.w = margin + k * cell + 16, c.h = margin + k * cell + 16;
    if (!(c.px = malloc((size_t)c.w * (size_t)c.h * 3))) return cf_set_error(CF_ERR_OOM, "%s: out of memory for the image", png);
    memset(c.px, 255, (size_t)c.w * (size_t)c.h * 3);
    plot_clip_all(&c);
    rgb ink = {0, 0, 0};
    plot_text(&c, margin, 8, "predicted", 1, ink);
    plot_text(&c, 4, margin - 12, "true", 1, ink);
    for (int t = 0; t < k; t++) {
        const cf_jv *row = &conf->items[t];
        double total = 0;
        for (int p = 0; p < k; p++) total += row->items[p].num;
        for (int p = 0; p < k; p++) {
            double v = row->items[p].num, share = total > 0 ? v / total : 0;
            uint8_t s = (uint8_t)(255 - 215 * share); /* white to deep blue */
            rgb col = {s, s, (uint8_t)(255 - 95 * share)};
            int x0 = margin + p * cell, y0 = margin + t * cell;
            plot_fill(&c, x0, y0, x0 + cell - 1, y0 + cell - 1, col);
            char txt[32];
            snprintf(txt, sizeof txt, "%.0f", v);
            if (cell >= 16 && plot_text_width(txt, 1) < cell - 2)
                plot_text(&c, x0 + (cell - plot_text_width(txt, 1)) / 2, y0 + cell / 2 - 3, txt, 1, share > 0.5 ? (rgb){255, 255, 255} : ink);
        }
        if (cell >= 16 || t % 10 == 0) {
            char lab[16];
            snprintf(lab, sizeof lab, "%d", t);
            plot_text(&c, margin - 4 - plot_text_width(lab, 1), margin + t * cell + cell / 2 - 3, lab, 1, ink);
            plot_text(&c, margin + t * cell + (cell - plot_text_width(lab, 1)) / 2, margin - 14, lab, 1, ink);
        }
    }
    cf_status st = plot_png_write_atomic(png, &c, json);
    free(c.px);
    return st;
}

/* Checks eval.json's "confusion" is a square array of non-negative counts; its size, or -1 with an error. */
static int matrix_size(const cf_jv *conf, const char *json)
{
    if (!conf) return cf_set_error(CF_ERR_FORMAT, "%s: no \"confusion\" matrix (is it a classification eval.json?)", json), -1;
    int k = conf->type == CF_JSON_ARRAY ? conf->n : -1;
    if (k < 1 || k > CONF_MAX_CLASSES)
        return cf_set_error(CF_ERR_FORMAT, "%s: \"confusion\" must be an array of 1..%d rows", json, CONF_MAX_CLASSES), -1;
    for (int t = 0; t < k; t++) {
        const cf_jv *row = &conf->items[t];
        if (row->type != CF_JSON_ARRAY || row->n != k)
            return cf_set_error(CF_ERR_FORMAT, "%s: confusion row %d is not an array of %d counts (line %d)", json, t, k, row->line), -1;
        for (int p = 0; p < k; p++)
            if (row->items[p].type != CF_JSON_NUMBER || !(row->items[p].num >= 0))
                return cf_set_error(CF_ERR_FORMAT, "%s: confusion[%d][%d] is not a non-negative count (line %d)", json, t, p, row->items[p].line), -1;
    }
    return k;
}

static const char usage_text[] =
    "usage: cformer plot confusion EVAL.json [-o FILE.png]\n\nDraws the confusion matrix of a classification evaluation"
    " as a heat map (rows: true class,\ncolumns: prediction, shade: share of the row), to confusion.png beside"
    " EVAL.json by default.\n";

int cf_cmd_plot_confusion(int argc, char **argv)
{
    const char *json, *out;
    char png[4096];
    int rc = plot_eval_args(argc, argv, "confusion", usage_text, "confusion.png", &json, &out, png, sizeof png);
    if (rc >= 0) return rc;
    cf_json_doc *d = cf_json_parse_file(json, 0);
    int k = d ? matrix_size(cf_json_get(cf_json_root(d), "confusion"), json) : -1;
    cf_status st = k > 0 ? draw(cf_json_get(cf_json_root(d), "confusion"), k, json, out) : cf_last_status();
    cf_json_doc_free(d);
    if (st != CF_OK) {
        fprintf(stderr, "cformer plot confusion: %s\n", cf_last_error());
        return 1;
    }
    printf("%s\n", out);
    return 0;
}
