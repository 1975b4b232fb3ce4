/* Reasoning traces for language models (Dualformer, Su et al., ICLR 2025, Sec. 5): the `math_traces`
 * dataset of a recipe (data/traces/traces_dataset.h) and `cformer data math-traces`, the seeded generator
 * of multi-step arithmetic and algebra problems with exact step-by-step solutions. */
#include "data/traces/traces_dataset.h"
#include "recipes/dualformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* data.generate: {count, seed, min_ops, max_ops, algebra}: the file is generated when missing. */
static cf_status ensure_traces(cf_recipe *r, const char *path)
{
    bool generate = cf_recipe_has(r, "data.generate.count");
    cf_trace_gen_config g = cf_trace_gen_defaults();
    g.n = cf_recipe_int_in(r, "data.generate.count", 1000, 1, 100000000);
    g.seed = (uint64_t)cf_recipe_int_in(r, "data.generate.seed", 1, 0, CF_MAX_SEED);
    g.min_ops = (int)cf_recipe_int_in(r, "data.generate.min_ops", g.min_ops, 1, 8);
    g.max_ops = (int)cf_recipe_int_in(r, "data.generate.max_ops", g.max_ops, 1, 8);
    g.algebra = cf_recipe_float_in(r, "data.generate.algebra", g.algebra, 0, 1, CF_RANGE_CLOSED);
    CF_TRY(cf_recipe_status(r));
    struct stat sb;
    if (stat(path, &sb) == 0) return CF_OK;
    if (!generate)
        return cf_recipe_fail(r, "data.path", CF_ERR_IO, "%s: %s (give data.generate: {count, seed} to generate it, "
                              "or run `cformer data math-traces`)", path, strerror(errno));
    if (g.min_ops > g.max_ops)
        return cf_recipe_fail(r, "data.generate.min_ops", CF_ERR_ARG, "%d is above data.generate.max_ops %d", g.min_ops,
                              g.max_ops);
    fprintf(stderr, "math_traces: generating %s (%" PRId64 " problems, seed %" PRIu64 ")\n", path, g.n, g.seed);
    cf_trace_set *s = cf_traces_generate(&g);
    cf_status st = s ? cf_traces_write(path, s) : cf_last_status();
    cf_traces_free(s);
    return st;
}

cf_dataset *cf_math_traces_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    char pbuf[2048], vbuf[2048], valbuf[2048];
    cf_traces_options o = {0};
    o.path = cf_recipe_path(r, "data.path", cf_recipe_require_str(r, "data.path"), pbuf, sizeof pbuf);
    o.val_path = cf_recipe_path(r, "data.val_path", cf_recipe_str(r, "data.val_path", NULL), valbuf, sizeof valbuf);
    o.tokenizer = cf_recipe_str(r, "data.tokenizer", "byte");
    o.vocab_path = cf_recipe_path(r, "data.vocab_file", cf_recipe_str(r, "data.vocab_file", NULL), vbuf, sizeof vbuf);
    o.seq = cf_recipe_int_in(r, "data.seq", cf_recipe_int_in(r, "model.seq", 256, 2, CF_MAX_SEQ), 2, CF_MAX_SEQ);
    o.drop_p = cf_recipe_float_in(r, "data.drop_p", 0.0, 0, 1, CF_RANGE_CLOSED);
    int64_t train_seed = cf_recipe_int_in(r, "train.seed", 0, 0, CF_MAX_SEED);
    o.seed = (uint64_t)cf_recipe_int_in(r, "data.seed", train_seed, 0, CF_MAX_SEED);
    o.pad_id = cf_recipe_int_in(r, "data.pad_id", 0, 0, CF_MAX_VOCAB);
    o.max_records = cf_recipe_int_in(r, "data.max_records", 0, 0, CF_MAX_COUNT);
    o.prompt_template = cf_recipe_str(r, "data.prompt", CF_TRACE_PROMPT_TEMPLATE);
    if (cf_recipe_status(r) == CF_OK && !cf_trace_template_ok(o.prompt_template, "data.prompt")) {
        cf_recipe_fail(r, "data.prompt", CF_ERR_ARG, "must hold {problem} exactly once");
        return NULL;
    }
    if (cf_recipe_status(r) != CF_OK || !o.path || ensure_traces(r, o.path) != CF_OK) return NULL;
    return cf_traces_dataset_open(&o, split);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data math-traces --count N [--seed S] [--min-ops A] [--max-ops B] [--algebra F] -o FILE\n\n"
               "Writes N problems with exact step-by-step solutions as JSON Lines ({\"problem\", \"steps\", \"answer\"}, the\n"
               "format data.type: math_traces reads, with Dualformer's randomized step dropping): word problems whose\n"
               "quantity goes through A..B operations (default 2..5), and a fraction F (0.25) of linear equations.\n"
               "Problem i is a pure function of (i, seed), so a larger N extends a smaller one.\n\n"
               "  cformer data math-traces --count 20000 --seed 1 -o math.jsonl\n");
}

int cf_dualformer_traces_cmd(int argc, char **argv)
{
    cf_trace_gen_config g = cf_trace_gen_defaults();
    const char *out = NULL;
    int64_t seed = (int64_t)g.seed, min_ops = g.min_ops, max_ops = g.max_ops;
    const cf_cli_opt opts[] = {
        {.name = "--count", .kind = CF_CLI_INT, .out = &g.n, .lo = 1, .hi = 100000000, .required = true},
        CF_CLI_OPT_INT("--seed", &seed, 0, INT64_MAX),
        CF_CLI_OPT_INT("--min-ops", &min_ops, 1, 8),
        CF_CLI_OPT_INT("--max-ops", &max_ops, 1, 8),
        CF_CLI_OPT_FLOAT("--algebra", &g.algebra, 0, 1, CF_RANGE_CLOSED),
        CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse("data math-traces", argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    if (min_ops > max_ops) {
        fprintf(stderr, "cformer data math-traces: --min-ops %lld is above --max-ops %lld\n\n", (long long)min_ops,
                (long long)max_ops);
        usage(stderr);
        return 2;
    }
    g.seed = (uint64_t)seed, g.min_ops = (int)min_ops, g.max_ops = (int)max_ops;
    cf_trace_set *s = cf_traces_generate(&g);
    cf_status st = s ? cf_traces_write(out, s) : cf_last_status();
    int64_t steps = 0;
    for (int64_t i = 0; s && i < s->n; i++) steps += s->items[i].n_steps;
    if (st == CF_OK) printf("wrote %s: %" PRId64 " problems, %.2f steps each, seed %" PRIu64 "\n", out, s->n, (double)steps / (double)s->n, g.seed);
    cf_traces_free(s);
    if (st != CF_OK) {
        fprintf(stderr, "cformer data math-traces: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
