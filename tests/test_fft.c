/* rfft / irfft: against a naive DFT (even, odd, padded, cropped), known spectra, round trips for even
 * and odd n, NumPy's handling of the DC / Nyquist imaginary parts, thread invariance, more plan sizes
 * than the plan cache holds, argument errors. */
#include "autograd/cformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


#define PI 3.14159265358979323846

static cf_tensor *as(cf_ctx *ctx, cf_tensor *t, cf_dtype dt)
{
    cf_tensor *c = cf_empty(ctx, dt, t->ndim, t->shape);
    cf_copy_(c, t);
    return c;
}

static double max_diff(const cf_tensor *a, const double *b, int64_t n)
{
    if (!a || cf_numel(a) != n) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(cf_get_flat(a, i) - b[i]));
    return m;
}

/* rfft of rows x len at length n against sum_t x[t] exp(-2 pi i k t / n) */
static void test_vs_naive_dft(cf_ctx *ctx, cf_dtype dt, int64_t rows, int64_t len, int64_t n_arg)
{
    int64_t n = n_arg ? n_arg : len, m = n / 2 + 1;
    cf_tensor *x = as(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(rows, len), 5, (uint64_t)(len * 31 + n)), dt);
    cf_tensor *X = cf_rfft(ctx, x, n_arg);
    CHECK(X && X->ndim == 3 && X->shape[0] == rows && X->shape[1] == m && X->shape[2] == 2, "rfft shape for n %lld",
          (long long)n);
    double want[4 * 2 * 40];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < m; k++) {
            double re = 0, im = 0;
            for (int64_t t = 0; t < len && t < n; t++) {
                double v = cf_get_flat(x, r * len + t), a = 2 * PI * (double)(k * t) / (double)n;
                re += v * cos(a), im -= v * sin(a);
            }
            want[(r * m + k) * 2] = re, want[(r * m + k) * 2 + 1] = im;
        }
    double tol = dt == CF_F32 ? 1e-4 : 1e-10, err = max_diff(X, want, rows * m * 2);
    CHECK(err < tol, "%s rfft len %lld n %lld differs from the naive DFT by %g", cf_dtype_name(dt), (long long)len,
          (long long)n, err);

    /* irfft of that spectrum with the same n, against the naive inverse of the Hermitian extension */
    cf_tensor *y = X ? cf_irfft(ctx, X, n) : NULL;
    double inv[4 * 40];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < n; t++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) { /* full spectrum: bin n-k is the conjugate of bin k */
                int64_t kk = k < m ? k : n - k;
                double re = want[(r * m + kk) * 2], im = want[(r * m + kk) * 2 + 1] * (k < m ? 1 : -1);
                double a = 2 * PI * (double)(k * t) / (double)n;
                s += re * cos(a) - im * sin(a);
            }
            inv[r * n + t] = s / (double)n;
        }
    err = max_diff(y, inv, rows * n);
    CHECK(err < tol, "%s irfft n %lld differs from the naive inverse by %g", cf_dtype_name(dt), (long long)n, err);
}

static void test_round_trip(cf_ctx *ctx, cf_dtype dt, int64_t n)
{
    cf_tensor *x = as(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(2, 3, n), 6, (uint64_t)n), dt);
    cf_tensor *y = cf_irfft(ctx, cf_rfft(ctx, x, 0), n);
    double want[2 * 3 * 64];
    cf_to_f64_array(x, want);
    double err = max_diff(y, want, 6 * n);
    CHECK(err < (dt == CF_F32 ? 1e-5 : 1e-12), "%s irfft(rfft(x)) != x for n %lld (err %g)", cf_dtype_name(dt),
          (long long)n, err);
}

static void test_known_spectra(cf_ctx *ctx, cf_dtype dt)
{
    double sig[8], want[5 * 2] = {0};
    for (int t = 0; t < 8; t++) sig[t] = cos(2 * PI * 2 * t / 8);
    want[2 * 2] = 4; /* a cosine at bin 2 of 8: N/2 in bin 2, nothing elsewhere */
    cf_tensor *X = cf_rfft(ctx, as(ctx, cf_from_data(ctx, CF_F64, CF_SHAPE(8), sig), dt), 0);
    CHECK(max_diff(X, want, 10) < 1e-5, "%s rfft of a cosine", cf_dtype_name(dt));
    double delta[5] = {1, 0, 0, 0, 0}, flat[3 * 2] = {1, 0, 1, 0, 1, 0};
    X = cf_rfft(ctx, as(ctx, cf_from_data(ctx, CF_F64, CF_SHAPE(5), delta), dt), 0);
    CHECK(max_diff(X, flat, 6) < 1e-6, "%s rfft of a delta is not flat", cf_dtype_name(dt));
    /* NumPy ignores the imaginary parts of DC and (even n) Nyquist: irfft([1+5j, 0, 2+7j], 4) */
    double spec[3 * 2] = {1, 5, 0, 0, 2, 7}, out[4] = {0.75, -0.25, 0.75, -0.25};
    cf_tensor *y = cf_irfft(ctx, as(ctx, cf_from_data(ctx, CF_F64, CF_SHAPE(3, 2), spec), dt), 4);
    CHECK(max_diff(y, out, 4) < 1e-6, "%s irfft does not ignore Im of DC / Nyquist", cf_dtype_name(dt));
    /* for odd n the last bin is interior and its imaginary part counts: irfft([0, 0, 1j], 5) */
    double spec2[3 * 2] = {0, 0, 0, 0, 0, 1}, out2[5];
    for (int t = 0; t < 5; t++) out2[t] = -2 * sin(2 * PI * 2 * t / 5) / 5;
    y = cf_irfft(ctx, as(ctx, cf_from_data(ctx, CF_F64, CF_SHAPE(3, 2), spec2), dt), 5);
    CHECK(max_diff(y, out2, 5) < 1e-6, "%s irfft odd n: the last bin is not interior", cf_dtype_name(dt));
}

