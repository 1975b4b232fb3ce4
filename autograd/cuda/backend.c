/* The CUDA backend's table. Kernels are added op by op; it holds none yet, and `cformer list ops` shows each
 * NULL entry as "-". There is no cross-backend test yet: tests/test_cuda.c checks only the runtime plumbing
 * (device count, allocation, copies both ways). The backend is offered only when a device is present. */
#include "autograd/cf_node.h"
#include "autograd/cuda/cuda_api.h"

static const cf_backend cuda_backend = {
    .name = "cuda",
    .device = CF_CUDA,
};

const cf_backend *cf_cuda_backend(void) { return cf_cuda_device_count() > 0 ? &cuda_backend : NULL; }
