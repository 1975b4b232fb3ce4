/* Recipe language tests: value types, getters and defaults, located errors (wrong type, unknown and
 * misspelt keys, unknown sections, YAML syntax, duplicates, missing required keys), --set overrides, the
 * resolved recipe's round trip and its hash. Recipes are embedded strings parsed under fake file names,
 * plus one temporary file and the example in tests/data/recipes/. */
#include "tests/check.h"
#include "recipes/recipe/recipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static bool has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* Parses a recipe that must parse. */
static cf_recipe *parse_ok(const char *text, const char *name)
{
    cf_recipe *r = cf_recipe_parse(text, name);
    CHECK(r != NULL, "%s did not parse: %s", name, cf_last_error());
    return r;
}

static void test_value_types(void)
{
    cf_recipe *r = parse_ok("model:\n"
                            "  type: transformer\n"
                            "  dims: [64, 128, 256]\n"
                            "  scales: [0.5, 2, .inf]\n"
                            "  dropout: 0.1\n"
                            "  tied: true\n"
                            "  quoted: \"42\"\n"
                            "  attn:\n"
                            "    window: 128\n"
                            "    causal: off\n"
                            "data:\n"
                            "  files:\n"
                            "    - a.bin\n"
                            "    - b.bin\n"
                            "  path: ~\n"
                            "train:\n"
                            "  steps: 1_000\n"
                            "  big: 1e6\n"
                            "  mask: 0xff\n"
                            "  neg: -7\n"
                            "optim:\n"
                            "  lr: 3e-4\n",
                            "types.yaml");
    if (!r) return;
    CHECK(strcmp(cf_recipe_str(r, "model.type", "x"), "transformer") == 0, "model.type");
    int64_t dims[4] = {0};
    CHECK(cf_recipe_int_list(r, "model.dims", dims, 4, NULL, 0) == 3 && dims[0] == 64 && dims[2] == 256,
          "model.dims");
    double sc[3];
    CHECK(cf_recipe_float_list(r, "model.scales", sc, 3, NULL, 0) == 3 && sc[0] == 0.5 && sc[1] == 2.0 &&
              isinf(sc[2]),
          "model.scales");
    CHECK(cf_recipe_float(r, "model.dropout", 0) == 0.1, "model.dropout");
    CHECK(cf_recipe_bool(r, "model.tied", false) == true, "model.tied");
    CHECK(cf_recipe_int(r, "model.quoted", 0) == 42, "a quoted number still reads as a number");
    CHECK(cf_recipe_int(r, "model.attn.window", 0) == 128, "sub-config key");
    CHECK(cf_recipe_bool(r, "model.attn.causal", true) == false, "off is false");
    const char *files[4];
    CHECK(cf_recipe_str_list(r, "data.files", files, 4) == 2 && strcmp(files[1], "b.bin") == 0, "block list");
    CHECK(strcmp(cf_recipe_str(r, "data.path", "default.bin"), "default.bin") == 0, "null reads as the default");
    CHECK(cf_recipe_int(r, "train.steps", 0) == 1000, "underscores");
    CHECK(cf_recipe_int(r, "train.big", 0) == 1000000, "1e6 is an integer");
    CHECK(cf_recipe_int(r, "train.mask", 0) == 255, "hex");
    CHECK(cf_recipe_int(r, "train.neg", 0) == -7, "negative");
    CHECK(cf_recipe_float(r, "optim.lr", 0) == 3e-4, "optim.lr");
    /* Defaults for absent keys, including a whole absent section and sub-config. */
    CHECK(cf_recipe_int(r, "log.every", 10) == 10, "default int");
    CHECK(cf_recipe_float(r, "optim.wd", 0.25) == 0.25, "default float");
    CHECK(cf_recipe_bool(r, "train.amp", true) == true, "default bool");
    CHECK(cf_recipe_str(r, "checkpoint.dir", NULL) == NULL, "default NULL string");
    CHECK(cf_recipe_int(r, "model.mlp.ratio", 4) == 4, "default in an absent sub-config");
    int64_t dd[3], ddef[2] = {3, 5};
    CHECK(cf_recipe_int_list(r, "model.kernel", dd, 3, ddef, 2) == 2 && dd[1] == 5, "default list");
    CHECK(cf_recipe_has(r, "model.type") && cf_recipe_has(r, "model.attn") && !cf_recipe_has(r, "data.path") &&
              !cf_recipe_has(r, "log.every"),
          "has");
    const char *origin;
    int line;
    CHECK(cf_recipe_where(r, "train.mask", &origin, &line) && strcmp(origin, "types.yaml") == 0 && line == 19,
          "where: %s:%d", origin, line);
    CHECK(cf_recipe_check_unknown(r) == CF_OK, "all keys read: %s", cf_recipe_error(r));
    CHECK(cf_recipe_status(r) == CF_OK, "status");
    cf_recipe_free(r);
}

