// CUDA kernels of interpolate_bilinear (autograd/ops/conv.def) with the CPU's source-index rule (PyTorch's
// upsample_bilinear2d given an output size; the taps in autograd/ops/pool_geom.h, shared with
// autograd/cpu/interp.c): x seen as planes of H x W, each output pixel a weighted sum of its two row taps
// and two column taps.
//
// Forward: one thread per output pixel computes its taps. Backward: one thread per INPUT pixel gathers the
// outputs whose taps touch it (a contiguous range per axis, found by binary search since the taps grow
// with the output index) and adds their terms in the CPU's order: no atomics, the same sum every run.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/pool_geom.h"

// The first output o whose tap i1 >= i (upper: whose tap i0 > i), or a.out: outputs [first(i, false),
// first(i, true)) are those with i0 <= i <= i1, the ones that read input i
__host__ __device__ __forceinline__ int64_t interp_first(const cf_interp_axis &a, int64_t i, bool upper)
{
    int64_t lo = 0, hi = a.out;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, i0, i1;
        double l1;
        cf_interp_tap(&a, mid, &i0, &i1, &l1);
        if (upper ? i0 > i : i1 >= i)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

template <typename S>
__global__ void bilinear_fwd(cf_interp_axis ah, cf_interp_axis aw, int64_t planes, const S *x, S *y)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(o, planes * ah.out * aw.out)
    {
        int64_t ow = o % aw.out, oh = (o / aw.out) % ah.out, p = o / (aw.out * ah.out), h0, h1, w0, w1;
        double lh, lw;
        cf_interp_tap(&ah, oh, &h0, &h1, &lh);
        cf_interp_tap(&aw, ow, &w0, &w1, &lw);
        const S *r0 = x + (p * ah.in + h0) * aw.in, *r1 = x + (p * ah.in + h1) * aw.in;
        A a0 = (A)(1.0 - lh), a1 = (A)lh, b0 = (A)(1.0 - lw), b1 = (A)lw;
        cf_st(y + o, a0 * (b0 * cf_ld(r0 + w0) + b1 * cf_ld(r0 + w1)) + a1 * (b0 * cf_ld(r1 + w0) + b1 * cf_ld(r1 + w1)));
    }
}

// dx (+)= each reading output's dy times this pixel's weights, per output in the order the CPU adds them
template <typename S>
__global__ void bilinear_bwd(cf_interp_axis ah, cf_interp_axis aw, int64_t planes, const S *dy, S *dx, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, planes * ah.in * aw.in)
    {
        int64_t w = i % aw.in, h = (i / aw.in) % ah.in, p = i / (aw.in * ah.in);
        int64_t oh0 = interp_first(ah, h, false), oh1 = interp_first(ah, h, true);
        int64_t ow0 = interp_first(aw, w, false), ow1 = interp_first(aw, w, true);
        A s = acc ? cf_ld(dx + i) : (A)0;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            int64_t h0, h1, w0, w1;
            double lh, lw;
            cf_interp_tap(&ah, oh, &h0, &h1, &lh);
            A a0 = (A)(1.0 - lh), a1 = (A)lh;
            for (int64_t ow = ow0; ow < ow1; ow++) {
                cf_interp_tap(&aw, ow, &w0, &w1, &lw);
                A b0 = (A)(1.0 - lw), b1 = (A)lw, v = cf_ld(dy + (p * ah.out + oh) * aw.out + ow);
                if (h0 == h && w0 == w) s += a0 * b0 * v;
                if (h0 == h && w1 == w) s += a0 * b1 * v;
                if (h1 == h && w0 == w) s += a1 * b0 * v;
                if (h1 == h && w1 == w) s += a1 * b1 * v;
            }
        }
        cf_st(dx + i, s);
    }
}

static void geometry(const cf_node *n, cf_interp_axis *ah, cf_interp_axis *aw, int64_t *planes)
{
    const cf_tensor *x = n->in[0], *y = n->out;
    bool align = CF_ATTR(n, struct interp_attr)->align_corners;
    *ah = cf_interp_axis_make(x->shape[2], y->shape[2], align);
    *aw = cf_interp_axis_make(x->shape[3], y->shape[3], align);
    *planes = x->shape[0] * x->shape[1];
}

extern "C" cf_status cf_cuda_interpolate_bilinear_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_interp_axis ah, aw;
    int64_t planes;
    geometry(n, &ah, &aw, &planes);
    cf_tensor *x = n->in[0], *y = n->out;
    if (!cf_is_contiguous(x)) {
        if (!(x = cf_empty(ctx, x->dtype, x->ndim, x->shape))) return cf_last_status();
        CF_TRY(cf_cuda_copy(x, n->in[0], false));
    }
    CF_FLOAT_SWITCH("interpolate_bilinear", y->dtype,
                    CF_KERNEL_RUN("interpolate_bilinear", cf_numel(y), bilinear_fwd<S>, ah, aw, planes,
                                  (const S *)cf_data(x), (S *)cf_data(y)));
    return CF_OK;
}

extern "C" cf_status cf_cuda_interpolate_bilinear_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_interp_axis ah, aw;
    int64_t planes;
    geometry(n, &ah, &aw, &planes);
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite), *dy = n->out->grad;
    if (!gx) return cf_last_status();
    CF_FLOAT_SWITCH("interpolate_bilinear backward", dy->dtype,
                    CF_KERNEL_RUN("interpolate_bilinear backward", cf_numel(gx), bilinear_bwd<S>, ah, aw, planes,
                                  (const S *)cf_data(dy), (S *)cf_data(gx), !overwrite));
    return CF_OK;
}
