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

#endif
