/* A small validating JSON reader for the configuration files other tools write (a Hugging Face model's
 * config.json and model.safetensors.index.json): the whole document as a tree of values.
 *
 * Accepts RFC 8259 JSON: objects, arrays, strings (escapes, \u of the BMP and surrogate pairs, as UTF-8),
 * numbers (as doubles), true, false, null. Refuses, with the name given and the byte offset, anything else:
 * trailing bytes, unterminated values, nesting past CF_JV_MAX_DEPTH, a text over CF_JV_MAX_BYTES. Duplicate
 * keys are kept; lookups return the first.
 *
 *     cf_jv *doc = cf_jv_read_file("model/config.json");        // NULL: cf_last_error() says why
 *     const cf_jv *v = cf_jv_get(doc, "hidden_size");
 *     double d;  if (cf_jv_number(v, &d)) ...
 *     const char *arch = cf_jv_str(cf_jv_at(cf_jv_get(doc, "architectures"), 0));   // NULL if not a string
 *     cf_jv_free(doc);
 * Every accessor takes NULL and answers as for a missing value, so lookups chain without checks. */
#ifndef CF_JSON_READ_H
#define CF_JSON_READ_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stddef.h>

#define CF_JV_MAX_DEPTH 64
#define CF_JV_MAX_BYTES ((size_t)256 << 20)

typedef enum cf_jv_type { CF_JV_NULL, CF_JV_BOOL, CF_JV_NUMBER, CF_JV_STRING, CF_JV_ARRAY, CF_JV_OBJECT } cf_jv_type;

typedef struct cf_jv cf_jv;

/* Parses n bytes; `what` names the text in errors ("config.json: expected ',' or '}' at byte 120"). */
cf_jv *cf_jv_parse(const char *text, size_t n, const char *what);
cf_jv *cf_jv_read_file(const char *path);
void cf_jv_free(cf_jv *v);

cf_jv_type cf_jv_kind(const cf_jv *v);     /* CF_JV_NULL for NULL */
int cf_jv_len(const cf_jv *v);             /* items of an array or members of an object; else 0 */
const cf_jv *cf_jv_at(const cf_jv *v, int i);   /* array item or object member value; NULL out of range */
const char *cf_jv_key_at(const cf_jv *v, int i); /* object member name; NULL out of range */
const cf_jv *cf_jv_get(const cf_jv *v, const char *key); /* object member; NULL when absent */
const char *cf_jv_str(const cf_jv *v);     /* a string's UTF-8 text; NULL for any other value */
bool cf_jv_number(const cf_jv *v, double *out); /* false unless a number */
bool cf_jv_bool(const cf_jv *v, bool *out);     /* false unless true/false */

#endif
