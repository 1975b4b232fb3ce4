// CUDA kernels of the max/avg pools, fixed-window and adaptive (autograd/ops/conv.def), with the CPU's
// conventions (autograd/cpu/pool.c) and its windows (autograd/ops/pool_geom.h): x seen as planes (one sample, one channel) of H x W, 1-D pools as 2-D
// ones of height 1; max pools keep the flat in-plane index of each window's first maximum (a NaN wins)
// in aux[0] (i64, the output's shape: what cf_max_pool2d_with_indices hands back); avg pools divide by
// the window clipped to the padded input (padding counted) or to the input (not counted, and adaptive).
//
// Forward: one thread per output element, or a warp per output where windows are long (global pooling).
// Backward, both kinds: one thread per INPUT element gathers the
// windows that contain it, in the CPU's row-major order of the outputs, and writes its gradient once: no
// atomics and no zero-fill pass, the same sum every run. Where windows do not overlap (stride >= kernel,
// adaptive bins with in % out == 0) a thread finds at most one window per axis; where they overlap it
// reads the few that cover it (max pools add dy only where the saved argmax is this element).
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/pool_geom.h"

// The outputs [o0, o1) along one axis whose windows contain input index i, the inverse of cf_pool_window
// (autograd/ops/pool_geom.h): fixed windows o s - p <= i < o s - p + k (a window's clip to the padded
// input never drops an input index); adaptive bins floor(i out / in) <= o < ceil((i + 1) out / in).
__host__ __device__ __forceinline__ void pool_covering(int64_t i, int64_t in, int64_t out, int64_t k, int64_t s,
                                                       int64_t p, bool adaptive, int64_t *o0, int64_t *o1)
{
    if (adaptive) {
        *o0 = i * out / in;
        *o1 = ((i + 1) * out + in - 1) / in;
    } else {
        int64_t t = i + p - k; // o s > t
        *o0 = t < 0 ? 0 : t / s + 1;
        *o1 = (i + p) / s + 1;
    }
    if (*o1 > out) *o1 = out;
}

template <typename S>
__global__ void max_fwd(cf_pool_geom g, const S *x, S *y, int64_t *idx)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(o, g.planes * g.OH * g.OW)
    {
        int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, p = o / (g.OW * g.OH), h0, h1, w0, w1, unused;
        cf_pool_window(oh, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &h0, &h1, &unused);
        cf_pool_window(ow, g.W, g.OW, g.kw, g.sw, g.pw, g.adaptive, &w0, &w1, &unused);
        const S *xp = x + p * g.H * g.W;
        int64_t best_i = h0 * g.W + w0;
        A best = cf_ld(xp + best_i);
        for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) {
                A v = cf_ld(xp + h * g.W + w);
                if (v > best || (v != v && best == best)) best = v, best_i = h * g.W + w;
            }
        cf_st(y + o, best);
        idx[o] = best_i;
    }
}

// dx (+)= the dy of every window whose saved argmax is this element
template <typename S>
__global__ void max_bwd(cf_pool_geom g, const S *dy, const int64_t *idx, S *dx, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, g.planes * g.H * g.W)
    {
        int64_t w = i % g.W, h = (i / g.W) % g.H, p = i / (g.W * g.H), self = h * g.W + w, oh0, oh1, ow0, ow1;
        pool_covering(h, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &oh0, &oh1);
        pool_covering(w, g.W, g.OW, g.kw, g.sw, g.pw, g.adaptive, &ow0, &ow1);
        A s = acc ? cf_ld(dx + i) : (A)0;
        for (int64_t oh = oh0; oh < oh1; oh++)
            for (int64_t ow = ow0; ow < ow1; ow++) {
                int64_t o = (p * g.OH + oh) * g.OW + ow;
                if (idx[o] == self) s += cf_ld(dy + o);
            }
        cf_st(dx + i, s);
    }
}

// 1 / the divisor of a window: the padded span when padding counts, else the clipped window
template <typename A>
__host__ __device__ __forceinline__ A pool_inv_divisor(const cf_pool_geom &g, int64_t h0, int64_t h1, int64_t w0,
                                                       int64_t w1, int64_t span_h, int64_t span_w)
{
    int64_t d = (g.include_pad && !g.adaptive) ? span_h * span_w : (h1 - h0) * (w1 - w0);
    return d > 0 ? (A)1 / (A)d : (A)0;
}

