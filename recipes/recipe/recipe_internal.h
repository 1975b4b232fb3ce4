/* The recipe's insides, shared by its parser (recipe_yaml.c), getters (recipe.c) and emitter
 * (recipe_emit.c). Not installed for users: include recipe.h. */
#ifndef CF_RECIPE_INTERNAL_H
#define CF_RECIPE_INTERNAL_H

#include "recipes/recipe/recipe.h"

#define CF_RECIPE_NSECTIONS 8
#define CF_RECIPE_NAME_MAX 128 /* bytes in one level of a key */
extern const char *const cf_recipe_sections[CF_RECIPE_NSECTIONS];

/* One scalar as written: its text and whether it was quoted (only null detection looks at that). */
typedef struct rscalar {
    char *text;
    bool quoted;
} rscalar;

typedef enum rkind { RV_NULL, RV_SCALAR, RV_LIST } rkind;

typedef struct rvalue {
    rkind kind;
    rscalar s;      /* RV_SCALAR */
    rscalar *items; /* RV_LIST */
    int n;
} rvalue;

/* A key present in the file or given with --set. */
typedef struct rentry {
    char *key;     /* dotted: "train.steps", "model.attn.window" */
    bool from_set; /* origin "--set" instead of the recipe's name */
    int line;      /* 1-based, 0 for --set */
    rvalue v;
    bool used;     /* read by a getter */
} rentry;

/* What a getter read: the key, its type and the value the program got, for the resolved recipe. */
typedef enum rtype { RT_INT, RT_FLOAT, RT_BOOL, RT_STR, RT_INT_LIST, RT_FLOAT_LIST, RT_STR_LIST } rtype;

typedef struct rdecl {
    char *key;
    rtype type;
    bool has_value; /* false when missing without default, or after an error */
    int64_t i;
    double f;
    bool b;
    char *s;
    int64_t *il;
    double *fl;
    char **sl;
    int n;
    /* the range of the last ranged getter (kept across re-reads; not part of the resolved text) */
    bool ranged;
    cf_range_bounds bounds;
    double lo, hi;
} rdecl;

struct cf_recipe {
    char *name;
    char *base_dir; /* where relative paths of the file's keys point (NULL: the folder of name) */
    rentry *entries;
    int nentries, centries;
    rdecl *decls;
    int ndecls, cdecls;
    cf_status status; /* sticky: the first error */
    char *err;
    bool unknown_appended;
};

/* recipe_yaml.c */
/* Parses a lone YAML value (a --set right-hand side). The message is left in cf_last_error(). */
cf_status cf_recipe_parse_value(const char *text, rvalue *out);
void cf_recipe_value_free(rvalue *v);

/* recipe_limits.c: checks the limits of recipe.h ("Limits") on the YAML event stream of text, stopping at
 * the first event past one; the error names name:line (name NULL: a --set value, located by column). A
 * syntax error is not reported here: it returns CF_OK and the loader, which stops at the same place,
 * reports it. */
cf_status cf_recipe_check_limits(const char *text, size_t len, const char *name);

/* recipe.c */
rentry *cf_recipe_find(const cf_recipe *r, const char *key);
rdecl *cf_recipe_find_decl(const cf_recipe *r, const char *key);
/* Records the sticky error (the first one wins) and returns the recipe's status. */
cf_status cf_recipe_stick(cf_recipe *r, cf_status st, const char *fmt, ...) CF_PRINTF(3, 4);
/* Where an entry came from, for messages: "file.yaml:12", "--set", or the file name for NULL (absent). */
void cf_recipe_where_text(const cf_recipe *r, const rentry *e, char *buf, size_t n);
/* Appends a key; takes over *v (and clears it) on success. */
cf_status cf_recipe_add_entry(cf_recipe *r, const char *key, bool from_set, int line, rvalue *v);

/* recipe_scan.c: names, scalars, distances */
/* Index into cf_recipe_sections of the first len bytes of name, or -1. */
int cf_recipe_section_index(const char *name, size_t len);
/* The section closest to a misspelt one ("trian" -> "train"), or NULL. */
const char *cf_recipe_suggest_section(const char *name, size_t len);
/* A key name: 1 to CF_RECIPE_NAME_MAX of [A-Za-z0-9_-] (dots separate levels, so they cannot be part of a name). */
bool cf_recipe_name_ok(const char *name, size_t len);
/* "section.name" or "section.sub.name" with a known section and valid names. */
bool cf_recipe_key_ok(const char *key);
/* Whether two names are close enough to suggest one for the other. */
bool cf_recipe_close(const char *a, const char *b, int *dist);
bool cf_recipe_is_null(const rscalar *s);
bool cf_recipe_scan_int(const char *s, int64_t *out);
bool cf_recipe_scan_float(const char *s, double *out);
bool cf_recipe_scan_bool(const char *s, bool *out);

#endif
