/* The recipe language's resource limits (recipe.h, "Limits"), checked on libyaml's event stream before
 * any document tree is built: nesting depth, values, text and keys with aliases expanded, anchors and
 * aliases. The walk stops at the first event past a limit, so a hostile text costs time and memory in
 * proportion to the limits, not to its size or to what its aliases would expand to.
 *
 * Bookkeeping: every open collection is a frame that sums what is inside it; when an anchored node ends,
 * its sums and its height (levels of nesting inside it) are recorded under the anchor's name, and each
 * alias adds the recorded sums again and reaches its anchor's height below the alias's own depth. */
#include "recipes/recipe/recipe_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    int64_t values, bytes, keys;
} amount;

typedef struct {
    char *name;
    amount a;
    int height; /* 0 for a scalar, 1 + the highest child for a collection */
} anchor;

typedef struct {
    bool mapping;
    int64_t children; /* nodes so far; in a mapping the even ones are keys */
    amount a;         /* everything inside, aliases expanded */
    int height;       /* 1 + the highest child so far */
    char *anchor;     /* owned; NULL when the collection has none */
} frame;

typedef struct {
    const char *name; /* the file's name; NULL for a --set value */
    size_t line, col; /* of the current event, 1-based */
    amount total;
    frame stack[CF_RECIPE_MAX_DEPTH + 1];
    int depth;
    anchor anchors[CF_RECIPE_MAX_ANCHORS];
    int nanchors, naliases;
} guard;

/* Puts "file:line: " (a --set value: "column N: ") before the error just set; returns CF_ERR_FORMAT. */
static cf_status locate(const guard *g)
{
    if (g->name) cf_error_prefix("%s:%zu: ", g->name, g->line);
    else cf_error_prefix("column %zu: ", g->col); /* cf_recipe_set adds "--set: key: " */
    return CF_ERR_FORMAT;
}

/* The error for the current event going past a limit. */
#define OVER(g, ...) (cf_set_error(CF_ERR_FORMAT, __VA_ARGS__), locate(g))

/* Counts x into the whole text and into the innermost open collection; via names the alias that adds it.
 * Aliases count each time they are used. */
static cf_status add(guard *g, amount x, const char *via)
{
    g->total.values += x.values, g->total.bytes += x.bytes, g->total.keys += x.keys;
    if (g->depth > 0) {
        amount *a = &g->stack[g->depth].a;
        a->values += x.values, a->bytes += x.bytes, a->keys += x.keys;
    }
    const char *what = g->total.values > CF_RECIPE_MAX_VALUES ? "values"
                       : g->total.bytes > CF_RECIPE_MAX_BYTES     ? "bytes of values"
                       : g->total.keys > CF_RECIPE_MAX_KEYS       ? "keys"
                                                                  : NULL;
    if (!what) return CF_OK;
    int limit = what[0] == 'v' ? CF_RECIPE_MAX_VALUES : what[0] == 'b' ? CF_RECIPE_MAX_BYTES : CF_RECIPE_MAX_KEYS;
    if (via) return OVER(g, "alias *%s expands the recipe past the limit of %d %s", via, limit, what);
    return OVER(g, "the recipe has more than the limit of %d %s", limit, what);
}

/* A node starts in the innermost collection: whether it stands where a mapping expects a key. */
static bool starts_key(guard *g)
{
    if (g->depth == 0) return false;
    frame *f = &g->stack[g->depth];
    return f->mapping && f->children++ % 2 == 0;
}

static void child_height(guard *g, int h)
{
    if (g->depth > 0 && h + 1 > g->stack[g->depth].height) g->stack[g->depth].height = h + 1;
}

