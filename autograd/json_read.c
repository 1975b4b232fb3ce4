/* Recursive-descent JSON reader into a tree (see autograd/json_read.h). */
#include "autograd/json_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cf_jv {
    cf_jv_type type;
    bool b;
    double num;
    char *str;      /* strings */
    int n, cap;     /* arrays and objects */
    cf_jv **items;
    char **keys;    /* objects */
};

typedef struct {
    const char *p, *start, *end, *what;
    bool failed;
} reader;

static cf_jv *fail(reader *r, const char *msg)
{
    if (!r->failed)
        cf_set_error(CF_ERR_FORMAT, "%s: invalid JSON: %s at byte %ld", r->what, msg, (long)(r->p - r->start));
    r->failed = true;
    return NULL;
}

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

static bool eat(reader *r, char c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) return r->p++, true;
    return false;
}

static int hex4(reader *r)
{
    if (r->end - r->p < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char h = *r->p++;
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned long c)
{
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xc0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3f)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xe0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3f)), o[2] = (char)(0x80 | (c & 0x3f)), 3;
    o[0] = (char)(0xf0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f)), o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* A string after its opening quote, malloc'ed (escapes never lengthen the text, so its length bounds it). */
static char *string_body(reader *r)
{
    const char *s = r->p;
    while (s < r->end && *s != '"') s += *s == '\\' ? 2 : 1;
    if (s >= r->end) return fail(r, "unterminated string"), NULL;
    char *out = malloc((size_t)(s - r->p) + 1), *o = out;
    if (!out) return fail(r, "out of memory"), NULL;
    while (*r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;
        if (c < 0x20) return free(out), fail(r, "control character in a string"), NULL;
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = *r->p++;
        const char *plain = strchr("\"\\/bfnrt", e);
        if (plain && e) {
            *o++ = "\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u') return free(out), fail(r, "unknown escape in a string"), NULL;
        long c1 = hex4(r);
        if (c1 < 0) return free(out), fail(r, "bad \\u escape"), NULL;
        if (c1 >= 0xd800 && c1 < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
            r->p += 2;
            long c2 = hex4(r);
            if (c2 < 0xdc00 || c2 > 0xdfff) return free(out), fail(r, "bad surrogate pair"), NULL;
            c1 = 0x10000 + ((c1 - 0xd800) << 10) + (c2 - 0xdc00);
        }
        o += put_utf8(o, (unsigned long)c1);
    }
    r->p++;
    *o = '\0';
    return out;
}

static bool push(cf_jv *v, cf_jv *item, char *key)
{
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 8;
        cf_jv **ni = realloc(v->items, (size_t)cap * sizeof *ni);
        if (ni) v->items = ni;
        char **nk = v->type == CF_JV_OBJECT ? realloc(v->keys, (size_t)cap * sizeof *nk) : NULL;
        if (nk) v->keys = nk;
        if (!ni || (v->type == CF_JV_OBJECT && !nk)) return false;
        v->cap = cap;
    }
    v->items[v->n] = item;
    if (v->type == CF_JV_OBJECT) v->keys[v->n] = key;
    v->n++;
    return true;
}

static cf_jv *value(reader *r, int depth);

