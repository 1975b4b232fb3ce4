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

static const cf_cli_opt *find_opt(const char *s, const cf_cli_opt *opts, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(s, opts[k].name) == 0 || (opts[k].alias && strcmp(s, opts[k].alias) == 0)) return &opts[k];
    return NULL;
}

int cf_cli_parse(const char *cmd, int argc, char **argv, const cf_cli_opt *opts, size_t n, void (*usage)(FILE *))
{
    bool given[64] = {false};
    if (n > sizeof given / sizeof given[0]) {
        fprintf(stderr, "cformer %s: too many options for the parser (%zu)\n", cmd, n);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const cf_cli_opt *o = find_opt(s, opts, n);
        if (!o) {
            fprintf(stderr, "cformer %s: unexpected argument '%s'\n\n", cmd, s);
            usage(stderr);
            return 2;
        }
        const char *v = o->kind == CF_CLI_FLAG ? NULL : i + 1 < argc ? argv[++i] : NULL;
        if (o->kind != CF_CLI_FLAG && !v) {
            fprintf(stderr, "cformer %s: %s needs a value\n\n", cmd, s);
            usage(stderr);
            return 2;
        }
        bool ok = true;
        switch (o->kind) {
        case CF_CLI_INT: ok = cf_cli_int(cmd, o->name, v, o->lo, o->hi, o->out); break;
        case CF_CLI_FLOAT: ok = cf_cli_float(cmd, o->name, v, o->flo, o->fhi, o->bounds, o->out); break;
        case CF_CLI_STRING: *(const char **)o->out = v; break;
        case CF_CLI_FLAG: *(bool *)o->out = true; break;
        }
        if (!ok) return 2;
        given[o - opts] = true;
        if (o->seen) *o->seen = true;
    }
    for (size_t k = 0; k < n; k++)
        if (opts[k].required && !given[k]) {
            fprintf(stderr, "cformer %s: needs %s\n\n", cmd, opts[k].alias ? opts[k].alias : opts[k].name);
            usage(stderr);
            return 2;
        }
    return CF_CLI_GO;
}
