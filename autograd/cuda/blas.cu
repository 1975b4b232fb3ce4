// The CUDA backend's GEMM (autograd/cuda/blas.h): cuBLAS under nvcc, the CPU's cf_cpu_gemm (OpenBLAS) under
// the SIMT emulator. Row-major products are handed to column-major cuBLAS as their transposes:
// C = op(A) op(B) row-major is C^T = op(B)^T op(A)^T column-major, i.e. the same buffers with A and B (and
// M and N) swapped.
#include "autograd/cuda/blas.h"

#include <limits.h>
#include <stdio.h>

#if defined(__CUDACC__)
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdlib.h>

#include <mutex>
#elif defined(CF_CUDA_EMU)
#include "autograd/cuda/emu/emu_internal.h"
extern "C" {
#include "autograd/cpu/cpu.h"
}
#include <stdlib.h>
#else
#error "autograd/cuda/blas.cu is built by nvcc (CF_CUDA) or by the host C++ compiler with CF_CUDA_EMU"
#endif

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }
static int64_t max1(int64_t v) { return v > 1 ? v : 1; }

// Sizes and leading dims as cuBLAS (and CBLAS) require them, or a CF_ERR_SHAPE naming the offender.
static cf_status check_args(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc,
                            int64_t batch)
{
    if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(batch))
        return cf_set_error(CF_ERR_SHAPE, "cuda gemm: sizes M %lld, N %lld, K %lld, batch %lld out of range",
                            (long long)M, (long long)N, (long long)K, (long long)batch);
    int64_t need[3] = {max1(ta ? M : K), max1(tb ? K : N), max1(N)}, have[3] = {lda, ldb, ldc};
    const char *name[3] = {"lda", "ldb", "ldc"};
    for (int i = 0; i < 3; i++)
        if (have[i] < need[i] || !fits_int(have[i]))
            return cf_set_error(CF_ERR_SHAPE, "cuda gemm: %s %lld for M %lld, N %lld, K %lld (ta %d, tb %d)", name[i],
                                (long long)have[i], (long long)M, (long long)N, (long long)K, (int)ta, (int)tb);
    return CF_OK;
}

#if defined(__CUDACC__)

enum { MAX_DEVICES = 64 };
static cublasHandle_t handles[MAX_DEVICES];
static bool shutdown_registered;
static std::mutex handles_lock; // host threads may run GEMMs: one creates a device's handle

static const char *status_name(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "an unknown cuBLAS status";
    }
}

extern "C" void cf_cuda_blas_shutdown(void)
{
    std::lock_guard<std::mutex> hold(handles_lock);
    for (int d = 0; d < MAX_DEVICES; d++)
        if (handles[d]) cublasDestroy(handles[d]), handles[d] = NULL;
}

// The current device's handle, created on first use; NULL with the error set when that fails.
static cublasHandle_t handle(void)
{
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) {
        cf_set_error(CF_ERR_DEVICE, "cuda gemm: cudaGetDevice: %s", cudaGetErrorString(e));
        return NULL;
    }
    if (dev < 0 || dev >= MAX_DEVICES) {
        cf_set_error(CF_ERR_DEVICE, "cuda gemm: device %d past the %d that cuBLAS handles are kept for", dev,
                     MAX_DEVICES);
        return NULL;
    }
    std::lock_guard<std::mutex> hold(handles_lock);
    if (!handles[dev]) {
        cublasStatus_t s = cublasCreate(&handles[dev]);
        if (s != CUBLAS_STATUS_SUCCESS) {
            handles[dev] = NULL;
            cf_set_error(CF_ERR_DEVICE, "cuda gemm: cublasCreate on device %d: %s", dev, status_name(s));
            return NULL;
        }
        // every kernel of the backend runs on the default stream: so do the GEMMs, in launch order
        cublasSetStream(handles[dev], 0);
        if (!shutdown_registered) shutdown_registered = atexit(cf_cuda_blas_shutdown) == 0;
    }
    return handles[dev];
}

