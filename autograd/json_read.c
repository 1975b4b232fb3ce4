/* The JSON reader: recursive descent over the text, members gathered on a scratch stack and copied into the
 * document's arena when their array or object closes. */
#include "autograd/json_read.h"

#include "autograd/fileio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

struct cf_json_doc {
    cf_jv root; /* first: a root pointer is its document's (cf_jv_free) */
    block *blocks;
};

typedef struct {
    const char *p, *end, *start;
    const char *what;
    int line;               /* the line of p: newlines occur only in whitespace (strings refuse them) */
    const char *line_start;
    cf_json_doc *doc;
    int depth;
    /* scratch stack of members of the arrays / objects being parsed */
    cf_jv *vals;
    const char **keys;
    size_t *key_lens;
    size_t nvals, capvals;
    /* scratch for one string being decoded */
    char *sbuf;
    size_t scap;
} parser;

static void *arena_alloc(cf_json_doc *d, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!d->blocks || d->blocks->cap - d->blocks->used < n) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        block *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = d->blocks, b->used = 0, b->cap = cap;
        d->blocks = b;
    }
    void *p = d->blocks->data + d->blocks->used;
    d->blocks->used += n;
    return p;
}

/* Sets the error at the parser's position; always returns false. */
static bool fail(parser *ps, const char *msg)
{
    cf_set_error(CF_ERR_FORMAT, "%s:%d:%d: %s", ps->what, ps->line, (int)(ps->p - ps->line_start) + 1, msg);
    return false;
}

static bool oom(parser *ps)
{
    cf_set_error(CF_ERR_OOM, "%s: out of memory reading JSON", ps->what);
    return false;
}

static void skip_ws(parser *ps)
{
    for (; ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'); ps->p++)
        if (*ps->p == '\n') ps->line++, ps->line_start = ps->p + 1;
}

static bool sbuf_put(parser *ps, size_t *n, const char *bytes, size_t k)
{
    if (*n + k + 1 > ps->scap) {
        size_t cap = ps->scap ? ps->scap : 256;
        while (cap < *n + k + 1) cap *= 2;
        char *b = realloc(ps->sbuf, cap);
        if (!b) return oom(ps);
        ps->sbuf = b, ps->scap = cap;
    }
    memcpy(ps->sbuf + *n, bytes, k);
    *n += k;
    return true;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the string at ps->p (its opening quote) into the arena. */
static bool parse_string(parser *ps, const char **out, size_t *out_len)
{
    ps->p++; /* the quote */
    size_t n = 0;
    for (;;) {
        const char *run = ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20) ps->p++;
        if (ps->p > run && !sbuf_put(ps, &n, run, (size_t)(ps->p - run))) return false;
        if (ps->p >= ps->end) return fail(ps, "unterminated string");
        char c = *ps->p;
        if (c == '"') break;
        if ((unsigned char)c < 0x20) return fail(ps, "control character in a string (escape it)");
        /* an escape */
        if (ps->end - ps->p < 2) return fail(ps, "unterminated escape");
        char e = ps->p[1], one;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            if (ps->end - ps->p < 6 || hex4(ps->p + 2) < 0) return fail(ps, "\\u needs four hex digits");
            uint32_t cp = (uint32_t)hex4(ps->p + 2);
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ps, "lone low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 12 || ps->p[6] != '\\' || ps->p[7] != 'u' || hex4(ps->p + 8) < 0xDC00 ||
                    hex4(ps->p + 8) > 0xDFFF)
                    return fail(ps, "high surrogate \\u escape not followed by a low surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(ps->p + 8) - 0xDC00);
                ps->p += 6;
            }
            char u[4];
            if (!sbuf_put(ps, &n, u, utf8_encode(cp, u))) return false;
            ps->p += 6;
            continue;
        }
        default: return fail(ps, "unknown escape in a string");
        }
        if (!sbuf_put(ps, &n, &one, 1)) return false;
        ps->p += 2;
    }
    ps->p++; /* the closing quote */
    char *s = arena_alloc(ps->doc, n + 1);
    if (!s) return oom(ps);
    if (n) memcpy(s, ps->sbuf, n);
    s[n] = 0;
    *out = s, *out_len = n;
    return true;
}

