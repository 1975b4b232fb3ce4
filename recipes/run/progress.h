/* What a run tells the person and the disk: a progress bar on a terminal (plain lines otherwise) and
 * metrics.jsonl, one JSON object per logged step. */
#ifndef CF_PROGRESS_H
#define CF_PROGRESS_H

#include "recipes/run/model.h"

#include <stdio.h>

typedef struct cf_progress {
    FILE *jsonl;
    char path[1200]; /* DIR/metrics.jsonl, for messages */
    bool tty, quiet;
    int64_t total;
} cf_progress;

/* Appends to DIR/metrics.jsonl (DIR and the file created when absent). Each line is flushed and checked
 * as it is logged: a write error (a full disk) is CF_ERR_IO naming the file, and the run must stop. */
cf_status cf_progress_open(cf_progress *p, const char *dir, int64_t total_steps, bool quiet);
void cf_progress_close(cf_progress *p);
/* Logs one step: step, loss, lr, grad_norm, tokens_per_s, elapsed_s, then the metrics (the training loop adds
 * data_wait_s and data_stalls: the time its steps spent getting their batches and how many were not ready). */
cf_status cf_progress_log(cf_progress *p, int64_t step, double loss, double lr, double grad_norm, double items_per_s,
                          double elapsed_s, double eta_s, const cf_metrics *m);
/* Logs an evaluation: {"step": s, "val_<name>": value, ...}, and a line on the terminal. */
cf_status cf_progress_log_eval(cf_progress *p, int64_t step, const cf_metrics *m);
/* Writes a JSON object of metrics to a file (atomically, with the JSON writer of autograd/json.h). */
cf_status cf_write_metrics_json(const char *path, const cf_metrics *m);

#endif