static cf_jv *container(reader *r, cf_jv *v, int depth)
{
    char close = v->type == CF_JV_OBJECT ? '}' : ']';
    if (eat(r, close)) return v;
    do {
        char *key = NULL;
        if (v->type == CF_JV_OBJECT) {
            if (!eat(r, '"')) return cf_jv_free(v), fail(r, "expected a member name");
            if (!(key = string_body(r))) return cf_jv_free(v), NULL;
            if (!eat(r, ':')) return free(key), cf_jv_free(v), fail(r, "expected ':'");
        }
        cf_jv *item = value(r, depth + 1);
        if (!item || !push(v, item, key)) {
            free(key);
            cf_jv_free(item);
            cf_jv_free(v);
            return fail(r, "out of memory");
        }
    } while (eat(r, ','));
    if (eat(r, close)) return v;
    cf_jv_free(v);
    return fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static cf_jv *value(reader *r, int depth)
{
    if (depth > CF_JV_MAX_DEPTH) return fail(r, "nesting too deep");
    skip_ws(r);
    if (r->p >= r->end) return fail(r, "unexpected end");
    cf_jv *v = calloc(1, sizeof *v);
    if (!v) return fail(r, "out of memory");
    char c = *r->p;
    static const struct {
        const char *word;
        cf_jv_type type;
        bool b;
    } words[] = {{"true", CF_JV_BOOL, true}, {"false", CF_JV_BOOL, false}, {"null", CF_JV_NULL, false}};
    for (size_t i = 0; i < 3; i++) {
        size_t len = strlen(words[i].word);
        if ((size_t)(r->end - r->p) >= len && memcmp(r->p, words[i].word, len) == 0) {
            r->p += len;
            v->type = words[i].type, v->b = words[i].b;
            return v;
        }
    }
    if (c == '{' || c == '[') {
        r->p++;
        v->type = c == '{' ? CF_JV_OBJECT : CF_JV_ARRAY;
        return container(r, v, depth);
    }
    if (c == '"') {
        r->p++;
        v->type = CF_JV_STRING;
        if (!(v->str = string_body(r))) return free(v), NULL;
        return v;
    }
    /* a number: JSON's grammar, checked before strtod (which also takes hex, inf, nan) */
    const char *s = r->p;
    if (r->p < r->end && *r->p == '-') r->p++;
    const char *digits = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    bool ok = r->p > digits && !(*digits == '0' && r->p - digits > 1);
    if (ok && r->p < r->end && *r->p == '.') {
        const char *f = ++r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
        ok = r->p > f;
    }
    if (ok && r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        const char *e = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
        ok = r->p > e;
    }
    if (!ok) return free(v), r->p = s, fail(r, "expected a value");
    char buf[64];
    size_t len = (size_t)(r->p - s);
    if (len >= sizeof buf) return free(v), r->p = s, fail(r, "number too long");
    memcpy(buf, s, len), buf[len] = '\0';
    v->type = CF_JV_NUMBER, v->num = strtod(buf, NULL);
    return v;
}

cf_jv *cf_jv_parse(const char *text, size_t n, const char *what)
{
    reader r = {text, text, text + n, what ? what : "<json>", false};
    if (n > CF_JV_MAX_BYTES) return fail(&r, "text too large");
    cf_jv *v = value(&r, 0);
    if (!v) return NULL;
    skip_ws(&r);
    if (r.p != r.end) return cf_jv_free(v), fail(&r, "trailing bytes after the document");
    return v;
}

cf_jv *cf_jv_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            char *nb = cap <= CF_JV_MAX_BYTES + 1 ? realloc(buf, cap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                cf_set_error(CF_ERR_FORMAT, "%s: larger than %zu bytes or out of memory", path, CF_JV_MAX_BYTES);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool err = ferror(f);
    fclose(f);
    cf_jv *v = NULL;
    if (err) cf_set_error(CF_ERR_IO, "%s: read error", path);
    else v = cf_jv_parse(buf, n, path);
    free(buf);
    return v;
}

void cf_jv_free(cf_jv *v)
{
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        cf_jv_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

cf_jv_type cf_jv_kind(const cf_jv *v) { return v ? v->type : CF_JV_NULL; }
int cf_jv_len(const cf_jv *v) { return v && (v->type == CF_JV_ARRAY || v->type == CF_JV_OBJECT) ? v->n : 0; }
const cf_jv *cf_jv_at(const cf_jv *v, int i) { return i >= 0 && i < cf_jv_len(v) ? v->items[i] : NULL; }
const char *cf_jv_key_at(const cf_jv *v, int i)
{
    return v && v->type == CF_JV_OBJECT && i >= 0 && i < v->n ? v->keys[i] : NULL;
}

const cf_jv *cf_jv_get(const cf_jv *v, const char *key)
{
    if (!v || v->type != CF_JV_OBJECT || !key) return NULL;
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) return v->items[i];
    return NULL;
}

const char *cf_jv_str(const cf_jv *v) { return v && v->type == CF_JV_STRING ? v->str : NULL; }

bool cf_jv_number(const cf_jv *v, double *out)
{
    if (!v || v->type != CF_JV_NUMBER) return false;
    *out = v->num;
    return true;
}

bool cf_jv_bool(const cf_jv *v, bool *out)
{
    if (!v || v->type != CF_JV_BOOL) return false;
    *out = v->b;
    return true;
}
