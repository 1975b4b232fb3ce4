/* cformer recipes: the typed configuration that drives a run, written in YAML.
 *
 * A recipe is a mapping of sections -- model, data, optim, train, eval, checkpoint, distributed, log -- whose
 * values are scalars or flat lists of scalars; one nested mapping level inside a section holds a
 * sub-config. Keys are addressed with dots: "train.steps", "model.attn.window".
 *
 *     model:
 *       type: transformer
 *       dims: [64, 128]
 *       attn: {window: 128, causal: true}
 *     optim:
 *       lr: 3.0e-4
 *
 * The program asks for what it uses with typed getters that take a default. A getter also DECLARES the key
 * as known, so after reading everything, cf_recipe_check_unknown() reports each key of the file (or of a
 * --set) that nothing read -- a misspelt key is an error with its file:line and a suggestion, never
 * silently ignored.
 *
 * Getters return values, not statuses: the first error (a wrong type, a missing required key) is kept
 * inside the recipe ("sticky") and the getter returns the default. Read every key, then check once:
 *
 *     int64_t steps = cf_recipe_int_in(r, "train.steps", 1000, 0, INT64_MAX);
 *     double lr = cf_recipe_float_in(r, "optim.lr", 1e-3, 0, 10, CF_RANGE_OPEN_LO);
 *     const char *path = cf_recipe_require_str(r, "data.path");
 *     if (cf_recipe_check_unknown(r) != CF_OK) { fprintf(stderr, "%s\n", cf_recipe_error(r)); ... }
 *
 * Scalar reading rules: an integer is decimal (with optional '_' separators), 0x hex, or a float literal
 * with an integral value ("1e6"); a float is any number or .inf/-.inf/.nan; a bool is true/false
 * (also yes/no/on/off, in lower, Title or UPPER case); a string is any scalar. A null value (`key:`, `~`,
 * `null`) reads as the default. Quoting does not change what a getter accepts: "5" reads as 5 too.
 *
 * Limits: the parser refuses, with the file, line and limit in the message, a text of more than
 * CF_RECIPE_MAX_BYTES bytes, nesting deeper than CF_RECIPE_MAX_DEPTH levels (a valid recipe needs 4: the
 * root, a section, a sub-config, a flat list), and -- counting each use of an alias as a copy of its
 * anchor -- more than CF_RECIPE_MAX_VALUES scalars, CF_RECIPE_MAX_BYTES bytes of scalars or
 * CF_RECIPE_MAX_KEYS keys, more than CF_RECIPE_MAX_ANCHORS anchors or CF_RECIPE_MAX_ALIASES aliases. They
 * are checked while the YAML is streamed, before any tree is built, and the parse stops at the first event
 * past a limit: a hostile text (nested flow lists 100000 deep, "billion laughs" aliases) fails in time and
 * memory bounded by the limits. --set values obey the same limits.
 *
 * Strings returned by getters stay valid until cf_recipe_free(). Nothing here is thread-safe per recipe.
 * Recipes are read once at start-up; nothing here belongs in a hot loop. */
#ifndef CF_RECIPE_H
#define CF_RECIPE_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cf_recipe cf_recipe;

/* Resource limits (see "Limits" above). */
#define CF_RECIPE_MAX_BYTES (16 << 20)
#define CF_RECIPE_MAX_DEPTH 8
#define CF_RECIPE_MAX_VALUES (1 << 20)
#define CF_RECIPE_MAX_KEYS 4096
#define CF_RECIPE_MAX_ANCHORS 1024
#define CF_RECIPE_MAX_ALIASES 4096

/* The sections, in the order the resolved recipe lists them. */
#define CF_RECIPE_SECTIONS "model", "data", "optim", "train", "eval", "checkpoint", "distributed", "log"

/* Parses a YAML file / text. Syntax errors, duplicate keys, unknown sections and values that are not
 * scalars or flat lists fail here: NULL, with cf_last_error() naming file:line (and column for syntax).
 * `name` names the text in messages (a file name, or NULL for "<recipe>"). */
cf_recipe *cf_recipe_load(const char *path);
cf_recipe *cf_recipe_parse(const char *text, const char *name);
/* An empty recipe (every key at its default), for programs run without a file. */
cf_recipe *cf_recipe_new(const char *name);
void cf_recipe_free(cf_recipe *r);
const char *cf_recipe_name(const cf_recipe *r);

