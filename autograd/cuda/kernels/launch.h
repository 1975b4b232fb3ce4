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

// Launches kernel on `grid` blocks of `block` threads and turns a launch failure into a cf_status error
// naming `what`; returns from the calling function on failure.
#define CF_KERNEL_RUN_GRID(what, grid, block, kernel, ...) \
    do { \
        CF_LAUNCH(kernel, grid, block, 0, __VA_ARGS__); \
        char launch_err_[256]; \
        if (CF_CUDA_CHECK_LAUNCH(launch_err_, sizeof launch_err_)) \
            return cf_set_error(CF_ERR_DEVICE, "%s: %s", (what), launch_err_); \
    } while (0)

// Launches kernel over n elements (grid-stride; nothing when n == 0), as CF_KERNEL_RUN_GRID.
#define CF_KERNEL_RUN(what, n, kernel, ...) \
    do { \
        if ((int64_t)(n) > 0) CF_KERNEL_RUN_GRID(what, cf_blocks_for(n), CF_BLOCK_THREADS, kernel, __VA_ARGS__); \
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

// A reduction's geometry, split from a cf_iter whose operand 0 is the destination with stride 0 over the
// summed dims (cf_iter_init gives that when the destination's shape broadcasts to the iteration shape):
// `keep` walks the destination's elements, one per thread, and `over` the summed dims; an operand's offset
// is the sum of its offsets in both walks. A destination of the full shape leaves `over` one step long.
// One thread sums its element's terms in a fixed order: deterministic, no atomics.
struct cf_reduce_geom {
    cf_iter keep, over;
};
static inline cf_reduce_geom cf_reduce_split(const cf_iter &it)
{
    cf_reduce_geom g;
    cf_iter *parts[2] = {&g.keep, &g.over};
    for (int p = 0; p < 2; p++) parts[p]->nops = it.nops, parts[p]->ndim = 0, parts[p]->numel = 1;
    for (int d = 0; d < it.ndim; d++) {
        cf_iter *t = parts[it.stride[0][d] == 0];
        t->shape[t->ndim] = it.shape[d];
        for (int k = 0; k < it.nops; k++) t->stride[k][t->ndim] = it.stride[k][d];
        t->numel *= it.shape[d];
        t->ndim++;
    }
    for (int p = 0; p < 2; p++)
        if (parts[p]->ndim == 0) { // one step at offset 0
            parts[p]->ndim = 1, parts[p]->shape[0] = 1;
            for (int k = 0; k < it.nops; k++) parts[p]->stride[k][0] = 0;
        }
    return g;
}

// Runs the statements once with `S` the storage type of a floating dtype the kernels support (f32, f64, and
// bf16 stored as __nv_bfloat16 with f32 arithmetic through cf_ld / cf_st), else returns a dtype error naming
// `what`:  CF_FLOAT_SWITCH("exp", y->dtype, CF_KERNEL_RUN(..., k<S>, ...));
// CF_FLOAT_SWITCH_NO_BF16 is the same without bf16, for kernels not written for it yet (their ops are on
// tests/cuda_no_bf16.txt, the allow-list of the cross-backend test's bf16 pass).
#define CF_FLOAT_CASE_(DT, TYPE, ...) \
    case DT: { \
        typedef TYPE S; \
        __VA_ARGS__; \
    } break;
#define CF_FLOAT_SWITCH(what, dt, ...) \
    switch (dt) { \
        CF_FLOAT_CASE_(CF_F32, float, __VA_ARGS__) \
        CF_FLOAT_CASE_(CF_F64, double, __VA_ARGS__) \
        CF_FLOAT_CASE_(CF_BF16, __nv_bfloat16, __VA_ARGS__) \
    default: return cf_set_error(CF_ERR_DTYPE, "%s (cuda): no kernel for %s tensors", (what), cf_dtype_name(dt)); \
    }
#define CF_FLOAT_SWITCH_NO_BF16(what, dt, ...) \
    switch (dt) { \
        CF_FLOAT_CASE_(CF_F32, float, __VA_ARGS__) \
        CF_FLOAT_CASE_(CF_F64, double, __VA_ARGS__) \
    default: return cf_set_error(CF_ERR_DTYPE, "%s (cuda): no kernel for %s tensors", (what), cf_dtype_name(dt)); \
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