static void test_wrong_type(void)
{
    cf_recipe *r = parse_ok("train:\n  batch_size: 8\n  steps: abc\noptim:\n  lr: [1, 2]\n  fused: maybe\n",
                            "wrong.yaml");
    if (!r) return;
    CHECK(cf_recipe_int(r, "train.batch_size", 1) == 8, "good key");
    CHECK(cf_recipe_status(r) == CF_OK, "no error yet");
    CHECK(cf_recipe_int(r, "train.steps", 77) == 77, "wrong type returns the default");
    CHECK(cf_recipe_float(r, "optim.lr", 1.0) == 1.0, "list as a float");
    CHECK(cf_recipe_bool(r, "optim.fused", false) == false, "not a bool");
    CHECK(cf_recipe_status(r) == CF_ERR_FORMAT, "sticky status %d", (int)cf_recipe_status(r));
    CHECK(strcmp(cf_recipe_error(r), "wrong.yaml:3: train.steps: expected an integer, got 'abc'") == 0,
          "first error wins: '%s'", cf_recipe_error(r));
    CHECK(has(cf_last_error(), "wrong.yaml:3: train.steps"), "cf_last_error has it too: '%s'", cf_last_error());
    cf_recipe_free(r);

    r = parse_ok("optim:\n  lr: [1, 2]\n", "list.yaml");
    if (!r) return;
    cf_recipe_float(r, "optim.lr", 1.0);
    CHECK(has(cf_recipe_error(r), "list.yaml:2: optim.lr: expected a number, got '[1, 2]'"), "'%s'",
          cf_recipe_error(r));
    cf_recipe_free(r);

    r = parse_ok("model:\n  dims: [64, x, 3]\n  ks: [1, 2, 3]\n", "items.yaml");
    if (!r) return;
    int64_t v[3];
    CHECK(cf_recipe_int_list(r, "model.dims", v, 3, NULL, 0) == -1, "bad item");
    CHECK(has(cf_recipe_error(r), "items.yaml:2: model.dims[1]: expected an integer, got 'x'"), "'%s'",
          cf_recipe_error(r));
    cf_recipe_free(r);

    r = parse_ok("model:\n  ks: [1, 2, 3]\n", "long.yaml");
    if (!r) return;
    CHECK(cf_recipe_int_list(r, "model.ks", v, 2, NULL, 0) == -1, "too many items");
    CHECK(has(cf_recipe_error(r), "long.yaml:2: model.ks: expected at most 2 values, got 3"), "'%s'",
          cf_recipe_error(r));
    cf_recipe_free(r);

    /* A sub-config read as a value, and a value read as a sub-config. */
    r = parse_ok("model:\n  attn:\n    window: 4\n  mlp: 3\n", "sub.yaml");
    if (!r) return;
    cf_recipe_int(r, "model.attn", 0);
    CHECK(has(cf_recipe_error(r), "sub.yaml:3: model.attn: expected a value, got a sub-config"), "'%s'",
          cf_recipe_error(r));
    cf_recipe_free(r);
    r = parse_ok("model:\n  attn:\n    window: 4\n  mlp: 3\n", "sub.yaml");
    if (!r) return;
    cf_recipe_int(r, "model.mlp.ratio", 0);
    CHECK(has(cf_recipe_error(r), "sub.yaml:4: model.mlp: expected a sub-config"), "'%s'", cf_recipe_error(r));
    cf_recipe_free(r);

    /* A getter asked for a key outside the sections is the program's mistake, still not a crash. */
    r = cf_recipe_new(NULL);
    CHECK(cf_recipe_int(r, "trian.steps", 3) == 3 && cf_recipe_status(r) == CF_ERR_ARG, "bad getter key");
    cf_recipe_free(r);
}

static void test_unknown_keys(void)
{
    cf_recipe *r = parse_ok("optim:\n"
                            "  lr: 0.01\n"
                            "  lrr: 0.02\n"
                            "  momentum_x: 0.9\n"
                            "train:\n"
                            "  stpes: 10\n"
                            "  lr: 0.5\n"
                            "model:\n"
                            "  attn:\n"
                            "    windw: 3\n",
                            "unk.yaml");
    if (!r) return;
    cf_recipe_float(r, "optim.lr", 0.1);
    cf_recipe_int(r, "train.steps", 100);
    cf_recipe_int(r, "model.attn.window", 8);
    cf_recipe_int(r, "model.attn.heads", 8);
    CHECK(cf_recipe_status(r) == CF_OK, "reading is fine: %s", cf_recipe_error(r));
    CHECK(cf_recipe_check_unknown(r) == CF_ERR_FORMAT, "unknown keys are an error");
    const char *e = cf_recipe_error(r);
    const char *first = "unk.yaml:3: unknown key 'optim.lrr' (did you mean 'optim.lr'?)\n";
    CHECK(strncmp(e, first, strlen(first)) == 0,
          "first line precise: '%s'", e);
    CHECK(has(e, "unk.yaml:4: unknown key 'optim.momentum_x'\n"), "no suggestion when nothing is close: '%s'", e);
    CHECK(has(e, "unk.yaml:6: unknown key 'train.stpes' (did you mean 'train.steps'?)"), "transposition: '%s'", e);
    CHECK(has(e, "unk.yaml:7: unknown key 'train.lr' (did you mean 'optim.lr'?)"), "other section: '%s'", e);
    CHECK(has(e, "unk.yaml:10: unknown key 'model.attn.windw' (did you mean 'model.attn.window'?)"),
          "sub-config: '%s'", e);
    CHECK(has(cf_last_error(), "optim.lrr"), "cf_last_error: '%s'", cf_last_error());
    CHECK(cf_recipe_check_unknown(r) == CF_ERR_FORMAT && strcmp(cf_recipe_error(r), e) == 0, "idempotent");
    cf_recipe_free(r);

    /* An earlier error stays first; the unknown keys follow it. */
    r = parse_ok("train:\n  steps: x\n  sed: 1\n", "both.yaml");
    if (!r) return;
    cf_recipe_int(r, "train.steps", 1);
    cf_recipe_int(r, "train.seed", 1);
    CHECK(cf_recipe_check_unknown(r) == CF_ERR_FORMAT, "status");
    CHECK(has(cf_recipe_error(r), "both.yaml:2: train.steps: expected an integer, got 'x'\n"
                                  "both.yaml:3: unknown key 'train.sed' (did you mean 'train.seed'?)"),
          "'%s'", cf_recipe_error(r));
    cf_recipe_free(r);
}

