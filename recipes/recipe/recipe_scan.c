/* Recipe lexical rules: section and key names, reading scalars as numbers and booleans, and the edit
 * distance behind "did you mean". Kept apart so the parser, the getters and the emitter agree on them. */
#include "recipes/recipe/recipe_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const cf_recipe_sections[CF_RECIPE_NSECTIONS] = {CF_RECIPE_SECTIONS};

int cf_recipe_section_index(const char *name, size_t len)
{
    for (int i = 0; i < CF_RECIPE_NSECTIONS; i++)
        if (strlen(cf_recipe_sections[i]) == len && memcmp(cf_recipe_sections[i], name, len) == 0) return i;
    return -1;
}

bool cf_recipe_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > CF_RECIPE_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '_' || c == '-')) return false;
    }
    return true;
}

bool cf_recipe_key_ok(const char *key)
{
    if (!key) return false;
    const char *dot = strchr(key, '.');
    if (!dot || cf_recipe_section_index(key, (size_t)(dot - key)) < 0) return false;
    const char *rest = dot + 1, *dot2 = strchr(rest, '.');
    if (!dot2) return cf_recipe_name_ok(rest, strlen(rest));
    const char *leaf = dot2 + 1;
    return cf_recipe_name_ok(rest, (size_t)(dot2 - rest)) && !strchr(leaf, '.') &&
           cf_recipe_name_ok(leaf, strlen(leaf));
}

/* Optimal string alignment: Levenshtein plus adjacent transpositions ("stpes" is one edit from
 * "steps"), which is what typing mistakes look like. Names are short; longer ones are never close. */
static int osa_distance(const char *a, size_t la, const char *b, size_t lb)
{
    enum { MAXN = 128 };
    if (la >= MAXN || lb >= MAXN) return 1 << 20;
    int rows[3][MAXN + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d) d = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* Close means at most a third of the longer name changed (at least one edit allowed), and not the
 * whole of the shorter one: "lrr" -> "lr", "batchsize" -> "batch_size", but never "x" -> "y". */
static bool close_n(const char *a, size_t la, const char *b, size_t lb, int *dist)
{
    size_t longer = la > lb ? la : lb, shorter = la < lb ? la : lb;
    int limit = (int)(longer / 3);
    if (limit < 1) limit = 1;
    int d = osa_distance(a, la, b, lb);
    if (dist) *dist = d;
    return d <= limit && (size_t)d < shorter;
}

bool cf_recipe_close(const char *a, const char *b, int *dist)
{
    return close_n(a, strlen(a), b, strlen(b), dist);
}

const char *cf_recipe_suggest_section(const char *name, size_t len)
{
    const char *best = NULL;
    int bestd = 1 << 20;
    for (int i = 0; i < CF_RECIPE_NSECTIONS; i++) {
        int d;
        const char *s = cf_recipe_sections[i];
        if (close_n(name, len, s, strlen(s), &d) && d < bestd) {
            best = s;
            bestd = d;
        }
    }
    return best;
}

bool cf_recipe_is_null(const rscalar *s)
{
    if (s->quoted) return false;
    const char *t = s->text;
    return t[0] == '\0' || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
           strcmp(t, "NULL") == 0;
}

/* Copies s without YAML 1.1 digit separators ("1_000_000"); false when it does not fit. */
static bool strip_underscores(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '_') continue;
        if (n + 1 >= cap) return false;
        out[n++] = *s;
    }
    out[n] = '\0';
    return n > 0;
}

bool cf_recipe_scan_float(const char *s, double *out)
{
    static const char *const inf[] = {".inf", ".Inf", ".INF"}, *const nan_[] = {".nan", ".NaN", ".NAN"};
    const char *u = (s[0] == '+' || s[0] == '-') ? s + 1 : s;
    for (int i = 0; i < 3; i++) {
        if (strcmp(u, inf[i]) == 0) {
            *out = s[0] == '-' ? -INFINITY : INFINITY;
            return true;
        }
        if (strcmp(s, nan_[i]) == 0) {
            *out = NAN;
            return true;
        }
    }
    char buf[128], *end;
    if (!strip_underscores(s, buf, sizeof buf) || isspace((unsigned char)buf[0])) return false;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0') return false;
    /* Underflow to a denormal or zero is a value; overflow is not. */
    if (errno == ERANGE && isinf(v)) return false;
    *out = v;
    return true;
}

bool cf_recipe_scan_int(const char *s, int64_t *out)
{
    char buf[128], *end;
    if (!strip_underscores(s, buf, sizeof buf)) return false;
    const char *p = buf;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        if (!isxdigit((unsigned char)p[2])) return false;
        errno = 0;
        unsigned long long u = strtoull(p + 2, &end, 16);
        if (*end != '\0' || errno == ERANGE) return false;
        if (!neg && u > (unsigned long long)INT64_MAX) return false;
        if (neg && u > (unsigned long long)INT64_MAX + 1ull) return false;
        *out = neg ? (int64_t)(0 - u) : (int64_t)u;
        return true;
    }
    bool digits = *p != '\0';
    for (const char *q = p; *q; q++) digits = digits && isdigit((unsigned char)*q);
    if (digits) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (*end != '\0' || errno == ERANGE) return false;
        *out = (int64_t)v;
        return true;
    }
    /* "1e6" and "2.0" are integers written as floats; accept them when exact. */
    double d;
    if (!cf_recipe_scan_float(s, &d) || !isfinite(d) || d != floor(d)) return false;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
    *out = (int64_t)d;
    return true;
}

bool cf_recipe_scan_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}
