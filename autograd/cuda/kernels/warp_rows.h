// One warp per row (C++, included by .cu files only): the row kernels of norm.cu, reduce.cu (softmax,
// log_softmax) and loss.cu (cross_entropy). A block of CF_BLOCK_THREADS holds CF_BLOCK_THREADS / 32 rows; lane l
// takes the row's elements l, l + 32, ...; the row's sums and maxima meet by an xor butterfly of warp shuffles,
// after which every lane holds the total, summed in one fixed order (the result does not depend on timing).
//
//     template <typename S> __global__ void k(const S *x, S *y, int64_t M, int64_t D) {
//         CF_ROW_WARP_LOOP(r, lane, M) {
//             cf_acc_t<S> s = 0;
//             for (int64_t j = lane; j < D; j += CF_ROW_WARP) s += cf_ld(x + r * D + j);
//             s = cf_warp_sum(s);     // every lane of the warp: the row's sum
//             ...
//         }
//     }
//     CF_KERNEL_RUN_GRID("k", cf_row_blocks(M), CF_BLOCK_THREADS, k<S>, ...);
//
// The loop's bounds are the same for all lanes of a warp, so the shuffles are never divergent.
#ifndef CF_CUDA_WARP_ROWS_H
#define CF_CUDA_WARP_ROWS_H

#include "autograd/cuda/kernels/launch.h"

#define CF_ROW_WARP 32

template <typename A> __device__ __forceinline__ A cf_warp_sum(A v)
{
    for (int o = CF_ROW_WARP / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// the max, NaN ignored as by a loop of `m = v > m ? v : m` (callers let NaN reach the result through a sum)
template <typename A> __device__ __forceinline__ A cf_warp_max(A v)
{
    for (int o = CF_ROW_WARP / 2; o > 0; o /= 2) {
        A w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

// for (r = this warp's first row; r < M; r += all warps of the grid), with `lane` the thread's lane
#define CF_ROW_WARP_LOOP(r, lane, M) \
    const int lane = (int)(threadIdx.x % CF_ROW_WARP); \
    for (int64_t r = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / CF_ROW_WARP; r < (int64_t)(M); \
         r += (int64_t)blockDim.x * gridDim.x / CF_ROW_WARP)

// Blocks for M rows at one warp each (capped as cf_blocks_for: the loop covers the rest).
static inline unsigned cf_row_blocks(int64_t M) { return cf_blocks_for(M * CF_ROW_WARP); }

#endif
