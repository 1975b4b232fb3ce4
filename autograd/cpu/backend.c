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
    .alloc = cf_cpu_alloc,
    .release = cf_cpu_release,
    .to_host = cf_cpu_memcpy,
    .from_host = cf_cpu_memcpy,
    .fill = cf_cpu_fill,
    .copy = cf_cpu_copy,
    .set_threads = cf_cpu_set_threads,
    .optim_update = cf_cpu_optim_update,
    .sum_squares = cf_cpu_sum_squares,
    .scale = cf_cpu_scale,
};

#ifdef CF_HAVE_CUDA
extern const cf_backend *cf_cuda_backend(void);
extern const cf_backend cf_cuda_backend_table;
#endif

const cf_backend *cf_backend_table(cf_device dev)
{
    switch (dev) {
    case CF_CPU: return &cpu_backend;
#ifdef CF_HAVE_CUDA
    case CF_CUDA: return &cf_cuda_backend_table;
#endif
    default: return NULL;
    }
}

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
