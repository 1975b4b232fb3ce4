/* The recipe language's ranged getters (recipes/recipe/recipe.h): values inside a range pass, values outside
 * it on either side, NaN and infinities fail with "FILE:LINE: key: X is out of range ..." as the sticky
 * error, a default outside the range is named as the default, list items are checked one by one, and the
 * resolved recipe (checkpoints and cross-rank hashes depend on it) is the same text the plain getters give. */
#include "tests/check.h"
#include "recipes/recipe/recipe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

static const char *text = "train:\n"          /* line 1 */
                          "  steps: 100\n"     /* 2 */
                          "  threads: 70000\n" /* 3 */
                          "optim:\n"           /* 4 */
                          "  lr: -0.5\n"       /* 5 */
                          "  beta1: 1.5\n"     /* 6 */
                          "  eps: .nan\n"      /* 7 */
                          "  clip: .inf\n"     /* 8 */
                          "  beta2: 0.999\n"   /* 9 */
                          "model:\n"           /* 10 */
                          "  kernel: [3, 0, 3]\n"
                          "  level_p: [0.5, 1.5]\n";

/* A fresh parse of text under the name t.yaml. */
#define FRESH(r) cf_recipe *r = cf_recipe_parse(text, "t.yaml")

static void test_int_in(void)
{
    FRESH(r);
    CHECK(cf_recipe_int_in(r, "train.steps", 1, 0, INT64_MAX) == 100, "in range");
    CHECK(cf_recipe_status(r) == CF_OK, "%s", cf_recipe_error(r));
    CHECK(cf_recipe_int_in(r, "train.seed", 7, 0, INT64_MAX) == 7, "absent: the default");
    CHECK(cf_recipe_status(r) == CF_OK);
    CHECK(cf_recipe_int_in(r, "train.threads", 4, 0, 1024) == 4, "out of range: the default comes back");
    CHECK(cf_recipe_status(r) == CF_ERR_ARG);
    CHECK(has(cf_recipe_error(r), "t.yaml:3: train.threads: 70000 is out of range [0, 1024]"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    r = cf_recipe_parse(text, "t.yaml");
    CHECK(cf_recipe_int_in(r, "train.steps", 1, 101, 200) == 1, "below the low bound");
    CHECK(has(cf_recipe_error(r), "t.yaml:2: train.steps: 100 is out of range [101, 200]"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    r = cf_recipe_parse(text, "t.yaml");
    cf_recipe_int_in(r, "train.steps", 1, 200, INT64_MAX);
    CHECK(has(cf_recipe_error(r), "t.yaml:2: train.steps: 100 is out of range: must be >= 200"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    /* the bounds are inclusive; --set values are located as --set */
    r = cf_recipe_parse(text, "t.yaml");
    CHECK(cf_recipe_set(r, "log.every=0") == CF_OK);
    CHECK(cf_recipe_int_in(r, "train.steps", 1, 100, 100) == 100, "a one-value range");
    cf_recipe_int_in(r, "log.every", 10, 1, INT64_MAX);
    CHECK(has(cf_recipe_error(r), "--set: log.every: 0 is out of range: must be >= 1"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    /* a default outside the range is an error too, named as the default */
    r = cf_recipe_new("d.yaml");
    cf_recipe_int_in(r, "eval.batch_size", 0, 1, INT32_MAX);
    CHECK(has(cf_recipe_error(r), "d.yaml: eval.batch_size: 0 (the default) is out of range [1, 2147483647]"), "%s",
          cf_recipe_error(r));
    cf_recipe_free(r);

    /* large powers of two read as such */
    r = cf_recipe_parse("model:\n  dim: 0x10000000000\n", "p.yaml");
    cf_recipe_int_in(r, "model.dim", 64, 1, INT64_C(1) << 20);
    CHECK(has(cf_recipe_error(r), "p.yaml:2: model.dim: 0x10000000000 is out of range [1, 2^20]"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    /* a type error is reported as before, not as a range error */
    r = cf_recipe_parse("train:\n  steps: abc\n", "t.yaml");
    CHECK(cf_recipe_int_in(r, "train.steps", 5, 0, 10) == 5);
    CHECK(has(cf_recipe_error(r), "t.yaml:2: train.steps: expected an integer, got 'abc'"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);
}

/* Reads key from a fresh parse of src (named t.yaml) with the float range; the error must hold msg (NULL: none). */
static void float_case(const char *src, const char *key, double lo, double hi, cf_range_bounds b, const char *msg)
{
    cf_recipe *r = cf_recipe_parse(src, "t.yaml");
    cf_recipe_float_in(r, key, 1, lo, hi, b);
    if (msg) CHECK(has(cf_recipe_error(r), msg), "%s: %s", key, cf_recipe_error(r));
    else CHECK(cf_recipe_status(r) == CF_OK, "%s: %s", key, cf_recipe_error(r));
    cf_recipe_free(r);
}

static void test_float_in(void)
{
    FRESH(r);
    CHECK(cf_recipe_float_in(r, "optim.beta2", 0.9, 0, 1, CF_RANGE_OPEN_HI) == 0.999, "in [0, 1)");
    CHECK(cf_recipe_status(r) == CF_OK, "%s", cf_recipe_error(r));
    CHECK(cf_recipe_float_in(r, "optim.lr", 1e-3, 0, 10, CF_RANGE_OPEN_LO) == 1e-3, "negative lr: the default");
    CHECK(has(cf_recipe_error(r), "t.yaml:5: optim.lr: -0.5 is out of range (0, 10]"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);
    r = cf_recipe_parse(text, "t.yaml");
    CHECK(cf_recipe_float_in(r, "optim.clip", 1, 0, INFINITY, CF_RANGE_CLOSED) == INFINITY, "[0, inf] holds .inf");
    CHECK(cf_recipe_status(r) == CF_OK, "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    float_case(text, "optim.beta1", 0, 1, CF_RANGE_OPEN_HI, "t.yaml:6: optim.beta1: 1.5 is out of range [0, 1)");
    /* NaN is in no range, not even an unbounded one */
    float_case(text, "optim.eps", -INFINITY, INFINITY, CF_RANGE_CLOSED, "t.yaml:7: optim.eps: .nan is out of range");
    float_case(text, "optim.eps", 0, INFINITY, CF_RANGE_OPEN, "t.yaml:7: optim.eps: .nan is out of range: must be > 0");
    /* +inf only where the range includes it */
    float_case(text, "optim.clip", 0, INFINITY, CF_RANGE_OPEN_HI, "t.yaml:8: optim.clip: .inf is out of range: must be >= 0");
    float_case(text, "optim.clip", 0, 1e6, CF_RANGE_CLOSED, "t.yaml:8: optim.clip: .inf is out of range [0, 1000000]");
    /* open bounds exclude the bound itself */
    float_case("optim:\n  lr: 0\n", "optim.lr", 0, 10, CF_RANGE_OPEN_LO, "t.yaml:2: optim.lr: 0 is out of range (0, 10]");
    float_case("optim:\n  lr: 10\n", "optim.lr", 0, 10, CF_RANGE_OPEN_LO, NULL);
    float_case("optim:\n  lr: 10\n", "optim.lr", 0, 10, CF_RANGE_OPEN_HI, "t.yaml:2: optim.lr: 10 is out of range [0, 10)");
}

static void test_lists(void)
{
    FRESH(r);
    int64_t k[3];
    CHECK(cf_recipe_int_list_in(r, "model.kernel", k, 3, NULL, 0, 1, 64) == -1, "a zero item");
    CHECK(has(cf_recipe_error(r), "t.yaml:11: model.kernel[1]: 0 is out of range [1, 64]"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    r = cf_recipe_parse(text, "t.yaml");
    double p[2];
    CHECK(cf_recipe_float_list_in(r, "model.level_p", p, 2, NULL, 0, 0, 1) == -1);
    CHECK(has(cf_recipe_error(r), "t.yaml:12: model.level_p[1]: 1.5 is out of range [0, 1]"), "%s", cf_recipe_error(r));
    cf_recipe_free(r);

    r = cf_recipe_new("d.yaml");
    const int64_t dk[2] = {8, 8};
    CHECK(cf_recipe_int_list_in(r, "data.size", k, 3, dk, 2, 1, 64) == 2 && k[1] == 8 && cf_recipe_status(r) == CF_OK);
    cf_recipe_free(r);
}

/* The resolved recipe and its hash are what the plain getters give: ranges are not written into it. */
static void test_resolved_unchanged(void)
{
    const char *ok = "train:\n  steps: 100\noptim:\n  lr: 0.003\n  beta2: 0.999\nmodel:\n  kernel: [3, 1, 3]\n";
    cf_recipe *a = cf_recipe_parse(ok, "a.yaml"), *b = cf_recipe_parse(ok, "a.yaml");
    int64_t k[3];
    cf_recipe_int(a, "train.steps", 1);
    cf_recipe_float(a, "optim.lr", 1);
    cf_recipe_float(a, "optim.beta2", 1);
    cf_recipe_int_list(a, "model.kernel", k, 3, NULL, 0);
    cf_recipe_int(a, "train.seed", 0);
    cf_recipe_int_in(b, "train.steps", 1, 0, INT64_MAX);
    cf_recipe_float_in(b, "optim.lr", 1, 0, 10, CF_RANGE_OPEN_LO);
    cf_recipe_float_in(b, "optim.beta2", 1, 0, 1, CF_RANGE_OPEN_HI);
    cf_recipe_int_list_in(b, "model.kernel", k, 3, NULL, 0, 1, 64);
    cf_recipe_int_in(b, "train.seed", 0, 0, INT64_MAX);
    CHECK(cf_recipe_status(b) == CF_OK, "%s", cf_recipe_error(b));
    char *ta = cf_recipe_resolved(a), *tb = cf_recipe_resolved(b);
    CHECK(ta && tb && strcmp(ta, tb) == 0, "resolved:\n%s\nvs\n%s", ta ? ta : "", tb ? tb : "");
    CHECK(cf_recipe_hash(a) == cf_recipe_hash(b));
    free(ta);
    free(tb);

    double lo, hi;
    cf_range_bounds bd;
    CHECK(cf_recipe_range(b, "optim.lr", &lo, &hi, &bd) && lo == 0 && hi == 10 && bd == CF_RANGE_OPEN_LO);
    CHECK(!cf_recipe_range(a, "optim.lr", NULL, NULL, NULL), "a plain getter declares no range");
    CHECK(!cf_recipe_range(b, "optim.momentum", NULL, NULL, NULL), "an unread key has no range");
    cf_recipe_free(a);
    cf_recipe_free(b);
}

/* A range error is the first error like any other: later errors do not replace it, and the unknown-key
 * check still lists misspelt keys after it. */
static void test_sticky(void)
{
    cf_recipe *r = cf_recipe_parse("log:\n  every: 0\n  evry: 3\n", "s.yaml");
    cf_recipe_int_in(r, "log.every", 10, 1, INT64_MAX);
    cf_recipe_int_in(r, "log.other", -1, 0, 5);
    CHECK(cf_recipe_check_unknown(r) == CF_ERR_ARG);
    const char *e = cf_recipe_error(r);
    CHECK(has(e, "s.yaml:2: log.every: 0 is out of range: must be >= 1") && has(e, "s.yaml:3: unknown key 'log.evry'") &&
              !has(e, "log.other"),
          "%s", e);
    cf_recipe_free(r);
}

int main(void)
{
    RUN(test_int_in);
    RUN(test_float_in);
    RUN(test_lists);
    RUN(test_resolved_unchanged);
    RUN(test_sticky);
    TEST_MAIN_END();
}
