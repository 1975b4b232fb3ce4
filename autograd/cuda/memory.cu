// The CUDA backend's fill and copy (cf_backend's memory entries that need a kernel): any strides, src
// broadcast to dst through the CPU's cf_iter geometry. Plain copies move elements as raw 1/2/4/8-byte
// words, so they serve every dtype; accumulation is for f32, f64 and bf16 (f32 arithmetic); between two
// floating dtypes (f32, f64, bf16) the copy converts, plain or accumulating (the CPU's copy converts too):
// what mixed precision's master weights and gradients need (layers/params.h).
#include "autograd/cuda/kernels/launch.h"

#include <string.h>

template <typename W> __global__ void fill_kernel(cf_iter it, W *p, W v)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        p[off[0]] = v;
    }
}

template <typename W> __global__ void copy_kernel(cf_iter it, W *d, const W *s)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        d[off[0]] = s[off[1]];
    }
}

template <typename S> __global__ void accumulate_kernel(cf_iter it, S *d, const S *s)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        cf_st(d + off[0], cf_ld(d + off[0]) + cf_ld(s + off[1]));
    }
}

extern "C" cf_status cf_cuda_fill(cf_tensor *t, double v)
{
    cf_iter it;
    const cf_tensor *ops[1] = {t};
    cf_iter_init(&it, t->ndim, t->shape, 1, ops);
    // the value's bytes in t's dtype, made on the host by the engine's own conversion
    cf_tensor host = *t;
    cf_storage hs = *t->storage;
    uint64_t bits = 0;
    hs.data = &bits, hs.device = CF_CPU;
    host.storage = &hs, host.ndim = 0, host.offset = 0;
    cf_set_flat(&host, 0, v);
    void *p = cf_data(t);
    switch (cf_dtype_size(t->dtype)) {
    case 1: CF_KERNEL_RUN("fill", it.numel, fill_kernel<uint8_t>, it, (uint8_t *)p, (uint8_t)bits); break;
    case 2: CF_KERNEL_RUN("fill", it.numel, fill_kernel<uint16_t>, it, (uint16_t *)p, (uint16_t)bits); break;
    case 4: CF_KERNEL_RUN("fill", it.numel, fill_kernel<uint32_t>, it, (uint32_t *)p, (uint32_t)bits); break;
    default: CF_KERNEL_RUN("fill", it.numel, fill_kernel<uint64_t>, it, (uint64_t *)p, bits); break;
    }
    return CF_OK;
}

// d (=, or += with acc) s converted, through double
template <typename D, typename S> __global__ void convert_kernel(cf_iter it, D *d, const S *s, bool acc)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        double v = (double)cf_ld(s + off[1]);
        if (acc) v += (double)cf_ld(d + off[0]);
        cf_st(d + off[0], (cf_acc_t<D>)v);
    }
}

static bool floating(cf_dtype dt) { return dt == CF_F32 || dt == CF_F64 || dt == CF_BF16; }

template <typename D> static cf_status convert_from(cf_iter &it, D *d, const cf_tensor *src, bool acc)
{
    const void *s = cf_data(src);
    switch (src->dtype) {
    case CF_F32: CF_KERNEL_RUN("convert", it.numel, (convert_kernel<D, float>), it, d, (const float *)s, acc); break;
    case CF_F64: CF_KERNEL_RUN("convert", it.numel, (convert_kernel<D, double>), it, d, (const double *)s, acc); break;
    default:
        CF_KERNEL_RUN("convert", it.numel, (convert_kernel<D, __nv_bfloat16>), it, d, (const __nv_bfloat16 *)s, acc);
        break;
    }
    return CF_OK;
}

extern "C" cf_status cf_cuda_copy(cf_tensor *dst, const cf_tensor *src, bool accumulate)
{
    if (dst->dtype != src->dtype) {
        if (!floating(dst->dtype) || !floating(src->dtype))
            return cf_set_error(CF_ERR_DTYPE, "cuda copy: %s into %s (convert with cf_cast)", cf_dtype_name(src->dtype),
                                cf_dtype_name(dst->dtype));
        cf_iter it;
        const cf_tensor *ops[2] = {dst, src};
        cf_iter_init(&it, dst->ndim, dst->shape, 2, ops);
        switch (dst->dtype) {
        case CF_F32: return convert_from(it, (float *)cf_data(dst), src, accumulate);
        case CF_F64: return convert_from(it, (double *)cf_data(dst), src, accumulate);
        default: return convert_from(it, (__nv_bfloat16 *)cf_data(dst), src, accumulate);
        }
    }
    cf_iter it;
    const cf_tensor *ops[2] = {dst, src};
    cf_iter_init(&it, dst->ndim, dst->shape, 2, ops);
    void *d = cf_data(dst);
    const void *s = cf_data(src);
    if (accumulate) {
        switch (dst->dtype) {
        case CF_F32: CF_KERNEL_RUN("accumulate", it.numel, accumulate_kernel<float>, it, (float *)d, (const float *)s); break;
        case CF_F64:
            CF_KERNEL_RUN("accumulate", it.numel, accumulate_kernel<double>, it, (double *)d, (const double *)s);
            break;
        case CF_BF16:
            CF_KERNEL_RUN("accumulate", it.numel, accumulate_kernel<__nv_bfloat16>, it, (__nv_bfloat16 *)d,
                          (const __nv_bfloat16 *)s);
            break;
        default:
            return cf_set_error(CF_ERR_DTYPE, "cuda copy: cannot accumulate %s", cf_dtype_name(dst->dtype));
        }
        return CF_OK;
    }
    switch (cf_dtype_size(dst->dtype)) {
    case 1: CF_KERNEL_RUN("copy", it.numel, copy_kernel<uint8_t>, it, (uint8_t *)d, (const uint8_t *)s); break;
    case 2: CF_KERNEL_RUN("copy", it.numel, copy_kernel<uint16_t>, it, (uint16_t *)d, (const uint16_t *)s); break;
    case 4: CF_KERNEL_RUN("copy", it.numel, copy_kernel<uint32_t>, it, (uint32_t *)d, (const uint32_t *)s); break;
    default: CF_KERNEL_RUN("copy", it.numel, copy_kernel<uint64_t>, it, (uint64_t *)d, (const uint64_t *)s); break;
    }
    return CF_OK;
}
