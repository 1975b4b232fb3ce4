/* Strict command-line numbers (recipes/run/cli_args.h). */
#include "recipes/run/cli_args.h"

#include "recipes/run/limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(const char *cmd, const char *opt, const char *s, const char *what, bool one_sided, const char *range)
{
    fprintf(stderr, "cformer %s: %s '%s': expected %s %s%s\n", cmd, opt, s ? s : "", what, one_sided ? "" : "in ", range);
    return false;
}

bool cf_cli_int(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char range[160];
    bool one = cf_range_text_int(range, sizeof range, lo, hi);
    if (!s || !*s || isspace((unsigned char)*s)) return refuse(cmd, opt, s, "an integer", one, range);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return refuse(cmd, opt, s, "an integer", one, range);
    *out = v;
    return true;
}

bool cf_cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, cf_range_bounds b, double *out)
{
    char range[160];
    bool one = cf_range_text(range, sizeof range, lo, hi, b);
    if (!s || !*s || isspace((unsigned char)*s)) return refuse(cmd, opt, s, "a number", one, range);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !cf_range_holds(v, lo, hi, b)) return refuse(cmd, opt, s, "a number", one, range);
    *out = v;
    return true;
}

int cf_cli_sampling_arg(int argc, char **argv, int *i, cf_cli_sampling *s)
{
    const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    bool ok;
    if (!v) return 0;
    if (strcmp(o, "--temperature") == 0) ok = cf_cli_float("generate", o, v, 0, 1e6, CF_RANGE_CLOSED, &s->temperature);
    else if (strcmp(o, "--top-k") == 0) ok = cf_cli_int("generate", o, v, 0, CF_MAX_VOCAB, &s->top_k);
    else if (strcmp(o, "--top-p") == 0) ok = cf_cli_float("generate", o, v, 0, 1, CF_RANGE_OPEN_LO, &s->top_p);
    else if (strcmp(o, "--seed") == 0) ok = cf_cli_int("generate", o, v, 0, CF_MAX_SEED, &s->seed);
    else return 0;
    ++*i;
    return ok ? 1 : -1;
}