static void test_structure_errors(void)
{
    cf_recipe *r = cf_recipe_parse("model:\n  type: mlp\ntrian:\n  steps: 3\n", "top.yaml");
    CHECK(r == NULL, "top-level typo parses");
    CHECK(has(cf_last_error(), "top.yaml:3: unknown section 'trian' (did you mean 'train'?)"), "'%s'",
          cf_last_error());
    cf_recipe_free(r);

    r = cf_recipe_parse("train:\n  steps: [1, 2\nlog:\n  every: 1\n", "syn.yaml");
    CHECK(r == NULL, "syntax error parses");
    CHECK(has(cf_last_error(), "syn.yaml:3:4: did not find expected ',' or ']'"), "line:column: '%s'",
          cf_last_error());
    cf_recipe_free(r);
    r = cf_recipe_parse("train:\n  steps: 1\n seed: 2\n", "ind.yaml");
    CHECK(r == NULL && has(cf_last_error(), "ind.yaml:3:") && has(cf_last_error(), "block mapping"),
          "bad indentation: '%s'", cf_last_error());
    cf_recipe_free(r);
    r = cf_recipe_parse("train:\n\tsteps: 1\n", "tab.yaml");
    CHECK(r == NULL && has(cf_last_error(), "tab.yaml:2:1: "), "tab: '%s'", cf_last_error());
    cf_recipe_free(r);

    r = cf_recipe_parse("train:\n  name: \xff\xfe\n", "utf.yaml");
    CHECK(r == NULL && has(cf_last_error(), "utf.yaml:2:9: invalid leading UTF-8 octet"), "encoding: '%s'",
          cf_last_error());
    cf_recipe_free(r);

    r = cf_recipe_parse("train:\n  steps: 1\n  seed: 2\n  steps: 3\n", "dup.yaml");
    CHECK(r == NULL && has(cf_last_error(), "dup.yaml:4: duplicate key 'train.steps' (first at dup.yaml:2)"),
          "duplicate key: '%s'", cf_last_error());
    cf_recipe_free(r);
    r = cf_recipe_parse("log:\n  every: 1\ntrain:\n  seed: 2\nlog:\n  name: x\n", "dups.yaml");
    CHECK(r == NULL && has(cf_last_error(), "dups.yaml:5: duplicate key 'log' (first at dups.yaml:1)"),
          "duplicate section: '%s'", cf_last_error());
    cf_recipe_free(r);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"model:\n  attn:\n    rope:\n      base: 1\n", "deep.yaml:3: model.attn.rope: too deep"},
        {"model:\n  layers:\n    - {dim: 3}\n", "deep.yaml:3: model.layers: expected a value or a flat list of values, got a list of mappings"},
        {"model:\n  grid: [[1, 2], [3]]\n", "deep.yaml:2: model.grid: expected a value or a flat list of values, got a nested list"},
        {"train: 5\n", "deep.yaml:1: section 'train' must be a mapping of keys, got a scalar"},
        {"- model\n", "deep.yaml:1: a recipe is a mapping of sections"},
        {"model:\n  my key: 1\n", "deep.yaml:2: invalid key 'my key' in model"},
        {"model:\n  a.b: 1\n", "deep.yaml:2: invalid key 'a.b' in model"},
        {"model:\n  type: a\n---\ntrain:\n  steps: 1\n", "deep.yaml:4: a recipe is one YAML document"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = cf_recipe_parse(bad[i].text, "deep.yaml");
        CHECK(r == NULL && has(cf_last_error(), bad[i].want), "case %zu: '%s'", i, cf_last_error());
        cf_recipe_free(r);
    }

    /* Empty recipes and empty sections are fine. */
    r = parse_ok("", "empty.yaml");
    CHECK(r && cf_recipe_int(r, "train.steps", 5) == 5 && cf_recipe_check_unknown(r) == CF_OK, "empty recipe");
    cf_recipe_free(r);
    r = parse_ok("# only a comment\nlog:\ndistributed: {}\n", "empty2.yaml");
    CHECK(r && cf_recipe_check_unknown(r) == CF_OK, "empty sections");
    cf_recipe_free(r);
}