static bool parse_number(parser *ps, cf_jv *v)
{
    const char *s = ps->p, *q = s;
    if (q < ps->end && *q == '-') q++;
    if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "expected a value");
    if (*q == '0') q++;
    else
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    bool integer = true;
    if (q < ps->end && *q == '.') {
        integer = false, q++;
        if (q >= ps->end || *q < '0' || *q > '9') return ps->p = q, fail(ps, "digits expected after '.'");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integer = false, q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || *q < '0' || *q > '9') return ps->p = q, fail(ps, "digits expected in the exponent");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    char buf[64];
    size_t len = (size_t)(q - s);
    char *tmp = len < sizeof buf ? buf : malloc(len + 1);
    if (!tmp) return oom(ps);
    memcpy(tmp, s, len);
    tmp[len] = 0;
    errno = 0;
    v->type = CF_JSON_NUMBER;
    v->num = strtod(tmp, NULL);
    bool range = errno != ERANGE || fabs(v->num) < 1; /* underflow to 0 is fine */
    if (integer) {
        errno = 0;
        long long ll = strtoll(tmp, NULL, 10);
        v->is_int = errno != ERANGE;
        v->i = v->is_int ? (int64_t)ll : 0;
    }
    if (tmp != buf) free(tmp);
    if (!range || !isfinite(v->num)) return fail(ps, "number outside the range of a double");
    ps->p = q;
    return true;
}

static bool push_member(parser *ps, const cf_jv *v, const char *key, size_t key_len)
{
    if (ps->nvals == ps->capvals) {
        size_t cap = ps->capvals ? 2 * ps->capvals : 64;
        cf_jv *vals = realloc(ps->vals, cap * sizeof *vals);
        if (vals) ps->vals = vals;
        const char **keys = vals ? realloc(ps->keys, cap * sizeof *keys) : NULL;
        if (keys) ps->keys = keys;
        size_t *lens = keys ? realloc(ps->key_lens, cap * sizeof *lens) : NULL;
        if (!lens) return oom(ps);
        ps->key_lens = lens, ps->capvals = cap;
    }
    ps->vals[ps->nvals] = *v;
    ps->keys[ps->nvals] = key;
    ps->key_lens[ps->nvals] = key_len;
    ps->nvals++;
    return true;
}

/* Moves the members gathered since `base` into the arena as v's items (and keys). */
static bool close_container(parser *ps, cf_jv *v, size_t base, bool object)
{
    size_t n = ps->nvals - base;
    if (n > (size_t)INT32_MAX) return fail(ps, "more than 2^31 members");
    v->n = (int)n;
    if (n) {
        v->items = arena_alloc(ps->doc, n * sizeof *v->items);
        if (!v->items) return oom(ps);
        memcpy(v->items, ps->vals + base, n * sizeof *v->items);
        if (object) {
            v->keys = arena_alloc(ps->doc, n * sizeof *v->keys);
            v->key_lens = arena_alloc(ps->doc, n * sizeof *v->key_lens);
            if (!v->keys || !v->key_lens) return oom(ps);
            memcpy(v->keys, ps->keys + base, n * sizeof *v->keys);
            memcpy(v->key_lens, ps->key_lens + base, n * sizeof *v->key_lens);
        }
    }
    ps->nvals = base;
    return true;
}

static bool parse_value(parser *ps, cf_jv *v);

static bool parse_container(parser *ps, cf_jv *v, bool object)
{
    if (++ps->depth > CF_JSON_READ_MAX_DEPTH) return fail(ps, "nesting deeper than 256 levels");
    v->type = object ? CF_JSON_OBJECT : CF_JSON_ARRAY;
    char close = object ? '}' : ']';
    ps->p++;
    size_t base = ps->nvals;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            const char *key = NULL;
            size_t key_len = 0;
            skip_ws(ps);
            if (object) {
                if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key");
                if (!parse_string(ps, &key, &key_len)) return false;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != ':') return fail(ps, "expected ':' after a key");
                ps->p++;
            }
            cf_jv m;
            if (!parse_value(ps, &m) || !push_member(ps, &m, key, key_len)) return false;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                break;
            }
            return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    ps->depth--;
    return close_container(ps, v, base, object);
}

static bool literal(parser *ps, const char *word)
{
    size_t k = strlen(word);
    if ((size_t)(ps->end - ps->p) < k || memcmp(ps->p, word, k) != 0) return fail(ps, "expected a value");
    ps->p += k;
    return true;
}

static bool parse_value(parser *ps, cf_jv *v)
{
    memset(v, 0, sizeof *v);
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, "unexpected end of the text (a value is missing)");
    v->line = ps->line;
    switch (*ps->p) {
    case '{': return parse_container(ps, v, true);
    case '[': return parse_container(ps, v, false);
    case '"': v->type = CF_JSON_STRING; return parse_string(ps, &v->s, &v->len);
    case 't': v->type = CF_JSON_BOOL, v->b = true; return literal(ps, "true");
    case 'f': v->type = CF_JSON_BOOL; return literal(ps, "false");
    case 'n': v->type = CF_JSON_NULL; return literal(ps, "null");
    default: return parse_number(ps, v);
    }
}

