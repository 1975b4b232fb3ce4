/* The CUDA backend's GEMM (autograd/cuda/blas.h) against hand-computed products: row-major layout, both
 * transposes, alpha and beta (beta 0 must not read C: it starts as NaN), K = 0, a strided batch with a
 * broadcast operand, in f32 and f64; a bf16 product (exact: small integers); and its errors. Skips (exit 77)
 * without a CUDA build or device. */
#include "autograd/cformer.h"
#include "tests/check.h"

#ifdef CF_HAVE_CUDA
#include "autograd/cuda/blas.h"
#include "autograd/cuda/cuda_api.h"

#include <math.h>

static char err[256];

/* a device copy of n doubles as dt (f32 or f64) */
static void *to_device(cf_dtype dt, const double *v, int n)
{
    float f[64];
    void *d = NULL;
    size_t es = dt == CF_F32 ? 4 : 8;
    for (int i = 0; i < n; i++) f[i] = (float)v[i];
    CHECK(n <= 64 && cf_cuda_malloc(&d, es * (size_t)n, err, sizeof err) == 0);
    CHECK(cf_cuda_copy_h2d(d, dt == CF_F32 ? (const void *)f : (const void *)v, es * (size_t)n, err, sizeof err) == 0);
    return d;
}

/* the device buffer's n values equal want (exactly: small integers in both dtypes) */
static bool equals(cf_dtype dt, const void *d, const double *want, int n)
{
    double v[64];
    float f[64];
    size_t es = dt == CF_F32 ? 4 : 8;
    CHECK(cf_cuda_copy_d2h(dt == CF_F32 ? (void *)f : (void *)v, d, es * (size_t)n, err, sizeof err) == 0);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        double got = dt == CF_F32 ? (double)f[i] : v[i];
        if (!(got == want[i])) {
            fprintf(stderr, "  %s element %d: %g, want %g\n", cf_dtype_name(dt), i, got, want[i]);
            ok = false;
        }
    }
    return ok;
}

static void check_dtype(cf_dtype dt)
{
    const double a[6] = {1, 2, 3, 4, 5, 6};        /* A [2, 3] */
    const double at[6] = {1, 4, 2, 5, 3, 6};       /* A^T stored [3, 2] */
    const double b[6] = {7, 8, 9, 10, 11, 12};     /* B [3, 2] */
    const double bt[6] = {7, 9, 11, 8, 10, 12};    /* B^T stored [2, 3] */
    const double ab[4] = {58, 64, 139, 154};       /* A B by hand */
    double nan4[4] = {NAN, NAN, NAN, NAN}, ones[4] = {1, 1, 1, 1};
    void *A = to_device(dt, a, 6), *At = to_device(dt, at, 6), *B = to_device(dt, b, 6), *Bt = to_device(dt, bt, 6);
    void *C = to_device(dt, nan4, 4);

    CHECK(cf_cuda_gemm(dt, false, false, 2, 2, 3, 1.0, A, 3, B, 2, 0.0, C, 2) == CF_OK);
    CHECK(equals(dt, C, ab, 4)); /* beta 0 over NaN */
    CHECK(cf_cuda_copy_h2d(C, dt == CF_F32 ? (const void *)(float[4]){NAN, NAN, NAN, NAN} : (const void *)nan4,
                           dt == CF_F32 ? 16 : 32, err, sizeof err) == 0);
    CHECK(cf_cuda_gemm(dt, true, true, 2, 2, 3, 1.0, At, 2, Bt, 3, 0.0, C, 2) == CF_OK);
    CHECK(equals(dt, C, ab, 4));
    /* C = 2 A B + 0.5 C over C = 1 (ta only: A^T's storage) */
    void *C1 = to_device(dt, ones, 4);
    CHECK(cf_cuda_gemm(dt, true, false, 2, 2, 3, 2.0, At, 2, B, 2, 0.5, C1, 2) == CF_OK);
    CHECK(equals(dt, C1, (const double[]){116.5, 128.5, 278.5, 308.5}, 4));
    /* K = 0: C = beta C; with beta 0, C (NaN) is not read */
    CHECK(cf_cuda_gemm(dt, false, false, 2, 2, 0, 1.0, A, 1, B, 2, 0.5, C1, 2) == CF_OK);
    CHECK(equals(dt, C1, (const double[]){58.25, 64.25, 139.25, 154.25}, 4));
    void *Cn = to_device(dt, nan4, 4);
    CHECK(cf_cuda_gemm(dt, false, false, 2, 2, 0, 1.0, A, 1, B, 2, 0.0, Cn, 2) == CF_OK);
    CHECK(equals(dt, Cn, (const double[]){0, 0, 0, 0}, 4));
    /* a batch of 2 with A [1, 3] broadcast (stride 0) against B[0] = b, B[1] = b^T's storage seen as [3, 2],
     * into C [2, 1, 2] through a leading dim of 3 and a batch stride of 4 (elements between skipped) */
    const double b2[12] = {7, 8, 9, 10, 11, 12, 7, 9, 11, 8, 10, 12};
    double c8[8] = {NAN, NAN, NAN, -1, NAN, NAN, NAN, -1};
    void *B2 = to_device(dt, b2, 12), *C8 = to_device(dt, c8, 8);
    CHECK(cf_cuda_gemm_batched(dt, false, false, 1, 2, 3, 1.0, A, 3, 0, B2, 2, 6, 0.0, C8, 3, 4, 2) == CF_OK);
    /* [1 2 3] [7 8; 9 10; 11 12] = [58 64]; [1 2 3] [7 9; 11 8; 10 12] = [59 61] */
    double got8[8];
    float f8[8];
    CHECK(cf_cuda_copy_d2h(dt == CF_F32 ? (void *)f8 : (void *)got8, C8, (dt == CF_F32 ? 4 : 8) * 8, err, sizeof err) ==
          0);
    for (int i = 0; i < 8; i++)
        if (dt == CF_F32) got8[i] = f8[i];
    CHECK(got8[0] == 58 && got8[1] == 64 && got8[4] == 59 && got8[5] == 61);
    CHECK(isnan(got8[2]) && got8[3] == -1 && isnan(got8[6]) && got8[7] == -1); /* outside C's rows: untouched */

    /* errors: a leading dim below the row length, a dtype without GEMM */
    CHECK(cf_cuda_gemm(dt, false, false, 2, 2, 3, 1.0, A, 2, B, 2, 0.0, C, 2) == CF_ERR_SHAPE);
    CHECK(strstr(cf_last_error(), "lda 2") != NULL);
    cf_clear_error();
#ifdef CF_CUDA_EMU
    /* the emulator refuses host memory, which a GPU would fault on */
    CHECK(cf_cuda_gemm(dt, false, false, 2, 2, 3, 1.0, a, 3, B, 2, 0.0, C, 2) == CF_ERR_DEVICE);
    cf_clear_error();
#endif
    void *bufs[] = {A, At, B, Bt, C, C1, Cn, B2, C8};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cf_cuda_free(bufs[i]);
}

