/* Reading recipe YAML with libyaml: the document tree is walked into dotted keys, each with its line, and
 * every structural mistake (syntax, duplicates, unknown sections, too deep) fails here with file:line. */
#include "recipes/recipe/recipe_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

/* libyaml's own words, located: "f.yaml:4:3: did not find expected key (while parsing a block mapping
 * at line 2)". name NULL is a --set value, one line: only the column matters there. */
static void syntax_error(const char *name, const char *text, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory while parsing YAML", name ? name : "--set");
        return;
    }
    const char *problem = p->problem ? p->problem : "invalid YAML";
    size_t line = p->problem_mark.line, col = p->problem_mark.column;
    if (p->error == YAML_READER_ERROR) { /* bad encoding: libyaml knows the byte offset only */
        line = col = 0;
        for (size_t i = 0; i < p->problem_offset && text[i]; i++) {
            if (text[i] == '\n') {
                line++;
                col = 0;
            } else {
                col++;
            }
        }
    }
    char what[320];
    if (p->error == YAML_READER_ERROR && p->problem_value != -1)
        snprintf(what, sizeof what, "%s #%X", problem, (unsigned)p->problem_value);
    else
        snprintf(what, sizeof what, "%s", problem);
    if (!name) {
        char at[64];
        if (line > 0)
            snprintf(at, sizeof at, "at the end of the value");
        else
            snprintf(at, sizeof at, "at column %zu", col + 1);
        cf_set_error(CF_ERR_FORMAT, "%s %s%s%s%s", what, at, p->context ? " (" : "", p->context ? p->context : "",
                     p->context ? ")" : "");
    }
    else if (p->context)
        cf_set_error(CF_ERR_FORMAT, "%s:%zu:%zu: %s (%s at line %zu)", name, line + 1, col + 1, what, p->context,
                     p->context_mark.line + 1);
    else
        cf_set_error(CF_ERR_FORMAT, "%s:%zu:%zu: %s", name, line + 1, col + 1, what);
}

void cf_recipe_value_free(rvalue *v)
{
    free(v->s.text);
    for (int i = 0; i < v->n; i++) free(v->items[i].text);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a scalar";
    }
}

static cf_status scalar_copy(const yaml_node_t *n, rscalar *out, const char **bad)
{
    size_t len = n->data.scalar.length;
    if (memchr(n->data.scalar.value, '\0', len)) {
        *bad = "a string with a NUL character";
        return CF_ERR_FORMAT;
    }
    out->text = malloc(len + 1);
    if (!out->text) return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
    memcpy(out->text, n->data.scalar.value, len);
    out->text[len] = '\0';
    out->quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return CF_OK;
}

/* A scalar or a flat list of scalars. On CF_ERR_FORMAT, *bad says what the node was instead. */
static cf_status node_value(yaml_document_t *doc, yaml_node_t *node, rvalue *out, const char **bad)
{
    memset(out, 0, sizeof *out);
    *bad = NULL;
    if (node->type == YAML_SCALAR_NODE) {
        cf_status st = scalar_copy(node, &out->s, bad);
        if (st != CF_OK) return st;
        out->kind = cf_recipe_is_null(&out->s) ? RV_NULL : RV_SCALAR;
        if (out->kind == RV_NULL) {
            free(out->s.text);
            out->s.text = NULL;
        }
        return CF_OK;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        *bad = kind_name(node);
        return CF_ERR_FORMAT;
    }
    out->kind = RV_LIST;
    int n = (int)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > 0) {
        out->items = calloc((size_t)n, sizeof *out->items);
        if (!out->items) return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
    }
    for (int i = 0; i < n; i++) {
        yaml_node_t *it = yaml_document_get_node(doc, node->data.sequence.items.start[i]);
        if (!it || it->type != YAML_SCALAR_NODE) {
            *bad = it && it->type == YAML_SEQUENCE_NODE ? "a nested list" : "a list of mappings";
            cf_recipe_value_free(out);
            return CF_ERR_FORMAT;
        }
        cf_status st = scalar_copy(it, &out->items[i], bad);
        if (st != CF_OK) {
            cf_recipe_value_free(out);
            return st;
        }
        out->n = i + 1;
    }
    return CF_OK;
}

typedef struct walk {
    cf_recipe *r;
    yaml_document_t *doc;
} walk;

