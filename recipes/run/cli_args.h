/* Numbers on the command line, read strictly: the whole argument must be one number inside the option's
 * declared range, else the command prints why and refuses it -- never atoi's silent 0 or a wrapped value.
 * Ranges and their wording are the recipe keys' (recipes/recipe/recipe.h, "ranged getters").
 *
 *     int64_t tokens;
 *     if (!cf_cli_int("generate", "--tokens", argv[++i], 1, 1 << 20, &tokens)) return 2;
 *     // prints: cformer generate: --tokens 'abc': expected an integer in [1, 2^20]
 *     double top_p;
 *     if (!cf_cli_float("generate", "--top-p", argv[++i], 0, 1, CF_RANGE_OPEN_LO, &top_p)) return 2;
 *     // prints: cformer generate: --top-p '2': expected a number in (0, 1]
 *
 * Integers are decimal with an optional sign; numbers are what strtod reads ("3e-4", "inf"), NaN never, an
 * infinity only where the range includes it. On failure *out is left alone. */
#ifndef CF_CLI_ARGS_H
#define CF_CLI_ARGS_H

#include "recipes/recipe/recipe.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* cmd names the command in the message ("generate", "data mazes"); opt the option ("--tokens"). */
bool cf_cli_int(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cf_cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, cf_range_bounds b, double *out);

/* The sampling options every model's `cformer generate` takes, in their ranges: --temperature T ([0, 1e6],
 * 0: greedy), --top-k K ([0, 2^31-1], 0: off), --top-p P ((0, 1], 1: off), --seed S ([0, 2^63-1]). */
typedef struct cf_cli_sampling {
    double temperature, top_p;
    int64_t top_k, seed;
} cf_cli_sampling;

/* Reads argv[*i] when it is one of the sampling options (advancing *i past its value): 1 when it was, 0 when
 * it is another argument, -1 (after printing why) on a bad value. */
int cf_cli_sampling_arg(int argc, char **argv, int *i, cf_cli_sampling *s);

/* ---- a command's options as a table ----
 * The `cformer data <generator>` commands read their options through one parser, so every one of them
 * answers --help, refuses an unknown option or a missing value the same way, and reads numbers strictly:
 *
 *     int64_t seed = 1, count = 0;
 *     double noise = 0.1;
 *     const char *out = NULL;
 *     bool imbalanced = false;
 *     const cf_cli_opt opts[] = {
 *         CF_CLI_OPT_INT("--count", &count, 1, CF_MAX_COUNT),
 *         CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED),
 *         CF_CLI_OPT_FLOAT("--noise", &noise, 0, 1, CF_RANGE_CLOSED),
 *         CF_CLI_OPT_FLAG("--imbalanced", &imbalanced),
 *         CF_CLI_OPT_OUT(&out),                     // "-o" / "--out", required
 *     };
 *     int rc = cf_cli_parse("data motifs", argc, argv, opts, CF_CLI_COUNT(opts), usage);
 *     if (rc != CF_CLI_GO) return rc;              // 0 after --help, 2 after a refusal (already printed)
 *
 * argv[0] is the command's own name and is skipped. An option given twice keeps its last value. */
typedef enum cf_cli_kind { CF_CLI_INT, CF_CLI_FLOAT, CF_CLI_STRING, CF_CLI_FLAG } cf_cli_kind;

typedef struct cf_cli_opt {
    const char *name;       /* "--seed" */
    const char *alias;      /* another spelling ("-o"), or NULL */
    cf_cli_kind kind;
    void *out;              /* int64_t *, double *, const char **, or bool * (a flag sets it true) */
    int64_t lo, hi;         /* CF_CLI_INT: the range */
    double flo, fhi;        /* CF_CLI_FLOAT: the range and its bounds */
    cf_range_bounds bounds;
    bool required;          /* refused when absent ("needs -o DIR") */
    bool *seen;             /* set true when the option is given, or NULL */
} cf_cli_opt;

#define CF_CLI_OPT_INT(nm, p, l, h) {.name = (nm), .kind = CF_CLI_INT, .out = (p), .lo = (l), .hi = (h)}
#define CF_CLI_OPT_FLOAT(nm, p, l, h, b) {.name = (nm), .kind = CF_CLI_FLOAT, .out = (p), .flo = (l), .fhi = (h), .bounds = (b)}
#define CF_CLI_OPT_STRING(nm, p) {.name = (nm), .kind = CF_CLI_STRING, .out = (p)}
#define CF_CLI_OPT_FLAG(nm, p) {.name = (nm), .kind = CF_CLI_FLAG, .out = (p)}
#define CF_CLI_OPT_OUT(p) {.name = "--out", .alias = "-o", .kind = CF_CLI_STRING, .out = (p), .required = true}
#define CF_CLI_COUNT(opts) (sizeof(opts) / sizeof((opts)[0]))
#define CF_CLI_GO (-1)

/* Reads argv[1 ..) against opts. CF_CLI_GO when every argument was an option with a good value and every
 * required option was given; 0 after --help / -h (usage printed to stdout); 2 after an unknown option, a
 * missing or bad value, or a missing required option (the reason and the usage printed to stderr). */
int cf_cli_parse(const char *cmd, int argc, char **argv, const cf_cli_opt *opts, size_t n, void (*usage)(FILE *));

#endif
