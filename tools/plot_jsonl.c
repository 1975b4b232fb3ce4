/* Reading metrics.jsonl for `cformer plot`: one flat JSON object per line. The JSON reader is ours (no
 * dependency); it reads numbers, null and keys, and skips strings, bools and nested values. */
#include "tools/plot_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum { V_NUM, V_NULL, V_OTHER };

typedef struct {
    char *key;
    int kind;
    double v;
} kv;

typedef struct {
    const char *s;
    size_t len, pos;
    char *buf; /* decoded string scratch */
    size_t buf_cap;
    kv *kvs;
    int n_kv, kv_cap;
    char err[160];
} parser;

static bool perr(parser *p, const char *fmt, const char *key)
{
    snprintf(p->err, sizeof p->err, fmt, key ? key : "");
    return false;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
        p->pos++;
}

static bool buf_put(parser *p, size_t *n, char c)
{
    if (*n + 1 >= p->buf_cap) {
        size_t cap = p->buf_cap ? 2 * p->buf_cap : 64;
        char *b = realloc(p->buf, cap);
        if (!b) return perr(p, "out of memory", NULL);
        p->buf = b;
        p->buf_cap = cap;
    }
    p->buf[(*n)++] = c;
    p->buf[*n] = '\0';
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A JSON string at p->pos (which is the opening quote), decoded into p->buf. \u escapes become UTF-8;
 * a lone surrogate becomes '?', since a metric name only needs to be printable, not round-tripped. */
static bool parse_string(parser *p)
{
    size_t n = 0;
    p->pos++;
    if (!buf_put(p, &n, '\0')) return false; /* so that an empty string decodes to "" */
    n = 0;
    while (p->pos < p->len) {
        char c = p->s[p->pos++];
        if (c == '"') return true;
        if ((unsigned char)c < 0x20) return perr(p, "a control character inside a string", NULL);
        if (c != '\\') {
            if (!buf_put(p, &n, c)) return false;
            continue;
        }
        if (p->pos >= p->len) break;
        char e = p->s[p->pos++];
        switch (e) {
        case '"': case '\\': case '/': c = e; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            unsigned u = 0;
            for (int i = 0; i < 4; i++) {
                int h = p->pos < p->len ? hexval(p->s[p->pos]) : -1;
                if (h < 0) return perr(p, "a bad \\u escape in a string", NULL);
                u = u * 16 + (unsigned)h;
                p->pos++;
            }
            bool ok = true;
            if (u >= 0xD800 && u < 0xE000) ok = buf_put(p, &n, '?');
            else if (u < 0x80) ok = buf_put(p, &n, (char)u);
            else if (u < 0x800) ok = buf_put(p, &n, (char)(0xC0 | (u >> 6))) && buf_put(p, &n, (char)(0x80 | (u & 0x3F)));
            else
                ok = buf_put(p, &n, (char)(0xE0 | (u >> 12))) && buf_put(p, &n, (char)(0x80 | ((u >> 6) & 0x3F))) &&
                     buf_put(p, &n, (char)(0x80 | (u & 0x3F)));
            if (!ok) return false;
            continue;
        }
        default: return perr(p, "a bad escape in a string", NULL);
        }
        if (!buf_put(p, &n, c)) return false;
    }
    return perr(p, "a string that does not end on this line", NULL);
}

static bool match_word(parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || strncmp(p->s + p->pos, w, n) != 0) return false;
    /* a word must end here: "nullx" is not null */
    char c = p->pos + n < p->len ? p->s[p->pos + n] : ' ';
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') return false;
    p->pos += n;
    return true;
}

/* Skips a nested object or array (not a metric, but legal JSON that a recipe may log). */
static bool skip_nested(parser *p)
{
    long depth = 0;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == '"') {
            if (!parse_string(p)) return false;
            continue;
        }
        p->pos++;
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') {
            if (--depth == 0) return true;
        }
    }
    return perr(p, "a nested value that does not end on this line", NULL);
}

