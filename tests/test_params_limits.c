/* Parameter sizes from hostile recipes (layers/params.h): a shape whose element count overflows int64, passes
 * CF_PARAMS_MAX_NUMEL, or takes the model's total past it, and a negative size, are refused with the
 * parameter's name and shape before anything is allocated -- not wrapped into a small or negative count. */
#include "tests/check.h"
#include "layers/params.h"

#include <stdint.h>

static bool error_has(const char *frag) { return strstr(cf_last_error(), frag) != NULL; }

static void test_overflow(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    int64_t big = INT64_C(1) << 62;
    /* 2^62 x 4 wraps to 0 in int64 arithmetic: the old count said "no elements" */
    CHECK(!cf_params_add(ps, "wte.weight", 2, (int64_t[]){big, 4}, false));
    CHECK(error_has("parameter wte.weight [4611686018427387904, 4]: more than 1099511627776 elements"), "%s", cf_last_error());
    CHECK(!cf_params_add(ps, "a", 3, (int64_t[]){INT64_C(1) << 21, INT64_C(1) << 21, INT64_C(1) << 21}, false));
    CHECK(error_has("parameter a [2097152, 2097152, 2097152]"), "%s", cf_last_error());
    /* just past the bound */
    CHECK(!cf_params_add(ps, "b", 2, (int64_t[]){(INT64_C(1) << 20) + 1, INT64_C(1) << 20}, false));
    CHECK(error_has("parameter b [1048577, 1048576]: more than"), "%s", cf_last_error());
    CHECK(!cf_params_add(ps, "c", 2, (int64_t[]){-3, 5}, false));
    CHECK(error_has("parameter c: negative size in shape [-3, 5]"), "%s", cf_last_error());
    CHECK(ps->count == 0 && ps->total == 0 && ps->values == NULL, "nothing was allocated");
    cf_params_free(ps);
}

static void test_total(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    CHECK(cf_params_add(ps, "small", 1, (int64_t[]){100}, false) != NULL, "%s", cf_last_error());
    /* alone it fits the bound; after `small` it would pass it */
    CHECK(!cf_params_add(ps, "rest", 2, (int64_t[]){INT64_C(1) << 20, INT64_C(1) << 20}, false));
    CHECK(error_has("parameter rest [1048576, 1048576]: the model's parameters would pass 1099511627776 elements"), "%s",
          cf_last_error());
    CHECK(ps->count == 1 && ps->total == 100 && cf_params_numel(ps) == 100);
    CHECK(cf_params_add(ps, "more", 2, (int64_t[]){3, 4}, true) != NULL, "the set stays usable");
    cf_params_free(ps);
}

int main(void)
{
    RUN(test_overflow);
    RUN(test_total);
    TEST_MAIN_END();
}