void cf_json_doc_free(cf_json_doc *d)
{
    if (!d) return;
    for (block *b = d->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(d);
}

cf_json_doc *cf_json_parse(const char *text, size_t n, const char *what)
{
    if (!what) what = "(JSON)";
    if (!text && n) {
        cf_set_error(CF_ERR_ARG, "%s: NULL text", what);
        return NULL;
    }
    cf_json_doc *d = calloc(1, sizeof *d);
    if (!d) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", what);
        return NULL;
    }
    parser ps = {.p = text, .end = text + n, .start = text, .what = what, .line = 1, .line_start = text, .doc = d};
    bool ok = parse_value(&ps, &d->root);
    if (ok) {
        skip_ws(&ps);
        if (ps.p < ps.end) ok = fail(&ps, "unexpected text after the JSON value");
    }
    free(ps.vals);
    free(ps.keys);
    free(ps.key_lens);
    free(ps.sbuf);
    if (!ok) {
        cf_json_doc_free(d);
        return NULL;
    }
    return d;
}

cf_json_doc *cf_json_parse_file(const char *path, size_t max_bytes)
{
    size_t n = 0;
    char *buf = cf_read_file(path, max_bytes ? max_bytes : (size_t)1 << 30, &n);
    cf_json_doc *d = buf ? cf_json_parse(buf, n, path) : NULL;
    free(buf);
    return d;
}

const cf_jv *cf_json_root(const cf_json_doc *d) { return d ? &d->root : NULL; }

const cf_jv *cf_json_get(const cf_jv *obj, const char *key)
{
    if (!obj || obj->type != CF_JSON_OBJECT || !key) return NULL;
    size_t k = strlen(key);
    for (int i = 0; i < obj->n; i++)
        if (obj->key_lens[i] == k && memcmp(obj->keys[i], key, k) == 0) return &obj->items[i];
    return NULL;
}

const char *cf_json_type_name(cf_json_type t)
{
    static const char *names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

const cf_jv *cf_json_need(const cf_jv *obj, const char *key, cf_json_type type, const char *what)
{
    const cf_jv *v = cf_json_get(obj, key);
    if (!v) {
        cf_set_error(CF_ERR_FORMAT, "%s: \"%s\": missing", what ? what : "JSON", key);
        return NULL;
    }
    if (v->type != type) {
        cf_set_error(CF_ERR_FORMAT, "%s:%d: \"%s\": expected %s, found %s", what ? what : "JSON", v->line, key,
                     cf_json_type_name(type), cf_json_type_name(v->type));
        return NULL;
    }
    return v;
}

/* ---- accessors ---- */

/* The document's root is its first member, so a root pointer is the document's. */
cf_jv *cf_jv_parse(const char *text, size_t n, const char *what)
{
    if (n > CF_JV_MAX_BYTES) {
        cf_set_error(CF_ERR_FORMAT, "%s: %zu bytes, more than the %zu read as JSON", what ? what : "JSON", n, CF_JV_MAX_BYTES);
        return NULL;
    }
    cf_json_doc *d = cf_json_parse(text, n, what);
    return d ? &d->root : NULL;
}

cf_jv *cf_jv_read_file(const char *path)
{
    cf_json_doc *d = cf_json_parse_file(path, CF_JV_MAX_BYTES);
    return d ? &d->root : NULL;
}

void cf_jv_free(cf_jv *root) { cf_json_doc_free((cf_json_doc *)(void *)root); }

cf_jv_type cf_jv_kind(const cf_jv *v) { return v ? v->type : CF_JSON_NULL; }

int cf_jv_len(const cf_jv *v) { return v && (v->type == CF_JSON_ARRAY || v->type == CF_JSON_OBJECT) ? v->n : 0; }

const cf_jv *cf_jv_at(const cf_jv *v, int i) { return i >= 0 && i < cf_jv_len(v) ? &v->items[i] : NULL; }

const char *cf_jv_key_at(const cf_jv *v, int i)
{
    return v && v->type == CF_JSON_OBJECT && i >= 0 && i < v->n ? v->keys[i] : NULL;
}

const cf_jv *cf_jv_get(const cf_jv *v, const char *key) { return cf_json_get(v, key); }

const char *cf_jv_str(const cf_jv *v) { return v && v->type == CF_JSON_STRING ? v->s : NULL; }

bool cf_jv_number(const cf_jv *v, double *out)
{
    if (!v || v->type != CF_JSON_NUMBER) return false;
    if (out) *out = v->num;
    return true;
}

bool cf_jv_bool(const cf_jv *v, bool *out)
{
    if (!v || v->type != CF_JSON_BOOL) return false;
    if (out) *out = v->b;
    return true;
}
