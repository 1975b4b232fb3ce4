/* `cformer plot`: reads a run's metrics.jsonl and draws each metric against the step as stacked panels in a
 * PNG. The JSON reader and the rasteriser are ours (a few hundred lines, no dependency); libpng only encodes. */
#include "autograd/fileio.h"
#include "plot.h"

#include "autograd/cformer.h"
#include "cli.h"
#include "png_font.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEYS 1024      /* distinct metric names in one file; more is surely not a metrics log */
#define MAX_PANELS 64      /* keeps the image a sane size; --metrics picks among more */
#define MAX_PIXELS (1 << 25) /* 32 Mpixel, 96 MiB of RGB */
#define MAX_TICKS 16
#define CAP_H (CF_FONT_H - 1) /* glyph rows above the baseline: what labels are centred and aligned on */

/* ------------------------------------------------------------------------------------------------------ */
/* Reading metrics.jsonl                                                                                   */

typedef struct {
    double step, v; /* v is NaN for a gap (null or a non-finite number) */
    size_t order;   /* position in the file, so that among equal steps the last line wins */
} point;

typedef struct {
    char *name;
    point *p;
    size_t n, cap;
} series;

typedef struct {
    series s[MAX_KEYS];
    int n;
    long lines; /* lines with an object in them */
} metrics;

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

static void metrics_free(metrics *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->s[i].name);
        free(m->s[i].p);
    }
    m->n = 0;
}

static series *metrics_find(metrics *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->s[i].name, name) == 0) return &m->s[i];
    return NULL;
}

