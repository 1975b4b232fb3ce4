/* Forward values of the reductions, cumsum and softmax against hand-computed cases, the max/min index
 * rules (ties, NaN, several dims), big reductions (chunked, thread-count independent), gradient routing
 * of max with ties, and the error messages. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


static bool close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

/* Every element of t against want (n values), within tol. */
static void check_values(const char *what, const cf_tensor *t, const double *want, int64_t n, double tol)
{
    if (!t) {
        CHECK(false, "%s: NULL (%s)", what, cf_last_error());
        return;
    }
    CHECK(cf_numel(t) == n, "%s: %lld elements, want %lld", what, (long long)cf_numel(t), (long long)n);
    if (cf_numel(t) != n) return;
    for (int64_t i = 0; i < n; i++) {
        double v = cf_get_flat(t, i);
        bool ok = isnan(want[i]) ? isnan(v) : (v == want[i] || close_to(v, want[i], tol));
        CHECK(ok, "%s[%lld] = %.9g, want %.9g", what, (long long)i, v, want[i]);
    }
}

static void check_shape(const char *what, const cf_tensor *t, int nd, const int64_t *shape)
{
    if (!t) {
        CHECK(false, "%s: NULL (%s)", what, cf_last_error());
        return;
    }
    bool ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == shape[i];
    char b[128];
    CHECK(ok, "%s: shape %s", what, cf_shape_str(t, b, sizeof b));
}

static void check_error(const char *what, const cf_tensor *t, const char *needle)
{
    CHECK(!t && strstr(cf_last_error(), needle), "%s: want an error containing \"%s\", got %s \"%s\"", what, needle,
          t ? "a tensor" : "NULL", cf_last_error());
    cf_clear_error();
}

static cf_tensor *vec(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    cf_tensor *t = cf_empty(ctx, dt, ndim, shape);
    for (int64_t i = 0; t && i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
    return t;
}

static void test_sum_mean_var(cf_ctx *ctx, cf_dtype dt)
{
    /* x = [[1, 2, 3], [4, 5, 6]] */
    static const double xv[] = {1, 2, 3, 4, 5, 6};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 3), xv);
    double all[] = {21}, rows[] = {6, 15}, cols[] = {5, 7, 9};
    check_values("sum all", cf_sum(ctx, x, CF_ALL_DIMS, false), all, 1, 1e-12);
    check_shape("sum all", cf_sum(ctx, x, CF_ALL_DIMS, false), 0, NULL);
    check_shape("sum all keepdim", cf_sum(ctx, x, CF_ALL_DIMS, true), CF_SHAPE(1, 1));
    check_values("sum dim -1", cf_sum(ctx, x, CF_DIMS(-1), false), rows, 2, 1e-12);
    check_values("sum dim 0", cf_sum(ctx, x, CF_DIMS(0), false), cols, 3, 1e-12);
    check_shape("sum dim 0 keepdim", cf_sum(ctx, x, CF_DIMS(0), true), CF_SHAPE(1, 3));
    check_values("sum dims {1, 0}", cf_sum(ctx, x, CF_DIMS(1, 0), false), all, 1, 1e-12);
    int dims[CF_MAX_DIMS];
    int nd = cf_dims_from_mask(2u, dims);
    check_values("sum from mask 0b10", cf_sum(ctx, x, nd, dims, false), rows, 2, 1e-12);
    double mrows[] = {2, 5}, mall[] = {3.5};
    check_values("mean dim 1", cf_mean(ctx, x, CF_DIMS(1), false), mrows, 2, 1e-12);
    check_values("mean all", cf_mean(ctx, x, CF_ALL_DIMS, false), mall, 1, 1e-12);
    /* var of [1, 2, 3, 4]: mean 2.5, squared deviations 5: unbiased 5/3, population 5/4 */
    static const double v4[] = {1, 2, 3, 4};
    cf_tensor *y = vec(ctx, dt, CF_SHAPE(4), v4);
    double unb[] = {5.0 / 3}, pop[] = {1.25};
    check_values("var unbiased", cf_var(ctx, y, CF_ALL_DIMS, 1, false), unb, 1, 1e-7);
    check_values("var population", cf_var(ctx, y, CF_ALL_DIMS, 0, false), pop, 1, 1e-7);
    double vrows[] = {1, 1}, vcols[] = {4.5, 4.5, 4.5};
    check_values("var rows", cf_var(ctx, x, CF_DIMS(1), 1, false), vrows, 2, 1e-7);
    check_values("var columns", cf_var(ctx, x, CF_DIMS(0), 1, true), vcols, 3, 1e-7);
    /* one element with correction 1: 0/0, NaN as torch.var */
    double nan1[] = {NAN};
    check_values("var of one element", cf_var(ctx, cf_narrow(ctx, y, 0, 0, 1), CF_ALL_DIMS, 1, false), nan1, 1, 0);
    /* var keeps precision with a large offset (two-pass) */
    static const double big[] = {1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 4};
    check_values("var with offset 1e4", cf_var(ctx, vec(ctx, dt, CF_SHAPE(4), big), CF_ALL_DIMS, 1, false), unb, 1,
                 dt == CF_F32 ? 1e-5 : 1e-12);
    /* a non-contiguous input: x^T is [[1, 4], [2, 5], [3, 6]] */
    cf_tensor *xt = cf_transpose(ctx, x, 0, 1);
    check_values("sum of x^T dim 1", cf_sum(ctx, xt, CF_DIMS(1), false), cols, 3, 1e-12);
    check_values("sum of x^T dim 0", cf_sum(ctx, xt, CF_DIMS(0), false), rows, 2, 1e-12);
    /* sum over an empty dim is 0, mean NaN */
    cf_tensor *e = cf_empty(ctx, dt, CF_SHAPE(2, 0));
    double z2[] = {0, 0}, n2[] = {NAN, NAN};
    check_values("sum over empty dim", cf_sum(ctx, e, CF_DIMS(1), false), z2, 2, 0);
    check_values("mean over empty dim", cf_mean(ctx, e, CF_DIMS(1), false), n2, 2, 0);
}