static void test_required(void)
{
    cf_recipe *r = parse_ok("data:\n  pth: x.bin\n  type: bytes\n", "req.yaml");
    if (!r) return;
    CHECK(strcmp(cf_recipe_require_str(r, "data.type"), "bytes") == 0, "present required key");
    CHECK(cf_recipe_status(r) == CF_OK, "no error");
    CHECK(cf_recipe_require_str(r, "data.path") == NULL, "missing required key");
    CHECK(cf_recipe_status(r) == CF_ERR_FORMAT &&
              strcmp(cf_recipe_error(r), "req.yaml: missing required key data.path") == 0,
          "'%s'", cf_recipe_error(r));
    CHECK(cf_recipe_check_unknown(r) != CF_OK &&
              has(cf_recipe_error(r), "req.yaml:2: unknown key 'data.pth' (did you mean 'data.path'?)"),
          "a missing required key is still known: '%s'", cf_recipe_error(r));
    cf_recipe_free(r);

    r = parse_ok("train:\n  steps: ~\n", "req2.yaml");
    if (!r) return;
    CHECK(!cf_recipe_require(r, "train.steps") && has(cf_recipe_error(r), "missing required key train.steps"),
          "null counts as missing");
    cf_recipe_free(r);
    r = parse_ok("train:\n  steps: 12\n", "req3.yaml");
    if (!r) return;
    CHECK(cf_recipe_require(r, "train.steps") && cf_recipe_int(r, "train.steps", 0) == 12 &&
              cf_recipe_require_int(r, "train.steps") == 12 && cf_recipe_check_unknown(r) == CF_OK,
          "require then read");
    cf_recipe_free(r);
}

static void test_set(void)
{
    cf_recipe *r = parse_ok("train:\n  steps: 10\nmodel:\n  dims: [1, 2]\n  attn:\n    window: 3\n", "set.yaml");
    if (!r) return;
    CHECK(cf_recipe_set(r, "train.steps=100") == CF_OK, "set int: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "model.dims=[64, 128, 256]") == CF_OK, "set list: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "data.path=/tmp/a b.txt") == CF_OK, "set new key: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "model.attn.window=7") == CF_OK, "set sub-config key: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "optim.lr=1e-3") == CF_OK, "set: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "optim.lr=2e-3") == CF_OK, "the last --set wins: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "train.stpes=5") == CF_OK, "set a misspelt key: %s", cf_last_error());
    CHECK(cf_recipe_set(r, "log.every=x") == CF_OK, "set a wrong type (found when read): %s", cf_last_error());

    CHECK(cf_recipe_set(r, "train.steps") == CF_ERR_ARG && has(cf_last_error(), "expected section.key=value"),
          "no '=': '%s'", cf_last_error());
    CHECK(cf_recipe_set(r, "trian.steps=1") == CF_ERR_ARG &&
              has(cf_last_error(), "--set: trian.steps: unknown section 'trian' (did you mean 'train'?)"),
          "unknown section: '%s'", cf_last_error());
    CHECK(cf_recipe_set(r, "model.attn=1") != CF_OK && has(cf_last_error(), "--set: model.attn: is a sub-config"),
          "clash with a sub-config: '%s'", cf_last_error());
    CHECK(cf_recipe_set(r, "model.dims=[1, [2]]") != CF_OK && has(cf_last_error(), "--set: model.dims: "),
          "nested list: '%s'", cf_last_error());
    CHECK(cf_recipe_set(r, "model.dims=[1, 2") != CF_OK &&
              has(cf_last_error(), "--set: model.dims: did not find expected ',' or ']' at the end of the value"),
          "syntax: '%s'", cf_last_error());
    CHECK(cf_recipe_status(r) == CF_OK, "a refused --set leaves no sticky error");

    CHECK(cf_recipe_int(r, "train.steps", 0) == 100, "override wins");
    int64_t d[4];
    CHECK(cf_recipe_int_list(r, "model.dims", d, 4, NULL, 0) == 3 && d[2] == 256, "list override");
    CHECK(strcmp(cf_recipe_str(r, "data.path", ""), "/tmp/a b.txt") == 0, "string override");
    CHECK(cf_recipe_int(r, "model.attn.window", 0) == 7, "sub-config override");
    CHECK(cf_recipe_float(r, "optim.lr", 0) == 2e-3, "last set");
    const char *origin;
    int line;
    CHECK(cf_recipe_where(r, "train.steps", &origin, &line) && strcmp(origin, "--set") == 0 && line == 0,
          "origin is --set");
    CHECK(cf_recipe_set(r, "train.steps=5") == CF_ERR_STATE, "set after read is refused");
    CHECK(cf_recipe_status(r) == CF_OK, "still fine: %s", cf_recipe_error(r));
    CHECK(cf_recipe_int(r, "log.every", 1) == 1, "bad override returns the default");
    CHECK(strcmp(cf_recipe_error(r), "--set: log.every: expected an integer, got 'x'") == 0, "'%s'",
          cf_recipe_error(r));
    CHECK(cf_recipe_check_unknown(r) != CF_OK &&
              has(cf_recipe_error(r), "\n--set: unknown key 'train.stpes' (did you mean 'train.steps'?)"),
          "unknown --set key: '%s'", cf_recipe_error(r));
    cf_recipe_free(r);
}

/* Every value read through the getters, so two recipes can be compared key by key. */
typedef struct vals {
    int64_t steps, seed, dims[4], big;
    int ndims, nfl, nstr, nempty;
    double lr, tiny, third, neg0, inf, nan_, fl[4], deflt;
    bool amp, tied;
    const char *s[12];
    const char *strs[4];
    const char *nil;
} vals;

static const char *const str_keys[] = {"model.type", "data.path", "log.yes", "log.num", "log.colon",
                                       "log.quotes", "log.empty", "log.null", "log.tab", "log.utf8",
                                       "log.dash", "log.space"};

