/* Shared machinery for CPU kernels: the kernel declarations generated from the op list, broadcast
 * iteration, reduction to a broadcast input's shape, and threading thresholds. */
#ifndef CF_CPU_H
#define CF_CPU_H

#include "autograd/cf_node.h"

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

/* C[M, N] = alpha op(A) op(B) + beta C, row-major (op: transpose when ta / tb), dt f32 or f64, through BLAS.
 * The result depends on the shapes and values only, never on the thread count: C is cut into tiles
 * by the shape alone (cf_cpu_gemm_tiles), each one single-threaded GEMM over the whole K, and the tiles
 * are shared among the OpenMP threads (run one after another inside a parallel region). K == 0 gives
 * beta C (0 for beta 0, C unread). Every CPU kernel calls BLAS through this, never cblas directly. */
void cf_cpu_gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                 int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc);
/* The tile of cf_cpu_gemm for an [M, N] result over K: *mb rows by *nb columns (edges multiples of 64). */
void cf_cpu_gemm_tiles(int64_t M, int64_t N, int64_t K, int64_t *mb, int64_t *nb);

/* Geometry of up to 4 operands walked together over one shape (operand 0 is usually the output).
 * Broadcast dims have stride 0; adjacent dims that are contiguous in every operand are merged. */
#define CF_ITER_MAX 6
typedef struct cf_iter {
    int ndim;
    int nops;
    int64_t shape[CF_MAX_DIMS];
    int64_t stride[CF_ITER_MAX][CF_MAX_DIMS];
    int64_t numel;
} cf_iter;

/* Operands are viewed against shape (ndim, shape): each operand's shape must broadcast to it. */
void cf_iter_init(cf_iter *it, int ndim, const int64_t *shape, int nops, const cf_tensor *const *ops);
/* Element offsets (relative to each operand's cf_data) of the first element of row r, where a row is
 * the innermost dim it->shape[ndim-1]. */
static inline void cf_iter_row(const cf_iter *it, int64_t r, int64_t *off)
{
    for (int k = 0; k < it->nops; k++) off[k] = 0;
    for (int d = it->ndim - 2; d >= 0; d--) {
        int64_t i = r % it->shape[d];
        r /= it->shape[d];
        for (int k = 0; k < it->nops; k++) off[k] += i * it->stride[k][d];
    }
}
static inline int64_t cf_iter_inner(const cf_iter *it) { return it->ndim ? it->shape[it->ndim - 1] : 1; }
static inline int64_t cf_iter_rows(const cf_iter *it)
{
    int64_t inner = cf_iter_inner(it);
    return inner ? it->numel / inner : 0;
}

/* dst (contiguous, shape broadcastable to src's) = or += the sum of src (contiguous) over the dims
 * that dst broadcasts. */
cf_status cf_cpu_sum_to(cf_tensor *dst, const cf_tensor *src, bool overwrite);
/* Accumulates src (any strides) into dst, which has src's shape (any strides), or overwrites it. */
void cf_cpu_copy_strided(cf_tensor *dst, const cf_tensor *src, bool accumulate);

/* Adds g into x's gradient, reducing broadcast dims when x is smaller than g. */
cf_status cf_cpu_accum_grad(cf_ctx *ctx, cf_tensor *x, const cf_tensor *g);

#endif
