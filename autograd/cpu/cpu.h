/* Shared machinery for CPU kernels: the kernel declarations generated from the op list, broadcast
 * iteration, reduction to a broadcast input's shape, and threading thresholds. */
#ifndef CF_CPU_H
#define CF_CPU_H

#include "autograd/cf_node.h"
#include "autograd/iter.h"

/* Every op in ops.def has these two kernels on the CPU. */
#define CF_OP(name) \
    cf_status cf_cpu_##name##_fwd(cf_ctx *ctx, cf_node *n); \
    cf_status cf_cpu_##name##_bwd(cf_ctx *ctx, cf_node *n);
#include "autograd/ops.def"
#undef CF_OP

/* Loops with fewer elements than this run on one thread: below it OpenMP's fork costs more than it saves. */
#define CF_PAR_MIN 32768

/* Sets OpenMP's and OpenBLAS's thread counts together; returns the count in force (n <= 0: default). */
int cf_cpu_set_threads(int n);

/* The CPU backend's memory and optimizer entries (see cf_backend in cf_node.h). */
void *cf_cpu_alloc(size_t bytes);
void cf_cpu_release(void *p);
cf_status cf_cpu_memcpy(void *dst, const void *src, size_t bytes);
cf_status cf_cpu_fill(cf_tensor *t, double v);
cf_status cf_cpu_copy(cf_tensor *dst, const cf_tensor *src, bool accumulate);
void cf_cpu_optim_update(const cf_optim_update_args *a);
double cf_cpu_sum_squares(cf_dtype dt, const void *x, int64_t n);
void cf_cpu_scale(cf_dtype dt, void *x, int64_t n, double s);

/* C[M, N] = alpha op(A) op(B) + beta C, row-major (op: transpose when ta / tb), dt f32 or f64, through BLAS.
 * The result depends on the shapes and values only, never on the thread count: C is cut into tiles
 * by the shape alone (cf_cpu_gemm_tiles), each one single-threaded GEMM over the whole K, and the tiles
 * are shared among the OpenMP threads (run one after another inside a parallel region). K == 0 gives
 * beta C (0 for beta 0, C unread). Every CPU kernel calls BLAS through this, never cblas directly. */
void cf_cpu_gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                 int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc);
/* The GEMMs cf_cpu_gemm ran while a record was open, one entry per distinct (dtype, transposes, M, N, K) with
 * its number of calls; `cformer bench train` replays them through raw threaded cblas_sgemm for the model's
 * own GEMM bound. cf_cpu_gemm_record(buf, cap, &n) opens a record (n = 0 first; shapes past cap are
 * counted in *dropped), cf_cpu_gemm_record(NULL, 0, NULL) closes it. Not for use while GEMMs run. */
typedef struct {
    cf_dtype dt;
    bool ta, tb;
    int64_t M, N, K, calls;
} cf_gemm_shape;
void cf_cpu_gemm_record(cf_gemm_shape *buf, int cap, int *n, int64_t *dropped);

/* The tile of cf_cpu_gemm for an [M, N] result over K: *mb rows by *nb columns (edges multiples of 64). */
void cf_cpu_gemm_tiles(int64_t M, int64_t N, int64_t K, int64_t *mb, int64_t *nb);

/* dst (contiguous, shape broadcastable to src's) = or += the sum of src (contiguous) over the dims
 * that dst broadcasts. */
cf_status cf_cpu_sum_to(cf_tensor *dst, const cf_tensor *src, bool overwrite);
/* Accumulates src (any strides) into dst, which has src's shape (any strides), or overwrites it. */
void cf_cpu_copy_strided(cf_tensor *dst, const cf_tensor *src, bool accumulate);

/* Adds g into x's gradient, reducing broadcast dims when x is smaller than g. */
cf_status cf_cpu_accum_grad(cf_ctx *ctx, cf_tensor *x, const cf_tensor *g);

#endif
