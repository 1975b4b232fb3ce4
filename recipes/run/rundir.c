/* Run-directory guards: the lock, the fresh-run check and stale temporary files (rundir.h). */
#define _DEFAULT_SOURCE /* flock, gethostname */
#include "recipes/run/rundir.h"

#include "autograd/fileio.h"
#include "recipes/checkpoint/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

cf_status cf_run_dir_lock(const char *dir, cf_run_lock *lock)
{
    lock->fd = -1;
    CF_TRY(cf_mkdirs(dir));
    char path[1100];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return cf_set_error(CF_ERR_IO, "%s: cannot open the run lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        char *nl = strchr(holder, '\n');
        if (nl) *nl = '\0';
        close(fd);
        if (err == EWOULDBLOCK)
            return cf_set_error(CF_ERR_STATE, "%s is in use by another run (%s); wait for it, or choose another --run-dir",
                                dir, holder[0] ? holder : "holder unknown");
        return cf_set_error(CF_ERR_IO, "%s: cannot lock the run directory: %s", path, strerror(err));
    }
    char host[128] = "?", text[320];
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm tm;
    char when[64] = "";
    if (localtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    int len = snprintf(text, sizeof text, "host %s, pid %ld, since %s\n", host, (long)getpid(), when);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) { /* the lock holds regardless */
    }
    lock->fd = fd;
    return CF_OK;
}

void cf_run_dir_unlock(cf_run_lock *lock)
{
    if (lock->fd >= 0) close(lock->fd); /* closing drops the flock; the file stays (removing it would race) */
    lock->fd = -1;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Removes every checkpoint of dir (--overwrite). */
static cf_status remove_checkpoints(const char *dir)
{
    int64_t *steps = NULL;
    int n = 0;
    CF_TRY(cf_checkpoint_list(dir, &steps, &n));
    cf_status st = CF_OK;
    for (int i = 0; i < n; i++) {
        char path[1400];
        if (cf_checkpoint_path(dir, steps[i], path, sizeof path) == CF_OK && unlink(path) != 0 && st == CF_OK)
            st = cf_set_error(CF_ERR_IO, "--overwrite: cannot remove %s: %s", path, strerror(errno));
    }
    free(steps);
    return st;
}

cf_status cf_run_dir_fresh(const char *dir, bool overwrite)
{
    char ckdir[1100], latest[1300], metrics[1100], eval[1100];
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(eval, sizeof eval, "%s/eval.json", dir);
    int64_t step = -1;
    CF_TRY(cf_checkpoint_latest(ckdir, latest, sizeof latest, &step));
    bool has_metrics = exists(metrics);
    if (step < 0 && !has_metrics) return CF_OK;
    if (!overwrite)
        return cf_set_error(CF_ERR_STATE, "%s holds an earlier run (%s); continue it with --resume latest, start over with "
                            "--overwrite (its checkpoints and metrics are removed), or choose another --run-dir",
                            dir, step >= 0 ? latest : metrics);
    CF_TRY(remove_checkpoints(ckdir));
    if (has_metrics && unlink(metrics) != 0) return cf_set_error(CF_ERR_IO, "--overwrite: cannot remove %s: %s", metrics, strerror(errno));
    if (exists(eval) && unlink(eval) != 0) return cf_set_error(CF_ERR_IO, "--overwrite: cannot remove %s: %s", eval, strerror(errno));
    return CF_OK;
}

/* "<name>.tmp.<digits>" -> the pid, else 0. */
static long temp_pid(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t) return 0;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    return *end == '\0' && end != t + 5 && pid > 0 ? pid : 0;
}

static int remove_stale_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = temp_pid(e->d_name);
        if (!pid || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) {
            fprintf(stderr, "removed %s, left by process %ld that no longer runs\n", path, pid);
            removed++;
        }
    }
    closedir(d);
    return removed;
}

int cf_run_dir_remove_stale(const char *dir)
{
    char ckdir[1100];
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", dir);
    return remove_stale_in(dir) + remove_stale_in(ckdir);
}
