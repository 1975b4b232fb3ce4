/* The geometry of the pools and of bilinear resizing, shared by every backend's kernels (autograd/cpu/pool.c
 * and interp.c, autograd/cuda/kernels/pool.cu and interp.cu), so both index the same windows and taps.
 * Readable by C and C++; the per-index functions are also device functions under nvcc.
 *
 *     cf_pool_geom g = cf_pool_geometry(n);      // x as g.planes planes of H x W, y of OH x OW
 *     cf_pool_window(oh, g.H, g.OH, g.kh, g.sh, g.ph, g.adaptive, &h0, &h1, &span);
 *     cf_interp_axis a = cf_interp_axis_make(H, OH, align_corners);
 *     cf_interp_tap(&a, oh, &i0, &i1, &l1);      // y[oh] = (1 - l1) x[i0] + l1 x[i1] along this axis */
#ifndef CF_POOL_GEOM_H
#define CF_POOL_GEOM_H

#include "autograd/cf_node.h"
#include "autograd/ops/conv_attr.h"

#ifdef __CUDACC__
#define CF_POOL_HD __host__ __device__
#else
#define CF_POOL_HD
#endif

/* A pool's planes (one sample, one channel) of H x W in and OH x OW out; 1-D pools have H = OH = 1.
 * kernel (kh, kw), stride, padding as in struct pool_attr; adaptive pools leave them at their sizes'
 * rough window (kh = H / OH + 1: only the CPU's threading decision reads it) and stride 1. */
typedef struct cf_pool_geom {
    int64_t planes, H, W, OH, OW;
    int64_t kh, kw, sh, sw, ph, pw;
    bool adaptive, include_pad;
} cf_pool_geom;

/* Input range [lo, hi) of output index o along one axis, and the span the divisor counts when padding
 * is included (the window clipped to the padded input, as PyTorch does). Adaptive bins are
 * [floor(o*in/out), ceil((o+1)*in/out)). */
static inline CF_POOL_HD void cf_pool_window(int64_t o, int64_t in, int64_t out, int64_t k, int64_t s, int64_t p,
                                             bool adaptive, int64_t *lo, int64_t *hi, int64_t *span)
{
    if (adaptive) {
        *lo = o * in / out;
        *hi = ((o + 1) * in + out - 1) / out;
        *span = *hi - *lo;
        return;
    }
    int64_t a = o * s - p, b = a + k;
    if (b > in + p) b = in + p;
    *span = b - a;
    *lo = a < 0 ? 0 : a;
    *hi = b > in ? in : b;
}

/* The geometry of pool node n (any of the six pools). */
static inline cf_pool_geom cf_pool_geometry(const cf_node *n)
{
    const cf_tensor *x = n->in[0], *y = n->out;
    int nd = x->ndim;
    cf_pool_geom g;
    g.planes = x->shape[0] * x->shape[1];
    g.W = x->shape[nd - 1], g.OW = y->shape[nd - 1];
    g.H = nd == 4 ? x->shape[2] : 1, g.OH = nd == 4 ? y->shape[2] : 1;
    g.adaptive = n->op == CF_OP_adaptive_avg_pool2d || n->op == CF_OP_adaptive_max_pool2d;
    g.ph = g.pw = 0, g.include_pad = false;
    if (g.adaptive) {
        g.kh = g.H / g.OH + 1, g.kw = g.W / g.OW + 1;
        g.sh = g.sw = 1;
        return g;
    }
    const struct pool_attr *a = CF_ATTR(n, struct pool_attr);
    g.kh = a->kernel[0], g.kw = a->kernel[1];
    g.sh = a->stride[0], g.sw = a->stride[1];
    g.ph = a->padding[0], g.pw = a->padding[1];
    g.include_pad = a->include_pad;
    return g;
}

/* One axis of bilinear resizing, in -> out pixels, with PyTorch's source-index rule (upsample_bilinear2d
 * given an output size). align_corners: source = o (in-1)/(out-1) (0 for a single output); otherwise the
 * pixel areas line up: source = (o + 0.5) in/out - 0.5, clamped at 0. */
typedef struct cf_interp_axis {
    int64_t in, out;
    double scale;
    bool align;
} cf_interp_axis;

static inline cf_interp_axis cf_interp_axis_make(int64_t in, int64_t out, bool align)
{
    cf_interp_axis a;
    a.in = in, a.out = out, a.align = align;
    a.scale = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0) : (double)in / (double)out;
    return a;
}

/* Output o's two source taps i0 <= i1 (the upper one stays on the last pixel) and the weight l1 of i1
 * (i0's is 1 - l1). Both taps grow with o. */
static inline CF_POOL_HD void cf_interp_tap(const cf_interp_axis *a, int64_t o, int64_t *i0, int64_t *i1, double *l1)
{
    double src = a->align ? a->scale * (double)o : a->scale * ((double)o + 0.5) - 0.5;
    if (src < 0) src = 0;
    int64_t t = (int64_t)src;
    if (t > a->in - 1) t = a->in - 1;
    *i0 = t;
    *i1 = t < a->in - 1 ? t + 1 : t;
    *l1 = src - (double)t;
}

#endif
