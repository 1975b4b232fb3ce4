// Thin wrappers over the CUDA runtime: every call is checked and its error string handed back to C.
#include "autograd/cuda/cuda_api.h"

#include <cuda_runtime.h>
#include <stdio.h>

static int fail(cudaError_t e, const char *what, char *err, size_t errlen)
{
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
    return (int)e;
}

extern "C" int cf_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear the sticky "no driver" error
        return 0;
    }
    return n;
}

extern "C" int cf_cuda_malloc(void **p, size_t bytes, char *err, size_t errlen)
{
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    return e == cudaSuccess ? 0 : fail(e, "cudaMalloc", err, errlen);
}

extern "C" void cf_cuda_free(void *p) { cudaFree(p); }

extern "C" int cf_cuda_copy_h2d(void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? 0 : fail(e, "cudaMemcpy host to device", err, errlen);
}

extern "C" int cf_cuda_copy_d2h(void *dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? 0 : fail(e, "cudaMemcpy device to host", err, errlen);
}

extern "C" int cf_cuda_synchronize(char *err, size_t errlen)
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? 0 : fail(e, "cudaDeviceSynchronize", err, errlen);
}

extern "C" int cf_cuda_describe(int device, char *buf, size_t len)
{
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess) return fail(e, "cudaGetDeviceProperties", buf, len);
    snprintf(buf, len, "%s, sm_%d%d, %.1f GiB, %d SMs", p.name, p.major, p.minor, (double)p.totalGlobalMem / (1 << 30),
             p.multiProcessorCount);
    return 0;
}
