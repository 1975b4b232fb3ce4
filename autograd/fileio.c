#include "autograd/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *cf_open_mem(const void *buf, size_t n, const char *what)
{
    static char none; /* fmemopen may refuse a size of 0: a stream of one NUL reads as an empty line */
    if (n && !buf) {
        cf_set_error(CF_ERR_ARG, "%s: NULL buffer of %zu bytes", what, n);
        return NULL;
    }
    FILE *f = fmemopen(n ? (void *)buf : &none, n ? n : 1, "r");
    if (!f) cf_set_error(CF_ERR_OOM, "%s: cannot read the buffer: %s", what, strerror(errno));
    return f;
}
struct cf_atomic_file {
    FILE *f;
    char *path, *tmp;
    int err; /* the first failure's errno; 0 while all is well */
};

int cf_fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void atomic_free(cf_atomic_file *af)
{
    free(af->path);
    free(af->tmp);
    free(af);
}

cf_atomic_file *cf_atomic_open(const char *path)
{
    static atomic_uint serial;
    if (!path || !*path) {
        cf_set_error(CF_ERR_ARG, "cf_atomic_open: empty path");
        return NULL;
    }
    size_t cap = strlen(path) + 64;
    cf_atomic_file *af = calloc(1, sizeof *af);
    if (!af || !(af->path = strdup(path)) || !(af->tmp = malloc(cap))) {
        if (af) atomic_free(af);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        return NULL;
    }
    int fd = -1;
    snprintf(af->tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    for (int tries = 0; tries < 100; tries++) {
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) break;
        /* this process writes path twice at once (or a dead one with our pid left its file): another name */
        snprintf(af->tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&serial, 1u) + 1u);
    }
    if (fd < 0 || !(af->f = fdopen(fd, "wb"))) {
        cf_set_error(CF_ERR_IO, "%s: cannot create the temporary file %s: %s", path, af->tmp, strerror(errno));
        if (fd >= 0) close(fd), unlink(af->tmp);
        atomic_free(af);
        return NULL;
    }
    return af;
}

/* Sets the thread's error from the recorded failure. */
static cf_status atomic_error(const cf_atomic_file *af, const char *tail)
{
    return cf_set_error(CF_ERR_IO, "%s: writing %s failed: %s%s", af->path, af->tmp, strerror(af->err), tail);
}

static void record(cf_atomic_file *af)
{
    if (!af->err) af->err = errno ? errno : EIO;
}

cf_status cf_atomic_write(cf_atomic_file *af, const void *buf, size_t len)
{
    if (af->err) return atomic_error(af, "");
    errno = 0;
    if (len > 0 && fwrite(buf, 1, len, af->f) != len) {
        record(af);
        return atomic_error(af, "");
    }
    return CF_OK;
}

cf_status cf_atomic_printf(cf_atomic_file *af, const char *fmt, ...)
{
    if (af->err) return atomic_error(af, "");
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int n = vfprintf(af->f, fmt, ap);
    va_end(ap);
    if (n < 0) {
        record(af);
        return atomic_error(af, "");
    }
    return CF_OK;
}

FILE *cf_atomic_stream(cf_atomic_file *af) { return af->f; }

const char *cf_atomic_path(const cf_atomic_file *af) { return af->path; }

void cf_atomic_abort(cf_atomic_file *af)
{
    if (!af) return;
    if (af->f) fclose(af->f);
    unlink(af->tmp);
    atomic_free(af);
}

cf_status cf_atomic_commit(cf_atomic_file *af)
{
    if (!af) return cf_set_error(CF_ERR_ARG, "cf_atomic_commit: NULL file");
    errno = 0;
    if (!af->err && (fflush(af->f) != 0 || ferror(af->f))) record(af);
    if (!af->err && fsync(fileno(af->f)) != 0) record(af);
    errno = 0;
    if (fclose(af->f) != 0) record(af);
    af->f = NULL;
    cf_status st = CF_OK;
    if (af->err) {
        st = atomic_error(af, "; the previous file (if any) is unchanged");
    } else if (rename(af->tmp, af->path) != 0) {
        st = cf_set_error(CF_ERR_IO, "%s: cannot rename %s over it: %s; the previous file (if any) is unchanged",
                          af->path, af->tmp, strerror(errno));
    }
    if (st != CF_OK) {
        unlink(af->tmp);
    } else if (cf_fsync_dir_of(af->path) != 0) {
        st = cf_set_error(CF_ERR_IO, "%s: written, but fsync of its directory failed: %s", af->path, strerror(errno));
    }
    atomic_free(af);
    return st;
}

cf_status cf_write_file_atomic(const char *path, const void *buf, size_t len)
{
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_write(af, buf, len); /* a failure is sticky: commit reports it */
    return cf_atomic_commit(af);
}

/* mkdir of one component; an existing directory is fine (checked by stat: a read-only filesystem may say
 * EROFS rather than EEXIST for a directory that exists). */
static cf_status mkdir_one(const char *dir)
{
    if (mkdir(dir, 0777) == 0) return CF_OK;
    int err = errno;
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return CF_OK;
        return cf_set_error(CF_ERR_IO, "cannot create the directory %s: a file of that name exists", dir);
    }
    return cf_set_error(CF_ERR_IO, "cannot create the directory %s: %s", dir, strerror(err));
}

cf_status cf_mkdirs(const char *dir)
{
    if (!dir || !*dir) return cf_set_error(CF_ERR_ARG, "cf_mkdirs: empty directory name");
    char *buf = strdup(dir);
    if (!buf) return cf_set_error(CF_ERR_OOM, "%s: out of memory", dir);
    cf_status st = CF_OK;
    for (char *p = buf + 1; *p && st == CF_OK; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = '\0';
        st = mkdir_one(buf);
        *p = '/';
    }
    if (st == CF_OK) st = mkdir_one(buf);
    free(buf);
    return st;
}

cf_status cf_mkdirs_for(const char *file)
{
    if (!file) return cf_set_error(CF_ERR_ARG, "cf_mkdirs_for: NULL path");
    const char *slash = strrchr(file, '/');
    if (!slash || slash == file) return CF_OK;
    char *dir = strndup(file, (size_t)(slash - file));
    if (!dir) return cf_set_error(CF_ERR_OOM, "%s: out of memory", file);
    cf_status st = cf_mkdirs(dir);
    free(dir);
    return st;
}

bool cf_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

char *cf_read_file(const char *path, size_t max_bytes, size_t *n)
{
    if (!path || !n) {
        cf_set_error(CF_ERR_ARG, "cf_read_file: NULL path or size");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb, cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0 || (max_bytes && len > max_bytes)) break;
    }
    int err = errno;
    bool bad = !buf || ferror(f) || (!feof(f) && !(max_bytes && len > max_bytes));
    if (bad) {
        if (buf && ferror(f)) cf_set_error(CF_ERR_IO, "%s: read error at offset %zu: %s", path, len, strerror(err));
        else cf_set_error(CF_ERR_OOM, "%s: out of memory after %zu bytes", path, len);
    } else if (max_bytes && len > max_bytes) {
        cf_set_error(CF_ERR_FORMAT, "%s: larger than %zu bytes, the most read", path, max_bytes);
        bad = true;
    }
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    *n = len;
    return buf;
}
