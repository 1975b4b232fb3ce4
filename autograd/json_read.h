/* A JSON reader for the files cformer reads from other tools (a Hugging Face tokenizer.json or config.json,
 * a safetensors index): the whole document parsed into a tree of values, strict RFC 8259.
 *
 * Strings are decoded to UTF-8 (\uXXXX escapes included; a surrogate pair becomes one code point; a lone
 * surrogate is an error) and may hold NUL bytes, so every string carries its length. Numbers keep their
 * double value and, when the literal is an integer that fits, its exact int64 (is_int). Objects keep their
 * members in file order; duplicate keys are kept (cf_json_get returns the first). Nesting is limited to
 * CF_JSON_READ_MAX_DEPTH levels so a hostile file cannot exhaust the stack.
 *
 * Errors: cf_json_parse returns NULL with CF_ERR_FORMAT "WHAT:LINE:COL: what is wrong" (WHAT names the file
 * or buffer) for any malformed input: truncated text, trailing bytes, bad escapes or literals, control
 * characters in strings, numbers outside the double range, nesting too deep. Bytes of a string other than
 * escapes pass through unchanged (the reader does not validate UTF-8).
 *
 * Usage:
 *     cf_json_doc *d = cf_json_parse(text, n, "tok/tokenizer.json");
 *     if (!d) return cf_last_status();
 *     const cf_jv *model = cf_json_get(cf_json_root(d), "model");
 *     const cf_jv *vocab = cf_json_get(model, "vocab");          // NULL when absent or model is not an object
 *     for (int i = 0; vocab && vocab->type == CF_JSON_OBJECT && i < vocab->n; i++)
 *         use(vocab->keys[i], vocab->items[i].num);
 *     cf_json_doc_free(d);                                       // frees every value and string at once
 * Values are owned by the document and valid until cf_json_doc_free. The cf_jv_* accessors at the end are
 * the same tree read through NULL-safe functions. */
#ifndef CF_JSON_READ_H
#define CF_JSON_READ_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CF_JSON_READ_MAX_DEPTH 256

typedef enum { CF_JSON_NULL, CF_JSON_BOOL, CF_JSON_NUMBER, CF_JSON_STRING, CF_JSON_ARRAY, CF_JSON_OBJECT } cf_json_type;

typedef struct cf_jv cf_jv;
struct cf_jv {
    cf_json_type type;
    int line;        /* 1-based line of the value's first byte (for callers' messages) */
    bool b;          /* CF_JSON_BOOL */
    bool is_int;     /* CF_JSON_NUMBER: an integer literal within int64 */
    double num;      /* CF_JSON_NUMBER */
    int64_t i;       /* CF_JSON_NUMBER when is_int */
    const char *s;   /* CF_JSON_STRING: UTF-8, NUL-terminated, len bytes (may hold NULs) */
    size_t len;
    int n;           /* CF_JSON_ARRAY / CF_JSON_OBJECT: member count */
    cf_jv *items;    /* [n] values */
    const char **keys; /* CF_JSON_OBJECT: [n] keys (NUL-terminated) */
    size_t *key_lens;  /* CF_JSON_OBJECT: [n] key lengths */
};

typedef struct cf_json_doc cf_json_doc;

/* Parses n bytes of text; `what` names it in errors. NULL with the error set on failure. */
cf_json_doc *cf_json_parse(const char *text, size_t n, const char *what);
/* Reads and parses a whole file (at most max_bytes; 0 means 1 GiB). */
cf_json_doc *cf_json_parse_file(const char *path, size_t max_bytes);
void cf_json_doc_free(cf_json_doc *d);
const cf_jv *cf_json_root(const cf_json_doc *d);

/* The first member `key` of an object; NULL when obj is NULL, not an object, or has no such key. */
const cf_jv *cf_json_get(const cf_jv *obj, const char *key);
/* Typed lookups for required keys: the member when present and of the type, else NULL with CF_ERR_FORMAT
 * "WHAT: KEY: missing" / "WHAT: KEY: expected a string/number/... (line L)". */
const cf_jv *cf_json_need(const cf_jv *obj, const char *key, cf_json_type type, const char *what);
const char *cf_json_type_name(cf_json_type t);

/* ---- accessors: NULL-safe lookups that chain without checks ----
 *
 *     cf_jv *doc = cf_jv_read_file("model/config.json");       // the root; NULL: cf_last_error() says why
 *     double d;  if (cf_jv_number(cf_jv_get(doc, "hidden_size"), &d)) ...
 *     const char *arch = cf_jv_str(cf_jv_at(cf_jv_get(doc, "architectures"), 0));   // NULL if not a string
 *     cf_jv_free(doc);                                          // only on a root these functions returned
 * Every accessor takes NULL and answers as for a missing value. */
#define CF_JV_MAX_DEPTH CF_JSON_READ_MAX_DEPTH
#define CF_JV_MAX_BYTES ((size_t)256 << 20)
typedef cf_json_type cf_jv_type;
#define CF_JV_NULL CF_JSON_NULL
#define CF_JV_BOOL CF_JSON_BOOL
#define CF_JV_NUMBER CF_JSON_NUMBER
#define CF_JV_STRING CF_JSON_STRING
#define CF_JV_ARRAY CF_JSON_ARRAY
#define CF_JV_OBJECT CF_JSON_OBJECT

/* The root of a parsed document (cf_json_parse / cf_json_parse_file at most CF_JV_MAX_BYTES), freed with
 * cf_jv_free. */
cf_jv *cf_jv_parse(const char *text, size_t n, const char *what);
cf_jv *cf_jv_read_file(const char *path);
void cf_jv_free(cf_jv *root);

cf_jv_type cf_jv_kind(const cf_jv *v);           /* CF_JV_NULL for NULL */
int cf_jv_len(const cf_jv *v);                   /* items of an array or members of an object; else 0 */
const cf_jv *cf_jv_at(const cf_jv *v, int i);    /* array item or object member value; NULL out of range */
const char *cf_jv_key_at(const cf_jv *v, int i); /* object member name; NULL out of range */
const cf_jv *cf_jv_get(const cf_jv *v, const char *key); /* object member (cf_json_get); NULL when absent */
const char *cf_jv_str(const cf_jv *v);           /* a string's UTF-8 text; NULL for any other value */
bool cf_jv_number(const cf_jv *v, double *out);  /* false unless a number */
bool cf_jv_bool(const cf_jv *v, bool *out);      /* false unless true/false */

#endif
