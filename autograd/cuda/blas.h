/* GEMM on the CUDA backend's device memory, for the kernels of autograd/cuda/kernels/ (matmul, linear,
 * the convolutions): cuBLAS under nvcc, the CPU's CBLAS (OpenBLAS, through cf_cpu_gemm) under the SIMT
 * emulator, whose device memory is host memory opened for the call as for a kernel launch. C linkage,
 * readable by C and C++.
 *
 * Convention: ROW-MAJOR, as the CPU's cf_cpu_gemm and CBLAS with CblasRowMajor:
 *     C[M, N] = alpha op(A)[M, K] op(B)[K, N] + beta C
 * op(A) is A, stored [M, K] with lda >= K, or (ta) A^T with A stored [K, M] and lda >= M; likewise B
 * ([K, N], ldb >= N, or tb: [N, K], ldb >= K); C is [M, N] with ldc >= N. Leading dims are in elements,
 * at least 1. With beta 0, C is written without being read (NaN in C does not leak in); K == 0 gives
 * C = beta C. f32, f64 and bf16 (bf16 operands and result, f32 accumulation: cublasGemmEx with
 * CUBLAS_COMPUTE_32F on a device; widened to f32 and rounded once under the emulator); the call is queued on cformer's stream after the kernels before it
 * (the default stream, where every kernel of the backend runs) and, like a kernel, not waited for.
 *
 * The strided-batched form runs `batch` such products, the i-th on A + i sA, B + i sB, C + i sC (element
 * strides): sA or sB may be 0 (one matrix broadcast over the batch); the C matrices must not overlap.
 *
 *     // y[b] = x[b] @ w^T for b < B: x [B, M, K], w [N, K] shared, y [B, M, N] (all contiguous)
 *     CF_TRY(cf_cuda_gemm_batched(CF_F32, false, true, M, N, K, 1.0, x, K, M * K, w, K, 0, 0.0, y, N, M * N, B));
 *
 * Errors: CF_ERR_DTYPE for another dtype, CF_ERR_SHAPE for a size or leading dim out of cuBLAS's int
 * range or below its minimum, CF_ERR_DEVICE naming the cuBLAS status (e.g. CUBLAS_STATUS_NOT_INITIALIZED)
 * when cuBLAS fails. Under nvcc one cuBLAS handle per device is created on first use and destroyed by
 * cf_cuda_blas_shutdown, which runs at exit (registered on the first handle's creation, so before the CUDA
 * runtime's own teardown) and may be called earlier; a later GEMM creates the handle again. */
#ifndef CF_CUDA_BLAS_H
#define CF_CUDA_BLAS_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

cf_status cf_cuda_gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                       int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc);
cf_status cf_cuda_gemm_batched(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                               const void *A, int64_t lda, int64_t sA, const void *B, int64_t ldb, int64_t sB,
                               double beta, void *C, int64_t ldc, int64_t sC, int64_t batch);
void cf_cuda_blas_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif
