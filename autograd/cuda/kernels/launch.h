// What every CUDA kernel file shares (C++, included by .cu files only): the SIMT vocabulary, the engine's
// headers (readable by C++: extern "C", CF_ALIGNAS), the launch helper, the grid-stride loop, broadcast
// offsets from the CPU's own cf_iter geometry, and dtype load/store with f32 accumulation for bf16
// storage. The pattern of a kernel file (see kernels/elementwise.cu):
//
//     template <typename T> __global__ void my_fwd(cf_iter it, T *y, const T *x) {
//         CF_GRID_STRIDE(i, it.numel) {
//             int64_t off[CF_ITER_MAX];
//             cf_iter_offsets(it, i, off);
//             y[off[0]] = ...x[off[1]]...;
//         }
//     }
//     extern "C" cf_status cf_cuda_myop_fwd(cf_ctx *ctx, cf_node *n) {
//         cf_iter it; ...cf_iter_init(&it, ...);
//         CF_KERNEL_RUN("myop", it.numel, my_fwd<float>, it, (float *)cf_data(n->out), ...);
//         return CF_OK;
//     }
//
// Kernels run on cformer's stream in launch order; the host sees their results through the backend's
// copies (which wait for them), so a kernel wrapper never synchronises.
#ifndef CF_CUDA_LAUNCH_H
#define CF_CUDA_LAUNCH_H

#include "autograd/cuda/simt.h"

#include "autograd/cuda/kernels/kernels.h"
#include "autograd/iter.h"

#include <stdint.h>

#define CF_BLOCK_THREADS 256
#define CF_MAX_BLOCKS 4096

// Blocks for n elements at CF_BLOCK_THREADS each, capped (the grid-stride loop covers the rest).
static inline unsigned cf_blocks_for(int64_t n)
{
    int64_t b = (n + CF_BLOCK_THREADS - 1) / CF_BLOCK_THREADS;
    return (unsigned)(b < 1 ? 1 : (b > CF_MAX_BLOCKS ? CF_MAX_BLOCKS : b));
}

// for (i = this thread's first element; i < n; i += all threads of the grid)
#define CF_GRID_STRIDE(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (int64_t)(n); \
         i += (int64_t)blockDim.x * gridDim.x)

// Launches kernel over n elements (nothing when n == 0) and turns a launch failure into a cf_status
// error naming `what`; returns from the calling function on failure.
#define CF_KERNEL_RUN(what, n, kernel, ...) \
    do { \
        if ((int64_t)(n) > 0) { \
            CF_LAUNCH(kernel, cf_blocks_for(n), CF_BLOCK_THREADS, 0, __VA_ARGS__); \
            char launch_err_[256]; \
            if (CF_CUDA_CHECK_LAUNCH(launch_err_, sizeof launch_err_)) \
                return cf_set_error(CF_ERR_DEVICE, "%s: %s", (what), launch_err_); \
        } \
    } while (0)

// Each operand's element offset (from its cf_data) for flat index i of the iteration shape.
__host__ __device__ __forceinline__ void cf_iter_offsets(const cf_iter &it, int64_t i, int64_t *off)
{
    for (int k = 0; k < it.nops; k++) off[k] = 0;
    for (int d = it.ndim - 1; d >= 0; d--) {
        int64_t c = i % it.shape[d];
        i /= it.shape[d];
        for (int k = 0; k < it.nops; k++) off[k] += c * it.stride[k][d];
    }
}

// Storage type S, arithmetic type cf_acc_t<S>: bf16 is stored as __nv_bfloat16 and computed in f32.
template <typename S> struct cf_acc {
    typedef S type;
};
template <> struct cf_acc<__nv_bfloat16> {
    typedef float type;
};
template <typename S> using cf_acc_t = typename cf_acc<S>::type;

template <typename S> __device__ __forceinline__ cf_acc_t<S> cf_ld(const S *p) { return *p; }
template <> __device__ __forceinline__ float cf_ld<__nv_bfloat16>(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
template <typename S> __device__ __forceinline__ void cf_st(S *p, cf_acc_t<S> v) { *p = v; }
template <> __device__ __forceinline__ void cf_st<__nv_bfloat16>(__nv_bfloat16 *p, float v) { *p = __float2bfloat16(v); }

#endif
