/* Scratch directories for the C tests: made under /tmp with a unique name, removed with everything inside
 * (no symlink is followed) when the test ends. */
#ifndef CF_TEST_TMPDIR_H
#define CF_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The test's own scratch directory, set by test_dir_make. */
static char test_dir[256];

/* Makes "/tmp/cf_<name>_XXXXXX" unique (mkdtemp) into test_dir; 0 with a message on failure. */
static inline int test_dir_make(const char *name)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/cf_%s_XXXXXX", name);
    if (mkdtemp(test_dir)) return 1;
    perror("mkdtemp");
    return 0;
}

/* test_dir/name; eight calls may be in use at once. */
static inline const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    if ((size_t)snprintf(p, 512, "%s/%s", test_dir, name) >= 512) p[0] = '\0';
    return p;
}

/* Writes n bytes of data to path (replacing it); a file that cannot be written ends the test (exit 2). */
static inline void test_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

/* test_write_bytes of a NUL-terminated text. */
static inline void test_write_text(const char *path, const char *text) { test_write_bytes(path, text, strlen(text)); }

static inline void test_rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char sub[2048];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub) test_rmtree(sub);
    }
    if (d) closedir(d);
    rmdir(path);
}

#endif
