#include "autograd/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

cf_status cf_write_file_atomic(const char *path, const void *buf, size_t len)
{
    char tmp[4096], why[256];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cf_set_error(CF_ERR_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return cf_set_error(CF_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp, strerror(errno));
    const char *p = buf;
    size_t left = len;
    errno = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) goto io_fail;
        p += w, left -= (size_t)w;
    }
    if (fsync(fd) < 0) goto io_fail;
    int closed = close(fd);
    fd = -1;
    if (closed < 0) goto io_fail;
    if (rename(tmp, path) < 0) {
        snprintf(why, sizeof why, "%s", strerror(errno));
        unlink(tmp);
        return cf_set_error(CF_ERR_IO, "%s: cannot rename %s over it: %s; the previous file (if any) is unchanged", path,
                            tmp, why);
    }
    if (cf_fsync_dir_of(path) < 0)
        return cf_set_error(CF_ERR_IO, "%s: written, but fsync of its directory failed: %s", path, strerror(errno));
    return CF_OK;
io_fail:
    snprintf(why, sizeof why, "%s", errno ? strerror(errno) : "short write");
    if (fd >= 0) close(fd);
    unlink(tmp);
    return cf_set_error(CF_ERR_IO, "%s: writing %s failed after %zu of %zu bytes: %s; the previous file (if any) is unchanged",
                        path, tmp, len - left, len, why);
}
