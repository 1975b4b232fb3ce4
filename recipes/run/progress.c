#include "recipes/run/progress.h"

#include "autograd/fileio.h"
#include "autograd/json.h"

#include "recipes/run/run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cf_status cf_progress_open(cf_progress *p, const char *dir, int64_t total_steps, bool quiet)
{
    memset(p, 0, sizeof *p);
    CF_TRY(cf_mkdirs(dir));
    snprintf(p->path, sizeof p->path, "%s/metrics.jsonl", dir);
    p->jsonl = fopen(p->path, "a");
    if (!p->jsonl) return cf_set_error(CF_ERR_IO, "cannot open %s for writing: %s", p->path, strerror(errno));
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

/* Starts a metrics.jsonl line: {"step": s */
static void begin_line(cf_progress *p, cf_json *j, int64_t step)
{
    errno = 0; /* so that the cause of a failed write below is the one reported */
    cf_json_init(j, p->jsonl);
    cf_json_object(j);
    cf_json_kv_int(j, "step", step);
}

/* Ends the line and pushes it to the file: a full disk must stop the run, not drop lines silently. */
static cf_status end_line(cf_progress *p, cf_json *j)
{
    cf_json_end(j);
    fputc('\n', p->jsonl);
    if (fflush(p->jsonl) == 0 && !ferror(p->jsonl)) return CF_OK;
    return cf_set_error(CF_ERR_IO, "%s: cannot append the metrics line: %s; stopping the run", p->path,
                        errno ? strerror(errno) : "write error");
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "--");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

cf_status cf_progress_log(cf_progress *p, int64_t step, double loss, double lr, double grad_norm, double items_per_s,
                          double elapsed_s, double eta_s, const cf_metrics *m)
{
    if (p->jsonl) {
        cf_json j;
        begin_line(p, &j, step);
        cf_json_kv_number(&j, "loss", loss);
        cf_json_kv_number(&j, "lr", lr);
        cf_json_kv_number(&j, "grad_norm", grad_norm);
        cf_json_kv_number(&j, "tokens_per_s", items_per_s);
        cf_json_kv_number(&j, "elapsed_s", elapsed_s);
        for (int i = 0; m && i < m->n; i++) cf_json_kv_number(&j, m->name[i], m->value[i]);
        CF_TRY(end_line(p, &j));
    }
    if (p->quiet) return CF_OK;
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
    return CF_OK;
}

cf_status cf_progress_log_eval(cf_progress *p, int64_t step, const cf_metrics *m)
{
    CF_TRY(cf_metrics_check(m));
    if (p->jsonl) {
        cf_json j;
        begin_line(p, &j, step);
        for (int i = 0; i < m->n; i++) {
            char key[80];
            snprintf(key, sizeof key, "val_%s", m->name[i]);
            cf_json_kv_number(&j, key, m->value[i]);
        }
        CF_TRY(end_line(p, &j));
    }
    if (p->quiet) return CF_OK;
    printf("%seval at step %lld:", p->tty ? "\n" : "", (long long)step);
    for (int i = 0; i < m->n; i++) printf("  %s %.4g", m->name[i], m->value[i]);
    printf("\n");
    return CF_OK;
}

cf_status cf_write_metrics_json(const char *path, const cf_metrics *m)
{
    CF_TRY(cf_metrics_check(m));
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    for (int i = 0; i < m->n; i++) cf_json_kv_number(&j, m->name[i], m->value[i]);
    cf_json_end(&j);
    return cf_json_commit(&j);
}
