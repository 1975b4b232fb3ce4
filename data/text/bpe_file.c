/* The BPE vocabulary file: atomic save, checked load from a path or memory. */
#include "data/text/bpe_internal.h"

#include "autograd/fileio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_status cf_bpe_save(const cf_bpe *b, const char *path)
{
    if (!b || !path) return cf_set_error(CF_ERR_ARG, "cf_bpe_save: NULL tokenizer or path");
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_printf(af, "cformer-bpe %d\nmerges %d\n", BPE_FORMAT_VERSION, b->n_merges);
    for (int k = 0; k < b->n_merges; k++)
        if (cf_atomic_printf(af, "%" PRId32 " %" PRId32 "\n", b->merges[2 * k], b->merges[2 * k + 1]) != CF_OK) break;
    return cf_atomic_commit(af);
}

/* Reads one line into buf; false at end of file. *too_long when it did not fit. */
static bool read_line(FILE *f, char *buf, size_t cap, bool *too_long)
{
    *too_long = false;
    if (!fgets(buf, (int)cap, f)) return false;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n') {
        buf[--n] = '\0';
        if (n && buf[n - 1] == '\r') buf[--n] = '\0';
    } else if (!feof(f)) {
        *too_long = true;
    }
    return true;
}

/* Parses exactly `count` decimal integers separated by single spaces, nothing else. */
static bool parse_ints(const char *s, long long *v, int count)
{
    for (int i = 0; i < count; i++) {
        if (i > 0) {
            if (*s != ' ') return false;
            s++;
        }
        if (!(*s >= '0' && *s <= '9')) return false;
        char *end;
        errno = 0;
        v[i] = strtoll(s, &end, 10);
        if (errno) return false;
        s = end;
    }
    return *s == '\0';
}

/* Reads a vocabulary from f (which the caller closes), named path in messages. */
static cf_bpe *load(FILE *f, const char *path)
{
    char line[256];
    bool too_long;
    long long v[2];
    int32_t *merges = NULL;
    long lineno = 1;
    if (!read_line(f, line, sizeof line, &too_long) || strncmp(line, "cformer-bpe ", 12) != 0 ||
        !parse_ints(line + 12, v, 1)) {
        cf_set_error(CF_ERR_FORMAT, "%s:1: not a cformer BPE vocabulary (expected \"cformer-bpe %d\")", path,
                     BPE_FORMAT_VERSION);
        goto fail;
    }
    if (v[0] != BPE_FORMAT_VERSION) {
        cf_set_error(CF_ERR_FORMAT, "%s:1: BPE vocabulary format version %lld, this build reads version %d", path,
                     v[0], BPE_FORMAT_VERSION);
        goto fail;
    }
    lineno = 2;
    if (!read_line(f, line, sizeof line, &too_long) || strncmp(line, "merges ", 7) != 0 ||
        !parse_ints(line + 7, v, 1) || v[0] > BPE_MAX_MERGES) {
        cf_set_error(CF_ERR_FORMAT, "%s:2: expected \"merges N\" with N in 0..%d", path, BPE_MAX_MERGES);
        goto fail;
    }
    int n = (int)v[0];
    merges = malloc((size_t)(n ? n : 1) * 2 * sizeof *merges);
    if (!merges) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %d merges", path, n);
        goto fail;
    }
    for (int k = 0; k < n; k++) {
        lineno = 3 + k;
        if (!read_line(f, line, sizeof line, &too_long)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: file ends after %d of %d merges", path, lineno, k, n);
            goto fail;
        }
        if (too_long || !parse_ints(line, v, 2)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: expected two token ids \"left right\"", path, lineno);
            goto fail;
        }
        if (v[0] >= 256 + k || v[1] >= 256 + k) {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: merge %d joins tokens %lld and %lld, but only tokens below %d exist "
                         "before it", path, lineno, k, v[0], v[1], 256 + k);
            goto fail;
        }
        merges[2 * k] = (int32_t)v[0];
        merges[2 * k + 1] = (int32_t)v[1];
    }
    lineno = 3 + (long)n;
    while (read_line(f, line, sizeof line, &too_long)) {
        if (too_long || line[0] != '\0') {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: unexpected content after the %d merges", path, lineno, n);
            goto fail;
        }
        lineno++;
    }
    if (ferror(f)) {
        cf_set_error(CF_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    return cf_bpe_build(merges, n, path, 3);
fail:
    free(merges);
    return NULL;
}

cf_bpe *cf_bpe_load(const char *path)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_bpe_load: NULL path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open BPE vocabulary: %s", path, strerror(errno));
        return NULL;
    }
    cf_bpe *b = load(f, path);
    fclose(f);
    return b;
}

cf_bpe *cf_bpe_load_mem(const void *buf, size_t n, const char *what)
{
    if (!what) what = "(BPE buffer)";
    FILE *f = cf_open_mem(buf, n, what);
    cf_bpe *b = f ? load(f, what) : NULL;
    if (f) fclose(f);
    return b;
}