static cf_status metrics_add(metrics *m, const char *path, long line, const char *name, double step, double v,
                             size_t order)
{
    series *s = metrics_find(m, name);
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

static cf_status metrics_read(const char *path, metrics *m, bool quiet)
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
            if (strcmp(p.kvs[i].key, "step") == 0) step_i = i;
        if (step_i < 0 || p.kvs[step_i].kind != V_NUM || !isfinite(p.kvs[step_i].v)) {
            if (!complete) {
                if (!quiet)
                    fprintf(stderr, "cformer plot: warning: %s:%ld: skipped an incomplete last line (no step)\n",
                            path, lineno);
                break;
            }
            rc = cf_set_error(CF_ERR_FORMAT, "%s:%ld: %s", path, lineno,
                              step_i < 0 ? "no \"step\" key" : "\"step\" is not a finite number");
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

/* ------------------------------------------------------------------------------------------------------ */
/* Rasterising                                                                                             */

typedef struct {
    uint8_t r, g, b;
} rgb;

typedef struct {
    uint8_t *px;
    int w, h;
    int cx0, cy0, cx1, cy1; /* clip rectangle, inclusive */
} canvas;

static const rgb GRID = {232, 232, 232}, AXIS = {90, 90, 90}, TEXT = {30, 30, 30},
                 MUTED = {120, 120, 120};
static const rgb PALETTE[] = {{31, 119, 180}, {214, 39, 40},  {44, 160, 44},   {255, 127, 14}, {148, 103, 189},
                              {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

static void put(canvas *c, int x, int y, rgb col)
{
    if (x < c->cx0 || x > c->cx1 || y < c->cy0 || y > c->cy1) return;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void clip_all(canvas *c)
{
    c->cx0 = c->cy0 = 0;
    c->cx1 = c->w - 1;
    c->cy1 = c->h - 1;
}

static void fill(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col);
}

/* Bresenham with a 2x2 pen, so a curve stays visible over the grid. */
static void line(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        fill(c, x0, y0, x0 + 1, y0 + 1, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* A UTF-8 continuation byte: the font draws one '?' per non-ASCII character, not one per byte. */
static bool continuation(char c)
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

static int text_width(const char *s, int scale)
{
    int n = 0;
    for (; *s; s++) n += !continuation(*s);
    return n ? (n * (CF_FONT_W + 1) - 1) * scale : 0;
}

static void text(canvas *c, int x, int y, const char *s, int scale, rgb col)
{
    for (; *s; s++) {
        if (continuation(*s)) continue;
        const uint8_t *g = cf_font5x7_glyph((unsigned char)*s);
        for (int gx = 0; gx < CF_FONT_W; gx++)
            for (int gy = 0; gy < CF_FONT_H; gy++)
                if (g[gx] >> gy & 1) fill(c, x + gx * scale, y + gy * scale, x + gx * scale + scale - 1, y + gy * scale + scale - 1, col);
        x += (CF_FONT_W + 1) * scale;
    }
}

/* A double mapped to a pixel coordinate, clamped so that the int conversion is always defined. */
static int to_px(double v)
{
    if (!(v > -1e6)) return -1000000;
    if (v > 1e6) return 1000000;
    return (int)lround(v);
}

/* ------------------------------------------------------------------------------------------------------ */
/* Axes and ticks                                                                                          */

typedef struct {
    double pos[MAX_TICKS]; /* in axis units (log10 of the value on a log axis) */
    char label[MAX_TICKS][32];
    int n;
} ticks;

/* "1.5e-05" -> "1.5e-5", "2e+06" -> "2e6": shorter labels in a small font. */
static void compact_exp(char *s)
{
    char *e = strchr(s, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

static void fmt_value(char *out, size_t n, double v)
{
    snprintf(out, n, "%.4g", v);
    compact_exp(out);
}

static double nice_step(double range, int target)
{
    double raw = range / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

/* Labels for values v[0..n): fixed-point with the decimals the tick step needs, or, for very large or very
 * small magnitudes, exponent notation with the fewest digits that keep every label distinct. */
static void label_ticks(ticks *t, const double *v, double step)
{
    double big = 0;
    for (int i = 0; i < t->n; i++) big = fmax(big, fabs(v[i]));
    int k = (int)floor(log10(step) + 1e-9);
    if (big < 1e6 && k >= -4) {
        int dec = k < 0 ? -k : 0;
        for (int i = 0; i < t->n; i++) snprintf(t->label[i], sizeof t->label[i], "%.*f", dec, v[i]);
        return;
    }
    for (int prec = 0; prec <= 12; prec++) {
        bool distinct = true;
        for (int i = 0; i < t->n; i++) {
            if (v[i] == 0) snprintf(t->label[i], sizeof t->label[i], "0");
            else snprintf(t->label[i], sizeof t->label[i], "%.*e", prec, v[i]);
            compact_exp(t->label[i]);
            for (int j = 0; j < i && distinct; j++) distinct = strcmp(t->label[i], t->label[j]) != 0;
        }
        if (distinct) return;
    }
}

/* Ticks at multiples of a 1-2-5 step inside [lo, hi]; with log_pos, positions are log10 of the values. */
static void linear_ticks(ticks *t, double lo, double hi, int target, bool log_pos, bool integer)
{
    t->n = 0;
    double step = nice_step(hi - lo, target), v[MAX_TICKS];
    if (integer && step < 1) step = 1; /* steps are counted: no tick at step 1.5 */
    double first = ceil(lo / step - 1e-9), last = floor(hi / step + 1e-9);
    if (!isfinite(first) || !isfinite(last) || last - first + 1 > MAX_TICKS || last < first) {
        v[0] = lo; /* a range our 1-2-5 steps cannot cover sensibly: label the ends */
        v[1] = hi;
        t->n = 2;
        step = hi - lo;
    } else {
        /* an int counter: at magnitudes past 2^53, first + 1 == first and a double loop would not end */
        for (int k = 0; k <= (int)(last - first); k++) {
            double x = (first + k) * step;
            if (fabs(x) < step * 1e-9) x = 0; /* no "-0.00" */
            v[t->n++] = x;
        }
    }
    label_ticks(t, v, step > 0 ? step : 1);
    for (int i = 0; i < t->n; i++) t->pos[i] = log_pos ? log10(v[i]) : v[i];
}

/* Log axis over [llo, lhi] (log10 units): powers of ten when it spans decades, 1-2-5 within a couple of
 * decades, and plain linear ticks placed logarithmically when it spans less than one. */
static void log_ticks(ticks *t, double llo, double lhi)
{
    t->n = 0;
    double decades = lhi - llo;
    if (decades < 1.0) {
        linear_ticks(t, pow(10.0, llo), pow(10.0, lhi), 4, true, false);
        return;
    }
    static const double mant[] = {1, 2, 5};
    int every = decades <= 2.5 ? 0 : (int)ceil(decades / 6.0);
    for (int e = (int)floor(llo); e <= (int)ceil(lhi) && t->n < MAX_TICKS; e++) {
        for (int m = 0; m < (every ? 1 : 3) && t->n < MAX_TICKS; m++) {
            if (every && e % every != 0) continue;
            double v = mant[m] * pow(10.0, e), lv = log10(v);
            if (lv < llo - 1e-9 || lv > lhi + 1e-9) continue;
            t->pos[t->n] = lv;
            fmt_value(t->label[t->n], sizeof t->label[t->n], v);
            t->n++;
        }
    }
}

/* ------------------------------------------------------------------------------------------------------ */
/* Panels                                                                                                  */

typedef struct {
    const series *s;
    bool log;
    bool empty; /* no finite value */
    double lo, hi; /* y range in axis units (padded) */
    ticks yt;
    double last_v, last_step;
} panel;

static bool drawable(const panel *pn, double v)
{
    return isfinite(v) && (!pn->log || v > 0);
}

static cf_status panel_setup(panel *pn, const char *path, bool want_log, bool quiet)
{
    const series *s = pn->s;
    double lo = INFINITY, hi = -INFINITY;
    bool nonpos = false;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].v;
        if (!isfinite(v)) continue;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        nonpos |= v <= 0;
        pn->last_v = v;
        pn->last_step = s->p[i].step;
    }
    pn->empty = lo > hi;
    if (pn->empty) {
        pn->lo = 0;
        pn->hi = 1;
        pn->yt.n = 0; /* no scale to show */
        return CF_OK;
    }
    pn->log = want_log && !nonpos;
    if (want_log && nonpos && !quiet)
        fprintf(stderr, "cformer plot: warning: %s: \"%s\" has values <= 0; drawing it on a linear scale\n", path,
                s->name);
    if (pn->log) {
        lo = log10(lo);
        hi = log10(hi);
    }
    if (!isfinite(hi - lo))
        return cf_set_error(CF_ERR_FORMAT, "%s: the values of \"%s\" span too wide a range to plot", path, s->name);
    double mid = 0.5 * (lo + hi), span = hi - lo;
    if (span <= 1e-9 * fmax(fabs(lo), fabs(hi)) || span < 1e-290) { /* constant: centre it in a small window */
        double half = fabs(mid) * 0.1;
        if (half < 1e-290 || pn->log) half = pn->log ? 0.5 : 1.0;
        lo = mid - half;
        hi = mid + half;
    } else {
        lo -= 0.05 * span;
        hi += 0.05 * span;
    }
    if (!isfinite(lo) || !isfinite(hi))
        return cf_set_error(CF_ERR_FORMAT, "%s: the values of \"%s\" are too large to plot", path, s->name);
    pn->lo = lo;
    pn->hi = hi;
    if (pn->log) log_ticks(&pn->yt, lo, hi);
    else linear_ticks(&pn->yt, lo, hi, 5, false, false);
    return CF_OK;
}

typedef struct {
    int x0, x1;       /* plot rectangle columns */
    double smin, smax; /* step range */
    ticks xt;
} xaxis;

static void panel_draw(canvas *c, const panel *pn, const xaxis *xa, int top, int height, rgb col, int scale)
{
    char buf[128], lastbuf[48], stepbuf[48];
    int title_h = CF_FONT_H * 2 * scale + 12;
    int y0 = top + title_h, y1 = top + height - (CF_FONT_H * scale + 16);
    int x0 = xa->x0, x1 = xa->x1;

    /* title: the metric's name, and its last value */
    text(c, x0, top + 8, pn->s->name, 2 * scale, TEXT);
    if (pn->empty) snprintf(buf, sizeof buf, "(no finite values)");
    else {
        fmt_value(lastbuf, sizeof lastbuf, pn->last_v);
        if (pn->last_step == floor(pn->last_step) && fabs(pn->last_step) < 1e15)
            snprintf(stepbuf, sizeof stepbuf, "%.0f", pn->last_step);
        else fmt_value(stepbuf, sizeof stepbuf, pn->last_step);
        snprintf(buf, sizeof buf, "last %s at step %s%s", lastbuf, stepbuf, pn->log ? "   (log scale)" : "");
    }
    text(c, x0 + text_width(pn->s->name, 2 * scale) + 12 * scale, top + 8 + CAP_H * scale, buf, scale, MUTED);

    /* grid and tick labels */
    double sx = (x1 - x0) / (xa->smax - xa->smin), sy = (y1 - y0) / (pn->hi - pn->lo);
    for (int i = 0; i < pn->yt.n; i++) {
        int y = to_px(y1 - (pn->yt.pos[i] - pn->lo) * sy);
        if (y < y0 || y > y1) continue;
        fill(c, x0, y, x1, y, GRID);
        fill(c, x0 - 4, y, x0 - 1, y, AXIS);
        const char *l = pn->yt.label[i];
        text(c, x0 - 8 - text_width(l, scale), y - CAP_H * scale / 2, l, scale, TEXT);
    }
    for (int i = 0; i < xa->xt.n; i++) {
        int x = to_px(x0 + (xa->xt.pos[i] - xa->smin) * sx);
        if (x < x0 || x > x1) continue;
        fill(c, x, y0, x, y1, GRID);
        fill(c, x, y1 + 1, x, y1 + 4, AXIS);
        const char *l = xa->xt.label[i];
        text(c, x - text_width(l, scale) / 2, y1 + 8, l, scale, TEXT);
    }
    fill(c, x0, y0, x0, y1, AXIS);
    fill(c, x0, y1, x1, y1, AXIS);

    /* the curve: consecutive finite values joined, a gap at each null; a value alone between gaps is a dot.
     * Clipped a little outside the axes so that a dot on the last step is whole. */
    c->cx0 = x0 - 3;
    c->cx1 = x1 + 3;
    c->cy0 = y0 - 3;
    c->cy1 = y1 + 3;
    int px = 0, py = 0;
    size_t run = 0;
    for (size_t i = 0; i <= pn->s->n; i++) {
        double v = i < pn->s->n ? pn->s->p[i].v : NAN;
        if (!drawable(pn, v)) {
            if (run == 1) fill(c, px - 2, py - 2, px + 3, py + 3, col);
            run = 0;
            continue;
        }
        int x = to_px(x0 + (pn->s->p[i].step - xa->smin) * sx);
        int y = to_px(y1 - ((pn->log ? log10(v) : v) - pn->lo) * sy);
        if (run > 0) line(c, px, py, x, y, col);
        px = x;
        py = y;
        run++;
    }
    clip_all(c);
}

/* ------------------------------------------------------------------------------------------------------ */
/* PNG output                                                                                              */

typedef struct {
    jmp_buf jb;
    char msg[200];
} png_err;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jb, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* libpng reports errors by longjmp; everything it may jump over is set up before setjmp and only read
 * after it, so no local needs to be volatile. */
static cf_status png_encode(FILE *f, const canvas *c, const char *source, png_err *err)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, png_on_error, png_on_warning);
    if (!png) return cf_set_error(CF_ERR_OOM, "out of memory starting libpng");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return cf_set_error(CF_ERR_OOM, "out of memory starting libpng");
    }
    if (setjmp(err->jb)) {
        png_destroy_write_struct(&png, &info);
        return CF_ERR_IO;
    }
    char software[64];
    snprintf(software, sizeof software, "cformer %d.%d.%d plot", CF_VERSION_MAJOR, CF_VERSION_MINOR,
             CF_VERSION_PATCH);
    png_text txt[2] = {{0}, {0}};
    txt[0].compression = txt[1].compression = PNG_TEXT_COMPRESSION_NONE;
    txt[0].key = (png_charp) "Software";
    txt[0].text = software;
    txt[1].key = (png_charp) "Source";
    txt[1].text = (png_charp)source;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_text(png, info, txt, 2);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * (size_t)c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return CF_OK;
}

static cf_status png_write_atomic(const char *path, const canvas *c, const char *source)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cf_set_error(CF_ERR_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    png_err err = {.msg = ""};
    cf_status rc = png_encode(f, c, source, &err);
    if (rc == CF_ERR_IO) rc = cf_set_error(CF_ERR_IO, "%s: writing %s failed: %s", path, tmp, err.msg);
    if (rc == CF_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = cf_set_error(CF_ERR_IO, "%s: writing %s failed: %s", path, tmp, strerror(errno));
    if (fclose(f) != 0 && rc == CF_OK)
        rc = cf_set_error(CF_ERR_IO, "%s: writing %s failed: %s", path, tmp, strerror(errno));
    if (rc == CF_OK && rename(tmp, path) != 0)
        rc = cf_set_error(CF_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (rc != CF_OK) {
        unlink(tmp);
        return rc;
    }
    if (cf_fsync_dir_of(path) != 0)
        return cf_set_error(CF_ERR_IO, "%s: written, but fsync of its directory failed: %s", path, strerror(errno));
    return CF_OK;
}

/* ------------------------------------------------------------------------------------------------------ */

static bool default_metric(const char *name)
{
    return strcmp(name, "elapsed_s") != 0 && strcmp(name, "tokens_per_s") != 0;
}

static cf_status select_panels(metrics *m, const char *path, const cf_plot_options *o, panel *pn, int *np)
{
    int n = 0;
    if (o->metrics && o->n_metrics > 0) {
        for (int i = 0; i < o->n_metrics; i++) {
            const series *s = metrics_find(m, o->metrics[i]);
            if (!s) {
                char have[512] = "";
                size_t len = 0;
                for (int j = 0; j < m->n && len < sizeof have - 8; j++)
                    len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", j ? ", " : "", m->s[j].name);
                if (len >= sizeof have) snprintf(have + sizeof have - 5, 5, "...");
                return cf_set_error(CF_ERR_ARG, "%s: no metric \"%s\" in it (it has: %s)", path, o->metrics[i],
                                    m->n ? have : "none");
            }
            if (n == MAX_PANELS) return cf_set_error(CF_ERR_ARG, "more than %d metrics asked for", MAX_PANELS);
            pn[n++].s = s;
        }
    } else {
        const series *loss = metrics_find(m, "loss");
        if (loss) pn[n++].s = loss;
        for (int i = 0; i < m->n; i++) {
            if (&m->s[i] == loss || !default_metric(m->s[i].name)) continue;
            if (n == MAX_PANELS)
                return cf_set_error(CF_ERR_ARG, "%s: more than %d metrics; pick some with --metrics", path, MAX_PANELS);
            pn[n++].s = &m->s[i];
        }
    }
    *np = n;
    return CF_OK;
}

cf_status cf_plot_metrics(const char *jsonl_path, const char *png_path, const cf_plot_options *o)
{
    static const cf_plot_options defaults = {0};
    if (!o) o = &defaults;
    if (!jsonl_path || !png_path) return cf_set_error(CF_ERR_ARG, "cf_plot_metrics: a path is NULL");
    int width = o->width ? o->width : 960, ph = o->panel_height ? o->panel_height : 240;
    if (width < 320 || width > 16384 || ph < 120 || ph > 8192)
        return cf_set_error(CF_ERR_ARG, "plot size %dx%d per panel is outside 320..16384 x 120..8192", width, ph);

    metrics *m = calloc(1, sizeof *m);
    panel *pn = calloc(MAX_PANELS, sizeof *pn);
    canvas c = {0};
    cf_status rc = CF_OK;
    if (!m || !pn) {
        rc = cf_set_error(CF_ERR_OOM, "out of memory");
        goto done;
    }
    if ((rc = metrics_read(jsonl_path, m, o->quiet)) != CF_OK) goto done;
    int np = 0;
    if ((rc = select_panels(m, jsonl_path, o, pn, &np)) != CF_OK) goto done;

    /* the shared step axis, and whether there is anything to draw at all */
    double smin = INFINITY, smax = -INFINITY;
    bool any = false, integer_steps = true;
    for (int i = 0; i < np; i++) {
        const series *s = pn[i].s;
        if (s->n == 0) continue;
        smin = fmin(smin, s->p[0].step);
        smax = fmax(smax, s->p[s->n - 1].step);
        for (size_t k = 0; k < s->n && integer_steps; k++) integer_steps = s->p[k].step == floor(s->p[k].step);
        for (size_t k = 0; k < s->n && !any; k++) any = isfinite(s->p[k].v);
    }
    if (!any) {
        if (m->lines == 0) rc = cf_set_error(CF_ERR_FORMAT, "%s: no numeric data to plot (no line with a step)", jsonl_path);
        else
            rc = cf_set_error(CF_ERR_FORMAT, "%s: no numeric data to plot (%ld line%s, %s)", jsonl_path, m->lines,
                              m->lines == 1 ? "" : "s", np ? "every value null or not finite" : "no metric but the step");
        goto done;
    }
    if (smin == smax) {
        smin -= 1;
        smax += 1;
    }
    if (!isfinite(smax - smin)) {
        rc = cf_set_error(CF_ERR_FORMAT, "%s: the steps span too wide a range to plot", jsonl_path);
        goto done;
    }
    for (int i = 0; i < np; i++)
        if ((rc = panel_setup(&pn[i], jsonl_path, o->log_loss && strcmp(pn[i].s->name, "loss") == 0, o->quiet)) != CF_OK)
            goto done;

    int scale = width >= 1600 ? 2 : 1;
    xaxis xa = {.smin = smin, .smax = smax};
    linear_ticks(&xa.xt, smin, smax, width / 120, false, integer_steps);
    int label_w = 0;
    for (int i = 0; i < np; i++)
        for (int t = 0; t < pn[i].yt.n; t++) label_w = label_w > text_width(pn[i].yt.label[t], scale) ? label_w : text_width(pn[i].yt.label[t], scale);
    xa.x0 = 16 * scale + (label_w < width / 3 ? label_w : width / 3);
    xa.x1 = width - 24 * scale;

    if ((size_t)width * (size_t)ph * (size_t)np > MAX_PIXELS) {
        rc = cf_set_error(CF_ERR_ARG, "a %dx%d image is too large; use fewer --metrics or a smaller size", width, ph * np);
        goto done;
    }
    c.w = width;
    c.h = ph * np;
    if (!(c.px = malloc((size_t)c.w * (size_t)c.h * 3))) {
        rc = cf_set_error(CF_ERR_OOM, "out of memory for a %dx%d image", c.w, c.h);
        goto done;
    }
    memset(c.px, 255, (size_t)c.w * (size_t)c.h * 3);
    clip_all(&c);
    for (int i = 0; i < np; i++) {
        panel_draw(&c, &pn[i], &xa, i * ph, ph, PALETTE[i % (int)(sizeof PALETTE / sizeof PALETTE[0])], scale);
        if (i > 0) fill(&c, 0, i * ph, c.w - 1, i * ph, GRID); /* separates the panels */
    }
    rc = png_write_atomic(png_path, &c, jsonl_path);
done:
    free(c.px);
    free(pn);
    if (m) metrics_free(m);
    free(m);
    return rc;
}

/* ------------------------------------------------------------------------------------------------------ */
/* The command                                                                                             */

static void plot_usage(FILE *f)
{
    fprintf(f, "usage: cformer plot DIR [-o FILE.png] [--metrics loss,lr,...] [--log] [--width N] [--panel-height N]\n\n"
               "Draws the curves in DIR/metrics.jsonl (DIR may also be the .jsonl file itself), one panel per\n"
               "metric against the step, to DIR/curves.png (or FILE.png).\n\n"
               "  -o, --output FILE   where to write the PNG\n"
               "  --metrics LIST      comma-separated metrics, in panel order (default: loss, then every other\n"
               "                      metric except elapsed_s and tokens_per_s)\n"
               "  --log               log-scale y axis for the loss\n"
               "  --width N           image width in pixels (default 960)\n"
               "  --panel-height N    height of each panel in pixels (default 240)\n"
               "  -q, --quiet         no warnings\n");
}

/* The value of an option given as "--opt VALUE" or "--opt=VALUE"; NULL when argv[*i] is not that option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static bool parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1000000) return false;
    *out = (int)v;
    return true;
}

int cf_cmd_plot(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        plot_usage(stdout);
        return 0;
    }
    const char *dir = NULL, *out = NULL, *list = NULL;
    cf_plot_options o = {0};
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = opt_value(argc, argv, &i, "-o", &missing)) || (v = opt_value(argc, argv, &i, "--output", &missing))) out = v;
        else if ((v = opt_value(argc, argv, &i, "--metrics", &missing))) list = v;
        else if ((v = opt_value(argc, argv, &i, "--width", &missing)) || (v = opt_value(argc, argv, &i, "--panel-height", &missing))) {
            int *dst = v == argv[i] ? (strcmp(argv[i - 1], "--width") == 0 ? &o.width : &o.panel_height)
                                    : (strncmp(argv[i], "--width=", 8) == 0 ? &o.width : &o.panel_height);
            if (!parse_int(v, dst)) {
                fprintf(stderr, "cformer plot: %s needs a number of pixels, not '%s'\n",
                        dst == &o.width ? "--width" : "--panel-height", v);
                return 2;
            }
        } else if (missing) {
            fprintf(stderr, "cformer plot: %s needs a value\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--log") == 0) o.log_loss = true;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) o.quiet = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "cformer plot: unknown option '%s'\n\n", argv[i]);
            plot_usage(stderr);
            return 2;
        } else if (!dir) dir = argv[i];
        else {
            fprintf(stderr, "cformer plot: one run directory at a time ('%s' and '%s')\n", dir, argv[i]);
            return 2;
        }
    }
    if (!dir) {
        plot_usage(stderr);
        return 2;
    }

    /* DIR is a run directory, or the metrics file itself */
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    char *jsonl = NULL, *png = NULL, **names = NULL, *names_buf = NULL;
    int rc = 1;
    struct stat st;
    bool is_file = stat(dir, &st) == 0 && !S_ISDIR(st.st_mode);
    size_t cap = dl + 32;
    if (!(jsonl = malloc(cap)) || !(png = malloc(cap + (out ? strlen(out) : 0)))) goto oom;
    if (is_file) {
        snprintf(jsonl, cap, "%.*s", (int)dl, dir);
        size_t cut = dl;
        while (cut > 0 && dir[cut - 1] != '/') cut--;
        if (cut > 0) snprintf(png, cap, "%.*scurves.png", (int)cut, dir);
        else snprintf(png, cap, "curves.png");
    } else {
        snprintf(jsonl, cap, "%.*s/metrics.jsonl", (int)dl, dir);
        snprintf(png, cap, "%.*s/curves.png", (int)dl, dir);
    }
    if (out) strcpy(png, out);

    if (list) {
        if (!(names_buf = strdup(list)) || !(names = calloc(strlen(list) + 1, sizeof *names))) goto oom;
        for (char *save = NULL, *tok = strtok_r(names_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (*tok) names[o.n_metrics++] = tok;
        if (o.n_metrics == 0) {
            fprintf(stderr, "cformer plot: --metrics names no metric\n");
            rc = 2;
            goto done;
        }
        o.metrics = (const char *const *)names;
    }
    if (cf_plot_metrics(jsonl, png, &o) != CF_OK) {
        fprintf(stderr, "cformer plot: %s\n", cf_last_error());
        goto done;
    }
    printf("wrote %s\n", png);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "cformer plot: out of memory\n");
done:
    free(names);
    free(names_buf);
    free(png);
    free(jsonl);
    return rc;
}