static void test_max_min(cf_ctx *ctx, cf_dtype dt)
{
    /* ties: the first index wins */
    static const double xv[] = {3, 1, 3, 0, -2, 7, 7, -2};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 4), xv), *idx = NULL;
    double mx[] = {3, 7}, mxi[] = {0, 1}, mn[] = {0, -2}, mni[] = {3, 0};
    check_values("max dim 1", cf_max(ctx, x, CF_DIMS(1), false, &idx), mx, 2, 0);
    CHECK(idx && idx->dtype == CF_I64, "max indices are i64");
    check_values("argmax dim 1 (first of ties)", idx, mxi, 2, 0);
    check_values("min dim -1", cf_min(ctx, x, CF_DIMS(-1), false, &idx), mn, 2, 0);
    check_values("argmin dim -1 (first of ties)", idx, mni, 2, 0);
    double cmx[] = {3, 7, 7, 0}, cmi[] = {0, 1, 1, 0};
    check_values("max dim 0", cf_max(ctx, x, CF_DIMS(0), true, &idx), cmx, 4, 0);
    check_shape("argmax dim 0 keepdim", idx, CF_SHAPE(1, 4));
    check_values("argmax dim 0", idx, cmi, 4, 0);
    /* all dims: the flat index into x */
    double amx[] = {7}, ami[] = {5}, amn[] = {-2}, amni[] = {4};
    check_values("max all", cf_max(ctx, x, CF_ALL_DIMS, false, &idx), amx, 1, 0);
    check_values("argmax all", idx, ami, 1, 0);
    check_values("min all", cf_min(ctx, x, CF_ALL_DIMS, false, &idx), amn, 1, 0);
    check_values("argmin all", idx, amni, 1, 0);
    /* several dims: the row-major flat index within the reduced dims {0, 2} of a [2, 2, 3] tensor */
    static const double yv[] = {0, 1, 2, 3, 4, 5, 6, 9, 8, 9, 10, 11};
    cf_tensor *y = vec(ctx, dt, CF_SHAPE(2, 2, 3), yv);
    double ymx[] = {9, 11}, ymi[] = {4, 5};
    check_values("max dims {0, 2}", cf_max(ctx, y, CF_DIMS(0, 2), false, &idx), ymx, 2, 0);
    check_values("argmax dims {0, 2}", idx, ymi, 2, 0);
    /* NaN wins, at its first position */
    static const double nv[] = {1, NAN, 5, NAN};
    double nmx[] = {NAN}, nmi[] = {1};
    check_values("max with NaN", cf_max(ctx, vec(ctx, dt, CF_SHAPE(4), nv), CF_ALL_DIMS, false, &idx), nmx, 1, 0);
    check_values("argmax with NaN", idx, nmi, 1, 0);
    check_values("min with NaN", cf_min(ctx, vec(ctx, dt, CF_SHAPE(4), nv), CF_ALL_DIMS, false, &idx), nmx, 1, 0);
    check_values("argmin with NaN", idx, nmi, 1, 0);
    /* indices=NULL is fine */
    CHECK(cf_max(ctx, x, CF_DIMS(1), false, NULL) != NULL, "max without indices: %s", cf_last_error());

    /* the gradient goes to the first of the tied maxima only */
    cf_tensor *w = vec(ctx, dt, CF_SHAPE(2, 4), xv);
    cf_requires_grad_(w, true);
    cf_tensor *m = cf_max(ctx, w, CF_DIMS(1), false, NULL);
    CHECK(cf_backward(ctx, cf_sum(ctx, m, CF_ALL_DIMS, false), NULL) == CF_OK, "max backward: %s", cf_last_error());
    double gw[] = {1, 0, 0, 0, 0, 1, 0, 0};
    check_values("max grad with ties", w->grad, gw, 8, 0);
}

