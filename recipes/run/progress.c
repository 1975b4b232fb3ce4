#include "recipes/run/progress.h"

#include "autograd/fileio.h"

#include "recipes/run/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cf_status cf_run_mkdirs(const char *path);

cf_status cf_progress_open(cf_progress *p, const char *dir, int64_t total_steps, bool quiet)
{
    memset(p, 0, sizeof *p);
    CF_TRY(cf_run_mkdirs(dir));
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    p->jsonl = fopen(path, "a");
    if (!p->jsonl) return cf_set_error(CF_ERR_IO, "cannot open %s for writing", path);
    p->tty = isatty(fileno(stdout));
    p->quiet = quiet;
    p->total = total_steps;
    return CF_OK;
}

void cf_progress_close(cf_progress *p)
{
    if (p->tty && !p->quiet) printf("\n");
    if (p->jsonl) fclose(p->jsonl);
    p->jsonl = NULL;
}

static void json_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fprintf(f, "null"); /* JSON has no NaN or inf */
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "--");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void cf_progress_log(cf_progress *p, int64_t step, double loss, double lr, double grad_norm, double items_per_s,
                     double elapsed_s, double eta_s, const cf_metrics *m)
{
    if (p->jsonl) {
        fprintf(p->jsonl, "{\"step\": %lld, \"loss\": ", (long long)step);
        json_number(p->jsonl, loss);
        fprintf(p->jsonl, ", \"lr\": ");
        json_number(p->jsonl, lr);
        fprintf(p->jsonl, ", \"grad_norm\": ");
        json_number(p->jsonl, grad_norm);
        fprintf(p->jsonl, ", \"tokens_per_s\": ");
        json_number(p->jsonl, items_per_s);
        fprintf(p->jsonl, ", \"elapsed_s\": ");
        json_number(p->jsonl, elapsed_s);
        for (int i = 0; m && i < m->n; i++) {
            fprintf(p->jsonl, ", \"%s\": ", m->name[i]);
            json_number(p->jsonl, m->value[i]);
        }
        fprintf(p->jsonl, "}\n");
        fflush(p->jsonl);
    }
    if (p->quiet) return;
    char eta[32];
    fmt_time(eta, sizeof eta, eta_s);
    if (p->tty) {
        int width = 24, done = p->total > 0 ? (int)((double)width * (double)step / (double)p->total) : 0;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        printf("\r[%s] step %lld/%lld  loss %.4f  %.0f tok/s  eta %s   ", bar, (long long)step, (long long)p->total,
               loss, items_per_s, eta);
        fflush(stdout);
    } else {
        printf("step %lld/%lld  loss %.4f  lr %.3g  grad_norm %.3g  %.0f tok/s  elapsed %.1fs", (long long)step,
               (long long)p->total, loss, lr, grad_norm, items_per_s, elapsed_s);
        for (int i = 0; m && i < m->n; i++) printf("  %s %.4g", m->name[i], m->value[i]);
        printf("\n");
    }
}

void cf_progress_log_eval(cf_progress *p, int64_t step, const cf_metrics *m)
{
    if (p->jsonl) {
        fprintf(p->jsonl, "{\"step\": %lld", (long long)step);
        for (int i = 0; i < m->n; i++) {
            fprintf(p->jsonl, ", \"val_%s\": ", m->name[i]);
            json_number(p->jsonl, m->value[i]);
        }
        fprintf(p->jsonl, "}\n");
        fflush(p->jsonl);
    }
    if (p->quiet) return;
    printf("%seval at step %lld:", p->tty ? "\n" : "", (long long)step);
    for (int i = 0; i < m->n; i++) printf("  %s %.4g", m->name[i], m->value[i]);
    printf("\n");
}

cf_status cf_write_metrics_json(const char *path, const cf_metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    fprintf(f, "{");
    for (int i = 0; i < m->n; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", m->name[i]);
        json_number(f, m->value[i]);
    }
    fprintf(f, "}\n");
    fclose(f);
    cf_status st = cf_write_file_atomic(path, text, len);
    free(text);
    return st;
}
