// The one header every kernel .cu file includes: the CUDA vocabulary (threadIdx, __shared__,
// __syncthreads, warp shuffles, atomics, __half / __nv_bfloat16, ...) from CUDA itself under nvcc, or
// from cformer's SIMT emulator (autograd/cuda/emu/emu.h) when the same source is compiled by the host
// C++ compiler with CF_CUDA_EMU. On top of that, three spellings both builds share, since the
// <<<grid, block, shmem, stream>>> launch syntax is nvcc's alone:
//
//     CF_LAUNCH(kernel, grid, block, shmem_bytes, args...);   // launches on cformer's stream
//     CF_DYNAMIC_SHARED(T, name);                              // inside a kernel: T *name, the dynamic
//                                                              // shared array of shmem_bytes
//     int bad = CF_CUDA_CHECK_LAUNCH(err, errlen);             // 0, or the launch error's text in err
#ifndef CF_SIMT_H
#define CF_SIMT_H

#include <stddef.h>
#include <stdio.h>

#if defined(__CUDACC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define CF_LAUNCH(kernel, grid, block, shmem_bytes, ...) \
    kernel<<<(grid), (block), (shmem_bytes), (cudaStream_t)0>>>(__VA_ARGS__)
#define CF_DYNAMIC_SHARED(T, name) \
    extern __shared__ __align__(16) unsigned char cf_dynamic_shared_[]; \
    T *name = reinterpret_cast<T *>(cf_dynamic_shared_)

static inline int cf_simt_check_launch(char *err, size_t errlen)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return 0;
    if (err && errlen) snprintf(err, errlen, "kernel launch: %s", cudaGetErrorString(e));
    return (int)e;
}
#define CF_CUDA_CHECK_LAUNCH(err, errlen) cf_simt_check_launch((err), (errlen))

#elif defined(CF_CUDA_EMU)

#include "autograd/cuda/emu/emu.h" /* defines CF_LAUNCH, CF_DYNAMIC_SHARED and CF_CUDA_CHECK_LAUNCH too */

#else
#error "autograd/cuda/simt.h: compile with nvcc (CF_CUDA) or with CF_CUDA_EMU defined"
#endif

#endif