static void test_logsumexp(cf_ctx *ctx, cf_dtype dt)
{
    static const double xv[] = {0, log(2.0), log(5.0), 1000, 1000, 1000 - INFINITY};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 3), xv);
    double want[] = {log(8.0), 1000 + log(2.0)};
    check_values("logsumexp rows (max-shifted)", cf_logsumexp(ctx, x, CF_DIMS(1), false), want, 2, 1e-7);
    static const double ninf[] = {-INFINITY, -INFINITY};
    double wninf[] = {-INFINITY};
    check_values("logsumexp of -inf", cf_logsumexp(ctx, vec(ctx, dt, CF_SHAPE(2), ninf), CF_ALL_DIMS, false), wninf,
                 1, 0);
    static const double withnan[] = {1, NAN, 2};
    double wnan[] = {NAN};
    check_values("logsumexp with NaN", cf_logsumexp(ctx, vec(ctx, dt, CF_SHAPE(3), withnan), CF_ALL_DIMS, false), wnan,
                 1, 0);
    /* over columns of a transposed view: dim 0 of x^T is dim 1 of x */
    check_values("logsumexp of x^T dim 0", cf_logsumexp(ctx, cf_transpose(ctx, x, 0, 1), CF_DIMS(0), true), want, 2,
                 1e-7);
}

static void test_cumsum(cf_ctx *ctx, cf_dtype dt)
{
    static const double xv[] = {1, 2, 3, 4, 5, 6};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 3), xv);
    double last[] = {1, 3, 6, 4, 9, 15}, first[] = {1, 2, 3, 5, 7, 9};
    check_values("cumsum dim -1", cf_cumsum(ctx, x, -1), last, 6, 1e-12);
    check_values("cumsum dim 0", cf_cumsum(ctx, x, 0), first, 6, 1e-12);
    double tr[] = {1, 5, 2, 7, 3, 9}; /* x^T = [[1, 4], [2, 5], [3, 6]] */
    check_values("cumsum of x^T dim 1", cf_cumsum(ctx, cf_transpose(ctx, x, 0, 1), 1), tr, 6, 1e-12);
    /* backward: the reverse running sum of the seed */
    cf_tensor *w = vec(ctx, dt, CF_SHAPE(4), xv);
    cf_requires_grad_(w, true);
    CHECK(cf_backward(ctx, cf_sum(ctx, cf_cumsum(ctx, w, 0), CF_ALL_DIMS, false), NULL) == CF_OK, "cumsum backward");
    double gw[] = {4, 3, 2, 1};
    check_values("cumsum grad", w->grad, gw, 4, 0);
}

