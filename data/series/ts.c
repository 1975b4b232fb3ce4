/* The .ts reader (format in data/series/ts.h): the header grammar, then one case per line. */
#include "data/series/ts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *what;
    int64_t line;
    cf_ts_set *s;
    /* header keys seen */
    bool has_dims, has_length, has_equal, has_class, has_target, has_univariate, has_missing, has_stamps, has_name;
    /* growing arrays */
    int64_t cap_series, cap_off, cap_values, cap_cases, nvalues;
} ts_parser;

static cf_status fail(const ts_parser *p, const char *fmt, ...) CF_PRINTF(2, 3);
static cf_status fail(const ts_parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cf_set_error(CF_ERR_FORMAT, "%s:%lld: %s", p->what, (long long)p->line, msg);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* The next whitespace-separated word of *s (NUL-terminated in place), or NULL at the end. */
static char *word(char **s)
{
    char *p = *s;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return NULL;
    char *w = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (*p) *p++ = '\0';
    *s = p;
    return w;
}

static cf_status parse_bool(const ts_parser *p, const char *key, char **rest, bool *out)
{
    const char *w = word(rest);
    if (w && strcasecmp(w, "true") == 0) *out = true;
    else if (w && strcasecmp(w, "false") == 0) *out = false;
    else return fail(p, "%s needs true or false, got '%s'", key, w ? w : "");
    return CF_OK;
}

static cf_status parse_count(const ts_parser *p, const char *key, char **rest, int64_t max, int64_t *out)
{
    const char *w = word(rest);
    char *end = NULL;
    errno = 0;
    long long v = w ? strtoll(w, &end, 10) : 0;
    if (!w || *end || errno || v < 1 || v > max)
        return fail(p, "%s needs a whole number in [1, %lld], got '%s'", key, (long long)max, w ? w : "");
    *out = v;
    return CF_OK;
}

static int cmp_label(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static cf_status parse_labels(ts_parser *p, char **rest)
{
    cf_ts_set *s = p->s;
    CF_TRY(parse_bool(p, "@classLabel", rest, &s->class_label));
    if (!s->class_label) {
        if (word(rest)) return fail(p, "@classLabel false takes no labels");
        return CF_OK;
    }
    for (char *w; (w = word(rest));) {
        if (s->nlabels == CF_TS_MAX_LABELS) return fail(p, "more than %d class labels", CF_TS_MAX_LABELS);
        if (strlen(w) >= CF_TS_NAME_MAX) return fail(p, "class label '%.40s...' is longer than %d bytes", w, CF_TS_NAME_MAX - 1);
        if (strchr(w, ':') || strchr(w, ',')) return fail(p, "class label '%s' contains ':' or ','", w);
        void *grown = realloc(s->labels, (size_t)(s->nlabels + 1) * sizeof *s->labels);
        if (!grown) return cf_set_error(CF_ERR_OOM, "%s: out of memory", p->what);
        s->labels = grown;
        snprintf(s->labels[s->nlabels++], CF_TS_NAME_MAX, "%s", w);
    }
    if (s->nlabels == 0) return fail(p, "@classLabel true needs the list of labels");
    qsort(s->labels, (size_t)s->nlabels, sizeof *s->labels, cmp_label);
    for (int i = 1; i < s->nlabels; i++)
        if (strcmp(s->labels[i - 1], s->labels[i]) == 0) return fail(p, "class label '%s' is listed twice", s->labels[i]);
    return CF_OK;
}

/* One header line (after '@'); *done is set by @data. */
static cf_status header_line(ts_parser *p, char *line, bool *done)
{
    cf_ts_set *s = p->s;
    char *rest = line;
    const char *key = word(&rest);
    bool *seen = NULL;
    cf_status st = CF_OK;
    if (strcasecmp(key, "@data") == 0) {
        if (word(&rest)) return fail(p, "@data takes nothing after it on its line");
        *done = true;
        return CF_OK;
    } else if (strcasecmp(key, "@problemName") == 0) {
        seen = &p->has_name;
        const char *w = word(&rest);
        if (!w) return fail(p, "@problemName needs a name");
        if (strlen(w) >= CF_TS_NAME_MAX) return fail(p, "@problemName is longer than %d bytes", CF_TS_NAME_MAX - 1);
        snprintf(s->problem, sizeof s->problem, "%s", w);
    } else if (strcasecmp(key, "@timeStamps") == 0) {
        seen = &p->has_stamps, st = parse_bool(p, "@timeStamps", &rest, &s->timestamps);
    } else if (strcasecmp(key, "@missing") == 0) {
        seen = &p->has_missing, st = parse_bool(p, "@missing", &rest, &s->missing);
    } else if (strcasecmp(key, "@univariate") == 0) {
        seen = &p->has_univariate, st = parse_bool(p, "@univariate", &rest, &s->univariate);
    } else if (strcasecmp(key, "@dimensions") == 0) {
        seen = &p->has_dims, st = parse_count(p, "@dimensions", &rest, CF_TS_MAX_DIMS, &s->dims);
    } else if (strcasecmp(key, "@equalLength") == 0) {
        seen = &p->has_equal, st = parse_bool(p, "@equalLength", &rest, &s->equal_length);
    } else if (strcasecmp(key, "@seriesLength") == 0) {
        seen = &p->has_length, st = parse_count(p, "@seriesLength", &rest, INT64_C(1) << 40, &s->series_length);
    } else if (strcasecmp(key, "@classLabel") == 0) {
        seen = &p->has_class, st = p->has_class ? CF_OK : parse_labels(p, &rest);
    } else if (strcasecmp(key, "@targetLabel") == 0) {
        seen = &p->has_target, st = parse_bool(p, "@targetLabel", &rest, &s->target_label);
    } else {
        return fail(p, "unknown header key '%s' (known: @problemName, @timeStamps, @missing, @univariate, @dimensions, "
                    "@equalLength, @seriesLength, @classLabel, @targetLabel, @data)", key);
    }
    CF_TRY(st);
    if (*seen) return fail(p, "%s is given twice", key);
    *seen = true;
    if (seen != &p->has_class && word(&rest)) return fail(p, "%s takes one value", key);
    return CF_OK;
}

/* Header consistency, checked at @data. */
static cf_status header_done(ts_parser *p)
{
    cf_ts_set *s = p->s;
    if (s->class_label && s->target_label) return fail(p, "@classLabel true and @targetLabel true cannot both be set");
    if (!p->has_class && !p->has_target)
        return fail(p, "the header has neither @classLabel nor @targetLabel (needed to tell a label from a dimension)");
    if (p->has_univariate && s->univariate) {
        if (p->has_dims && s->dims != 1) return fail(p, "@univariate true with @dimensions %lld", (long long)s->dims);
        s->dims = 1, p->has_dims = true;
    }
    if (p->has_univariate && !s->univariate && p->has_dims && s->dims == 1)
        return fail(p, "@univariate false with @dimensions 1");
    if (p->has_length && p->has_equal && !s->equal_length)
        return fail(p, "@seriesLength is given but @equalLength is false");
    if (p->has_length && !p->has_equal) s->equal_length = true;
    return CF_OK;
}

static cf_status grow(ts_parser *p, void **a, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return CF_OK;
    int64_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *g = realloc(*a, (size_t)n * elem);
    if (!g) return cf_set_error(CF_ERR_OOM, "%s: out of memory", p->what);
    *a = g, *cap = n;
    return CF_OK;
}

static cf_status push_value(ts_parser *p, double v)
{
    CF_TRY(grow(p, (void **)&p->s->values, &p->cap_values, p->nvalues + 1, sizeof(double)));
    p->s->values[p->nvalues++] = v;
    return CF_OK;
}

/* One number or '?' of dimension d (1-based in messages). */
static cf_status parse_value(ts_parser *p, char *tok, int64_t d, int64_t k)
{
    cf_ts_set *s = p->s;
    tok = trim(tok);
    if (s->timestamps) { /* "(timestamp,value)": the value after the last comma inside the parentheses */
        size_t n = strlen(tok);
        char *comma = strrchr(tok, ',');
        if (n < 3 || tok[0] != '(' || tok[n - 1] != ')' || !comma)
            return fail(p, "dimension %lld, value %lld: '%s' is not '(timestamp,value)' (@timeStamps true)",
                        (long long)d, (long long)k, tok);
        tok[n - 1] = '\0';
        tok = trim(comma + 1);
    }
    if (strcmp(tok, "?") == 0) {
        if (!s->missing) return fail(p, "dimension %lld, value %lld: '?' but the header says @missing false", (long long)d, (long long)k);
        s->missing_count++;
        return push_value(p, NAN);
    }
    char *end = NULL;
    errno = 0;
    double v = *tok ? strtod(tok, &end) : 0;
    if (!*tok || *end || !isfinite(v))
        return fail(p, "dimension %lld, value %lld: '%s' is not a finite number (or '?')", (long long)d, (long long)k, tok);
    return push_value(p, v);
}

/* The values of one dimension field: split at commas outside parentheses. */
static cf_status parse_dim(ts_parser *p, char *field, int64_t d, int64_t *count)
{
    *count = 0;
    if (!*trim(field)) return fail(p, "dimension %lld is empty", (long long)d);
    int depth = 0;
    char *tok = field;
    for (char *c = field;; c++) {
        if (*c == '(') depth++;
        else if (*c == ')') depth--;
        if (depth < 0 || depth > 1) return fail(p, "dimension %lld: unbalanced parentheses", (long long)d);
        if ((*c == ',' && depth == 0) || *c == '\0') {
            bool last = *c == '\0';
            *c = '\0';
            CF_TRY(parse_value(p, tok, d, ++*count));
            if (last) break;
            tok = c + 1;
        }
    }
    if (depth) return fail(p, "dimension %lld: unbalanced parentheses", (long long)d);
    return CF_OK;
}

static cf_status parse_label(ts_parser *p, char *field, int64_t i)
{
    cf_ts_set *s = p->s;
    char *lab = trim(field);
    if (s->target_label) {
        char *end = NULL;
        double v = *lab ? strtod(lab, &end) : 0;
        if (!*lab || *end || !isfinite(v)) return fail(p, "target '%s' is not a finite number", lab);
        s->target[i] = v;
        return CF_OK;
    }
    const char(*hit)[CF_TS_NAME_MAX] = bsearch(lab, s->labels, (size_t)s->nlabels, sizeof *s->labels, cmp_label);
    if (!hit) {
        if (!*lab) return fail(p, "the class label is empty");
        return fail(p, "class label '%s' is not one of the %d in @classLabel", lab, s->nlabels);
    }
    s->label[i] = hit - s->labels;
    return CF_OK;
}

static cf_status data_line(ts_parser *p, char *line)
{
    cf_ts_set *s = p->s;
    bool labelled = s->class_label || s->target_label;
    int64_t fields = 1;
    for (const char *c = line; *c; c++) fields += *c == ':';
    int64_t dims = fields - labelled;
    if (dims < 1) return fail(p, "the case has no dimension (only a label)");
    if (!p->has_dims) s->dims = dims, p->has_dims = true;
    if (dims != s->dims)
        return fail(p, "%lld ':'-separated fields, expected %lld (%lld dimensions%s)", (long long)fields,
                    (long long)(s->dims + labelled), (long long)s->dims, labelled ? " and the label" : "");
    int64_t i = s->cases;
    CF_TRY(grow(p, (void **)&s->len, &p->cap_series, (i + 1) * s->dims, sizeof(int64_t)));
    CF_TRY(grow(p, (void **)&s->off, &p->cap_off, (i + 1) * s->dims, sizeof(int64_t)));
    if (labelled) {
        CF_TRY(grow(p, (void **)(s->target_label ? (void *)&s->target : (void *)&s->label), &p->cap_cases, i + 1,
                    s->target_label ? sizeof(double) : sizeof(int64_t)));
    }
    char *field = line;
    for (int64_t d = 0; d < fields; d++) {
        char *colon = strchr(field, ':');
        if (colon) *colon = '\0';
        if (d < dims) {
            int64_t n = 0;
            s->off[i * dims + d] = p->nvalues;
            CF_TRY(parse_dim(p, field, d + 1, &n));
            s->len[i * dims + d] = n;
            if (n > s->max_len) s->max_len = n;
            if (s->equal_length) {
                int64_t want = s->series_length ? s->series_length : s->len[0];
                if (n != want)
                    return fail(p, "dimension %lld has %lld values, expected %lld (@equalLength true%s)", (long long)(d + 1),
                                (long long)n, (long long)want, s->series_length ? " and @seriesLength" : "");
            }
        } else {
            CF_TRY(parse_label(p, field, i));
        }
        field = colon ? colon + 1 : field + strlen(field);
    }
    s->cases++;
    return CF_OK;
}

cf_ts_set *cf_ts_parse(const char *text, size_t n, const char *what)
{
    ts_parser p = {.what = what ? what : "<ts>"};
    p.s = calloc(1, sizeof *p.s);
    char *line = malloc(n + 1);
    if (!p.s || !line) {
        free(p.s), free(line);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", p.what);
        return NULL;
    }
    cf_status st = CF_OK;
    bool in_data = false;
    size_t at = 0;
    if (n && memchr(text, '\0', n)) st = cf_set_error(CF_ERR_FORMAT, "%s: a NUL byte: not a text .ts file", p.what);
    while (at < n && st == CF_OK) {
        size_t e = at;
        while (e < n && text[e] != '\n') e++;
        memcpy(line, text + at, e - at);
        line[e - at] = '\0';
        at = e + 1;
        p.line++;
        char *t = trim(line);
        if (!*t || *t == '#') continue;
        if (!in_data) {
            if (*t != '@') st = fail(&p, "expected a header key starting with '@' before @data, got '%.40s'", t);
            else if ((st = header_line(&p, t, &in_data)) == CF_OK && in_data) st = header_done(&p);
        } else {
            if (*t == '@') st = fail(&p, "header key '%.40s' after @data", t);
            else st = data_line(&p, t);
        }
    }
    free(line);
    if (st == CF_OK && !in_data) {
        p.line++;
        st = fail(&p, "no @data line: the file ended in its header");
    }
    if (st == CF_OK && p.s->cases == 0) st = fail(&p, "no cases after @data");
    if (st != CF_OK) {
        cf_ts_free(p.s);
        return NULL;
    }
    return p.s;
}

cf_ts_set *cf_ts_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            char *g = realloc(buf, cap = (cap ? cap * 2 : 65536) + 65536);
            if (!g) {
                free(buf), fclose(f);
                cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
                return NULL;
            }
            buf = g;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        cf_set_error(CF_ERR_IO, "%s: read error", path);
        return NULL;
    }
    cf_ts_set *s = cf_ts_parse(buf, n, path);
    free(buf);
    return s;
}

void cf_ts_free(cf_ts_set *s)
{
    if (!s) return;
    free(s->labels), free(s->len), free(s->off), free(s->values), free(s->label), free(s->target);
    free(s);
}
