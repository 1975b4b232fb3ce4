/* Checkpoints in a run directory: the step-<N>.h5 file names, listing, the latest one, and pruning old
 * ones. No HDF5 needed. */
#include "recipes/checkpoint/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cf_status cf_checkpoint_path(const char *dir, int64_t step, char *buf, size_t len)
{
    if (!dir || !buf || len == 0 || step < 0) return cf_set_error(CF_ERR_ARG, "checkpoint path: bad directory, buffer or step");
    size_t n = strlen(dir);
    const char *sep = n == 0 || dir[n - 1] == '/' ? "" : "/";
    int k = snprintf(buf, len, "%s%sstep-%08lld.h5", n ? dir : ".", n ? sep : "/", (long long)step);
    if (k < 0 || (size_t)k >= len) return cf_set_error(CF_ERR_ARG, "%s: checkpoint path does not fit in %zu bytes", dir, len);
    return CF_OK;
}

/* "step-<digits>.h5" exactly; temporary files ("....h5.tmp.123") and anything else do not count. */
static bool parse_step_name(const char *name, int64_t *step)
{
    if (strncmp(name, "step-", 5) != 0) return false;
    const char *p = name + 5, *q = p;
    int64_t v = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*q - '0');
    }
    if (q == p || strcmp(q, ".h5") != 0) return false;
    *step = v;
    return true;
}

typedef struct {
    int64_t step;
    char *name;
} step_file;

static int cmp_step(const void *a, const void *b)
{
    const step_file *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void free_step_files(step_file *f, int n)
{
    for (int i = 0; i < n; i++) free(f[i].name);
    free(f);
}

/* All step files of dir, ascending by step. */
static cf_status scan_dir(const char *dir, step_file **out, int *count)
{
    *out = NULL, *count = 0;
    if (!dir) return cf_set_error(CF_ERR_ARG, "checkpoint list: no directory");
    DIR *d = opendir(dir[0] ? dir : ".");
    if (!d) {
        if (errno == ENOENT) return CF_OK;
        return cf_set_error(CF_ERR_IO, "%s: cannot list checkpoints: %s", dir, strerror(errno));
    }
    step_file *f = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t step;
        if (!parse_step_name(e->d_name, &step)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            step_file *nf = realloc(f, (size_t)cap * sizeof *nf);
            if (!nf) goto oom;
            f = nf;
        }
        if (!(f[n].name = strdup(e->d_name))) goto oom;
        f[n++].step = step;
    }
    closedir(d);
    if (n > 1) qsort(f, (size_t)n, sizeof *f, cmp_step);
    *out = f, *count = n;
    return CF_OK;
oom:
    closedir(d);
    free_step_files(f, n);
    return cf_set_error(CF_ERR_OOM, "%s: out of memory listing checkpoints", dir);
}

cf_status cf_checkpoint_list(const char *dir, int64_t **steps, int *count)
{
    if (!steps || !count) return cf_set_error(CF_ERR_ARG, "checkpoint list: no output");
    *steps = NULL, *count = 0;
    step_file *f;
    int n;
    cf_status rc = scan_dir(dir, &f, &n);
    if (rc != CF_OK) return rc;
    int64_t *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) {
        free_step_files(f, n);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory listing checkpoints", dir);
    }
    for (int i = 0; i < n; i++) s[i] = f[i].step;
    free_step_files(f, n);
    *steps = s, *count = n;
    return CF_OK;
}

static cf_status join(const char *dir, const char *name, char *buf, size_t len)
{
    size_t n = strlen(dir);
    int k = snprintf(buf, len, "%s%s%s", n ? dir : ".", n && dir[n - 1] == '/' ? "" : "/", name);
    if (k < 0 || (size_t)k >= len) return cf_set_error(CF_ERR_ARG, "%s/%s: path does not fit in %zu bytes", dir, name, len);
    return CF_OK;
}

cf_status cf_checkpoint_latest(const char *dir, char *buf, size_t len, int64_t *step)
{
    if (!buf || len == 0) return cf_set_error(CF_ERR_ARG, "checkpoint latest: no buffer");
    buf[0] = '\0';
    if (step) *step = -1;
    step_file *f;
    int n;
    cf_status rc = scan_dir(dir, &f, &n);
    if (rc != CF_OK || n == 0) return rc;
    rc = join(dir, f[n - 1].name, buf, len);
    if (rc == CF_OK && step) *step = f[n - 1].step;
    if (rc != CF_OK) buf[0] = '\0';
    free_step_files(f, n);
    return rc;
}

cf_status cf_checkpoint_prune(const char *dir, int keep)
{
    if (keep <= 0) return CF_OK;
    step_file *f;
    int n;
    cf_status rc = scan_dir(dir, &f, &n);
    if (rc != CF_OK) return rc;
    char path[4096];
    /* delete every one that fails, but report the first failure */
    for (int i = 0; i < n - keep; i++) {
        cf_status r1 = join(dir, f[i].name, path, sizeof path);
        if (r1 == CF_OK && unlink(path) < 0 && errno != ENOENT)
            r1 = cf_set_error(CF_ERR_IO, "%s: cannot delete old checkpoint: %s", path, strerror(errno));
        if (rc == CF_OK) rc = r1;
    }
    free_step_files(f, n);
    return rc;
}
