/* Reading and writing the ETT-layout CSV of data/series/csv.h. */
#include "data/series/csv.h"

#include "autograd/fileio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool cf_nan_policy_parse(const char *s, cf_nan_policy *out)
{
    static const char *const names[] = {"refuse", "ffill", "linear"};
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (cf_nan_policy)i;
            return true;
        }
    return false;
}

void cf_series_table_free(cf_series_table *t)
{
    if (!t) return;
    free(t->names);
    free(t->values);
    free(t->stamps);
    memset(t, 0, sizeof *t);
}

int cf_series_column(const cf_series_table *t, const char *name)
{
    for (int c = 0; c < t->cols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

/* ---- the reader ---- */

typedef struct reader {
    const char *path;
    char *text;
    int ncells;          /* header fields, the date's included */
    int date_at;         /* the date's field */
    char (*hdr)[CF_SERIES_NAME_MAX];
    int64_t line;
    cf_series_table *t;
    int64_t cap;
    unsigned char *missing; /* [rows, cols] */
} reader;

static char *read_all(const char *path)
{
    size_t len = 0;
    char *buf = cf_read_file(path, 0, &len);
    if (!buf) return NULL;
    if (strlen(buf) != len) {
        free(buf);
        cf_set_error(CF_ERR_IO, "%s: a NUL byte in the file (not a text CSV)", path);
        return NULL;
    }
    return buf;
}

/* Splits line (modified in place) at commas into at most max trimmed fields, stripping one pair of double
 * quotes; returns the field count (max + 1 when there are more). */
static int split_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;;) {
        char *end = strchr(p, ',');
        if (end) *end = '\0';
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) p[--len] = '\0';
        if (len >= 2 && p[0] == '"' && p[len - 1] == '"') p[len - 1] = '\0', p++;
        if (n < max) f[n] = p;
        n++;
        if (!end) break;
        p = end + 1;
    }
    return n > max ? max + 1 : n;
}

static bool is_missing(const char *s)
{
    return !*s || strcasecmp(s, "nan") == 0 || strcasecmp(s, "na") == 0 || strcasecmp(s, "null") == 0;
}

static cf_status header(reader *r, char *line, const char *date_col)
{
    int max = 1 << 16;
    char **f = malloc((size_t)max * sizeof *f);
    if (!f) return cf_set_error(CF_ERR_OOM, "%s: out of memory", r->path);
    int n = split_fields(line, f, max);
    cf_status st = CF_OK;
    if (n > max) st = cf_set_error(CF_ERR_ARG, "%s:1: more than %d columns", r->path, max);
    r->ncells = n, r->date_at = -1;
    r->hdr = st == CF_OK ? calloc((size_t)n, sizeof *r->hdr) : NULL;
    if (st == CF_OK && !r->hdr) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", r->path);
    for (int i = 0; st == CF_OK && i < n; i++) {
        if (!*f[i]) st = cf_set_error(CF_ERR_ARG, "%s:1: column %d has an empty name", r->path, i + 1);
        else if (strlen(f[i]) >= CF_SERIES_NAME_MAX)
            st = cf_set_error(CF_ERR_ARG, "%s:1: column %d: name longer than %d bytes", r->path, i + 1,
                              CF_SERIES_NAME_MAX - 1);
        for (int j = 0; st == CF_OK && j < i; j++)
            if (strcmp(r->hdr[j], f[i]) == 0)
                st = cf_set_error(CF_ERR_ARG, "%s:1: column %d: '%s' repeats column %d", r->path, i + 1, f[i], j + 1);
        if (st != CF_OK) break;
        snprintf(r->hdr[i], CF_SERIES_NAME_MAX, "%s", f[i]);
        if (strcmp(f[i], date_col) == 0) r->date_at = i;
    }
    free(f);
    if (st == CF_OK && r->date_at < 0)
        st = cf_set_error(CF_ERR_ARG, "%s:1: no date column '%s' in the header", r->path, date_col);
    if (st == CF_OK && n < 2) st = cf_set_error(CF_ERR_ARG, "%s:1: no numeric column beside the date", r->path);
    if (st != CF_OK) return st;
    cf_series_table *t = r->t;
    t->cols = n - 1;
    t->names = calloc((size_t)t->cols, sizeof *t->names);
    if (!t->names) return cf_set_error(CF_ERR_OOM, "%s: out of memory", r->path);
    for (int i = 0, c = 0; i < n; i++)
        if (i != r->date_at) memcpy(t->names[c++], r->hdr[i], CF_SERIES_NAME_MAX);
    return CF_OK;
}

static cf_status grow(reader *r)
{
    cf_series_table *t = r->t;
    if (t->rows < r->cap) return CF_OK;
    int64_t cap = r->cap ? 2 * r->cap : 1024;
    double *v = realloc(t->values, (size_t)(cap * t->cols) * sizeof *v);
    if (v) t->values = v;
    int64_t *s = v ? realloc(t->stamps, (size_t)cap * sizeof *s) : NULL;
    if (s) t->stamps = s;
    unsigned char *m = s ? realloc(r->missing, (size_t)(cap * t->cols)) : NULL;
    if (m) r->missing = m;
    if (!m) return cf_set_error(CF_ERR_OOM, "%s: out of memory at line %lld", r->path, (long long)r->line);
    r->cap = cap;
    return CF_OK;
}