/* Command-line override "section.key=value" (`--set train.steps=100`). The value is a YAML scalar or flow
 * list ("[64, 128]"); empty means null. The key's origin becomes "--set" in messages. Fails (without
 * touching the recipe or its sticky error) on a malformed assignment, an unknown section, a key that
 * clashes with a sub-config, or a key already read by a getter (set overrides before reading). */
cf_status cf_recipe_set(cf_recipe *r, const char *assignment);

/* ---- typed getters: return the value, or `dflt` when the key is absent or null, or on error ---- */
int64_t cf_recipe_int(cf_recipe *r, const char *key, int64_t dflt);
double cf_recipe_float(cf_recipe *r, const char *key, double dflt);
bool cf_recipe_bool(cf_recipe *r, const char *key, bool dflt);
/* dflt may be NULL (then an absent key returns NULL and is left out of the resolved recipe). */
const char *cf_recipe_str(cf_recipe *r, const char *key, const char *dflt);

/* Lists: copy up to `max` values into out and return how many the recipe has (the default's count when
 * absent), or -1 on error (including more than `max` values). A scalar reads as a one-element list. */
int cf_recipe_int_list(cf_recipe *r, const char *key, int64_t *out, int max, const int64_t *dflt,
                       int ndflt);
int cf_recipe_float_list(cf_recipe *r, const char *key, double *out, int max, const double *dflt,
                         int ndflt);
/* String lists have no default (absent: 0 items); the pointers stay valid until cf_recipe_free(). */
int cf_recipe_str_list(cf_recipe *r, const char *key, const char **out, int max);

/* ---- ranged getters: every numeric key a program reads has a declared valid range ----
 * As the getters above, and then the value (from the file, --set or the default) must lie in the range, else
 * the sticky error "FILE:LINE: train.threads: 70000 is out of range [0, 1024]" (one-sided ranges read
 * "log.every: 0 is out of range: must be >= 1"; an absent key's default is named "(the default)") and the
 * getter returns dflt. NaN is in no range; +-inf only where a bound is an infinity the range includes.
 * The range is remembered with the key (cf_recipe_range) but is not part of the resolved recipe, whose
 * text and hash stay what cf_recipe_int/float give.
 *
 *     int64_t every = cf_recipe_int_in(r, "log.every", 10, 1, INT64_MAX);            // >= 1
 *     double lr = cf_recipe_float_in(r, "optim.lr", 3e-4, 0, 10, CF_RANGE_OPEN_LO);  // (0, 10]
 *     double eps = cf_recipe_float_in(r, "optim.eps", 1e-8, 0, INFINITY, CF_RANGE_OPEN); // > 0, finite */
typedef enum cf_range_bounds {
    CF_RANGE_CLOSED = 0,  /* [lo, hi] */
    CF_RANGE_OPEN_LO = 1, /* (lo, hi] */
    CF_RANGE_OPEN_HI = 2, /* [lo, hi) */
    CF_RANGE_OPEN = 3,    /* (lo, hi) */
} cf_range_bounds;

/* [lo, hi], lo <= hi; INT64_MIN / INT64_MAX mean "no bound" in messages. */
int64_t cf_recipe_int_in(cf_recipe *r, const char *key, int64_t dflt, int64_t lo, int64_t hi);
double cf_recipe_float_in(cf_recipe *r, const char *key, double dflt, double lo, double hi, cf_range_bounds b);
/* Every item in [lo, hi] (closed for both); the error names the item: "model.frame_kernel[1]: 0 is ...". */
int cf_recipe_int_list_in(cf_recipe *r, const char *key, int64_t *out, int max, const int64_t *dflt, int ndflt,
                          int64_t lo, int64_t hi);
int cf_recipe_float_list_in(cf_recipe *r, const char *key, double *out, int max, const double *dflt, int ndflt,
                            double lo, double hi);
/* The range the last ranged getter of key declared (ints as doubles; bounds as CF_RANGE_*). False when the
 * key was not read by a ranged getter. A query only. */
bool cf_recipe_range(const cf_recipe *r, const char *key, double *lo, double *hi, cf_range_bounds *b);