static cf_status run(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                     int64_t lda, int64_t sA, const void *B, int64_t ldb, int64_t sB, double beta, void *C, int64_t ldc,
                     int64_t sC, int64_t batch)
{
    cublasHandle_t h = handle();
    if (!h) return cf_last_status();
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t s;
    if (dt == CF_BF16) { // bf16 operands and result, f32 accumulation (tensor cores where the card has them)
        float al = (float)alpha, be = (float)beta;
        s = cublasGemmStridedBatchedEx(h, ob, oa, (int)N, (int)M, (int)K, &al, B, CUDA_R_16BF, (int)ldb, sB, A,
                                       CUDA_R_16BF, (int)lda, sA, &be, C, CUDA_R_16BF, (int)ldc, sC, (int)batch,
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    } else if (dt == CF_F32) {
        float al = (float)alpha, be = (float)beta;
        s = cublasSgemmStridedBatched(h, ob, oa, (int)N, (int)M, (int)K, &al, (const float *)B, (int)ldb, sB,
                                      (const float *)A, (int)lda, sA, &be, (float *)C, (int)ldc, sC, (int)batch);
    } else {
        s = cublasDgemmStridedBatched(h, ob, oa, (int)N, (int)M, (int)K, &alpha, (const double *)B, (int)ldb, sB,
                                      (const double *)A, (int)lda, sA, &beta, (double *)C, (int)ldc, sC, (int)batch);
    }
    if (s != CUBLAS_STATUS_SUCCESS)
        return cf_set_error(CF_ERR_DEVICE, "cuda gemm (%s, M %lld, N %lld, K %lld, batch %lld): %s",
                            cf_dtype_name(dt), (long long)M, (long long)N, (long long)K, (long long)batch,
                            status_name(s));
    return CF_OK;
}

#else // CF_CUDA_EMU: device memory is host memory, opened for the call as for a kernel launch

extern "C" void cf_cuda_blas_shutdown(void) {}

// Elements a [rows, cols] matrix with leading dim ld spans.
static int64_t extent(int64_t rows, int64_t cols, int64_t ld) { return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0; }

static float *widen(const void *src, int64_t n)
{
    float *f = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    const uint16_t *h = (const uint16_t *)src;
    for (int64_t i = 0; f && i < n; i++) f[i] = cf_bf16_to_f32(h[i]);
    return f;
}

// One bf16 product as cuBLAS computes it: bf16 operands read as f32, f32 accumulation, the result rounded
// once to bf16 (beta's term included before the rounding).
static cf_status gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A, int64_t lda,
                           const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    int64_t na = extent(ta ? K : M, ta ? M : K, lda), nb = extent(tb ? N : K, tb ? K : N, ldb), nc = extent(M, N, ldc);
    float *a = widen(A, na), *b = widen(B, nb), *c = beta != 0 ? widen(C, nc) : (float *)calloc((size_t)nc, sizeof(float));
    cf_status st = CF_OK;
    if (!a || !b || !c) {
        st = cf_set_error(CF_ERR_OOM, "cuda gemm (bf16, emulated): out of memory");
    } else {
        cf_cpu_gemm(CF_F32, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        uint16_t *out = (uint16_t *)C;
        for (int64_t r = 0; r < M; r++)
            for (int64_t j = 0; j < N; j++) out[r * ldc + j] = cf_f32_to_bf16(c[r * ldc + j]);
    }
    free(a), free(b), free(c);
    return st;
}

static cf_status run(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                     int64_t lda, int64_t sA, const void *B, int64_t ldb, int64_t sB, double beta, void *C, int64_t ldc,
                     int64_t sC, int64_t batch)
{
    std::lock_guard<std::recursive_mutex> hold(cf_emu::device_lock);
    // like cuBLAS, only device memory (a host pointer here is a bug that a GPU would fault on)
    const void *ptrs[3] = {A, B, C};
    for (int i = K > 0 ? 0 : 2; i < 3; i++) // with K == 0, A and B are not read
        if (!cf_emu::emu_is_device_pointer(ptrs[i]))
            return cf_set_error(CF_ERR_DEVICE, "cuda gemm: operand %c (%p) is not device memory", "ABC"[i], ptrs[i]);
    size_t es = cf_dtype_size(dt);
    cf_status st = CF_OK;
    cf_emu::emu_device_access(true);
    for (int64_t i = 0; i < batch && st == CF_OK; i++) {
        const char *a = (const char *)A + (size_t)(i * sA) * es, *b = (const char *)B + (size_t)(i * sB) * es;
        char *c = (char *)C + (size_t)(i * sC) * es;
        if (dt == CF_BF16) st = gemm_bf16(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        else cf_cpu_gemm(dt, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    cf_emu::emu_device_access(false);
    return st;
}

#endif

extern "C" cf_status cf_cuda_gemm_batched(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                                          const void *A, int64_t lda, int64_t sA, const void *B, int64_t ldb,
                                          int64_t sB, double beta, void *C, int64_t ldc, int64_t sC, int64_t batch)
{
    if (dt != CF_F32 && dt != CF_F64 && dt != CF_BF16)
        return cf_set_error(CF_ERR_DTYPE, "cuda gemm: no GEMM for %s tensors", cf_dtype_name(dt));
    if (M <= 0 || N <= 0 || batch <= 0) return CF_OK;
    CF_TRY(check_args(ta, tb, M, N, K, lda, ldb, ldc, batch));
    return run(dt, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
}

extern "C" cf_status cf_cuda_gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                                  const void *A, int64_t lda, const void *B, int64_t ldb, double beta, void *C,
                                  int64_t ldc)
{
    return cf_cuda_gemm_batched(dt, ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
