/* The one header every CUDA kernel file (autograd/cuda/kernels/<family>.cu) includes. It lets the same source
 * build two ways:
 *  - nvcc (CF_CUDA=ON, __CUDACC__ defined): the CUDA runtime, cuda_fp16.h and cuda_bf16.h;
 *  - the host C++ compiler (CF_CUDA_EMU=ON): cformer's SIMT emulator (autograd/cuda/emu/emu.h), which runs a
 *    kernel's grid on the CPU with the threads of a block as fibers, so kernels are tested without a GPU.
 *
 * Write kernels against this subset, identical in both builds:
 *   CF_LAUNCH(kernel, grid, block, shmem_bytes, args...)   launch (nvcc: kernel<<<grid, block, shmem_bytes, 0>>>)
 *   CF_SHARED(T, name, n);                                 a 1-D shared array, index-checked by the emulator
 *   CF_DYNAMIC_SHARED(T, name);                            the launch's dynamic shared memory as T name[]
 *   CF_CUDA_CHECK_LAUNCH(err, errlen)                      0, or nonzero with the launch's error text in err
 * and the usual built-ins: threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __shfl_*_sync, __ballot_sync,
 * __any_sync/__all_sync, atomicAdd/Max/Min/CAS/Exch, __half/__nv_bfloat16 with __float2half/__half2float/
 * __float2bfloat16/__bfloat162float, __expf/rsqrtf/__fdividef. Index shared arrays only with [] (the emulator's
 * checked arrays are not pointers); device memory comes from cf_cuda_malloc (autograd/cuda/cuda_api.h).
 *
 * Sketch:
 *   __global__ void scale(float *x, float a, int n)
 *   { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= a; }
 *   CF_LAUNCH(scale, (n + 255) / 256, 256, 0, dev_x, 2.0f, n);
 *   if (CF_CUDA_CHECK_LAUNCH(err, sizeof err)) ...  */
#ifndef CF_CUDA_SIMT_H
#define CF_CUDA_SIMT_H

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdio.h>

#define CF_LAUNCH(kernel, grid, block, shmem, ...) kernel<<<(grid), (block), (shmem), 0>>>(__VA_ARGS__)
#define CF_SHARED(T, name, n) __shared__ T name[n]
#define CF_DYNAMIC_SHARED(T, name) \
    extern __shared__ __align__(16) unsigned char cf_dynamic_smem_[]; \
    T *name = reinterpret_cast<T *>(cf_dynamic_smem_)
static inline int cf_cuda_check_launch_(char *err, size_t errlen)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return 0;
    if (err && errlen) snprintf(err, errlen, "kernel launch: %s", cudaGetErrorString(e));
    return (int)e;
}
#define CF_CUDA_CHECK_LAUNCH(err, errlen) cf_cuda_check_launch_((err), (errlen))

#elif defined(CF_CUDA_EMU)
#include "autograd/cuda/emu/emu.h"
#else
#error "autograd/cuda/simt.h is compiled by nvcc (CF_CUDA) or by the host C++ compiler with CF_CUDA_EMU"
#endif

#include "autograd/cuda/cuda_api.h"

#endif