/* A value after "key": a number (JSON, or the NaN/Infinity/nan/inf that Python's json and printf write),
 * null, or something else (string, bool, nested) that is read and ignored. */
static bool parse_value(parser *p, const char *key, int *kind, double *v)
{
    *kind = V_OTHER;
    *v = NAN;
    if (p->pos >= p->len) return perr(p, "no value for \"%s\"", key);
    char c = p->s[p->pos];
    if (c == '"') return parse_string(p);
    if (c == '{' || c == '[') return skip_nested(p);
    if (match_word(p, "true") || match_word(p, "false")) return true;
    if (match_word(p, "null")) {
        *kind = V_NULL;
        return true;
    }
    bool neg = false;
    size_t start = p->pos;
    if (c == '-' || c == '+') {
        neg = c == '-';
        p->pos++;
    }
    if (match_word(p, "NaN") || match_word(p, "nan")) {
        *kind = V_NUM;
        return true;
    }
    if (match_word(p, "Infinity") || match_word(p, "inf")) {
        *kind = V_NUM;
        *v = neg ? -INFINITY : INFINITY;
        return true;
    }
    p->pos = start;
    size_t end = start;
    while (end < p->len && (strchr("0123456789+-.eE", p->s[end]) != NULL) && p->s[end] != '\0') end++;
    char num[64];
    if (end == start || end - start >= sizeof num) return perr(p, "a bad value for \"%s\"", key);
    memcpy(num, p->s + start, end - start);
    num[end - start] = '\0';
    char *stop;
    errno = 0;
    double d = strtod(num, &stop);
    /* ERANGE is fine: an overflow is inf (a gap) and an underflow is as good as 0 */
    if (*stop != '\0') return perr(p, "a bad number for \"%s\"", key);
    p->pos = end;
    *kind = V_NUM;
    *v = d;
    return true;
}

static bool add_kv(parser *p, const char *key, int kind, double v)
{
    for (int i = 0; i < p->n_kv; i++)
        if (strcmp(p->kvs[i].key, key) == 0) { /* a repeated key in one line: the later one wins */
            p->kvs[i].kind = kind;
            p->kvs[i].v = v;
            return true;
        }
    if (p->n_kv == p->kv_cap) {
        int cap = p->kv_cap ? 2 * p->kv_cap : 16;
        kv *k = realloc(p->kvs, (size_t)cap * sizeof *k);
        if (!k) return perr(p, "out of memory", NULL);
        p->kvs = k;
        p->kv_cap = cap;
    }
    char *dup = strdup(key);
    if (!dup) return perr(p, "out of memory", NULL);
    p->kvs[p->n_kv++] = (kv){dup, kind, v};
    return true;
}

static void clear_kvs(parser *p)
{
    for (int i = 0; i < p->n_kv; i++) free(p->kvs[i].key);
    p->n_kv = 0;
}

/* One line: a flat JSON object. Fills p->kvs; on failure p->err says why and p->pos where. */
static bool parse_line(parser *p)
{
    clear_kvs(p);
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '{') return perr(p, "expected a JSON object ('{')", NULL);
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return perr(p, "expected a quoted key", NULL);
            if (!parse_string(p)) return false;
            char *key = strdup(p->buf);
            if (!key) return perr(p, "out of memory", NULL);
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                perr(p, "expected ':' after the key \"%s\"", key);
                free(key);
                return false;
            }
            p->pos++;
            skip_ws(p);
            int kind;
            double v;
            bool ok = parse_value(p, key, &kind, &v) && (kind == V_OTHER || add_kv(p, key, kind, v));
            if (ok) {
                skip_ws(p);
                if (p->pos < p->len && p->s[p->pos] == ',') p->pos++;
                else if (p->pos < p->len && p->s[p->pos] == '}') {
                    p->pos++;
                    free(key);
                    break;
                } else ok = perr(p, "expected ',' or '}' after the value of \"%s\"", key);
            }
            free(key);
            if (!ok) return false;
        }
    }
    skip_ws(p);
    if (p->pos < p->len) return perr(p, "text after the closing '}'", NULL);
    return true;
}

