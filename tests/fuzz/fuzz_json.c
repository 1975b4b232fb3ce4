/* The JSON reader (autograd/json_read.h) on any bytes: it parses or refuses with an error, never crashes,
 * and a parsed tree is walkable to its leaves (every string NUL-terminated at its length, every object's
 * keys present). */
#include "autograd/json_read.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t walk(const cf_jv *v, int depth)
{
    if (depth > CF_JSON_READ_MAX_DEPTH + 1) abort();
    size_t n = 1;
    if (v->type == CF_JSON_STRING && v->s[v->len] != 0) abort();
    if (v->type == CF_JSON_ARRAY || v->type == CF_JSON_OBJECT) {
        for (int i = 0; i < v->n; i++) {
            if (v->type == CF_JSON_OBJECT && (!v->keys[i] || v->keys[i][v->key_lens[i]] != 0)) abort();
            n += walk(&v->items[i], depth + 1);
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_json_doc *d = cf_json_parse((const char *)data, size, "fuzz.json");
    if (!d) {
        if (cf_last_status() == CF_OK) abort(); /* a refusal always says why */
        return 0;
    }
    walk(cf_json_root(d), 0);
    cf_json_doc_free(d);
    return 0;
}