/* The ranges as such, for other numbers (command-line options) checked and worded as recipe keys are:
 * whether v lies in the range (NaN never; an infinity only where the range includes that infinite bound),
 * and the range as text, "[1, 2^20]", "(0, 10]", or one-sided "> 0", ">= 1" when the other side is unbounded
 * (an infinity; INT64_MIN / INT64_MAX for integers). The text functions return whether it is one-sided. */
bool cf_range_holds(double v, double lo, double hi, cf_range_bounds b);
bool cf_range_text(char *buf, size_t n, double lo, double hi, cf_range_bounds b);
bool cf_range_text_int(char *buf, size_t n, int64_t lo, int64_t hi);

/* Required keys: a missing (or null) key is the sticky error "FILE: missing required key data.path".
 * cf_recipe_require only checks presence (read the key with any getter too); the typed variants do both
 * and return 0 / 0.0 / false / NULL when missing. */
bool cf_recipe_require(cf_recipe *r, const char *key);
int64_t cf_recipe_require_int(cf_recipe *r, const char *key);
double cf_recipe_require_float(cf_recipe *r, const char *key);
bool cf_recipe_require_bool(cf_recipe *r, const char *key);
const char *cf_recipe_require_str(cf_recipe *r, const char *key);

/* value of key resolved as a path: relative to the recipe file's folder (or the base folder set below) when
 * the key came from the file, to the working directory when it came from --set, as on any command line (a
 * relative --set path is made absolute in the recipe too, so a resolved recipe a run saves names the same
 * file wherever it is read again). Returns value or buf. */
const char *cf_recipe_path(cf_recipe *r, const char *key, const char *value, char *buf, size_t n);
/* Sets the folder the file's relative paths are resolved against, for a recipe parsed from text that was
 * not read from its file (a checkpoint's stored recipe). NULL restores the default. */
cf_status cf_recipe_set_base_dir(cf_recipe *r, const char *dir);

/* Whether the key has a non-null value. A query only: it does not declare the key as known. */
bool cf_recipe_has(const cf_recipe *r, const char *key);
/* Where the key's value came from: origin is the file name or "--set", line 0 for --set or absent.
 * Returns false when the key is absent. */
bool cf_recipe_where(const cf_recipe *r, const char *key, const char **origin, int *line);

/* Records a caller's own validation failure against a key as the sticky error, located like the
 * getters' errors: "FILE:LINE: model.type: unknown model 'gptx'" (or "FILE: key: ..." when absent).
 * Returns the recipe's status (st unless an earlier error won). */
cf_status cf_recipe_fail(cf_recipe *r, const char *key, cf_status st, const char *fmt, ...) CF_PRINTF(4, 5);

/* The sticky error: CF_OK, or the status of the first error (whose message cf_recipe_error returns and
 * which this call also puts back into cf_last_error()). */
cf_status cf_recipe_status(const cf_recipe *r);
const char *cf_recipe_error(const cf_recipe *r);

/* Reports every key present in the file or set with --set that no getter read, one line each:
 * "FILE:LINE: unknown key 'optim.lrr' (did you mean 'optim.lr'?)". Returns CF_ERR_FORMAT then; with an
 * earlier sticky error, that error's status, and its message is followed by the unknown keys. With
 * neither, CF_OK. Call it after the program has read every key it uses. */
cf_status cf_recipe_check_unknown(cf_recipe *r);

/* The resolved recipe: YAML text of every key a getter read, with the value the program got (file,
 * --set or default), sections in CF_RECIPE_SECTIONS order and keys sorted, floats in shortest round-trip
 * form. Parsing it and reading the same keys gives the same values. Caller frees; NULL on OOM. */
char *cf_recipe_resolved(const cf_recipe *r);
/* Compares two resolved recipe texts (cf_recipe_resolved's format; comment lines are ignored) key by key and
 * returns how many keys differ (-1 on out of memory), skipping the keys for which skip (may be NULL) is true.
 * out (may be NULL) receives "train.seed: 0 -> 1; data.path: a -> b" (a's value, then b's; "(unset)" for a key
 * one side lacks), cut to n bytes. For naming what differs between ranks, or between a checkpoint's recipe
 * and the one a resume uses. */
int cf_recipe_diff(const char *a, const char *b, bool (*skip)(const char *key), char *out, size_t n);
/* 64-bit FNV-1a of the resolved text: equal recipes on every MPI rank have equal hashes. */
uint64_t cf_recipe_hash(const cf_recipe *r);

#endif