void plot_metrics_free(metrics *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->s[i].name);
        free(m->s[i].p);
    }
    m->n = 0;
}

series *plot_metrics_find(metrics *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0) return &m->s[i];
    return NULL;
}

static cf_status metrics_add(metrics *m, const char *path, long line, const char *name, double step, double v,
                             size_t order)
{
    series *s = plot_metrics_find(m, name);
    if (!s) {
        if (m->n == MAX_KEYS)
            return cf_set_error(CF_ERR_FORMAT, "%s:%ld: more than %d distinct keys; is this a metrics log?", path,
                                line, MAX_KEYS);
        s = &m->s[m->n];
        *s = (series){0};
        if (!(s->name = strdup(name))) return cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
        m->n++;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        point *np = realloc(s->p, cap * sizeof *np);
        if (!np) return cf_set_error(CF_ERR_OOM, "%s:%ld: out of memory for the values of \"%s\"", path, line, name);
        s->p = np;
        s->cap = cap;
    }
    s->p[s->n++] = (point){step, isfinite(v) ? v : NAN, order};
    return CF_OK;
}

static int cmp_point(const void *a, const void *b)
{
    const point *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts a series by step and keeps, for each step, the value from the last line (a resumed run's). */
static void series_settle(series *s)
{
    if (s->n < 2) return;
    qsort(s->p, s->n, sizeof *s->p, cmp_point);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w > 0 && s->p[w - 1].step == s->p[i].step) s->p[w - 1] = s->p[i];
        else s->p[w++] = s->p[i];
    }
    s->n = w;
}

cf_status plot_metrics_read(const char *path, const char *x_key, metrics *m, bool quiet)
{
    FILE *f = fopen(path, "r");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    parser p = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0;
    size_t order = 0;
    cf_status rc = CF_OK;
    errno = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        bool complete = got > 0 && line[got - 1] == '\n';
        p.s = line;
        p.len = (size_t)got;
        p.pos = 0;
        skip_ws(&p);
        if (p.pos == p.len) continue; /* blank line */
        if (!parse_line(&p)) {
            if (!complete) { /* the last line, still being written (or cut by a crash) */
                if (!quiet)
                    fprintf(stderr, "cformer plot: warning: %s:%ld: skipped an incomplete last line (%s)\n", path,
                            lineno, p.err);
                break;
            }
            rc = cf_set_error(CF_ERR_FORMAT, "%s:%ld:%zu: %s", path, lineno, p.pos + 1, p.err);
            goto done;
        }
        int step_i = -1;
        for (int i = 0; i < p.n_kv; i++)
            if (strcmp(p.kvs[i].key, x_key) == 0) step_i = i;
        if (step_i < 0 || p.kvs[step_i].kind != V_NUM || !isfinite(p.kvs[step_i].v)) {
            if (!complete) {
                if (!quiet)
                    fprintf(stderr, "cformer plot: warning: %s:%ld: skipped an incomplete last line (no %s)\n",
                            path, lineno, x_key);
                break;
            }
            rc = cf_set_error(CF_ERR_FORMAT, "%s:%ld: %s \"%s\" %s", path, lineno, step_i < 0 ? "no" : "the value of", x_key,
                              step_i < 0 ? "key" : "is not a finite number");
            goto done;
        }
        double step = p.kvs[step_i].v;
        m->lines++;
        for (int i = 0; i < p.n_kv; i++) {
            if (i == step_i) continue;
            rc = metrics_add(m, path, lineno, p.kvs[i].key, step, p.kvs[i].kind == V_NUM ? p.kvs[i].v : NAN, order++);
            if (rc != CF_OK) goto done;
        }
    }
    if (ferror(f)) rc = cf_set_error(CF_ERR_IO, "%s: read failed after line %ld: %s", path, lineno, strerror(errno));
    for (int i = 0; rc == CF_OK && i < m->n; i++) series_settle(&m->s[i]);
done:
    clear_kvs(&p);
    free(p.kvs);
    free(p.buf);
    free(line);
    fclose(f);
    return rc;
}