static void read_all(cf_recipe *r, vals *v, bool other_defaults)
{
    /* With other_defaults the defaults differ, so a match proves the values came from the text. */
    int k = other_defaults ? 1 : 0;
    v->steps = cf_recipe_int(r, "train.steps", 1 + k);
    v->seed = cf_recipe_int(r, "train.seed", 42 + k);
    v->big = cf_recipe_int(r, "train.big", INT64_MIN + k);
    int64_t dd[2] = {8 + k, 16};
    v->ndims = cf_recipe_int_list(r, "model.dims", v->dims, 4, dd, 2);
    v->lr = cf_recipe_float(r, "optim.lr", 0.5 + k);
    v->tiny = cf_recipe_float(r, "optim.tiny", 1 + k);
    v->third = cf_recipe_float(r, "optim.third", 1.0 / 3.0 + k);
    v->neg0 = cf_recipe_float(r, "optim.neg0", 1 + k);
    v->inf = cf_recipe_float(r, "optim.inf", 1 + k);
    v->nan_ = cf_recipe_float(r, "optim.nan", 1 + k);
    v->deflt = cf_recipe_float(r, "optim.default", 0.1 + k);
    double fd[1] = {2.5};
    v->nfl = cf_recipe_float_list(r, "optim.betas", v->fl, 4, fd, 1);
    v->amp = cf_recipe_bool(r, "train.amp", !k);
    v->tied = cf_recipe_bool(r, "model.attn.tied", k);
    cf_recipe_int(r, "model.attn.window", 64 + k);
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++)
        v->s[i] = cf_recipe_str(r, str_keys[i], other_defaults ? "other" : "dflt");
    v->nil = cf_recipe_str(r, "checkpoint.dir", NULL);
    v->nstr = cf_recipe_str_list(r, "data.files", v->strs, 4);
    v->nempty = cf_recipe_str_list(r, "data.none", v->strs + 3, 1);
}

static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void compare(const vals *a, const vals *b)
{
    CHECK(a->steps == b->steps && a->seed == b->seed && a->big == b->big, "ints %lld %lld", (long long)a->steps,
          (long long)b->steps);
    CHECK(a->ndims == b->ndims && memcmp(a->dims, b->dims, (size_t)a->ndims * sizeof a->dims[0]) == 0, "dims");
    CHECK(same_double(a->lr, b->lr) && same_double(a->tiny, b->tiny) && same_double(a->third, b->third),
          "floats %.17g/%.17g %.17g/%.17g %.17g/%.17g", a->lr, b->lr, a->tiny, b->tiny, a->third, b->third);
    CHECK(same_double(a->neg0, b->neg0) && same_double(a->inf, b->inf) && same_double(a->nan_, b->nan_) &&
              same_double(a->deflt, b->deflt),
          "special floats");
    CHECK(a->nfl == b->nfl && a->nfl == 2 && same_double(a->fl[0], b->fl[0]) && same_double(a->fl[1], b->fl[1]),
          "float list");
    CHECK(a->amp == b->amp && a->tied == b->tied, "bools");
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++)
        CHECK(a->s[i] && b->s[i] && strcmp(a->s[i], b->s[i]) == 0, "%s: '%s' vs '%s'", str_keys[i],
              a->s[i] ? a->s[i] : "(null)", b->s[i] ? b->s[i] : "(null)");
    CHECK(a->nil == NULL && b->nil == NULL, "NULL default string stays NULL");
    CHECK(a->nstr == b->nstr && a->nstr == 3 && strcmp(a->strs[2], b->strs[2]) == 0, "string list");
    CHECK(a->nempty == 0 && b->nempty == 0, "empty string list");
}

