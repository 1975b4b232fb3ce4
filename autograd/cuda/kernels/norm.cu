// CUDA kernels of layer_norm and rms_norm (autograd/ops/norm.def), with the CPU's conventions
// (autograd/cpu/norm.c): x seen as M contiguous rows of D, aux[0] = the rows' means (layer_norm),
// aux[1] = 1/std, aux[2] = x's contiguous copy when x was strided; the variance from squared deviations
// (no sum(x^2) - n mean^2 cancellation). One thread per row for the statistics and the input gradient,
// one thread per column for the weight and bias gradients (a fixed order: no atomics). batch_norm and
// group_norm are not ported yet.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/norm_attr.h"

// y = (x rs - mu rs) w + b per row; mean (center) and rstd per row
template <typename S>
__global__ void row_fwd(const S *x, S *y, const S *w, const S *b, S *mean, S *rstd, int64_t M, int64_t D,
                        cf_acc_t<S> eps, bool center)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(r, M)
    {
        const S *xr = x + r * D;
        A mu = 0, q = 0;
        if (center) {
            for (int64_t j = 0; j < D; j++) mu += cf_ld(xr + j);
            mu /= (A)D;
        }
        for (int64_t j = 0; j < D; j++) {
            A d = cf_ld(xr + j) - mu;
            q += d * d;
        }
        A rs = (A)1 / sqrt(q / (A)D + eps), c = -mu * rs;
        if (center) cf_st(mean + r, mu);
        cf_st(rstd + r, rs);
        for (int64_t j = 0; j < D; j++) {
            A v = cf_ld(xr + j) * rs + c;
            if (w) v *= cf_ld(w + j);
            if (b) v += cf_ld(b + j);
            cf_st(y + r * D + j, v);
        }
    }
}

// dx = rs (gy - mean(gy) - xhat mean(gy xhat)), gy = g w, xhat = (x - mu) rs (rms_norm: no mean(gy) term)
template <typename S>
__global__ void row_bwd_x(const S *x, const S *g, const S *w, const S *mean, const S *rstd, S *gx, bool acc,
                          int64_t M, int64_t D, bool center)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(r, M)
    {
        const S *xr = x + r * D, *gr = g + r * D;
        A mu = center ? cf_ld(mean + r) : (A)0, rs = cf_ld(rstd + r), s1 = 0, s2 = 0;
        for (int64_t j = 0; j < D; j++) {
            A gy = cf_ld(gr + j) * (w ? cf_ld(w + j) : (A)1);
            s1 += gy;
            s2 += gy * (cf_ld(xr + j) - mu);
        }
        A k = rs * rs * rs * s2 / (A)D, off = center ? rs * s1 / (A)D : (A)0;
        for (int64_t j = 0; j < D; j++) {
            A v = rs * cf_ld(gr + j) * (w ? cf_ld(w + j) : (A)1) - off - (cf_ld(xr + j) - mu) * k;
            S *d = gx + r * D + j;
            cf_st(d, acc ? cf_ld(d) + v : v);
        }
    }
}

// gw[j] += sum_r g xhat, gb[j] += sum_r g (either may be NULL)
template <typename S>
__global__ void row_bwd_wb(const S *x, const S *g, const S *mean, const S *rstd, S *gw, S *gb, int64_t M, int64_t D,
                           bool center)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(j, D)
    {
        A sw = 0, sb = 0;
        for (int64_t r = 0; r < M; r++) {
            A gv = cf_ld(g + r * D + j);
            sw += gv * ((cf_ld(x + r * D + j) - (center ? cf_ld(mean + r) : (A)0)) * cf_ld(rstd + r));
            sb += gv;
        }
        if (gw) cf_st(gw + j, cf_ld(gw + j) + sw);
        if (gb) cf_st(gb + j, cf_ld(gb + j) + sb);
    }
}

static cf_tensor *optional_input(const cf_node *n, int slot) { return slot > 0 ? n->in[slot] : NULL; }

// t itself when contiguous (or NULL), else a contiguous copy on the device
static cf_status contig(cf_ctx *ctx, cf_tensor *t, cf_tensor **out)
{
    *out = t;
    if (!t || cf_is_contiguous(t)) return CF_OK;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (!c) return cf_last_status();
    CF_TRY(cf_cuda_copy(c, t, false));
    *out = c;
    return CF_OK;
}

template <typename S> static S *ptr(const cf_tensor *t) { return t ? (S *)cf_data(t) : (S *)NULL; }

static cf_status row_norm_fwd(const char *name, cf_ctx *ctx, cf_node *n, bool center)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *x, *w, *b;
    CF_TRY(contig(ctx, n->in[0], &x));
    n->aux[2] = x == n->in[0] ? NULL : x; // backward reads the same copy
    CF_TRY(contig(ctx, optional_input(n, a->iw), &w));
    CF_TRY(contig(ctx, optional_input(n, a->ib), &b));
    int64_t D = 1;
    for (int i = x->ndim - a->norm_ndim; i < x->ndim; i++) D *= x->shape[i];
    int64_t M = D ? cf_numel(x) / D : 0;
    cf_tensor *mean = center ? cf_empty(ctx, x->dtype, 1, &M) : NULL, *rstd = cf_empty(ctx, x->dtype, 1, &M);
    if (!rstd || (center && !mean)) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, M, row_fwd<S>, ptr<S>(x), ptr<S>(n->out), ptr<S>(w), ptr<S>(b), ptr<S>(mean),
                                  ptr<S>(rstd), M, D, (cf_acc_t<S>)a->eps, center));
    return CF_OK;
}

static cf_status row_norm_bwd(const char *name, cf_ctx *ctx, cf_node *n, bool center)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *in_w = optional_input(n, a->iw), *in_b = optional_input(n, a->ib);
    bool overwrite = false;
    cf_tensor *gx = NULL, *gw = NULL, *gb = NULL, *w;
    if (cf_needs_grad(n, 0) && !(gx = cf_grad_slot(ctx, n->in[0], &overwrite))) return cf_last_status();
    if (in_w && cf_needs_grad(n, a->iw) && !(gw = cf_grad_acc(ctx, in_w))) return cf_last_status();
    if (in_b && cf_needs_grad(n, a->ib) && !(gb = cf_grad_acc(ctx, in_b))) return cf_last_status();
    CF_TRY(contig(ctx, in_w, &w));
    cf_tensor *x = n->aux[2] ? n->aux[2] : n->in[0], *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    int64_t M = cf_numel(rstd), D = M ? cf_numel(x) / M : 0;
    CF_FLOAT_SWITCH(name, x->dtype, {
        if (gx)
            CF_KERNEL_RUN(name, M, row_bwd_x<S>, ptr<S>(x), ptr<S>(g), ptr<S>(w), ptr<S>(mean), ptr<S>(rstd),
                          ptr<S>(gx), !overwrite, M, D, center);
        if (gw || gb)
            CF_KERNEL_RUN(name, D, row_bwd_wb<S>, ptr<S>(x), ptr<S>(g), ptr<S>(mean), ptr<S>(rstd), ptr<S>(gw),
                          ptr<S>(gb), M, D, center);
    });
    return CF_OK;
}

#define ROW_NORM_ENTRIES(NAME, CENTER) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return row_norm_fwd(#NAME, ctx, n, CENTER); } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return row_norm_bwd(#NAME, ctx, n, CENTER); }
ROW_NORM_ENTRIES(layer_norm, true)
ROW_NORM_ENTRIES(rms_norm, false)
