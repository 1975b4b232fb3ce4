/* segment_max (autograd/ops/segment.h) against hand-computed cases: the per-segment maxima with rows out of
 * order, an empty segment (0, no gradient), ties (the lowest row wins and alone gets the gradient), the
 * gradient routed to the winners, and the errors for an id out of range and bad shapes. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <string.h>

static cf_tensor *from(cf_ctx *c, cf_dtype dt, int nd, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_empty(c, dt, nd, shape);
    for (int64_t i = 0; t && i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    return t;
}

static void expect(const char *what, const cf_tensor *t, const double *want, int64_t n)
{
    CHECK(t && cf_numel(t) == n, "%s: %s", what, t ? "wrong size" : cf_last_error());
    if (!t || cf_numel(t) != n) return;
    for (int64_t i = 0; i < n; i++)
        if (fabs(cf_get_flat(t, i) - want[i]) > 1e-6) {
            CHECK(0, "%s: element %lld is %g, want %g", what, (long long)i, cf_get_flat(t, i), want[i]);
            return;
        }
    check_passed++;
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    if (!c) return 1;
    for (int dt = CF_F32; dt <= CF_F64; dt++) {
        /* rows (x[i, 0], x[i, 1]) with segments 2 0 2 0 2; segment 1 empty; column 1 of segment 2 ties (5, 5) */
        cf_tensor *x = cf_tensor_alloc(dt, CF_SHAPE(5, 2));
        const double xv[] = {1, 5, -3, 2, 4, 5, -1, -7, 0, 3};
        for (int i = 0; i < 10; i++) cf_set_flat(x, i, xv[i]);
        cf_requires_grad_(x, true);
        cf_tensor *seg = from(c, CF_I64, CF_SHAPE(5), (double[]){2, 0, 2, 0, 2});
        cf_tensor *y = cf_segment_max(c, x, seg, 3);
        expect("segment_max values", y, (double[]){-1, 2, 0, 0, 4, 5}, 6);
        cf_tensor *g = from(c, dt, CF_SHAPE(3, 2), (double[]){10, 20, 30, 40, 50, 60});
        CHECK(y && cf_backward(c, y, g) == CF_OK, "backward: %s", cf_last_error());
        /* winners: (0,0) row 3, (0,1) row 1, (2,0) row 2, (2,1) row 0 (the tie's lower row) */
        expect("segment_max grad to the winners", x->grad, (double[]){0, 60, 0, 20, 50, 0, 10, 0, 0, 0}, 10);
        cf_tensor_free(x);
        cf_step_reset(c);
    }
    cf_tensor *x = from(c, CF_F32, CF_SHAPE(2, 2), (double[]){1, 2, 3, 4});
    CHECK(cf_segment_max(c, x, from(c, CF_I64, CF_SHAPE(2), (double[]){0, 3}), 3) == NULL);
    CHECK(strstr(cf_last_error(), "seg[1] = 3 is out of range") != NULL, "%s", cf_last_error());
    cf_clear_error();
    CHECK(cf_segment_max(c, x, from(c, CF_I64, CF_SHAPE(3), (double[]){0, 0, 0}), 3) == NULL);
    CHECK(strstr(cf_last_error(), "needs x [N, C]") != NULL, "%s", cf_last_error());
    cf_clear_error();
    cf_ctx_free(c);
    TEST_MAIN_END();
}
