/* The CPU backend's kernel table, generated from the op list. */
#include "autograd/cpu/cpu.h"

static const cf_backend cpu_backend = {
    .name = "cpu",
    .device = CF_CPU,
    .fwd = {
#define CF_OP(name) [CF_OP_##name] = cf_cpu_##name##_fwd,
#include "autograd/ops.def"
#undef CF_OP
    },
    .bwd = {
#define CF_OP(name) [CF_OP_##name] = cf_cpu_##name##_bwd,
#include "autograd/ops.def"
#undef CF_OP
    },
};

#ifdef CF_HAVE_CUDA
extern const cf_backend *cf_cuda_backend(void);
#endif

const cf_backend *cf_backend_for(cf_device dev)
{
    switch (dev) {
    case CF_CPU: return &cpu_backend;
#ifdef CF_HAVE_CUDA
    case CF_CUDA: return cf_cuda_backend();
#endif
    default: return NULL;
    }
}