template <typename S>
__global__ void avg_fwd(cf_pool_geom g, const S *x, S *y)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(o, g.planes * g.OH * g.OW)
    {
        int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, p = o / (g.OW * g.OH), h0, h1, w0, w1, sh_, sw_;
        cf_pool_window(oh, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &h0, &h1, &sh_);
        cf_pool_window(ow, g.W, g.OW, g.kw, g.sw, g.pw, g.adaptive, &w0, &w1, &sw_);
        const S *xp = x + p * g.H * g.W;
        A acc = 0;
        for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) acc += cf_ld(xp + h * g.W + w);
        cf_st(y + o, acc * pool_inv_divisor<A>(g, h0, h1, w0, w1, sh_, sw_));
    }
}

// dx (+)= sum over the windows containing this element of dy / divisor
template <typename S>
__global__ void avg_bwd(cf_pool_geom g, const S *dy, S *dx, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, g.planes * g.H * g.W)
    {
        int64_t w = i % g.W, h = (i / g.W) % g.H, p = i / (g.W * g.H), oh0, oh1, ow0, ow1;
        pool_covering(h, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &oh0, &oh1);
        pool_covering(w, g.W, g.OW, g.kw, g.sw, g.pw, g.adaptive, &ow0, &ow1);
        A s = acc ? cf_ld(dx + i) : (A)0;
        for (int64_t oh = oh0; oh < oh1; oh++) {
            int64_t h0, h1, sh_;
            cf_pool_window(oh, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &h0, &h1, &sh_);
            for (int64_t ow = ow0; ow < ow1; ow++) {
                int64_t w0, w1, sw_;
                cf_pool_window(ow, g.W, g.OW, g.kw, g.sw, g.pw, g.adaptive, &w0, &w1, &sw_);
                s += cf_ld(dy + (p * g.OH + oh) * g.OW + ow) * pool_inv_divisor<A>(g, h0, h1, w0, w1, sh_, sw_);
            }
        }
        cf_st(dx + i, s);
    }
}

// From this many window elements (kh kw; adaptive pools: their bins' bound) the forward takes a warp per
// output instead of a thread: global pooling reduces a whole plane per output.
#define POOL_WARP_MIN 32

// (v, i) comes before (b, bi) as a window's max: a NaN first, then the larger value, then the smaller flat
// index, which is the CPU's choice (the first maximum in row-major order, the first NaN)
template <typename A> __device__ __forceinline__ bool max_before(A v, int64_t i, A b, int64_t bi)
{
    bool vn = v != v, bn = b != b;
    if (vn || bn) return vn && (!bn || i < bi);
    return v > b || (v == b && i < bi);
}

// A warp per output: the lanes stride over the window (coalesced along its rows), a shuffle tree combines
// them. max: the same element as the CPU's loop; avg: the same sum in another order (rounding only).
template <typename S>
__global__ void pool_fwd_warp(cf_pool_geom g, const S *x, S *y, int64_t *idx, bool is_max)
{
    typedef cf_acc_t<S> A;
    int lane = threadIdx.x % 32;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32, nwarps = (int64_t)gridDim.x * blockDim.x / 32;
    for (int64_t o = warp; o < g.planes * g.OH * g.OW; o += nwarps) { // the same o on all lanes of a warp
        int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, p = o / (g.OW * g.OH), h0, h1, w0, w1, sh_, sw_;
        cf_pool_window(oh, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &h0, &h1, &sh_);
        cf_pool_window(ow, g.W, g.OW, g.kw, g.sw, g.pw, g.adaptive, &w0, &w1, &sw_);
        const S *xp = x + p * g.H * g.W;
        int64_t ww = w1 - w0, count = (h1 - h0) * ww, bi = -1; // bi < 0: this lane has no element yet
        A acc = 0;
        for (int64_t j = lane; j < count; j += 32) {
            int64_t f = (h0 + j / ww) * g.W + w0 + j % ww;
            A v = cf_ld(xp + f);
            if (!is_max)
                acc += v;
            else if (bi < 0 || max_before(v, f, acc, bi))
                acc = v, bi = f;
        }
        for (int off = 16; off > 0; off /= 2) {
            A ov = __shfl_xor_sync(0xffffffffu, acc, off);
            int64_t oi = __shfl_xor_sync(0xffffffffu, bi, off);
            if (!is_max)
                acc += ov;
            else if (oi >= 0 && (bi < 0 || max_before(ov, oi, acc, bi)))
                acc = ov, bi = oi;
        }
        if (lane == 0) {
            if (is_max) idx[o] = bi;
            cf_st(y + o, is_max ? acc : acc * pool_inv_divisor<A>(g, h0, h1, w0, w1, sh_, sw_));
        }
    }
}