/* bf16 operands and result (f32 accumulation): A B and A^T B^T = [58 64; 139 154], 8-bit integers that bf16
 * holds exactly, over a C of NaN (beta 0) */
static void check_bf16(void)
{
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12}, at[6] = {1, 4, 2, 5, 3, 6},
                bt[6] = {7, 9, 11, 8, 10, 12}, ab[4] = {58, 64, 139, 154};
    const float *src[5] = {a, b, at, bt, (const float[6]){NAN, NAN, NAN, NAN, 0, 0}};
    void *d[5] = {NULL};
    for (int k = 0; k < 5; k++) {
        uint16_t h[6];
        for (int i = 0; i < 6; i++) h[i] = cf_f32_to_bf16(src[k][i]);
        CHECK(cf_cuda_malloc(&d[k], sizeof h, err, sizeof err) == 0 && cf_cuda_copy_h2d(d[k], h, sizeof h, err, sizeof err) == 0);
    }
    for (int t = 0; t < 2; t++) {
        CHECK(cf_cuda_gemm(CF_BF16, t, t, 2, 2, 3, 1.0, d[t ? 2 : 0], t ? 2 : 3, d[t ? 3 : 1], t ? 3 : 2, 0.0, d[4], 2) ==
              CF_OK, "%s", cf_last_error());
        uint16_t h[4];
        CHECK(cf_cuda_copy_d2h(h, d[4], sizeof h, err, sizeof err) == 0);
        for (int i = 0; i < 4; i++) CHECK(cf_bf16_to_f32(h[i]) == ab[i], "bf16 element %d: %g", i, cf_bf16_to_f32(h[i]));
    }
    for (int k = 0; k < 5; k++) cf_cuda_free(d[k]);
}

int main(void)
{
    if (cf_cuda_device_count() == 0) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    check_dtype(CF_F32);
    check_dtype(CF_F64);
    check_bf16();
    CHECK(cf_cuda_gemm(CF_F16, false, false, 1, 1, 1, 1.0, NULL, 1, NULL, 1, 0.0, NULL, 1) == CF_ERR_DTYPE);
    cf_clear_error();
    cf_cuda_blas_shutdown();
    TEST_MAIN_END();
}
#else
int main(void)
{
    (void)check_passed, (void)check_failed;
    printf("built without CUDA: skipped\n");
    return 77;
}
#endif