static cf_status row(reader *r, char *line, char **f)
{
    int n = split_fields(line, f, r->ncells);
    if (n != r->ncells)
        return cf_set_error(CF_ERR_ARG, "%s:%lld: %s%d fields, the header has %d (a ragged row)", r->path,
                            (long long)r->line, n > r->ncells ? "more than " : "", n > r->ncells ? r->ncells : n,
                            r->ncells);
    CF_TRY(grow(r));
    cf_series_table *t = r->t;
    int64_t at = t->rows;
    if (!cf_parse_datetime(f[r->date_at], &t->stamps[at]))
        return cf_set_error(CF_ERR_ARG, "%s:%lld: column %d '%s': '%s' is not a date (YYYY-MM-DD[ HH:MM[:SS]])",
                            r->path, (long long)r->line, r->date_at + 1, r->hdr[r->date_at], f[r->date_at]);
    if (at > 0 && t->stamps[at] <= t->stamps[at - 1]) {
        char prev[32];
        cf_format_datetime(t->stamps[at - 1], prev, sizeof prev);
        return cf_set_error(CF_ERR_ARG, "%s:%lld: column %d '%s': %s is not after the previous row's %s (dates must "
                            "increase)", r->path, (long long)r->line, r->date_at + 1, r->hdr[r->date_at],
                            f[r->date_at], prev);
    }
    for (int i = 0, c = 0; i < n; i++) {
        if (i == r->date_at) continue;
        double *v = &t->values[at * t->cols + c];
        unsigned char *miss = &r->missing[at * t->cols + c];
        c++;
        *miss = is_missing(f[i]);
        if (*miss) {
            *v = NAN;
            continue;
        }
        char *end;
        errno = 0;
        *v = strtod(f[i], &end);
        if (end == f[i] || *end || !isfinite(*v))
            return cf_set_error(CF_ERR_ARG, "%s:%lld: column %d '%s': '%s' is not a finite number", r->path,
                                (long long)r->line, i + 1, r->hdr[i], f[i]);
    }
    t->rows++;
    return CF_OK;
}

/* the header's 1-based position of numeric column c */
static int position(const reader *r, int c) { return c + 1 + (c >= r->date_at); }

static cf_status fill(reader *r, cf_nan_policy nan)
{
    cf_series_table *t = r->t;
    for (int c = 0; c < t->cols; c++) {
        int64_t first = -1, last = -1;
        for (int64_t i = 0; i < t->rows; i++) {
            if (r->missing[i * t->cols + c]) continue;
            if (first < 0) first = i;
            last = i;
        }
        for (int64_t i = 0; i < t->rows; i++) {
            if (!r->missing[i * t->cols + c]) continue;
            if (nan == CF_NAN_REFUSE || first < 0)
                return cf_set_error(CF_ERR_ARG, "%s:%lld: column %d '%s': a missing value (%s)", r->path,
                                    (long long)(i + 2), position(r, c), t->names[c],
                                    first < 0 ? "the column has no value at all" : "data.nan: refuse; choose ffill or "
                                                                                   "linear to fill it");
        }
        double *v = t->values;
        int64_t prev = -1; /* the last valid row */
        for (int64_t i = 0; i < t->rows; i++) {
            if (!r->missing[i * t->cols + c]) {
                prev = i;
                continue;
            }
            t->filled++;
            if (prev < 0) { /* leading gap: the first valid value */
                v[i * t->cols + c] = v[first * t->cols + c];
                continue;
            }
            int64_t next = i;
            while (next <= last && r->missing[next * t->cols + c]) next++;
            double a = v[prev * t->cols + c];
            if (nan == CF_NAN_FFILL || next > last) v[i * t->cols + c] = a;
            else {
                double w = (double)(i - prev) / (double)(next - prev);
                v[i * t->cols + c] = a + w * (v[next * t->cols + c] - a);
            }
        }
    }
    return CF_OK;
}

cf_status cf_series_csv_read(const char *path, const char *date_col, cf_nan_policy nan, cf_series_table *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    reader r = {.path = path, .t = t};
    r.text = read_all(path);
    if (!r.text) return cf_last_status();
    cf_status st = CF_OK;
    char **f = NULL;
    char *p = r.text;
    bool have_header = false;
    while (st == CF_OK && *p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[--len] = '\0';
        r.line++;
        if (!have_header) {
            if (r.line == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
                p += 3; /* a UTF-8 byte-order mark */
            st = header(&r, p, date_col);
            have_header = true;
            f = st == CF_OK ? malloc((size_t)(r.ncells + 1) * sizeof *f) : NULL;
            if (st == CF_OK && !f) st = cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        } else if (len) {
            st = row(&r, p, f);
        } else if (nl && nl[1]) {
            st = cf_set_error(CF_ERR_ARG, "%s:%lld: an empty line inside the data", path, (long long)r.line);
        }
        p = nl ? nl + 1 : p + len;
    }
    if (st == CF_OK && !have_header) st = cf_set_error(CF_ERR_ARG, "%s: the file is empty (no header)", path);
    if (st == CF_OK && t->rows == 0) st = cf_set_error(CF_ERR_ARG, "%s: a header but no data rows", path);
    if (st == CF_OK) st = fill(&r, nan);
    free(f);
    free(r.hdr);
    free(r.missing);
    free(r.text);
    if (st != CF_OK) {
        cf_series_table_free(t);
        snprintf(t->path, sizeof t->path, "%s", path);
    }
    return st;
}

cf_status cf_series_csv_write(const char *path, const cf_series_table *t)
{
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_printf(af, "date");
    for (int c = 0; c < t->cols; c++) cf_atomic_printf(af, ",%s", t->names[c]);
    cf_atomic_printf(af, "\n");
    for (int64_t i = 0; i < t->rows; i++) {
        char d[32];
        cf_format_datetime(t->stamps[i], d, sizeof d);
        cf_atomic_printf(af, "%s", d);
        for (int c = 0; c < t->cols; c++) cf_atomic_printf(af, ",%.6g", t->values[i * t->cols + c]);
        cf_atomic_printf(af, "\n");
    }
    return cf_atomic_commit(af);
}