static void test_softmax(cf_ctx *ctx, cf_dtype dt)
{
    static const double xv[] = {1, 2, 3, 1000, 1000, 1000};
    cf_tensor *x = vec(ctx, dt, CF_SHAPE(2, 3), xv);
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    double sm[] = {exp(1.0) / z, exp(2.0) / z, exp(3.0) / z, 1.0 / 3, 1.0 / 3, 1.0 / 3};
    double lsm[] = {1 - log(z), 2 - log(z), 3 - log(z), -log(3.0), -log(3.0), -log(3.0)};
    double tol = dt == CF_F32 ? 2e-6 : 1e-12;
    check_values("softmax dim -1", cf_softmax(ctx, x, -1), sm, 6, tol);
    check_values("log_softmax dim -1", cf_log_softmax(ctx, x, 1), lsm, 6, tol);
    /* along dim 0 of x^T: the same numbers, transposed */
    cf_tensor *s0 = cf_softmax(ctx, cf_transpose(ctx, x, 0, 1), 0);
    double smt[] = {sm[0], sm[3], sm[1], sm[4], sm[2], sm[5]};
    check_values("softmax dim 0 of x^T", s0, smt, 6, tol);
    double lsmt[] = {lsm[0], lsm[3], lsm[1], lsm[4], lsm[2], lsm[5]};
    check_values("log_softmax dim 0 of x^T", cf_log_softmax(ctx, cf_transpose(ctx, x, 0, 1), 0), lsmt, 6, tol);
    /* a row of -inf is NaN (PyTorch); a row with one -inf gives it 0 */
    static const double iv[] = {-INFINITY, -INFINITY, 0, -INFINITY};
    double iw[] = {NAN, NAN, 1, 0};
    check_values("softmax with -inf", cf_softmax(ctx, vec(ctx, dt, CF_SHAPE(2, 2), iv), -1), iw, 4, 0);
    /* long rows (vector loop bodies and tails) against a double reference */
    int64_t R = 3, C = 1037;
    cf_tensor *r = cf_randn(ctx, dt, CF_SHAPE(R, C), 7, 1);
    cf_tensor *sr = cf_softmax(ctx, r, -1);
    double worst = 0, rowsum = 0;
    for (int64_t i = 0; i < R; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++) m = fmax(m, cf_get_flat(r, i * C + j));
        for (int64_t j = 0; j < C; j++) s += exp(cf_get_flat(r, i * C + j) - m);
        for (int64_t j = 0; j < C; j++) {
            double want = exp(cf_get_flat(r, i * C + j) - m) / s, got = cf_get_flat(sr, i * C + j);
            worst = fmax(worst, fabs(got - want) / want);
            if (i == 0) rowsum += got;
        }
    }
    CHECK(worst < (dt == CF_F32 ? 1e-5 : 1e-13), "softmax [3, 1037] worst relative error %.3g", worst);
    CHECK(fabs(rowsum - 1) < 1e-5, "softmax row sums to %.9g", rowsum);
    /* the f32 exp over its whole range: shifted values from 0 to -86 keep ~1e-7 relative accuracy, and
     * far below (-1000, -inf) give exactly 0 */
    static const double wide[] = {0, -0.3466, -5.5, -20.25, -41, -63.75, -80.5, -86, -1000, -INFINITY};
    cf_tensor *ws = cf_softmax(ctx, vec(ctx, dt, CF_SHAPE(10), wide), 0);
    double zs = 0, wworst = 0;
    for (int i = 0; i < 10; i++) zs += exp(wide[i]);
    for (int i = 0; ws && i < 8; i++) {
        double want = exp(wide[i]) / zs;
        wworst = fmax(wworst, fabs(cf_get_flat(ws, i) - want) / want);
    }
    CHECK(ws && wworst < 1e-6, "softmax over a wide range: worst relative error %.3g", wworst);
    CHECK(ws && cf_get_flat(ws, 8) == 0 && cf_get_flat(ws, 9) == 0, "softmax of -1000 and -inf next to 0 is 0");
}

/* Reductions longer than one chunk, and agreement between thread counts. */
static void test_big(cf_ctx *ctx)
{
    int64_t n = 200003;
    cf_tensor *a = cf_arange(ctx, CF_F32, n);
    double want = (double)n * (double)(n - 1) / 2;
    cf_tensor *s = cf_sum(ctx, a, CF_ALL_DIMS, false);
    CHECK(s && cf_item(s) == (double)(float)want, "sum of arange(%lld) = %.10g, want %.10g (f64 accumulation)",
          (long long)n, s ? cf_item(s) : NAN, (double)(float)want);
    /* the max sits in a late chunk, tied with a later position: the first wins */
    cf_set_flat(a, 150000, 1e7);
    cf_set_flat(a, 190000, 1e7);
    cf_tensor *idx;
    cf_tensor *m = cf_max(ctx, a, CF_ALL_DIMS, false, &idx);
    CHECK(m && cf_item(m) == 1e7 && cf_item(idx) == 150000, "big argmax %g at %g", m ? cf_item(m) : NAN,
          idx ? cf_item(idx) : NAN);
    /* logsumexp over several chunks: log(n * e^1) */
    cf_tensor *ones = cf_full(ctx, CF_F32, CF_SHAPE(n), 1.0);
    cf_tensor *lse = cf_logsumexp(ctx, ones, CF_ALL_DIMS, false);
    CHECK(lse && fabs(cf_item(lse) - (1 + log((double)n))) < 1e-5, "big logsumexp %.8g, want %.8g",
          lse ? cf_item(lse) : NAN, 1 + log((double)n));
    /* column sums of [R, 300] and row sums, with 1 and 2 threads: bitwise equal */
    cf_tensor *r = cf_randn(ctx, CF_F32, CF_SHAPE(4000, 300), 3, 4);
    int prev = cf_get_threads(ctx);
    cf_tensor *v[2][3];
    for (int k = 0; k < 2; k++) {
        cf_set_threads(ctx, k + 1);
        v[k][0] = cf_sum(ctx, r, CF_DIMS(0), false);
        v[k][1] = cf_var(ctx, r, CF_DIMS(1), 1, false);
        v[k][2] = cf_sum(ctx, r, CF_ALL_DIMS, false);
    }
    cf_set_threads(ctx, prev);
    for (int j = 0; j < 3; j++) {
        bool same = v[0][j] && v[1][j] && cf_numel(v[0][j]) == cf_numel(v[1][j]) &&
                    memcmp(cf_data(v[0][j]), cf_data(v[1][j]), (size_t)cf_numel(v[0][j]) * 4) == 0;
        CHECK(same, "reduction %d differs between 1 and 2 threads", j);
    }
    /* column sum against a double reference */
    double worst = 0;
    for (int64_t c = 0; c < 300; c += 37) {
        double ref = 0;
        for (int64_t i = 0; i < 4000; i++) ref += cf_get_flat(r, i * 300 + c);
        worst = fmax(worst, fabs(cf_get_flat(v[0][0], c) - ref));
    }
    CHECK(worst < 1e-3, "column sums off by %.3g", worst);
}

