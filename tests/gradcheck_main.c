/* Runs the gradient checks of the op list: `test_gradcheck OP` (one op, as CTest calls it) or
 * `test_gradcheck all`. An op fails when a case fails or when its cases never recorded the op. */
#include "autograd/gradcheck.h"

#include <stdio.h>
#include <string.h>

#define CF_OP(name) cf_status cf_gradcheck_##name(cf_gc *g);
#include "autograd/ops.def"
#undef CF_OP

static const struct {
    const char *name;
    cf_status (*fn)(cf_gc *);
} checks[] = {
#define CF_OP(name) {#name, cf_gradcheck_##name},
#include "autograd/ops.def"
#undef CF_OP
};

static int run(const char *name, cf_status (*fn)(cf_gc *), bool verbose)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        fprintf(stderr, "%s: %s\n", name, cf_last_error());
        return 1;
    }
    cf_gc *g = cf_gc_new(ctx, cf_op_lookup(name), verbose);
    printf("%s\n", name);
    fn(g);
    int failed = cf_gc_failures(g) > 0;
    if (cf_gc_cases(g) == 0) {
        fprintf(stderr, "  FAIL: %s has no gradient-check case\n", name);
        failed = 1;
    } else if (cf_gc_target_hits(g) == 0) {
        fprintf(stderr, "  FAIL: the cases of %s never recorded %s on the tape\n", name, name);
        failed = 1;
    }
    cf_gc_free(g);
    cf_ctx_free(ctx);
    return failed;
}

int main(int argc, char **argv)
{
    const char *want = argc > 1 ? argv[1] : "all";
    int n = (int)(sizeof checks / sizeof checks[0]), failed = 0, ran = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(want, "all") != 0 && strcmp(want, checks[i].name) != 0) continue;
        failed += run(checks[i].name, checks[i].fn, true);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "no op named %s\n", want);
        return 2;
    }
    printf("%d passed, %d failed\n", ran - failed, failed);
    return failed ? 1 : 0;
}