/* A mapping's keys must be distinct names; libyaml keeps duplicates, so we look ourselves. */
static cf_status check_keys(walk *w, yaml_node_t *map, const char *prefix)
{
    const char *name = w->r->name;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return cf_set_error(CF_ERR_FORMAT, "%s:%d: %s%skeys must be names, got %s", name,
                                k ? line_of(k) : 0, prefix, *prefix ? ": " : "", k ? kind_name(k) : "nothing");
        const char *kt = (const char *)k->data.scalar.value;
        size_t kl = k->data.scalar.length;
        if (!cf_recipe_name_ok(kt, kl))
            return cf_set_error(CF_ERR_FORMAT, "%s:%d: invalid key '%.*s'%s%s (a key is up to 128 letters, digits, '_' and '-')",
                                name, line_of(k), (int)kl, kt, *prefix ? " in " : "", prefix);
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k0 = yaml_document_get_node(w->doc, q->key);
            if (k0->data.scalar.length == kl && memcmp(k0->data.scalar.value, kt, kl) == 0)
                return cf_set_error(CF_ERR_FORMAT, "%s:%d: duplicate key '%s%s%.*s' (first at %s:%d)", name,
                                    line_of(k), prefix, *prefix ? "." : "", (int)kl, kt, name, line_of(k0));
        }
    }
    return CF_OK;
}

/* The keys of a section (depth 1) or of a sub-config inside it (depth 2). */
static cf_status walk_map(walk *w, yaml_node_t *map, const char *prefix, int depth)
{
    cf_status st = check_keys(w, map, prefix);
    if (st != CF_OK) return st;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        size_t n = strlen(prefix) + 1 + k->data.scalar.length + 1;
        char *key = malloc(n);
        if (!key) return cf_set_error(CF_ERR_OOM, "out of memory reading a recipe");
        snprintf(key, n, "%s.%.*s", prefix, (int)k->data.scalar.length, (const char *)k->data.scalar.value);
        if (v->type == YAML_MAPPING_NODE) {
            if (depth >= 2)
                st = cf_set_error(CF_ERR_FORMAT,
                                  "%s:%d: %s: too deep: a section holds values and sub-configs of values, not "
                                  "deeper mappings",
                                  w->r->name, line_of(k), key);
            else
                st = walk_map(w, v, key, depth + 1);
        } else {
            rvalue val;
            const char *bad;
            st = node_value(w->doc, v, &val, &bad);
            if (st == CF_ERR_FORMAT && bad)
                cf_set_error(CF_ERR_FORMAT, "%s:%d: %s: expected a value or a flat list of values, got %s",
                             w->r->name, line_of(v), key, bad);
            if (st == CF_OK) {
                st = cf_recipe_add_entry(w->r, key, false, line_of(k), &val);
                cf_recipe_value_free(&val);
            }
        }
        free(key);
        if (st != CF_OK) return st;
    }
    return CF_OK;
}

static cf_status walk_root(cf_recipe *r, yaml_document_t *doc)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return CF_OK; /* an empty file: every key at its default */
    if (root->type == YAML_SCALAR_NODE) {
        rscalar s = {(char *)root->data.scalar.value, root->data.scalar.style != YAML_PLAIN_SCALAR_STYLE};
        if (cf_recipe_is_null(&s)) return CF_OK;
    }
    if (root->type != YAML_MAPPING_NODE)
        return cf_set_error(CF_ERR_FORMAT, "%s:%d: a recipe is a mapping of sections (model:, data:, optim:, ...), got %s",
                            r->name, line_of(root), kind_name(root));
    walk w = {r, doc};
    cf_status st = check_keys(&w, root, "");
    if (st != CF_OK) return st;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char *kt = (const char *)k->data.scalar.value;
        size_t kl = k->data.scalar.length;
        if (cf_recipe_section_index(kt, kl) < 0) {
            const char *s = cf_recipe_suggest_section(kt, kl);
            return cf_set_error(CF_ERR_FORMAT,
                                "%s:%d: unknown section '%.*s'%s%s%s (sections: model, data, optim, train, "
                                "checkpoint, distributed, log)",
                                r->name, line_of(k), (int)kl, kt, s ? " (did you mean '" : "", s ? s : "",
                                s ? "'?)" : "");
        }
        char sec[32];
        snprintf(sec, sizeof sec, "%.*s", (int)kl, kt);
        if (v->type == YAML_SCALAR_NODE) {
            rscalar s = {(char *)v->data.scalar.value, v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE};
            if (cf_recipe_is_null(&s)) continue; /* "log:" with nothing under it */
        }
        if (v->type != YAML_MAPPING_NODE)
            return cf_set_error(CF_ERR_FORMAT, "%s:%d: section '%s' must be a mapping of keys, got %s", r->name,
                                line_of(v), sec, kind_name(v));
        st = walk_map(&w, v, sec, 1);
        if (st != CF_OK) return st;
    }
    return CF_OK;
}