// t itself when contiguous, else a contiguous copy on the device
static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *t)
{
    if (cf_is_contiguous(t)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    return c && cf_cuda_copy(c, t, false) == CF_OK ? c : NULL;
}

static cf_status pool_fwd(const char *name, cf_ctx *ctx, cf_node *n, bool is_max)
{
    cf_pool_geom g = cf_pool_geometry(n);
    cf_tensor *x = contiguous(ctx, n->in[0]), *y = n->out, *idx = NULL;
    if (!x) return cf_last_status();
    if (is_max) {
        if (!(idx = cf_empty(ctx, CF_I64, y->ndim, y->shape))) return cf_last_status();
        n->aux[0] = idx;
    }
    int64_t numel = cf_numel(y);
    if (g.kh * g.kw >= POOL_WARP_MIN && numel > 0) {
        int64_t blocks = (numel * 32 + CF_BLOCK_THREADS - 1) / CF_BLOCK_THREADS;
        unsigned grid = (unsigned)(blocks < CF_MAX_BLOCKS ? blocks : CF_MAX_BLOCKS);
        CF_FLOAT_SWITCH(name, y->dtype,
                        CF_KERNEL_RUN_GRID(name, grid, CF_BLOCK_THREADS, pool_fwd_warp<S>, g, (const S *)cf_data(x),
                                           (S *)cf_data(y), idx ? (int64_t *)cf_data(idx) : (int64_t *)NULL, is_max));
        return CF_OK;
    }
    CF_FLOAT_SWITCH(name, y->dtype, {
        if (is_max)
            CF_KERNEL_RUN(name, numel, max_fwd<S>, g, (const S *)cf_data(x), (S *)cf_data(y),
                          (int64_t *)cf_data(idx));
        else
            CF_KERNEL_RUN(name, numel, avg_fwd<S>, g, (const S *)cf_data(x), (S *)cf_data(y));
    });
    return CF_OK;
}

static cf_status pool_bwd(const char *name, cf_ctx *ctx, cf_node *n, bool is_max)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_pool_geom g = cf_pool_geometry(n);
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite), *dy = n->out->grad;
    if (!gx) return cf_last_status();
    int64_t numel = cf_numel(gx);
    CF_FLOAT_SWITCH(name, dy->dtype, {
        if (is_max)
            CF_KERNEL_RUN(name, numel, max_bwd<S>, g, (const S *)cf_data(dy), (const int64_t *)cf_data(n->aux[0]),
                          (S *)cf_data(gx), !overwrite);
        else
            CF_KERNEL_RUN(name, numel, avg_bwd<S>, g, (const S *)cf_data(dy), (S *)cf_data(gx), !overwrite);
    });
    return CF_OK;
}

#define POOL_ENTRIES(NAME, MAX) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return pool_fwd(#NAME, ctx, n, MAX); } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return pool_bwd(#NAME " backward", ctx, n, MAX); }
POOL_ENTRIES(max_pool1d, true)
POOL_ENTRIES(max_pool2d, true)
POOL_ENTRIES(adaptive_max_pool2d, true)
POOL_ENTRIES(avg_pool1d, false)
POOL_ENTRIES(avg_pool2d, false)
POOL_ENTRIES(adaptive_avg_pool2d, false)
