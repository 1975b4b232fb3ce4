/* Parameter sizes from hostile recipes (layers/params.h): a shape whose element count overflows int64, passes
 * CF_PARAMS_MAX_NUMEL, or takes the model's total past it, and a negative size, are refused with the
 * parameter's name and shape before anything is allocated -- not wrapped into a small or negative count. A
 * shapes-only set (cf_params_new_shapes) lays parameters out as an ordinary one and costs no memory for them. */
#include "tests/check.h"
#include "layers/params.h"

#include <stdint.h>
#include <sys/resource.h>

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

static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* the same adds into an ordinary set and a shapes-only one: the same names, offsets and total */
static void add_model(cf_params *ps, int64_t d, int64_t vocab)
{
    cf_tensor *e = cf_params_add(ps, "embed.weight", 2, (int64_t[]){vocab, d}, false);
    CHECK(e && cf_init_normal(ps, e, 0, 0.02) == CF_OK, "%s", cf_last_error());
    for (int l = 0; l < 3; l++) {
        cf_params_push(ps, "layers.%d", l);
        cf_tensor *w = cf_params_add(ps, "fc.weight", 2, (int64_t[]){4 * d, d}, true);
        cf_tensor *b = cf_params_add(ps, "fc.bias", 1, (int64_t[]){4 * d + 3}, false);
        cf_tensor *n = cf_params_add(ps, "norm.weight", 1, (int64_t[]){d}, false);
        CHECK(w && b && n, "%s", cf_last_error());
        CHECK(w && cf_init_uniform(ps, w, -0.1, 0.1) == CF_OK && b && cf_init_constant(b, 0) == CF_OK && n &&
              cf_init_constant(n, 1) == CF_OK, "%s", cf_last_error());
        cf_params_pop(ps);
    }
}

static void test_shapes_only(void)
{
    cf_params *real = cf_params_new(CF_F32, 3), *shapes = cf_params_new_shapes(CF_F32, 3);
    add_model(real, 24, 1000);
    add_model(shapes, 24, 1000);
    CHECK(shapes->count == real->count && shapes->total == real->total, "%d %lld vs %d %lld", shapes->count,
          (long long)shapes->total, real->count, (long long)real->total);
    for (int i = 0; i < real->count && i < shapes->count; i++)
        CHECK(strcmp(real->items[i].name, shapes->items[i].name) == 0 && real->items[i].offset == shapes->items[i].offset &&
                  real->items[i].numel == shapes->items[i].numel && real->items[i].decay == shapes->items[i].decay,
              "%s", real->items[i].name);
    CHECK(cf_params_numel(shapes) == cf_params_numel(real));
    /* nothing sized by the values can be made from it */
    CHECK(cf_params_grads(shapes) == CF_ERR_STATE && error_has("shapes-only"), "%s", cf_last_error());
    cf_params_free(real);
    cf_params_free(shapes);

    /* 1.8e8 elements (740 MB of f32; small enough that a regression does not threaten the machine), initialised:
     * the process's peak resident set grows by less than 64 MB */
    long before = peak_rss_kb();
    shapes = cf_params_new_shapes(CF_F32, 3);
    add_model(shapes, 2048, INT64_C(1) << 16);
    int64_t d = 2048;
    CHECK(cf_params_numel(shapes) == (INT64_C(1) << 16) * d + 3 * (4 * d * d + 4 * d + 3 + d),
          "%lld", (long long)cf_params_numel(shapes));
    long grew = peak_rss_kb() - before;
    CHECK(grew < 64 * 1024, "a 740 MB shapes-only model raised the peak RSS by %ld kB", grew);
    cf_params_free(shapes);
}

int main(void)
{
    RUN(test_shapes_only);
    RUN(test_overflow);
    RUN(test_total);
    TEST_MAIN_END();
}
