/* A small streaming JSON writer for the reports cformer writes (eval.json, the metrics.jsonl lines, the
 * safetensors header): objects, arrays, keys, numbers, integers, strings, booleans, null.
 *
 * Output layout: {"key": value, "key": [1, 2.5, null]} -- ", " between members and ": " after a key, one
 * line; a file written with cf_json_open ends with a newline. Numbers: finite doubles in the shortest form
 * that reads back to the same double ("%.15g", else "%.16g", else "%.17g": 0.1 -> 0.1, 7.0 -> 7, 1/3 ->
 * 0.3333333333333333); NaN and infinities, which JSON lacks, become null. Strings are escaped (\" \\ \n \t
 * \r \b \f, other bytes below 0x20 as \u00XX); other bytes, UTF-8 included, pass through.
 *
 * Usage (a file, atomically through cf_atomic_file: the old file survives any failure):
 *     cf_json j;
 *     CF_TRY(cf_json_open(&j, "run/eval.json"));
 *     cf_json_object(&j);
 *     cf_json_kv_int(&j, "step", 100);
 *     cf_json_kv_number(&j, "loss", 2.25);
 *     cf_json_key(&j, "ci"), cf_json_array(&j), cf_json_number(&j, lo), cf_json_number(&j, hi), cf_json_end(&j);
 *     cf_json_end(&j);
 *     return cf_json_commit(&j);   // fails naming the path on a write error (ENOSPC ...) or a malformed document
 * or onto an open stream (one line of an append log): cf_json_init(&j, f), the same calls, then check the
 * stream (fflush, ferror) yourself.
 *
 * Misuse (a value where a key is due, a key outside an object, unbalanced or too deep nesting) does not
 * abort: it marks the writer bad, and cf_json_commit / cf_json_ok report it. */
#ifndef CF_JSON_H
#define CF_JSON_H

#include "autograd/fileio.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CF_JSON_MAX_DEPTH 32

typedef struct cf_json {
    FILE *f;            /* the stream written to (cf_json_init) */
    cf_atomic_file *af; /* or the atomic file (cf_json_open) */
    int depth;
    char kind[CF_JSON_MAX_DEPTH]; /* '{' or '[' per open level */
    bool first[CF_JSON_MAX_DEPTH];
    bool want_value; /* a key was written; its value is due */
    bool done;       /* the top-level value is complete */
    bool bad;        /* misuse */
} cf_json;

/* Writes to path atomically; the error names path when the temporary file cannot be created. */
cf_status cf_json_open(cf_json *j, const char *path);
/* Ends the document with a newline and commits the file; frees the temporary on failure. CF_ERR_INTERNAL
 * (naming path) when the document is incomplete or was misused, CF_ERR_IO on a write error. */
cf_status cf_json_commit(cf_json *j);
/* Gives up: the temporary file is removed, path untouched. */
void cf_json_abort(cf_json *j);
/* Writes onto an open stream (no newline is added). */
void cf_json_init(cf_json *j, FILE *f);
/* True when the calls so far form (a prefix of) one well-formed value and the last call closed it. */
bool cf_json_ok(const cf_json *j);

void cf_json_object(cf_json *j); /* { */
void cf_json_array(cf_json *j);  /* [ */
void cf_json_end(cf_json *j);    /* } or ], whichever is open */
void cf_json_key(cf_json *j, const char *key);
void cf_json_number(cf_json *j, double v); /* non-finite -> null */
void cf_json_int(cf_json *j, int64_t v);
void cf_json_bool(cf_json *j, bool v);
void cf_json_null(cf_json *j);
void cf_json_string(cf_json *j, const char *s); /* NULL -> null */

/* A key and its value in one call. */
void cf_json_kv_number(cf_json *j, const char *key, double v);
void cf_json_kv_int(cf_json *j, const char *key, int64_t v);
void cf_json_kv_string(cf_json *j, const char *key, const char *s);

/* The number as cf_json_number writes it ("null" when not finite) into buf (32 bytes suffice); its length. */
int cf_json_format_number(char *buf, size_t n, double v);

#endif
