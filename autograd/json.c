#include "autograd/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put(cf_json *j, const char *s, size_t n)
{
    if (j->af) cf_atomic_write(j->af, s, n); /* a failure is sticky: cf_json_commit reports it */
    else if (j->f) fwrite(s, 1, n, j->f);
}

static void puts_(cf_json *j, const char *s) { put(j, s, strlen(s)); }

void cf_json_init(cf_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

cf_status cf_json_open(cf_json *j, const char *path)
{
    memset(j, 0, sizeof *j);
    j->af = cf_atomic_open(path);
    return j->af ? CF_OK : cf_last_status();
}

bool cf_json_ok(const cf_json *j) { return !j->bad && j->done; }

void cf_json_abort(cf_json *j)
{
    cf_atomic_abort(j->af);
    j->af = NULL;
}

cf_status cf_json_commit(cf_json *j)
{
    if (!j->af) return cf_set_error(CF_ERR_ARG, "cf_json_commit: no file open");
    if (!cf_json_ok(j)) {
        cf_status st = cf_set_error(CF_ERR_INTERNAL, "%s: the JSON document is %s; nothing written",
                                    cf_atomic_path(j->af), j->bad ? "malformed" : "incomplete");
        cf_json_abort(j);
        return st;
    }
    put(j, "\n", 1);
    cf_status st = cf_atomic_commit(j->af);
    j->af = NULL;
    return st;
}

/* Before any value: the separator, and the grammar check (a value is due at the top, after a key, or in
 * an array). */
static void before_value(cf_json *j)
{
    if (j->done) j->bad = true;
    if (j->depth == 0) return;
    if (j->kind[j->depth - 1] == '{') {
        if (!j->want_value) j->bad = true;
        j->want_value = false;
        return;
    }
    if (!j->first[j->depth - 1]) puts_(j, ", ");
    j->first[j->depth - 1] = false;
}

static void after_value(cf_json *j)
{
    if (j->depth == 0) j->done = true;
}

static void open_(cf_json *j, char kind)
{
    before_value(j);
    if (j->depth == CF_JSON_MAX_DEPTH) {
        j->bad = true;
        return;
    }
    j->kind[j->depth] = kind;
    j->first[j->depth] = true;
    j->depth++;
    put(j, &kind, 1);
}

void cf_json_object(cf_json *j) { open_(j, '{'); }
void cf_json_array(cf_json *j) { open_(j, '['); }

void cf_json_end(cf_json *j)
{
    if (j->depth == 0 || j->want_value) {
        j->bad = true;
        return;
    }
    j->depth--;
    put(j, j->kind[j->depth] == '{' ? "}" : "]", 1);
    after_value(j);
}

static void string_(cf_json *j, const char *s)
{
    put(j, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(j, run, (size_t)(s - run));
        run = s + 1;
        char esc[8];
        switch (c) {
        case '"': puts_(j, "\\\""); break;
        case '\\': puts_(j, "\\\\"); break;
        case '\n': puts_(j, "\\n"); break;
        case '\t': puts_(j, "\\t"); break;
        case '\r': puts_(j, "\\r"); break;
        case '\b': puts_(j, "\\b"); break;
        case '\f': puts_(j, "\\f"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(j, esc);
        }
    }
    put(j, run, (size_t)(s - run));
    put(j, "\"", 1);
}

void cf_json_key(cf_json *j, const char *key)
{
    if (j->depth == 0 || j->kind[j->depth - 1] != '{' || j->want_value || !key) {
        j->bad = true;
        return;
    }
    if (!j->first[j->depth - 1]) puts_(j, ", ");
    j->first[j->depth - 1] = false;
    string_(j, key);
    puts_(j, ": ");
    j->want_value = true;
}

int cf_json_format_number(char *buf, size_t n, double v)
{
    if (!isfinite(v)) return snprintf(buf, n, "null"); /* JSON has no NaN or infinity */
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) { /* 15 digits always read back exactly when they are enough */
        len = snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return len;
}

/* A number or literal: separator, text, and the top-level value completed when at depth 0. */
static void scalar(cf_json *j, const char *text, size_t n)
{
    before_value(j);
    put(j, text, n);
    after_value(j);
}

void cf_json_number(cf_json *j, double v)
{
    char buf[40];
    scalar(j, buf, (size_t)cf_json_format_number(buf, sizeof buf, v));
}

void cf_json_int(cf_json *j, int64_t v)
{
    char buf[32];
    scalar(j, buf, (size_t)snprintf(buf, sizeof buf, "%" PRId64, v));
}

void cf_json_bool(cf_json *j, bool v) { scalar(j, v ? "true" : "false", v ? 4 : 5); }
void cf_json_null(cf_json *j) { scalar(j, "null", 4); }

void cf_json_string(cf_json *j, const char *s)
{
    if (!s) {
        cf_json_null(j);
        return;
    }
    before_value(j);
    string_(j, s);
    after_value(j);
}

void cf_json_kv_number(cf_json *j, const char *key, double v) { cf_json_key(j, key), cf_json_number(j, v); }
void cf_json_kv_int(cf_json *j, const char *key, int64_t v) { cf_json_key(j, key), cf_json_int(j, v); }
void cf_json_kv_string(cf_json *j, const char *key, const char *s) { cf_json_key(j, key), cf_json_string(j, s); }
