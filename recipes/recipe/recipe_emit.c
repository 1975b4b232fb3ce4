/* The resolved recipe: what the program actually read, as YAML that reads back to the same values. It is
 * printed at the start of a run, stored in checkpoints and hashed to compare ranks, so its form must be
 * stable: sections in a fixed order, keys sorted, floats in shortest round-trip form. */
#include "recipes/recipe/recipe_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap) cap *= 2;
        char *t = realloc(b->p, cap);
        if (!t) {
            b->oom = true;
            return;
        }
        b->p = t;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* Shortest "%.Ng" that reads back to the same double, written so that YAML 1.1 readers (PyYAML) also
 * see a float: a mantissa with a dot ("1.0e-05", "3.0"), and .inf/.nan spelt the YAML way. */
static void put_float(sbuf *b, double v)
{
    if (isnan(v)) {
        puts_(b, ".nan");
        return;
    }
    if (isinf(v)) {
        puts_(b, v < 0 ? "-.inf" : ".inf");
        return;
    }
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    char *e = strchr(buf, 'e');
    if (!strchr(buf, '.')) {
        char out[72];
        if (e)
            snprintf(out, sizeof out, "%.*s.0%s", (int)(e - buf), buf, e);
        else
            snprintf(out, sizeof out, "%s.0", buf);
        puts_(b, out);
        return;
    }
    puts_(b, buf);
}

/* A string may go unquoted when it is plain path-like text that no YAML reader would take for a number,
 * a boolean or null (YAML 1.1 words included, for PyYAML) ("transformer", "data/train.bin"); everything else is double-quoted. */
static bool plain_ok(const char *s)
{
    if (!s[0]) return false;
    unsigned char c0 = (unsigned char)s[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_' || c0 == '/')) return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.' || c == '/' || c == '+';
        if (!ok) return false;
    }
    static const char *const words[] = {"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "true", "True",
                                        "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
                                        "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0) return false;
    /* No YAML number starts with a letter, '_' or '/', so nothing else can be misread. */
    return true;
}

static void put_str(sbuf *b, const char *s)
{
    if (plain_ok(s)) {
        puts_(b, s);
        return;
    }
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\t': puts_(b, "\\t"); break;
        case '\r': puts_(b, "\\r"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(esc, sizeof esc, "\\x%02X", *p);
                puts_(b, esc);
            } else {
                put(b, (const char *)p, 1);
            }
        }
    }
    put(b, "\"", 1);
}

static void put_value(sbuf *b, const rdecl *d)
{
    char buf[32];
    switch (d->type) {
    case RT_INT:
        snprintf(buf, sizeof buf, "%" PRId64, d->i);
        puts_(b, buf);
        return;
    case RT_FLOAT: put_float(b, d->f); return;
    case RT_BOOL: puts_(b, d->b ? "true" : "false"); return;
    case RT_STR: put_str(b, d->s); return;
    default: break;
    }
    put(b, "[", 1);
    for (int i = 0; i < d->n; i++) {
        if (i) puts_(b, ", ");
        if (d->type == RT_INT_LIST) {
            snprintf(buf, sizeof buf, "%" PRId64, d->il[i]);
            puts_(b, buf);
        } else if (d->type == RT_FLOAT_LIST) {
            put_float(b, d->fl[i]);
        } else {
            put_str(b, d->sl[i]);
        }
    }
    put(b, "]", 1);
}

static int by_key(const void *a, const void *b)
{
    return strcmp((*(const rdecl *const *)a)->key, (*(const rdecl *const *)b)->key);
}

char *cf_recipe_resolved(const cf_recipe *r)
{
    if (!r) {
        cf_set_error(CF_ERR_ARG, "cf_recipe_resolved: no recipe");
        return NULL;
    }
    sbuf b = {0};
    puts_(&b, ""); /* an empty recipe is "", not NULL */
    /* Keys go through put_str too: a key named "yes" or "2d" is quoted so YAML 1.1 readers keep it a
     * string; names hold no characters that need escaping. */
    const rdecl **order = r->ndecls ? malloc((size_t)r->ndecls * sizeof *order) : NULL;
    if (r->ndecls && !order) b.oom = true;
    for (int s = 0; s < CF_RECIPE_NSECTIONS && !b.oom; s++) {
        const char *sec = cf_recipe_sections[s];
        size_t sl = strlen(sec);
        int n = 0;
        for (int i = 0; i < r->ndecls; i++) {
            const rdecl *d = &r->decls[i];
            if (d->has_value && strncmp(d->key, sec, sl) == 0 && d->key[sl] == '.') order[n++] = d;
        }
        if (!n) continue;
        /* Sorting keeps each sub-config's keys together: they share the prefix "sub.". */
        qsort(order, (size_t)n, sizeof *order, by_key);
        puts_(&b, sec);
        puts_(&b, ":\n");
        const char *open = NULL; /* the sub-config being written, as "sub." */
        size_t open_len = 0;
        for (int i = 0; i < n; i++) {
            const char *rest = order[i]->key + sl + 1, *dot = strchr(rest, '.');
            if (dot) {
                size_t l = (size_t)(dot - rest) + 1;
                if (!open || open_len != l || strncmp(open, rest, l) != 0) {
                    char sub[CF_RECIPE_NAME_MAX + 1];
                    snprintf(sub, sizeof sub, "%.*s", (int)(l - 1), rest);
                    puts_(&b, "  ");
                    put_str(&b, sub);
                    puts_(&b, ":\n");
                    open = rest;
                    open_len = l;
                }
                puts_(&b, "    ");
                put_str(&b, dot + 1);
            } else {
                open = NULL;
                puts_(&b, "  ");
                put_str(&b, rest);
            }
            puts_(&b, ": ");
            put_value(&b, order[i]);
            puts_(&b, "\n");
        }
    }
    free(order);
    if (b.oom) {
        free(b.p);
        cf_set_error(CF_ERR_OOM, "out of memory writing the resolved recipe");
        return NULL;
    }
    return b.p;
}

uint64_t cf_recipe_hash(const cf_recipe *r)
{
    char *text = cf_recipe_resolved(r);
    if (!text) return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    free(text);
    return h;
}