static void test_round_trip(void)
{
    const char *text = "train:\n"
                       "  steps: 2_000\n"
                       "  big: -9223372036854775808\n"
                       "optim:\n"
                       "  lr: 3e-4\n"
                       "  tiny: 4.9e-324\n"
                       "  third: 0.33333333333333331\n"
                       "  neg0: -0.0\n"
                       "  inf: -.inf\n"
                       "  nan: .nan\n"
                       "  betas: [0.9, 0.999]\n"
                       "model:\n"
                       "  type: transformer\n"
                       "  dims: [3]\n"
                       "  attn:\n"
                       "    tied: yes\n"
                       "data:\n"
                       "  path: data/train.bin\n"
                       "  files: [a.bin, \"1\", \"x, y\"]\n"
                       "log:\n"
                       "  yes: \"yes\"\n"
                       "  num: \"1e5\"\n"
                       "  colon: \"a: b # c\"\n"
                       "  quotes: \"say \\\"hi\\\" \\\\ back\"\n"
                       "  empty: \"\"\n"
                       "  null: \"null\"\n"
                       "  tab: \"a\\tb\\nc\\x01\"\n"
                       "  utf8: h\xc3\xa9llo\n"
                       "  dash: -x\n"
                       "  space: \" lead\"\n";
    cf_recipe *r = parse_ok(text, "rt.yaml");
    if (!r) return;
    CHECK(cf_recipe_set(r, "train.seed=7") == CF_OK, "set");
    vals a, b;
    read_all(r, &a, false);
    CHECK(cf_recipe_check_unknown(r) == CF_OK, "first read: %s", cf_recipe_error(r));
    CHECK(a.steps == 2000 && a.seed == 7 && a.big == INT64_MIN && a.tied && signbit(a.neg0) && isinf(a.inf) &&
              a.inf < 0 && isnan(a.nan_) && a.tiny > 0,
          "values as written");
    char *res = cf_recipe_resolved(r);
    CHECK(res != NULL, "resolved");
    if (!res) {
        cf_recipe_free(r);
        return;
    }
    /* Spot checks of the form: fixed section order, sorted keys, defaults included, quoting. */
    const char *m = strstr(res, "model:\n"), *d = strstr(res, "data:\n"), *o = strstr(res, "optim:\n"),
               *t = strstr(res, "train:\n"), *l = strstr(res, "log:\n");
    CHECK(m && d && o && t && l && m < d && d < o && o < t && t < l, "section order:\n%s", res);
    CHECK(!has(res, "checkpoint:"), "no empty section:\n%s", res);
    CHECK(has(res, "  steps: 2000\n") && has(res, "  seed: 7\n") && has(res, "  amp: true\n"), "ints:\n%s", res);
    CHECK(has(res, "  lr: 0.0003\n") && has(res, "  default: 0.1\n") && has(res, "  neg0: -0.0\n") &&
              has(res, "  inf: -.inf\n") && has(res, "  nan: .nan\n") && has(res, "  tiny: 5.0e-324\n"),
          "floats:\n%s", res);
    CHECK(has(res, "  attn:\n    tied: true\n    window: 64\n"), "sub-config:\n%s", res);
    CHECK(has(res, "  type: transformer\n") && has(res, "  \"yes\": \"yes\"\n") && has(res, "  num: \"1e5\"\n") &&
              has(res, "  dash: \"-x\"\n") && has(res, "  none: []\n") && has(res, "  path: data/train.bin\n"),
          "strings:\n%s", res);
    /* Re-parse and read again with other defaults: every value must come back the same. */
    cf_recipe *r2 = parse_ok(res, "resolved.yaml");
    if (r2) {
        read_all(r2, &b, true);
        CHECK(cf_recipe_status(r2) == CF_OK && cf_recipe_check_unknown(r2) == CF_OK, "re-read: %s",
              cf_recipe_error(r2));
        compare(&a, &b);
        char *res2 = cf_recipe_resolved(r2);
        CHECK(res2 && strcmp(res, res2) == 0, "resolved is a fixed point:\n%s\nvs\n%s", res, res2 ? res2 : "");
        CHECK(cf_recipe_hash(r) == cf_recipe_hash(r2), "equal hashes");
        free(res2);
        cf_recipe_free(r2);
    }
    free(res);
    cf_recipe_free(r);

    /* Floats that print long: shortest forms that still read back exactly. */
    static const double fs[] = {0.1, 1.0 / 3.0, 1e300, 1e-300, 123456789.0, 5e-324, 1.7976931348623157e308,
                                2.0, -1.5e-7};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        cf_recipe *a1 = cf_recipe_new("f");
        cf_recipe_float(a1, "optim.x", fs[i]);
        char *t1 = cf_recipe_resolved(a1);
        cf_recipe *a2 = t1 ? cf_recipe_parse(t1, "f2") : NULL;
        double back = a2 ? cf_recipe_float(a2, "optim.x", 0) : 0;
        CHECK(a2 && back == fs[i], "%.17g -> '%s' -> %.17g", fs[i], t1 ? t1 : "", back);
        CHECK(t1 && (has(t1, ".") || has(t1, "inf")), "a float looks like a float: '%s'", t1 ? t1 : "");
        free(t1);
        cf_recipe_free(a1);
        cf_recipe_free(a2);
    }
}

static uint64_t hash_of(const char *text)
{
    cf_recipe *r = cf_recipe_parse(text, "h.yaml");
    if (!r) return 0;
    cf_recipe_int(r, "train.steps", 1);
    cf_recipe_float(r, "optim.lr", 0.1);
    cf_recipe_str(r, "model.type", "mlp");
    uint64_t h = cf_recipe_hash(r);
    cf_recipe_free(r);
    return h;
}

static void test_hash(void)
{
    uint64_t a = hash_of("train:\n  steps: 10\noptim:\n  lr: 0.01\n");
    uint64_t b = hash_of("optim: {lr: 1.0e-2}\ntrain:\n  steps: 10   # same values, other form\n");
    uint64_t c = hash_of("train:\n  steps: 11\noptim:\n  lr: 0.01\n");
    uint64_t d = hash_of("train:\n  steps: 10\noptim:\n  lr: 0.010000000000000002\n");
    uint64_t e = hash_of("train:\n  steps: 10\noptim:\n  lr: 0.01\nmodel:\n  type: mlp\n");
    CHECK(a != 0 && a == b, "same values, same hash");
    CHECK(a != c, "int changed");
    CHECK(a != d, "last bit of a float changed");
    CHECK(a == e, "the default written out is the same recipe");
    cf_recipe *r = cf_recipe_parse("train:\n  steps: 10\n", "h.yaml");
    if (r) {
        uint64_t h0 = cf_recipe_hash(r);
        cf_recipe_int(r, "train.steps", 1);
        CHECK(cf_recipe_hash(r) != h0, "reading a key adds it to the resolved recipe");
        cf_recipe_free(r);
    }
}

