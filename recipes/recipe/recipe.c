/* The recipe object: its keys, the typed getters that read and declare them, --set overrides, the sticky
 * error and the unknown-key check. Parsing is in recipe_yaml.c, the resolved text in recipe_emit.c. */
#include "recipes/recipe/recipe_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the object ---- */

cf_recipe *cf_recipe_new(const char *name)
{
    cf_recipe *r = calloc(1, sizeof *r);
    if (r) r->name = strdup(name ? name : "<recipe>");
    if (!r || !r->name) {
        free(r);
        cf_set_error(CF_ERR_OOM, "out of memory creating a recipe");
        return NULL;
    }
    return r;
}

static void decl_clear(rdecl *d)
{
    free(d->s);
    free(d->il);
    free(d->fl);
    for (int i = 0; d->sl && i < d->n; i++) free(d->sl[i]);
    free(d->sl);
    d->s = NULL;
    d->il = NULL;
    d->fl = NULL;
    d->sl = NULL;
    d->n = 0;
    d->has_value = false;
}

void cf_recipe_free(cf_recipe *r)
{
    if (!r) return;
    for (int i = 0; i < r->nentries; i++) {
        free(r->entries[i].key);
        cf_recipe_value_free(&r->entries[i].v);
    }
    for (int i = 0; i < r->ndecls; i++) {
        decl_clear(&r->decls[i]);
        free(r->decls[i].key);
    }
    free(r->entries);
    free(r->decls);
    free(r->base_dir);
    free(r->err);
    free(r->name);
    free(r);
}

const char *cf_recipe_name(const cf_recipe *r) { return r ? r->name : ""; }

rentry *cf_recipe_find(const cf_recipe *r, const char *key)
{
    for (int i = 0; i < r->nentries; i++)
        if (strcmp(r->entries[i].key, key) == 0) return &r->entries[i];
    return NULL;
}

rdecl *cf_recipe_find_decl(const cf_recipe *r, const char *key)
{
    for (int i = 0; i < r->ndecls; i++)
        if (strcmp(r->decls[i].key, key) == 0) return &r->decls[i];
    return NULL;
}

/* Formats a location: "file.yaml:12", "--set", or the file name alone for an absent key. */
static void where_text(const cf_recipe *r, const rentry *e, char *buf, size_t n)
{
    if (e && e->from_set)
        snprintf(buf, n, "--set");
    else if (e)
        snprintf(buf, n, "%s:%d", r->name, e->line);
    else
        snprintf(buf, n, "%s", r->name);
}

cf_status cf_recipe_add_entry(cf_recipe *r, const char *key, bool from_set, int line, rvalue *v)
{
    rentry *old = cf_recipe_find(r, key);
    if (old) /* the parser checks each mapping; this catches what reaches here another way */
        return cf_set_error(CF_ERR_FORMAT, "%s:%d: duplicate key '%s' (first at %s:%d)", r->name, line, key,
                            r->name, old->line);
    if (r->nentries == r->centries) {
        int cap = r->centries ? 2 * r->centries : 16;
        rentry *e = realloc(r->entries, (size_t)cap * sizeof *e);
        if (!e) return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
        r->entries = e;
        r->centries = cap;
    }
    rentry *e = &r->entries[r->nentries];
    memset(e, 0, sizeof *e);
    e->key = strdup(key);
    if (!e->key) return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
    e->from_set = from_set;
    e->line = line;
    e->v = *v;
    memset(v, 0, sizeof *v);
    r->nentries++;
    return CF_OK;
}

/* ---- the sticky error ---- */

static cf_status vstick(cf_recipe *r, cf_status st, const char *fmt, va_list ap)
{
    if (r->status == CF_OK) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (msg) vsnprintf(msg, (size_t)n + 1, fmt, ap);
        r->status = msg ? st : CF_ERR_OOM;
        r->err = msg;
    }
    cf_set_error(r->status, "%s", r->err ? r->err : "out of memory formatting a recipe error");
    return r->status;
}