/* 0-dim inputs: every dims list is empty, and the one-dim ops accept dim 0 / -1 as PyTorch does. */
static void test_scalars(cf_ctx *ctx)
{
    static const double v[] = {2.5};
    cf_tensor *x = vec(ctx, CF_F64, 0, NULL, v);
    double same[] = {2.5}, one[] = {1}, zero[] = {0}, nan1[] = {NAN};
    check_values("sum of a scalar", cf_sum(ctx, x, CF_ALL_DIMS, true), same, 1, 0);
    check_shape("sum of a scalar", cf_sum(ctx, x, CF_ALL_DIMS, true), 0, NULL);
    cf_tensor *idx;
    check_values("max of a scalar", cf_max(ctx, x, CF_ALL_DIMS, false, &idx), same, 1, 0);
    check_values("argmax of a scalar", idx, zero, 1, 0);
    check_values("var of a scalar", cf_var(ctx, x, CF_ALL_DIMS, 1, false), nan1, 1, 0);
    check_values("softmax of a scalar", cf_softmax(ctx, x, 0), one, 1, 0);
    check_values("log_softmax of a scalar", cf_log_softmax(ctx, x, -1), zero, 1, 0);
    check_values("cumsum of a scalar", cf_cumsum(ctx, x, 0), same, 1, 0);
}

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *x = cf_zeros(ctx, CF_F32, CF_SHAPE(2, 3));
    check_error("dim out of range", cf_sum(ctx, x, CF_DIMS(2), false), "sum: dim 2 out of range for [2, 3] f32");
    check_error("negative dim out of range", cf_mean(ctx, x, CF_DIMS(-3), false), "mean: dim -3 out of range");
    check_error("repeated dim", cf_sum(ctx, x, CF_DIMS(1, -1), false), "sum: dim -1 appears twice");
    check_error("integer input", cf_sum(ctx, cf_zeros(ctx, CF_I64, CF_SHAPE(3)), CF_ALL_DIMS, false),
                "sum: expected an f32 or f64 tensor");
    check_error("max of an empty dim", cf_max(ctx, cf_zeros(ctx, CF_F32, CF_SHAPE(2, 0)), CF_DIMS(1), false, NULL),
                "max: cannot reduce over an empty dim of [2, 0] f32");
    check_error("var correction < 0", cf_var(ctx, x, CF_ALL_DIMS, -1, false), "var: correction must be >= 0");
    check_error("softmax dim", cf_softmax(ctx, x, 2), "softmax: dim 2 out of range for [2, 3] f32");
    check_error("cumsum dim", cf_cumsum(ctx, x, -3), "cumsum: dim -3 out of range");
    check_error("NULL input", cf_logsumexp(ctx, NULL, CF_ALL_DIMS, false), "input 0 is NULL");
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        printf("no context: %s\n", cf_last_error());
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        cf_dtype dt = k ? CF_F64 : CF_F32;
        test_sum_mean_var(ctx, dt);
        test_max_min(ctx, dt);
        test_logsumexp(ctx, dt);
        test_cumsum(ctx, dt);
        test_softmax(ctx, dt);
        cf_step_reset(ctx);
    }
    test_big(ctx);
    test_scalars(ctx);
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