static void test_files(void)
{
    char path[] = "/tmp/cf_test_recipe_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    const char *text = "# a comment\ntrain:\n  steps: 5\n  sed: 1\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    cf_recipe *r = cf_recipe_load(path);
    CHECK(r != NULL, "load: %s", cf_last_error());
    if (r) {
        CHECK(strcmp(cf_recipe_name(r), path) == 0, "named by its path");
        CHECK(cf_recipe_int(r, "train.steps", 0) == 5, "value");
        cf_recipe_int(r, "train.seed", 0);
        char want[128];
        snprintf(want, sizeof want, "%s:4: unknown key 'train.sed' (did you mean 'train.seed'?)", path);
        CHECK(cf_recipe_check_unknown(r) != CF_OK && has(cf_recipe_error(r), want), "'%s'", cf_recipe_error(r));
        cf_recipe_free(r);
    }
    unlink(path);
    r = cf_recipe_load(path);
    CHECK(r == NULL && cf_last_status() == CF_ERR_IO && has(cf_last_error(), path), "missing file: '%s'",
          cf_last_error());

    /* The example recipe beside this source (CMake compiles it by absolute path). */
    char ex[4096];
    snprintf(ex, sizeof ex, "%s", __FILE__);
    char *slash = strrchr(ex, '/');
    if (!slash) return;
    snprintf(slash + 1, sizeof ex - (size_t)(slash + 1 - ex), "data/recipes/example.yaml");
    r = cf_recipe_load(ex);
    CHECK(r != NULL, "example: %s", cf_last_error());
    if (!r) return;
    int64_t dims[4];
    double betas[2];
    const char *splits[2];
    CHECK(strcmp(cf_recipe_str(r, "model.type", ""), "transformer") == 0, "model.type");
    CHECK(cf_recipe_int_list(r, "model.dims", dims, 4, NULL, 0) == 2 && dims[1] == 128, "model.dims");
    CHECK(cf_recipe_float(r, "model.dropout", 0) == 0.1 && cf_recipe_bool(r, "model.tied", false), "model");
    CHECK(cf_recipe_int(r, "model.attn.window", 0) == 128 && cf_recipe_bool(r, "model.attn.causal", false),
          "model.attn");
    CHECK(strcmp(cf_recipe_str(r, "data.type", ""), "bytes") == 0 &&
              strcmp(cf_recipe_require_str(r, "data.path"), "data/tiny.txt") == 0 &&
              cf_recipe_str_list(r, "data.splits", splits, 2) == 2,
          "data");
    CHECK(cf_recipe_float(r, "optim.lr", 0) == 3e-4 && cf_recipe_float_list(r, "optim.betas", betas, 2, NULL, 0) == 2 &&
              cf_recipe_float(r, "optim.weight_decay", 0) == 0.1,
          "optim");
    CHECK(cf_recipe_int(r, "train.steps", 0) == 1000 && cf_recipe_int(r, "train.batch_size", 0) == 8 &&
              cf_recipe_int(r, "train.seed", 0) == 1234,
          "train");
    CHECK(cf_recipe_int(r, "checkpoint.every", 0) == 500 && cf_recipe_int(r, "checkpoint.keep", 0) == 3,
          "checkpoint");
    CHECK(strcmp(cf_recipe_str(r, "distributed.backend", "mpi"), "mpi") == 0, "null backend");
    CHECK(cf_recipe_int(r, "log.every", 0) == 10 && strcmp(cf_recipe_str(r, "log.name", ""), "run #1") == 0, "log");
    CHECK(cf_recipe_check_unknown(r) == CF_OK, "example fully read: %s", cf_recipe_error(r));
    cf_recipe_free(r);
}

static void test_fail(void)
{
    cf_recipe *r = parse_ok("model:\n  type: gptx\n", "fail.yaml");
    if (!r) return;
    const char *t = cf_recipe_str(r, "model.type", "mlp");
    if (strcmp(t, "mlp") != 0 && strcmp(t, "gpt") != 0)
        cf_recipe_fail(r, "model.type", CF_ERR_FORMAT, "unknown model '%s'", t);
    CHECK(strcmp(cf_recipe_error(r), "fail.yaml:2: model.type: unknown model 'gptx'") == 0, "'%s'",
          cf_recipe_error(r));
    cf_recipe_free(r);
    CHECK(cf_recipe_parse(NULL, "x") == NULL && cf_recipe_load(NULL) == NULL, "NULL inputs");
    CHECK(cf_recipe_int(NULL, "train.steps", 3) == 3 && cf_recipe_status(NULL) == CF_ERR_ARG, "NULL recipe");
    cf_recipe_free(NULL);
}

/* ---- resource limits: hostile inputs fail promptly, naming the line and the limit ---- */

