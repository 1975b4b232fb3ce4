/* Differences between two resolved recipes (cf_recipe_diff): the keys whose values differ. */
#include "recipes/recipe/recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_MAX_KEYS 4096
#define DIFF_KEY_MAX 256

typedef struct {
    char key[DIFF_KEY_MAX];
    const char *value; /* into the text: up to the end of the line */
    int value_len;
} flat_entry;

/* Flattens the emitter's text: "section:" and "  sub:" open a level (2 spaces each), "  key: value" is a
 * leaf; comments and blank lines are skipped. Returns the count (at most max). */
static int flatten(const char *text, flat_entry *out, int max)
{
    char path[4][DIFF_KEY_MAX] = {{0}};
    int n = 0;
    for (const char *line = text; line && *line && n < max;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        int indent = 0;
        while (indent < len && line[indent] == ' ') indent++;
        const char *colon = memchr(line + indent, ':', (size_t)(len - indent));
        if (indent < len && line[indent] != '#' && colon && indent / 2 < 4) {
            int level = indent / 2, klen = (int)(colon - line - indent);
            char key[DIFF_KEY_MAX];
            int k = 0;
            for (int i = 0; i < level; i++) k += snprintf(key + k, sizeof key - (size_t)k, "%s.", path[i]);
            snprintf(key + k, sizeof key - (size_t)k, "%.*s", klen, line + indent);
            const char *v = colon + 1;
            while (v < line + len && *v == ' ') v++;
            if (v == line + len) {
                snprintf(path[level], sizeof path[level], "%.*s", klen, line + indent);
            } else {
                snprintf(out[n].key, sizeof out[n].key, "%s", key);
                out[n].value = v, out[n].value_len = (int)(line + len - v);
                n++;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}

static const flat_entry *lookup(const flat_entry *e, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].key, key) == 0) return &e[i];
    return NULL;
}

/* Appends "key: a -> b" (with "; " between) while it fits. */
static void append(char *out, size_t cap, const char *key, const flat_entry *a, const flat_entry *b)
{
    size_t at = strlen(out);
    if (at + 1 >= cap) return;
    snprintf(out + at, cap - at, "%s%s: %.*s -> %.*s", at ? "; " : "", key, a ? a->value_len : 7,
             a ? a->value : "(unset)", b ? b->value_len : 7, b ? b->value : "(unset)");
}

int cf_recipe_diff(const char *a, const char *b, bool (*skip)(const char *key), char *out, size_t n)
{
    if (out && n) out[0] = '\0';
    flat_entry *ea = malloc(sizeof *ea * DIFF_MAX_KEYS), *eb = malloc(sizeof *eb * DIFF_MAX_KEYS);
    if (!ea || !eb) {
        free(ea), free(eb);
        if (out && n) snprintf(out, n, "(out of memory comparing recipes)");
        return -1;
    }
    int na = flatten(a ? a : "", ea, DIFF_MAX_KEYS), nb = flatten(b ? b : "", eb, DIFF_MAX_KEYS), diffs = 0;
    for (int i = 0; i < na; i++) {
        const flat_entry *o = lookup(eb, nb, ea[i].key);
        if (skip && skip(ea[i].key)) continue;
        if (o && o->value_len == ea[i].value_len && memcmp(o->value, ea[i].value, (size_t)o->value_len) == 0) continue;
        diffs++;
        if (out) append(out, n, ea[i].key, &ea[i], o);
    }
    for (int i = 0; i < nb; i++) {
        if (lookup(ea, na, eb[i].key) || (skip && skip(eb[i].key))) continue;
        diffs++;
        if (out) append(out, n, eb[i].key, NULL, &eb[i]);
    }
    free(ea), free(eb);
    return diffs;
}