cf_recipe *cf_recipe_parse(const char *text, const char *name)
{
    if (!text) {
        cf_set_error(CF_ERR_ARG, "cf_recipe_parse: no text");
        return NULL;
    }
    cf_recipe *r = cf_recipe_new(name);
    if (!r) return NULL;
    size_t len = strlen(text);
    yaml_parser_t p;
    if (cf_recipe_check_limits(text, len, r->name) != CF_OK) {
        cf_recipe_free(r);
        return NULL;
    }
    if (!yaml_parser_initialize(&p)) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory starting the YAML parser", r->name);
        cf_recipe_free(r);
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_document_t doc;
    cf_status st = CF_OK;
    if (!yaml_parser_load(&p, &doc)) {
        syntax_error(r->name, text, &p);
        st = CF_ERR_FORMAT;
    } else {
        st = walk_root(r, &doc);
        yaml_document_delete(&doc);
        /* A second "---" document would be silently ignored otherwise. */
        if (st == CF_OK) {
            if (!yaml_parser_load(&p, &doc)) {
                syntax_error(r->name, text, &p);
                st = CF_ERR_FORMAT;
            } else {
                yaml_node_t *root = yaml_document_get_root_node(&doc);
                if (root)
                    st = cf_set_error(CF_ERR_FORMAT, "%s:%d: a recipe is one YAML document; found another",
                                      r->name, line_of(root));
                yaml_document_delete(&doc);
            }
        }
    }
    yaml_parser_delete(&p);
    if (st != CF_OK) {
        cf_recipe_free(r);
        return NULL;
    }
    return r;
}

cf_recipe *cf_recipe_load(const char *path)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_recipe_load: no path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    cf_status st = text ? CF_OK : CF_ERR_OOM;
    while (st == CF_OK) {
        if (len + 1 >= cap) {
            if (cap >= CF_RECIPE_MAX_BYTES) {
                st = cf_set_error(CF_ERR_FORMAT, "%s: %d bytes or more, past the limit of %d MiB for a recipe", path,
                                  CF_RECIPE_MAX_BYTES - 1, CF_RECIPE_MAX_BYTES >> 20);
                break;
            }
            char *t = realloc(text, cap * 2);
            if (!t) {
                st = CF_ERR_OOM;
                break;
            }
            text = t;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = cf_set_error(CF_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st == CF_ERR_OOM) cf_set_error(CF_ERR_OOM, "%s: out of memory reading the file", path);
    if (st != CF_OK) {
        free(text);
        return NULL;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        cf_set_error(CF_ERR_FORMAT, "%s: contains a NUL byte at offset %zu; not a YAML text", path, strlen(text));
        free(text);
        return NULL;
    }
    cf_recipe *r = cf_recipe_parse(text, path);
    free(text);
    return r;
}

cf_status cf_recipe_parse_value(const char *text, rvalue *out)
{
    memset(out, 0, sizeof *out);
    CF_TRY(cf_recipe_check_limits(text, strlen(text), NULL));
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return cf_set_error(CF_ERR_OOM, "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    yaml_document_t doc;
    cf_status st = CF_OK;
    if (!yaml_parser_load(&p, &doc)) {
        syntax_error(NULL, text, &p);
        st = CF_ERR_FORMAT;
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root) {
            const char *bad;
            st = node_value(&doc, root, out, &bad);
            if (st == CF_ERR_FORMAT && bad)
                cf_set_error(CF_ERR_FORMAT, "expected a value or a flat list of values, got %s '%s'%s", bad, text,
                             root->type == YAML_MAPPING_NODE ? " (quote a string that holds ': ')" : "");
        } else {
            out->kind = RV_NULL;
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    return st;
}