/* A growable text for generated recipes. */
typedef struct {
    char *p;
    size_t n, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        t->cap = 2 * (t->n + n + 1);
        t->p = realloc(t->p, t->cap);
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

static void repeat(text *t, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++) puts_(t, s);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The text must fail within 0.25 s, with an error holding `where` (file:line) and `what` (the limit). */
static void refused_fast(const char *label, text *t, const char *where, const char *what)
{
    double t0 = now_s();
    cf_recipe *r = cf_recipe_parse(t->p, "limits.yaml");
    double dt = now_s() - t0;
    CHECK(r == NULL, "%s: parsed", label);
    CHECK(has(cf_last_error(), where) && has(cf_last_error(), what), "%s: the error lacks '%s' or '%s': %s", label,
          where, what, cf_last_error());
    CHECK(dt < 0.25, "%s: took %.3f s", label, dt);
    printf("  %-28s %6.1f ms, %7zu bytes: %s\n", label, 1e3 * dt, t->n, cf_last_error());
    cf_recipe_free(r);
    free(t->p);
    memset(t, 0, sizeof *t);
}

static void test_limits(void)
{
    text t = {0};
    /* 100000 nested flow lists (quadratic in libyaml's scanner when parsed whole) */
    puts_(&t, "model:\n  x: ");
    repeat(&t, "[", 100000);
    repeat(&t, "]", 100000);
    refused_fast("flow lists 100000 deep", &t, "limits.yaml:2:", "limit of 8 levels");

    puts_(&t, "model:\n  x: ");
    repeat(&t, "{a: ", 100000);
    repeat(&t, "}", 100000);
    refused_fast("flow mappings 100000 deep", &t, "limits.yaml:2:", "limit of 8 levels");

    puts_(&t, "model:\n  x:\n    ");
    repeat(&t, "- ", 100000);
    puts_(&t, "1\n");
    refused_fast("block lists 100000 deep", &t, "limits.yaml:3:", "limit of 8 levels");

    /* billion laughs: each level is nine aliases of the one before (9^9 values); the nesting gives up first */
    puts_(&t, "model:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i < 9; i++) {
        char line[160];
        snprintf(line, sizeof line, "  l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i - 1,
                 i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        puts_(&t, line);
    }
    refused_fast("billion laughs", &t, "limits.yaml:8:", "alias *l5 nests past the limit of 8 levels");

    /* the same expansion kept flat: one list of 1000 values used by key after key */
    puts_(&t, "model:\n  a: &a [");
    repeat(&t, "1, ", 999);
    puts_(&t, "1]\n");
    for (int i = 0; i < 3000; i++) {
        char line[64];
        snprintf(line, sizeof line, "  k%d: *a\n", i);
        puts_(&t, line);
    }
    /* keys are values too: 1002 up to a's list, then 1001 per key: k1046 (line 1049) is the first past 2^20 */
    refused_fast("aliases of a flat list", &t, "limits.yaml:1049:", "alias *a expands the recipe past the limit of 1048576 values");

    /* 2 GiB implied: a 1 MiB string used 2048 times in one list; the 16th use passes 16 MiB */
    puts_(&t, "model:\n  s: &s \"");
    repeat(&t, "0123456789abcdef", 1 << 16);
    puts_(&t, "\"\n  l: [");
    repeat(&t, "*s, ", 2047);
    puts_(&t, "*s]\n");
    refused_fast("2 GiB of aliased text", &t, "limits.yaml:3:", "past the limit of 16777216 bytes of values");

    puts_(&t, "model:\n");
    for (int i = 0; i < 5000; i++) {
        char line[64];
        snprintf(line, sizeof line, "  k%d: %d\n", i, i);
        puts_(&t, line);
    }
    refused_fast("5000 keys", &t, "limits.yaml:4097:", "limit of 4096 keys"); /* "model" is the first key */

    puts_(&t, "model:\n  l: [");
    for (int i = 0; i < 2000; i++) {
        char item[32];
        snprintf(item, sizeof item, "&a%d %d, ", i, i);
        puts_(&t, item);
    }
    puts_(&t, "0]\n");
    refused_fast("2000 anchors", &t, "limits.yaml:2:", "anchor &a1024 is past the limit of 1024 anchors");

    puts_(&t, "model:\n  a: &a 1\n  l: [");
    repeat(&t, "*a, ", 5000);
    puts_(&t, "1]\n");
    refused_fast("5000 aliases", &t, "limits.yaml:3:", "past the limit of 4096 aliases");

    puts_(&t, "model:\n  s: \"");
    repeat(&t, "0123456789abcdef", (16 << 20) / 16);
    puts_(&t, "\"\n");
    refused_fast("16 MiB of text", &t, "limits.yaml: ", "past the limit of 16 MiB");

    /* a --set value obeys the same limits */
    cf_recipe *r = parse_ok("model:\n  x: 1\n", "set.yaml");
    puts_(&t, "model.x=");
    repeat(&t, "[", 100000);
    double t0 = now_s();
    CHECK(r && cf_recipe_set(r, t.p) == CF_ERR_FORMAT &&
              has(cf_last_error(), "--set: model.x: column 9: nesting past the limit of 8 levels"),
          "deep --set: %s", cf_last_error());
    CHECK(now_s() - t0 < 0.25, "deep --set took %.3f s", now_s() - t0);
    free(t.p);
    cf_recipe_free(r);

    /* within the limits: anchors and aliases are values like any other */
    r = parse_ok("model:\n  dims: &d [64, 128]\n  attn: &attn {window: 4, heads: [1, 2]}\n"
                 "data:\n  dims: *d\n  sub: *attn\n",
                 "alias.yaml");
    int64_t d[2] = {0, 0};
    CHECK(r && cf_recipe_int_list(r, "data.dims", d, 2, NULL, 0) == 2 && d[1] == 128 &&
              cf_recipe_int(r, "data.sub.window", 0) == 4 && cf_recipe_int_list(r, "data.sub.heads", d, 2, NULL, 0) == 2,
          "aliases within the limits: %s", r ? cf_recipe_error(r) : cf_last_error());
    cf_recipe_free(r);
}

int main(void)
{
    test_value_types();
    test_wrong_type();
    test_unknown_keys();
    test_structure_errors();
    test_required();
    test_set();
    test_round_trip();
    test_hash();
    test_files();
    test_fail();
    test_limits();
    TEST_MAIN_END();
}