static cf_status stick(cf_recipe *r, cf_status st, const char *fmt, ...) CF_PRINTF(3, 4);
static cf_status stick(cf_recipe *r, cf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_status s = vstick(r, st, fmt, ap);
    va_end(ap);
    return s;
}

cf_status cf_recipe_stick(cf_recipe *r, cf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cf_status s = vstick(r, st, fmt, ap);
    va_end(ap);
    return s;
}

void cf_recipe_where_text(const cf_recipe *r, const rentry *e, char *buf, size_t n) { where_text(r, e, buf, n); }

cf_status cf_recipe_status(const cf_recipe *r)
{
    if (!r) return cf_set_error(CF_ERR_ARG, "cf_recipe_status: no recipe");
    if (r->status != CF_OK) cf_set_error(r->status, "%s", r->err ? r->err : "out of memory");
    return r->status;
}

const char *cf_recipe_error(const cf_recipe *r)
{
    if (!r) return "no recipe";
    if (r->status == CF_OK) return "";
    return r->err ? r->err : "out of memory";
}

cf_status cf_recipe_fail(cf_recipe *r, const char *key, cf_status st, const char *fmt, ...)
{
    if (!r) return cf_set_error(CF_ERR_ARG, "cf_recipe_fail: no recipe");
    char loc[512], msg[1024];
    where_text(r, key ? cf_recipe_find(r, key) : NULL, loc, sizeof loc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return stick(r, st, "%s: %s%s%s", loc, key ? key : "", key ? ": " : "", msg);
}

/* ---- lookup and declaration ---- */

/* b starts with a and the next character of b is a dot: "model.attn" is the parent of "model.attn.x". */
static bool is_parent(const char *a, const char *b)
{
    size_t n = strlen(a);
    return strncmp(a, b, n) == 0 && b[n] == '.';
}

/* Finds the value a getter reads, checking the key and that a sub-config is not read as a value (or the
 * reverse). *bad is set (with a sticky error) when the getter must return its default. */
static rentry *lookup(cf_recipe *r, const char *key, bool mark, bool *bad)
{
    *bad = false;
    if (!cf_recipe_key_ok(key)) {
        *bad = true;
        stick(r, CF_ERR_ARG,
              "recipe key '%s' is not section.name or section.sub.name with a known section (model, data, "
              "optim, train, checkpoint, distributed, log) and names of [A-Za-z0-9_-]",
              key ? key : "(null)");
        return NULL;
    }
    rentry *found = NULL;
    for (int i = 0; i < r->nentries; i++) {
        rentry *e = &r->entries[i];
        char loc[512];
        if (strcmp(e->key, key) == 0) {
            found = e;
        } else if (is_parent(e->key, key)) {
            if (e->v.kind == RV_NULL) { /* "attn:" with nothing under it is an empty sub-config */
                if (mark) e->used = true;
                continue;
            }
            where_text(r, e, loc, sizeof loc);
            *bad = true;
            stick(r, CF_ERR_FORMAT, "%s: %s: expected a sub-config (mapping) holding %s, got a value", loc,
                  e->key, key);
            return NULL;
        } else if (is_parent(key, e->key)) {
            where_text(r, e, loc, sizeof loc);
            *bad = true;
            stick(r, CF_ERR_FORMAT, "%s: %s: expected a value, got a sub-config (holding %s)", loc, key, e->key);
            return NULL;
        }
    }
    if (found && mark) found->used = true;
    return found;
}

static rdecl *declare(cf_recipe *r, const char *key, rtype type)
{
    rdecl *d = cf_recipe_find_decl(r, key);
    if (!d) {
        for (int i = 0; i < r->ndecls; i++) {
            const char *k = r->decls[i].key;
            if (is_parent(k, key) || is_parent(key, k)) {
                stick(r, CF_ERR_ARG, "recipe keys '%s' and '%s' are both read: one cannot be a value and a sub-config",
                      k, key);
                return NULL;
            }
        }
        if (r->ndecls == r->cdecls) {
            int cap = r->cdecls ? 2 * r->cdecls : 32;
            rdecl *nd = realloc(r->decls, (size_t)cap * sizeof *nd);
            if (!nd) {
                stick(r, CF_ERR_OOM, "out of memory reading recipe key %s", key);
                return NULL;
            }
            r->decls = nd;
            r->cdecls = cap;
        }
        d = &r->decls[r->ndecls];
        memset(d, 0, sizeof *d);
        d->key = strdup(key);
        if (!d->key) {
            stick(r, CF_ERR_OOM, "out of memory reading recipe key %s", key);
            return NULL;
        }
        r->ndecls++;
    }
    /* Read again: the resolved recipe shows what the program got last. */
    decl_clear(d);
    d->type = type;
    return d;
}

/* How a value looked, for messages: "abc" or "[1, x]" (cut short when long). */
static void show_value(const rvalue *v, char *buf, size_t n)
{
    if (v->kind == RV_SCALAR) {
        snprintf(buf, n, "%s", v->s.text);
    } else if (v->kind == RV_LIST) {
        size_t len = 0;
        buf[0] = '\0';
        len += (size_t)snprintf(buf, n, "[");
        for (int i = 0; i < v->n && len < n; i++)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", v->items[i].text);
        if (len < n) snprintf(buf + len, n - len, "]");
    } else {
        snprintf(buf, n, "null");
    }
    if (strlen(buf) == n - 1 && n > 4) memcpy(buf + n - 4, "...", 4);
}

static void type_error(cf_recipe *r, const rentry *e, const char *key, const char *want)
{
    char loc[512], got[256];
    where_text(r, e, loc, sizeof loc);
    show_value(&e->v, got, sizeof got);
    stick(r, CF_ERR_FORMAT, "%s: %s: expected %s, got '%s'", loc, key, want, got);
}

/* Shared start of the scalar getters: the entry (NULL when absent or null) and the declaration. */
static bool scalar_start(cf_recipe *r, const char *key, rtype type, rentry **e, rdecl **d)
{
    if (!r) {
        cf_set_error(CF_ERR_ARG, "recipe getter for '%s': no recipe", key ? key : "(null)");
        return false;
    }
    bool bad;
    *e = lookup(r, key, true, &bad);
    if (bad) return false;
    *d = declare(r, key, type);
    if (!*d) return false;
    if (*e && (*e)->v.kind == RV_NULL) *e = NULL;
    return true;
}

int64_t cf_recipe_int(cf_recipe *r, const char *key, int64_t dflt)
{
    rentry *e;
    rdecl *d;
    if (!scalar_start(r, key, RT_INT, &e, &d)) return dflt;
    int64_t v = dflt;
    if (e && (e->v.kind != RV_SCALAR || !cf_recipe_scan_int(e->v.s.text, &v))) {
        type_error(r, e, key, "an integer");
        return dflt;
    }
    d->i = v;
    d->has_value = true;
    return v;
}

double cf_recipe_float(cf_recipe *r, const char *key, double dflt)
{
    rentry *e;
    rdecl *d;
    if (!scalar_start(r, key, RT_FLOAT, &e, &d)) return dflt;
    double v = dflt;
    if (e && (e->v.kind != RV_SCALAR || !cf_recipe_scan_float(e->v.s.text, &v))) {
        type_error(r, e, key, "a number");
        return dflt;
    }
    d->f = v;
    d->has_value = true;
    return v;
}

bool cf_recipe_bool(cf_recipe *r, const char *key, bool dflt)
{
    rentry *e;
    rdecl *d;
    if (!scalar_start(r, key, RT_BOOL, &e, &d)) return dflt;
    bool v = dflt;
    if (e && (e->v.kind != RV_SCALAR || !cf_recipe_scan_bool(e->v.s.text, &v))) {
        type_error(r, e, key, "a boolean (true or false)");
        return dflt;
    }
    d->b = v;
    d->has_value = true;
    return v;
}

const char *cf_recipe_str(cf_recipe *r, const char *key, const char *dflt)
{
    rentry *e;
    rdecl *d;
    if (!scalar_start(r, key, RT_STR, &e, &d)) return dflt;
    const char *v = dflt;
    if (e) {
        if (e->v.kind != RV_SCALAR) {
            type_error(r, e, key, "a string");
            return dflt;
        }
        v = e->v.s.text;
    }
    if (v) {
        d->s = strdup(v);
        if (!d->s) {
            stick(r, CF_ERR_OOM, "out of memory reading recipe key %s", key);
            return v;
        }
        d->has_value = true;
    }
    return v;
}

/* The items of a list value; a scalar is a one-item list. */
static const rscalar *list_items(const rentry *e, int *n)
{
    if (e->v.kind == RV_SCALAR) {
        *n = 1;
        return &e->v.s;
    }
    *n = e->v.n;
    return e->v.items;
}

static int list_get(cf_recipe *r, const char *key, rtype type, void *out, int max, const void *dflt, int ndflt)
{
    rentry *e;
    rdecl *d;
    if (r && (max < 0 || (max > 0 && !out) || ndflt < 0 || (ndflt > 0 && !dflt) || ndflt > max)) {
        stick(r, CF_ERR_ARG, "recipe key %s: bad list arguments (max %d, %d defaults)", key ? key : "(null)", max,
              ndflt);
        return -1;
    }
    if (!scalar_start(r, key, type, &e, &d)) return -1;
    const rscalar *items = NULL;
    int n = 0;
    if (e) {
        items = list_items(e, &n);
        if (n > max) {
            char loc[512];
            where_text(r, e, loc, sizeof loc);
            stick(r, CF_ERR_FORMAT, "%s: %s: expected at most %d values, got %d", loc, key, max, n);
            return -1;
        }
    } else if (type != RT_STR_LIST) {
        n = ndflt;
    }
    size_t esz = type == RT_INT_LIST ? sizeof(int64_t) : type == RT_FLOAT_LIST ? sizeof(double) : sizeof(char *);
    void *copy = n > 0 ? calloc((size_t)n, esz) : NULL;
    if (n > 0 && !copy) {
        stick(r, CF_ERR_OOM, "out of memory reading recipe key %s", key);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        bool ok = true;
        const char *want = "";
        if (type == RT_INT_LIST) {
            int64_t *v = (int64_t *)copy + i;
            if (e)
                ok = cf_recipe_scan_int(items[i].text, v), want = "an integer";
            else
                *v = ((const int64_t *)dflt)[i];
        } else if (type == RT_FLOAT_LIST) {
            double *v = (double *)copy + i;
            if (e)
                ok = cf_recipe_scan_float(items[i].text, v), want = "a number";
            else
                *v = ((const double *)dflt)[i];
        } else {
            char **v = (char **)copy + i;
            *v = strdup(items[i].text);
            if (!*v) {
                for (int j = 0; j < i; j++) free(((char **)copy)[j]);
                free(copy);
                stick(r, CF_ERR_OOM, "out of memory reading recipe key %s", key);
                return -1;
            }
        }
        if (!ok) {
            char loc[512];
            where_text(r, e, loc, sizeof loc);
            stick(r, CF_ERR_FORMAT, "%s: %s[%d]: expected %s, got '%s'", loc, key, i, want, items[i].text);
            free(copy);
            return -1;
        }
    }
    d->n = n;
    d->has_value = true;
    if (type == RT_INT_LIST) {
        d->il = copy;
        if (n) memcpy(out, copy, (size_t)n * esz);
    } else if (type == RT_FLOAT_LIST) {
        d->fl = copy;
        if (n) memcpy(out, copy, (size_t)n * esz);
    } else {
        d->sl = copy;
        for (int i = 0; i < n; i++) ((const char **)out)[i] = items[i].text;
    }
    return n;
}

int cf_recipe_int_list(cf_recipe *r, const char *key, int64_t *out, int max, const int64_t *dflt, int ndflt)
{
    return list_get(r, key, RT_INT_LIST, out, max, dflt, ndflt);
}

int cf_recipe_float_list(cf_recipe *r, const char *key, double *out, int max, const double *dflt, int ndflt)
{
    return list_get(r, key, RT_FLOAT_LIST, out, max, dflt, ndflt);
}

int cf_recipe_str_list(cf_recipe *r, const char *key, const char **out, int max)
{
    return list_get(r, key, RT_STR_LIST, (void *)out, max, NULL, 0);
}

/* ---- required keys and queries ---- */

bool cf_recipe_require(cf_recipe *r, const char *key)
{
    if (!r) {
        cf_set_error(CF_ERR_ARG, "cf_recipe_require: no recipe");
        return false;
    }
    bool bad;
    rentry *e = lookup(r, key, false, &bad);
    if (bad) return false;
    if (!e || e->v.kind == RV_NULL) {
        stick(r, CF_ERR_FORMAT, "%s: missing required key %s", r->name, key);
        return false;
    }
    return true;
}

/* A missing required key is still declared, so a misspelling of it gets "did you mean". */
static bool require_typed(cf_recipe *r, const char *key, rtype type)
{
    if (cf_recipe_require(r, key)) return true;
    if (r && cf_recipe_key_ok(key)) declare(r, key, type);
    return false;
}

int64_t cf_recipe_require_int(cf_recipe *r, const char *key)
{
    return require_typed(r, key, RT_INT) ? cf_recipe_int(r, key, 0) : 0;
}

double cf_recipe_require_float(cf_recipe *r, const char *key)
{
    return require_typed(r, key, RT_FLOAT) ? cf_recipe_float(r, key, 0.0) : 0.0;
}

bool cf_recipe_require_bool(cf_recipe *r, const char *key)
{
    return require_typed(r, key, RT_BOOL) ? cf_recipe_bool(r, key, false) : false;
}

const char *cf_recipe_require_str(cf_recipe *r, const char *key)
{
    return require_typed(r, key, RT_STR) ? cf_recipe_str(r, key, NULL) : NULL;
}

bool cf_recipe_has(const cf_recipe *r, const char *key)
{
    if (!r || !key) return false;
    for (int i = 0; i < r->nentries; i++) {
        const rentry *e = &r->entries[i];
        if (strcmp(e->key, key) == 0 && e->v.kind != RV_NULL) return true;
        if (is_parent(key, e->key)) return true; /* a section or sub-config with something in it */
    }
    return false;
}

bool cf_recipe_where(const cf_recipe *r, const char *key, const char **origin, int *line)
{
    const rentry *e = r && key ? cf_recipe_find(r, key) : NULL;
    if (origin) *origin = e ? (e->from_set ? "--set" : r->name) : (r ? r->name : "");
    if (line) *line = e ? e->line : 0;
    return e != NULL;
}

/* ---- overrides ---- */

cf_status cf_recipe_set(cf_recipe *r, const char *assignment)
{
    if (!r || !assignment) return cf_set_error(CF_ERR_ARG, "cf_recipe_set: no recipe or assignment");
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return cf_set_error(CF_ERR_ARG, "--set: expected section.key=value, got '%s'", assignment);
    const char *k0 = assignment, *k1 = eq;
    while (k0 < k1 && (*k0 == ' ' || *k0 == '\t')) k0++;
    while (k1 > k0 && (k1[-1] == ' ' || k1[-1] == '\t')) k1--;
    char key[256];
    if ((size_t)(k1 - k0) >= sizeof key) return cf_set_error(CF_ERR_ARG, "--set: key too long in '%s'", assignment);
    memcpy(key, k0, (size_t)(k1 - k0));
    key[k1 - k0] = '\0';
    if (!cf_recipe_key_ok(key)) {
        const char *dot = strchr(key, '.');
        size_t sl = dot ? (size_t)(dot - key) : strlen(key);
        if (cf_recipe_section_index(key, sl) < 0) {
            const char *s = cf_recipe_suggest_section(key, sl);
            return cf_set_error(CF_ERR_ARG, "--set: %s: unknown section '%.*s'%s%s%s", key, (int)sl, key,
                                s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        return cf_set_error(CF_ERR_ARG,
                            "--set: '%s' is not section.key or section.sub.key (names of [A-Za-z0-9_-])", key);
    }
    if (cf_recipe_find_decl(r, key))
        return cf_set_error(CF_ERR_STATE, "--set: %s: the program already read this key; apply --set before reading",
                            key);
    for (int i = 0; i < r->nentries; i++) {
        const rentry *e = &r->entries[i];
        char loc[512];
        where_text(r, e, loc, sizeof loc);
        if (is_parent(e->key, key) && e->v.kind != RV_NULL)
            return cf_set_error(CF_ERR_FORMAT, "--set: %s: %s is a value (%s), not a sub-config", key, e->key, loc);
        if (is_parent(key, e->key))
            return cf_set_error(CF_ERR_FORMAT, "--set: %s: is a sub-config (%s at %s); set its keys one by one", key,
                                e->key, loc);
    }
    rvalue v;
    if (cf_recipe_parse_value(eq + 1, &v) != CF_OK) {
        cf_error_prefix("--set: %s: ", key);
        return cf_last_status();
    }
    rentry *e = cf_recipe_find(r, key);
    if (e) {
        cf_recipe_value_free(&e->v);
        e->v = v;
        e->from_set = true;
        e->line = 0;
        e->used = false;
        return CF_OK;
    }
    cf_status st = cf_recipe_add_entry(r, key, true, 0, &v);
    cf_recipe_value_free(&v);
    return st;
}

/* ---- unknown keys ---- */

/* The declared key closest to an unknown one: first among the same section's keys, then the same name in
 * another section ("train.lr" -> "optim.lr"). */
static const char *suggest(const cf_recipe *r, const char *key)
{
    const char *dot = strchr(key, '.');
    size_t sl = (size_t)(dot - key);
    const char *best = NULL;
    int bestd = 1 << 20;
    for (int pass = 0; pass < 2 && !best; pass++) {
        for (int i = 0; i < r->ndecls; i++) {
            const char *k = r->decls[i].key, *kd = strchr(k, '.');
            bool same = (size_t)(kd - k) == sl && strncmp(k, key, sl) == 0;
            if (same != (pass == 0)) continue;
            int d;
            if (cf_recipe_close(dot + 1, kd + 1, &d) && d < bestd) {
                best = k;
                bestd = d;
            }
        }
    }
    return best;
}

/* Keys that moved: evaluation settings were spread over train.eval_*, model.eval.* and data.eval_split before
 * the eval section held them all. A from ending in '.' or '_' is a prefix (the rest of the key is kept). */
static const struct {
    const char *from, *to;
} moved_keys[] = {
    {"model.eval.batch", "eval.rows"}, {"data.eval_split", "eval.split"}, {"train.eval_", "eval."}, {"model.eval.", "eval."},
};

/* The key's new name when it moved (into buf), else NULL. */
static const char *moved_to(const char *key, char *buf, size_t n)
{
    for (size_t i = 0; i < sizeof moved_keys / sizeof moved_keys[0]; i++) {
        const char *from = moved_keys[i].from;
        size_t len = strlen(from);
        bool prefix = from[len - 1] == '.' || from[len - 1] == '_';
        if (prefix ? strncmp(key, from, len) == 0 : strcmp(key, from) == 0) {
            snprintf(buf, n, "%s%s", moved_keys[i].to, prefix ? key + len : "");
            return buf;
        }
    }
    return NULL;
}

cf_status cf_recipe_check_unknown(cf_recipe *r)
{
    if (!r) return cf_set_error(CF_ERR_ARG, "cf_recipe_check_unknown: no recipe");
    size_t cap = 256, len = 0;
    char *text = malloc(cap);
    if (!text) return stick(r, CF_ERR_OOM, "out of memory checking recipe keys");
    text[0] = '\0';
    int unknown = 0;
    for (int i = 0; i < r->nentries; i++) {
        const rentry *e = &r->entries[i];
        if (e->used) continue;
        char loc[512], line[1024];
        where_text(r, e, loc, sizeof loc);
        char mv[256];
        const char *to = moved_to(e->key, mv, sizeof mv), *s = to ? NULL : suggest(r, e->key);
        int n = to ? snprintf(line, sizeof line, "%s%s: unknown key '%s' (evaluation keys moved to the eval section: "
                              "write '%s')", unknown ? "\n" : "", loc, e->key, to)
                   : snprintf(line, sizeof line, "%s%s: unknown key '%s'%s%s%s", unknown ? "\n" : "", loc, e->key,
                              s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        if (n < 0) continue;
        if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
        if (len + (size_t)n + 1 > cap) {
            while (len + (size_t)n + 1 > cap) cap *= 2;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                return stick(r, CF_ERR_OOM, "out of memory checking recipe keys");
            }
            text = t;
        }
        memcpy(text + len, line, (size_t)n + 1);
        len += (size_t)n;
        unknown++;
    }
    if (!unknown || r->unknown_appended) {
        free(text);
        return r->status == CF_OK ? CF_OK : cf_recipe_status(r);
    }
    r->unknown_appended = true;
    if (r->status == CF_OK) {
        r->status = CF_ERR_FORMAT;
        r->err = text;
    } else {
        size_t ol = r->err ? strlen(r->err) : 0;
        char *t = realloc(r->err, ol + 1 + len + 1);
        if (t) {
            t[ol] = '\n';
            memcpy(t + ol + 1, text, len + 1);
            r->err = t;
        }
        free(text);
    }
    return cf_recipe_status(r);
}

/* ---- paths ---- */

cf_status cf_recipe_set_base_dir(cf_recipe *r, const char *dir)
{
    if (!r) return cf_set_error(CF_ERR_ARG, "cf_recipe_set_base_dir: no recipe");
    char *copy = dir ? strdup(dir) : NULL;
    if (dir && !copy) return cf_set_error(CF_ERR_OOM, "recipe: out of memory");
    free(r->base_dir);
    r->base_dir = copy;
    return CF_OK;
}

/* A relative path given with --set is relative to the working directory: made absolute here, and stored so in
 * the recipe (entry and declaration), so the resolved recipe a run saves -- and a later `cformer eval` of its
 * checkpoint, whose recipe resolves against the original file's folder -- names the same file. */
static const char *absolute_set_path(cf_recipe *r, const char *key, const char *value, char *buf, size_t n)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || (size_t)snprintf(buf, n, "%s/%s", cwd, value) >= n) return value;
    rentry *e = cf_recipe_find(r, key);
    rdecl *d = cf_recipe_find_decl(r, key);
    char *a = e && e->v.kind == RV_SCALAR ? strdup(buf) : NULL, *b = d && d->s ? strdup(buf) : NULL;
    if (a) free(e->v.s.text), e->v.s.text = a;
    if (b) free(d->s), d->s = b;
    return buf;
}

const char *cf_recipe_path(cf_recipe *r, const char *key, const char *value, char *buf, size_t n)
{
    const char *origin = NULL;
    int line = 0;
    if (!value || value[0] == '/' || !cf_recipe_where(r, key, &origin, &line) || !origin) return value;
    if (strcmp(origin, "--set") == 0) return absolute_set_path(r, key, value, buf, n);
    if (r->base_dir) {
        snprintf(buf, n, "%s/%s", r->base_dir, value);
        return buf;
    }
    const char *slash = strrchr(origin, '/');
    if (!slash) return value;
    snprintf(buf, n, "%.*s/%s", (int)(slash - origin), origin, value);
    return buf;
}
