/* A run directory's guards: nothing a run saved is lost to another run.
 *
 * - The lock: a training job holds an exclusive flock() on RUN_DIR/lock for its whole life (rank 0), with its
 *   host and PID written in the file; a second job on the same directory is refused with the holder named. The
 *   kernel drops the lock when the holder dies (kill -9 included), so a stale lock never blocks a new run.
 * - A fresh run (no --resume) is refused in a directory that holds an earlier run's checkpoints or metrics,
 *   unless overwrite is asked for, which removes those outputs first.
 * - Temporary files "NAME.tmp.PID" (atomic writes, autograd/fileio.h) whose process is gone are removed.
 *
 *     cf_run_lock lock;
 *     if (cf_run_dir_lock(dir, &lock) != CF_OK) ... // "runs/x is in use by host h, pid 123 (since ...)"
 *     if (!resume) CF_TRY(cf_run_dir_fresh(dir, overwrite));
 *     cf_run_dir_remove_stale(dir);
 *     ... train ...
 *     cf_run_dir_unlock(&lock); */
#ifndef CF_RUNDIR_H
#define CF_RUNDIR_H

#include "autograd/cf_base.h"

#include <stdbool.h>

typedef struct cf_run_lock {
    int fd; /* -1: not held */
} cf_run_lock;

/* Creates dir when missing and takes its lock; an error names the holder. */
cf_status cf_run_dir_lock(const char *dir, cf_run_lock *lock);
void cf_run_dir_unlock(cf_run_lock *lock);
/* CF_OK when dir holds no earlier run (no checkpoints/step-*.h5, no metrics.jsonl); otherwise an error naming
 * what it holds and the choices (--resume latest, --overwrite, another --run-dir), or with overwrite, removes
 * the earlier run's checkpoints, metrics.jsonl and eval.json. */
cf_status cf_run_dir_fresh(const char *dir, bool overwrite);
/* Removes "*.tmp.<pid>" files of processes that no longer exist from dir and dir/checkpoints; returns how many. */
int cf_run_dir_remove_stale(const char *dir);

#endif
