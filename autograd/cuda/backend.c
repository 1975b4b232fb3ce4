/* The CUDA backend's table, generated from autograd/cuda/kernels/kernels.def (the ops with CUDA kernels;
 * every other op is a NULL entry, refused by name and shown as "-" by `cformer list ops`), and its memory
 * entries over the runtime wrappers of cuda_api.h (CUDA's runtime, or the SIMT emulator's under
 * CF_CUDA_EMU). The backend is offered by cf_backend_for only when a device is present; the table itself
 * (cf_backend_table) exists in every CUDA build. */
#include "autograd/cpu/cpu.h"
#include "autograd/cuda/cuda_api.h"
#include "autograd/cuda/kernels/kernels.h"

static void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    char err[256];
    if (cf_cuda_malloc(&p, bytes, err, sizeof err) != 0) {
        cf_set_error(CF_ERR_OOM, "cuda: %zu bytes: %s", bytes, err);
        return NULL;
    }
    return p;
}

static cf_status cuda_to_host(void *host, const void *src, size_t bytes)
{
    char err[256];
    if (bytes && cf_cuda_copy_d2h(host, src, bytes, err, sizeof err) != 0)
        return cf_set_error(CF_ERR_DEVICE, "cuda: %s", err);
    return CF_OK;
}

static cf_status cuda_from_host(void *dst, const void *host, size_t bytes)
{
    char err[256];
    if (bytes && cf_cuda_copy_h2d(dst, host, bytes, err, sizeof err) != 0)
        return cf_set_error(CF_ERR_DEVICE, "cuda: %s", err);
    return CF_OK;
}

const cf_backend cf_cuda_backend_table = {
    .name = "cuda",
    .device = CF_CUDA,
    .fwd = {
#define CF_CUDA_OP(name) [CF_OP_##name] = cf_cuda_##name##_fwd,
#define CF_CUDA_FWD(name) [CF_OP_##name] = cf_cuda_##name##_fwd,
#include "autograd/cuda/kernels/kernels.def"
#undef CF_CUDA_FWD
#undef CF_CUDA_OP
    },
    .bwd = {
#define CF_CUDA_OP(name) [CF_OP_##name] = cf_cuda_##name##_bwd,
#include "autograd/cuda/kernels/kernels.def"
#undef CF_CUDA_OP
    },
    .alloc = cuda_alloc,
    .release = cf_cuda_free,
    .to_host = cuda_to_host,
    .from_host = cuda_from_host,
    .fill = cf_cuda_fill,
    .copy = cf_cuda_copy,
    .set_threads = cf_cpu_set_threads, /* the host-side loops (and the emulator's grid) run on CPU threads */
    .optim_update = cf_cuda_optim_update,
    .sum_squares = cf_cuda_sum_squares,
    .scale = cf_cuda_scale,
};

const cf_backend *cf_cuda_backend(void) { return cf_cuda_device_count() > 0 ? &cf_cuda_backend_table : NULL; }