static bool same(const cf_tensor *a, const cf_tensor *b)
{
    if (!a || !b || cf_numel(a) != cf_numel(b)) return false;
    for (int64_t i = 0; i < cf_numel(a); i++)
        if (cf_get_flat(a, i) != cf_get_flat(b, i)) return false;
    return true;
}

static void test_threads(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(64, 1000), 8, 8);
    cf_set_threads(ctx, 1);
    cf_tensor *a = cf_rfft(ctx, x, 0), *ia = cf_irfft(ctx, a, 1000);
    cf_set_threads(ctx, 2);
    cf_tensor *b = cf_rfft(ctx, x, 0), *ib = cf_irfft(ctx, b, 1000);
    CHECK(same(a, b) && same(ia, ib), "rfft / irfft differ between 1 and 2 threads");
}

/* more distinct lengths than the plan cache holds: the uncached plans must work as well */
static void test_many_sizes(cf_ctx *ctx)
{
    int bad = 0;
    for (int64_t n = 1; n <= 80; n++) {
        cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(2, n), 2, (uint64_t)n);
        cf_tensor *y = cf_irfft(ctx, cf_rfft(ctx, x, 0), n);
        double want[2 * 80];
        cf_to_f64_array(x, want);
        if (!(max_diff(y, want, 2 * n) < 1e-12)) bad++;
    }
    CHECK(bad == 0, "%d of 80 lengths do not round-trip", bad);
}

static void expect_error(cf_tensor *t, cf_status st, const char *needle, const char *what)
{
    CHECK(t == NULL && cf_last_status() == st && strstr(cf_last_error(), needle) != NULL,
          "%s: got status %s, message \"%s\"", what, cf_status_name(cf_last_status()), cf_last_error());
    cf_clear_error();
}

static void test_errors(cf_ctx *ctx)
{
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(4, 3), 1, 1);
    expect_error(cf_irfft(ctx, x, 0), CF_ERR_SHAPE, "irfft: expected a complex input [..., bins, 2], got [4, 3]",
                 "irfft of a real-shaped input");
    expect_error(cf_irfft(ctx, cf_randn(ctx, CF_F32, CF_SHAPE(2), 1, 1), 0), CF_ERR_SHAPE,
                 "irfft: expected a complex input", "irfft of a 1-D input");
    expect_error(cf_irfft(ctx, cf_randn(ctx, CF_F32, CF_SHAPE(1, 2), 1, 1), 0), CF_ERR_ARG,
                 "irfft: transform length n = 0 must be in [1,", "irfft default n of one bin");
    expect_error(cf_rfft(ctx, x, -2), CF_ERR_ARG, "rfft: n = -2 is negative", "negative n");
    expect_error(cf_irfft(ctx, cf_randn(ctx, CF_F32, CF_SHAPE(3, 2), 1, 1), -1), CF_ERR_ARG, "irfft: n = -1 is negative",
                 "irfft negative n");
    expect_error(cf_rfft(ctx, cf_arange(ctx, CF_I64, 4), 0), CF_ERR_DTYPE, "rfft: expected an f32 or f64",
                 "integer input");
    expect_error(cf_rfft(ctx, cf_full(ctx, CF_F32, 0, NULL, 1.0), 0), CF_ERR_SHAPE, "rfft: expected 1 to 7 dims",
                 "scalar input");
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) {
        printf("cf_ctx_new: %s\n", cf_last_error());
        return 1;
    }
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        test_vs_naive_dft(ctx, dt, 3, 16, 0); /* even */
        test_vs_naive_dft(ctx, dt, 3, 15, 0); /* odd */
        test_vs_naive_dft(ctx, dt, 2, 5, 12); /* zero-padded */
        test_vs_naive_dft(ctx, dt, 2, 30, 9); /* cropped, odd */
        test_vs_naive_dft(ctx, dt, 4, 1, 0);  /* n 1 */
        for (int64_t n = 1; n <= 9; n++) test_round_trip(ctx, dt, n);
        test_round_trip(ctx, dt, 64);
        test_round_trip(ctx, dt, 63);
        test_known_spectra(ctx, dt);
    }
    test_threads(ctx);
    test_many_sizes(ctx);
    test_errors(ctx);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