static cf_status define(guard *g, const yaml_char_t *name, amount a, int height)
{
    if (!name) return CF_OK;
    if (g->nanchors == CF_RECIPE_MAX_ANCHORS)
        return OVER(g, "anchor &%s is past the limit of %d anchors", (const char *)name, CF_RECIPE_MAX_ANCHORS);
    anchor *an = &g->anchors[g->nanchors];
    if (!(an->name = strdup((const char *)name))) return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
    an->a = a, an->height = height;
    g->nanchors++;
    return CF_OK;
}

static const anchor *find(const guard *g, const char *name)
{
    for (int i = g->nanchors - 1; i >= 0; i--) /* the latest definition wins */
        if (strcmp(g->anchors[i].name, name) == 0) return &g->anchors[i];
    return NULL;
}

static cf_status on_event(guard *g, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        amount x = {1, (int64_t)ev->data.scalar.length, starts_key(g)};
        child_height(g, 0);
        cf_status st = add(g, x, NULL);
        return st != CF_OK ? st : define(g, ev->data.scalar.anchor, (amount){1, x.bytes, 0}, 0);
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        bool key = starts_key(g);
        if (++g->naliases > CF_RECIPE_MAX_ALIASES)
            return OVER(g, "alias *%s is past the limit of %d aliases", name, CF_RECIPE_MAX_ALIASES);
        const anchor *an = find(g, name);
        if (!an) return CF_OK; /* undefined: the loader reports it */
        if (g->depth + an->height > CF_RECIPE_MAX_DEPTH)
            return OVER(g, "alias *%s nests past the limit of %d levels (a recipe holds sections, one level of "
                        "sub-configs and flat lists)", name, CF_RECIPE_MAX_DEPTH);
        child_height(g, an->height);
        amount x = an->a;
        x.keys += key;
        return add(g, x, name);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool key = starts_key(g);
        if (g->depth == CF_RECIPE_MAX_DEPTH)
            return OVER(g, "nesting past the limit of %d levels (a recipe holds sections, one level of sub-configs "
                        "and flat lists)", CF_RECIPE_MAX_DEPTH);
        cf_status st = add(g, (amount){0, 0, key}, NULL);
        if (st != CF_OK) return st;
        const yaml_char_t *name = ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.anchor
                                                                       : ev->data.sequence_start.anchor;
        frame *f = &g->stack[++g->depth];
        *f = (frame){.mapping = ev->type == YAML_MAPPING_START_EVENT, .height = 1};
        if (name && !(f->anchor = strdup((const char *)name)))
            return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
        return CF_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        if (g->depth == 0) return CF_OK;
        frame f = g->stack[g->depth--];
        if (g->depth > 0) {
            amount *a = &g->stack[g->depth].a;
            a->values += f.a.values, a->bytes += f.a.bytes, a->keys += f.a.keys;
        }
        child_height(g, f.height);
        cf_status st = define(g, (const yaml_char_t *)f.anchor, f.a, f.height);
        free(f.anchor);
        return st;
    }
    default: return CF_OK;
    }
}

cf_status cf_recipe_check_limits(const char *text, size_t len, const char *name)
{
    if (len >= CF_RECIPE_MAX_BYTES)
        return cf_set_error(CF_ERR_FORMAT, "%s%s%zu bytes, past the limit of %d MiB for a recipe", name ? name : "",
                            name ? ": " : "", len, CF_RECIPE_MAX_BYTES >> 20);
    guard *g = calloc(1, sizeof *g);
    yaml_parser_t p;
    if (!g || !yaml_parser_initialize(&p)) {
        free(g);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory starting the YAML parser", name ? name : "--set");
    }
    g->name = name;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    cf_status st = CF_OK;
    for (bool end = false; st == CF_OK && !end;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) break; /* a syntax error: the loader stops there too and reports it */
        g->line = ev.start_mark.line + 1, g->col = ev.start_mark.column + 1;
        st = on_event(g, &ev);
        end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    for (int i = 1; i <= g->depth; i++) free(g->stack[i].anchor);
    for (int i = 0; i < g->nanchors; i++) free(g->anchors[i].name);
    free(g);
    return st;
}
