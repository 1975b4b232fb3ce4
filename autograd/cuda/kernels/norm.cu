// CUDA kernels of layer_norm and rms_norm (autograd/ops/norm.def), with the CPU's conventions
// (autograd/cpu/norm.c): x seen as M contiguous rows of D, aux[0] = the rows' means (layer_norm),
// aux[1] = 1/std, aux[2] = x's contiguous copy when x was strided; the variance from squared deviations
// (no sum(x^2) - n mean^2 cancellation). One warp per row for the statistics and the input gradient (the
// fused add_layer_norm / add_rms_norm too: the sum written by the same pass), one thread per column for the
// weight and bias gradients (a fixed order: no atomics). group_norm and
// batch_norm view x as [N, C, sp]: one thread per (sample, group) row, resp. per channel, for statistics and
// parameter gradients, one per element for batch_norm's output and input gradient.
#include "autograd/cuda/kernels/contig.h"
#include "autograd/cuda/kernels/launch.h"
#include "autograd/cuda/kernels/warp_rows.h"
#include "autograd/ops/norm_attr.h"

// The row kernels run one warp per row (warp_rows.h); sums accumulate in A = cf_acc_t<S> (f32 for bf16 and f32,
// f64 for f64).

// y = (x rs - mu rs) w + b per row; mean (center) and rstd per row. res non-NULL (the fused add_*_norm ops):
// sum = x + res is stored first, and the row normalised is the stored (rounded) sum, read back by the same lane.
template <typename S>
__global__ void row_fwd(const S *x, const S *res, S *sum, S *y, const S *w, const S *b, cf_acc_t<S> *mean,
                        cf_acc_t<S> *rstd, int64_t M, int64_t D, cf_acc_t<S> eps, bool center)
{
    typedef cf_acc_t<S> A;
    CF_ROW_WARP_LOOP(r, lane, M)
    {
        const S *xr = x + r * D;
        if (res) {
            for (int64_t j = lane; j < D; j += CF_ROW_WARP) cf_st(sum + r * D + j, cf_ld(xr + j) + cf_ld(res + r * D + j));
            xr = sum + r * D;
        }
        A mu = 0, q = 0;
        if (center) {
            for (int64_t j = lane; j < D; j += CF_ROW_WARP) mu += cf_ld(xr + j);
            mu = cf_warp_sum(mu) / (A)D;
        }
        for (int64_t j = lane; j < D; j += CF_ROW_WARP) {
            A d = cf_ld(xr + j) - mu;
            q += d * d;
        }
        q = cf_warp_sum(q);
        A rs = (A)1 / sqrt(q / (A)D + eps), c = -mu * rs;
        if (lane == 0) {
            if (center) cf_st(mean + r, mu);
            cf_st(rstd + r, rs);
        }
        for (int64_t j = lane; j < D; j += CF_ROW_WARP) {
            A v = cf_ld(xr + j) * rs + c;
            if (w) v *= cf_ld(w + j);
            if (b) v += cf_ld(b + j);
            cf_st(y + r * D + j, v);
        }
    }
}

// dx = rs (gy - mean(gy) - xhat mean(gy xhat)), gy = g w, xhat = (x - mu) rs (rms_norm: no mean(gy) term).
// g NULL: no gradient from y. The fused ops: gs (may be NULL) is the sum's own gradient, added, and the
// result goes to gx and gx2 (the residual's gradient), each stored or added (acc, acc2), either may be NULL.
template <typename S>
__global__ void row_bwd_x(const S *x, const S *g, const S *w, const cf_acc_t<S> *mean, const cf_acc_t<S> *rstd, S *gx, bool acc,
                          int64_t M, int64_t D, bool center, const S *gs, S *gx2, bool acc2)
{
    typedef cf_acc_t<S> A;
    CF_ROW_WARP_LOOP(r, lane, M)
    {
        const S *xr = x + r * D, *gr = g ? g + r * D : NULL;
        A mu = center ? cf_ld(mean + r) : (A)0, rs = cf_ld(rstd + r), s1 = 0, s2 = 0;
        if (gr) {
            for (int64_t j = lane; j < D; j += CF_ROW_WARP) {
                A gy = cf_ld(gr + j) * (w ? cf_ld(w + j) : (A)1);
                s1 += gy;
                s2 += gy * (cf_ld(xr + j) - mu);
            }
            s1 = cf_warp_sum(s1), s2 = cf_warp_sum(s2);
        }
        A k = rs * rs * rs * s2 / (A)D, off = center ? rs * s1 / (A)D : (A)0;
        for (int64_t j = lane; j < D; j += CF_ROW_WARP) {
            A v = gs ? cf_ld(gs + r * D + j) : (A)0;
            if (gr) v += rs * cf_ld(gr + j) * (w ? cf_ld(w + j) : (A)1) - off - (cf_ld(xr + j) - mu) * k;
            if (gx) {
                S *d = gx + r * D + j;
                cf_st(d, acc ? cf_ld(d) + v : v);
            }
            if (gx2) {
                S *d = gx2 + r * D + j;
                cf_st(d, acc2 ? cf_ld(d) + v : v);
            }
        }
    }
}

// gw[j] += sum_r g xhat, gb[j] += sum_r g (either may be NULL)
template <typename S>
__global__ void row_bwd_wb(const S *x, const S *g, const cf_acc_t<S> *mean, const cf_acc_t<S> *rstd, S *gw, S *gb, int64_t M, int64_t D,
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

// The saved statistics (mean, 1/std) in the arithmetic type: f32 for bf16 storage, which would round 1/std to
// 8 bits and the input gradient with it.
static cf_dtype stat_dtype(const cf_tensor *x) { return cf_dtype_accum(x->dtype); }

static cf_tensor *optional_input(const cf_node *n, int slot) { return slot > 0 ? n->in[slot] : NULL; }

template <typename S> static S *ptr(const cf_tensor *t) { return t ? (S *)cf_data(t) : (S *)NULL; }

// Contiguous x, weight and bias for forward; x's copy (if one was made) kept in aux[2] for backward
static cf_status forward_inputs(cf_ctx *ctx, cf_node *n, cf_tensor **x, cf_tensor **w, cf_tensor **b)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    CF_TRY(cf_cuda_contig(ctx, n->in[0], x));
    n->aux[2] = *x == n->in[0] ? NULL : *x;
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, a->iw), w));
    return cf_cuda_contig(ctx, optional_input(n, a->ib), b);
}

// The gradient buffers of x (slot: *acc tells whether to add), weight and bias (accumulated) as needed
static cf_status norm_grads(cf_ctx *ctx, cf_node *n, cf_tensor **gx, bool *acc, cf_tensor **gw, cf_tensor **gb)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *in_w = optional_input(n, a->iw), *in_b = optional_input(n, a->ib);
    bool overwrite = true;
    *gx = *gw = *gb = NULL;
    *acc = false;
    if (cf_needs_grad(n, 0) && !(*gx = cf_grad_slot(ctx, n->in[0], &overwrite))) return cf_last_status();
    *acc = !overwrite;
    if (in_w && cf_needs_grad(n, a->iw) && !(*gw = cf_grad_acc(ctx, in_w))) return cf_last_status();
    if (in_b && cf_needs_grad(n, a->ib) && !(*gb = cf_grad_acc(ctx, in_b))) return cf_last_status();
    return CF_OK;
}

static cf_status row_fwd_run(const char *name, const cf_tensor *x, const cf_tensor *res, cf_tensor *sum, cf_tensor *y,
                             const cf_tensor *w, const cf_tensor *b, cf_tensor *mean, cf_tensor *rstd, int64_t M, int64_t D,
                             double eps, bool center)
{
    CF_FLOAT_SWITCH(name, x->dtype, {
        if (M > 0)
            CF_KERNEL_RUN_GRID(name, cf_row_blocks(M), CF_BLOCK_THREADS, row_fwd<S>, ptr<S>(x), ptr<S>(res), ptr<S>(sum),
                               ptr<S>(y), ptr<S>(w), ptr<S>(b), ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), M, D,
                               (cf_acc_t<S>)eps, center);
    });
    return CF_OK;
}

// x: the normalised rows (the fused ops' sum); g, gs, gx, gx2, gw, gb may be NULL (see row_bwd_x)
static cf_status row_bwd_run(const char *name, const cf_tensor *x, const cf_tensor *g, const cf_tensor *w,
                             const cf_tensor *mean, const cf_tensor *rstd, cf_tensor *gx, bool acc, cf_tensor *gw,
                             cf_tensor *gb, int64_t M, int64_t D, bool center, const cf_tensor *gs, cf_tensor *gx2,
                             bool acc2)
{
    CF_FLOAT_SWITCH(name, x->dtype, {
        if ((gx || gx2) && M > 0)
            CF_KERNEL_RUN_GRID(name, cf_row_blocks(M), CF_BLOCK_THREADS, row_bwd_x<S>, ptr<S>(x), ptr<S>(g), ptr<S>(w),
                               ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), ptr<S>(gx), acc, M, D, center, ptr<S>(gs),
                               ptr<S>(gx2), acc2);
        if (g && (gw || gb))
            CF_KERNEL_RUN(name, D, row_bwd_wb<S>, ptr<S>(x), ptr<S>(g), ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd),
                          ptr<S>(gw), ptr<S>(gb), M, D, center);
    });
    return CF_OK;
}

static cf_status row_norm_fwd(const char *name, cf_ctx *ctx, cf_node *n, bool center)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *x, *w, *b;
    CF_TRY(forward_inputs(ctx, n, &x, &w, &b));
    int64_t D = 1;
    for (int i = x->ndim - a->norm_ndim; i < x->ndim; i++) D *= x->shape[i];
    int64_t M = D ? cf_numel(x) / D : 0;
    cf_tensor *mean = center ? cf_empty(ctx, stat_dtype(x), 1, &M) : NULL, *rstd = cf_empty(ctx, stat_dtype(x), 1, &M);
    if (!rstd || (center && !mean)) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    return row_fwd_run(name, x, NULL, NULL, n->out, w, b, mean, rstd, M, D, a->eps, center);
}

static cf_status row_norm_bwd(const char *name, cf_ctx *ctx, cf_node *n, bool center)
{
    cf_tensor *gx, *gw, *gb, *w;
    bool acc = false;
    CF_TRY(norm_grads(ctx, n, &gx, &acc, &gw, &gb));
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, CF_ATTR(n, struct norm_attr)->iw), &w));
    cf_tensor *x = n->aux[2] ? n->aux[2] : n->in[0], *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    int64_t M = cf_numel(rstd), D = M ? cf_numel(x) / M : 0;
    return row_bwd_run(name, x, g, w, mean, rstd, gx, acc, gw, gb, M, D, center, NULL, NULL, false);
}

#define ROW_NORM_ENTRIES(NAME, CENTER) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return row_norm_fwd(#NAME, ctx, n, CENTER); } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return row_norm_bwd(#NAME, ctx, n, CENTER); }
ROW_NORM_ENTRIES(layer_norm, true)
ROW_NORM_ENTRIES(rms_norm, false)

// ---- add_layer_norm / add_rms_norm: in = {x, r, weight?, bias?}, out2 = s = x + r (made contiguous by the frontend) ----

static cf_status add_norm_fwd(const char *name, cf_ctx *ctx, cf_node *n, bool center)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *x, *r, *w, *b;
    CF_TRY(cf_cuda_contig(ctx, n->in[0], &x));
    CF_TRY(cf_cuda_contig(ctx, n->in[1], &r));
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, a->iw), &w));
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, a->ib), &b));
    int64_t D = x->shape[x->ndim - 1], M = cf_numel(x) / D;
    cf_tensor *mean = center ? cf_empty(ctx, stat_dtype(x), 1, &M) : NULL, *rstd = cf_empty(ctx, stat_dtype(x), 1, &M);
    if (!rstd || (center && !mean)) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    return row_fwd_run(name, x, r, n->out2, n->out, w, b, mean, rstd, M, D, a->eps, center);
}

static cf_status add_norm_bwd(const char *name, cf_ctx *ctx, cf_node *n, bool center)
{
    cf_tensor *s = n->out2, *w;
    cf_add_norm_grads gd;
    CF_TRY(cf_add_norm_grads_of(ctx, n, &gd));
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, CF_ATTR(n, struct norm_attr)->iw), &w));
    int64_t M = cf_numel(n->aux[1]), D = M ? cf_numel(s) / M : 0;
    return row_bwd_run(name, s, n->out->grad, w, n->aux[0], n->aux[1], gd.gx, gd.acc, gd.gw, gd.gb, M, D, center,
                       s->grad, gd.gr, gd.acc2);
}

#define ADD_NORM_ENTRIES(NAME, CENTER) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return add_norm_fwd(#NAME, ctx, n, CENTER); } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return add_norm_bwd(#NAME, ctx, n, CENTER); }
ADD_NORM_ENTRIES(add_layer_norm, true)
ADD_NORM_ENTRIES(add_rms_norm, false)

// ---- group_norm: N*G rows of L = (C/G)*sp; weight and bias per channel ----

static void ncs(const cf_tensor *x, int64_t *N, int64_t *C, int64_t *sp)
{
    *N = x->shape[0], *C = x->shape[1], *sp = 1;
    for (int i = 2; i < x->ndim; i++) *sp *= x->shape[i];
}

template <typename S>
__global__ void group_fwd(const S *x, S *y, const S *w, const S *b, cf_acc_t<S> *mean, cf_acc_t<S> *rstd, int64_t N, int64_t C, int64_t G,
                          int64_t sp, cf_acc_t<S> eps)
{
    typedef cf_acc_t<S> A;
    int64_t Cg = C / G, L = Cg * sp;
    CF_GRID_STRIDE(r, N * G)
    {
        const S *xr = x + r * L;
        A mu = 0, q = 0;
        for (int64_t j = 0; j < L; j++) mu += cf_ld(xr + j);
        mu /= (A)L;
        for (int64_t j = 0; j < L; j++) {
            A d = cf_ld(xr + j) - mu;
            q += d * d;
        }
        A rs = (A)1 / sqrt(q / (A)L + eps);
        cf_st(mean + r, mu), cf_st(rstd + r, rs);
        for (int64_t cc = 0, c = (r % G) * Cg; cc < Cg; cc++, c++) {
            A a = rs * (w ? cf_ld(w + c) : (A)1), sh = (b ? cf_ld(b + c) : (A)0) - mu * a;
            for (int64_t j = cc * sp; j < (cc + 1) * sp; j++) cf_st(y + r * L + j, cf_ld(xr + j) * a + sh);
        }
    }
}

template <typename S>
__global__ void group_bwd_x(const S *x, const S *g, const S *w, const cf_acc_t<S> *mean, const cf_acc_t<S> *rstd, S *gx, bool acc,
                            int64_t N, int64_t C, int64_t G, int64_t sp)
{
    typedef cf_acc_t<S> A;
    int64_t Cg = C / G, L = Cg * sp;
    CF_GRID_STRIDE(r, N * G)
    {
        const S *xr = x + r * L, *gr = g + r * L;
        int64_t c0 = (r % G) * Cg;
        A mu = cf_ld(mean + r), rs = cf_ld(rstd + r), s1 = 0, s2 = 0;
        for (int64_t cc = 0; cc < Cg; cc++) {
            A sg = 0, sgx = 0, wc = w ? cf_ld(w + c0 + cc) : (A)1;
            for (int64_t j = cc * sp; j < (cc + 1) * sp; j++) {
                sg += cf_ld(gr + j);
                sgx += cf_ld(gr + j) * (cf_ld(xr + j) - mu);
            }
            s1 += wc * sg, s2 += wc * sgx;
        }
        A k = rs * rs * rs * s2 / (A)L, off = rs * s1 / (A)L;
        for (int64_t cc = 0; cc < Cg; cc++) {
            A a = rs * (w ? cf_ld(w + c0 + cc) : (A)1);
            for (int64_t j = cc * sp; j < (cc + 1) * sp; j++) {
                A v = a * cf_ld(gr + j) - off - (cf_ld(xr + j) - mu) * k;
                S *d = gx + r * L + j;
                cf_st(d, acc ? cf_ld(d) + v : v);
            }
        }
    }
}

// gw[c] += sum_n rs sum_j g (x - mu), gb[c] += sum_n sum_j g; mean/rstd per (n, group) (stat_per_channel
// false) or per channel (batch_norm: true)
template <typename S>
__global__ void channel_bwd_wb(const S *x, const S *g, const cf_acc_t<S> *mean, const cf_acc_t<S> *rstd, S *gw, S *gb, int64_t N,
                               int64_t C, int64_t G, int64_t sp, bool stat_per_channel)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(c, C)
    {
        A sw = 0, sb = 0;
        for (int64_t n = 0; n < N; n++) {
            int64_t r = stat_per_channel ? c : n * G + c / (C / G);
            A mu = cf_ld(mean + r), sgx = 0, sg = 0;
            for (int64_t j = (n * C + c) * sp; j < (n * C + c + 1) * sp; j++) {
                sg += cf_ld(g + j);
                sgx += cf_ld(g + j) * (cf_ld(x + j) - mu);
            }
            sw += sgx * cf_ld(rstd + r), sb += sg;
        }
        if (gw) cf_st(gw + c, cf_ld(gw + c) + sw);
        if (gb) cf_st(gb + c, cf_ld(gb + c) + sb);
    }
}

extern "C" cf_status cf_cuda_group_norm_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *x, *w, *b;
    CF_TRY(forward_inputs(ctx, n, &x, &w, &b));
    int64_t N, C, sp, G = a->groups, rows;
    ncs(x, &N, &C, &sp);
    rows = N * G;
    cf_tensor *mean = cf_empty(ctx, stat_dtype(x), 1, &rows), *rstd = cf_empty(ctx, stat_dtype(x), 1, &rows);
    if (!mean || !rstd) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    CF_FLOAT_SWITCH("group_norm", x->dtype,
                    CF_KERNEL_RUN("group_norm", rows, group_fwd<S>, ptr<S>(x), ptr<S>(n->out), ptr<S>(w), ptr<S>(b),
                                  ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), N, C, G, sp, (cf_acc_t<S>)a->eps));
    return CF_OK;
}

extern "C" cf_status cf_cuda_group_norm_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *gx, *gw, *gb, *w;
    bool acc = false;
    CF_TRY(norm_grads(ctx, n, &gx, &acc, &gw, &gb));
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, a->iw), &w));
    cf_tensor *x = n->aux[2] ? n->aux[2] : n->in[0], *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    int64_t N, C, sp, G = a->groups;
    ncs(x, &N, &C, &sp);
    CF_FLOAT_SWITCH("group_norm backward", x->dtype, {
        if (gx)
            CF_KERNEL_RUN("group_norm backward", N * G, group_bwd_x<S>, ptr<S>(x), ptr<S>(g), ptr<S>(w),
                          ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), ptr<S>(gx), acc, N, C, G, sp);
        if (gw || gb)
            CF_KERNEL_RUN("group_norm backward", C, channel_bwd_wb<S>, ptr<S>(x), ptr<S>(g), ptr<cf_acc_t<S>>(mean),
                          ptr<cf_acc_t<S>>(rstd), ptr<S>(gw), ptr<S>(gb), N, C, G, sp, false);
    });
    return CF_OK;
}

// ---- batch_norm: statistics per channel over N and sp ----

// training: batch mean and 1/std per channel, and the running statistics' update (rm NULL: none);
// evaluation: mean = rm, 1/std from rv
template <typename S>
__global__ void bn_stats(const S *x, cf_acc_t<S> *mean, cf_acc_t<S> *rstd, int64_t N, int64_t C, int64_t sp, cf_acc_t<S> eps,
                         bool training, S *rm, int64_t rms, S *rv, int64_t rvs, cf_acc_t<S> mom)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(c, C)
    {
        if (!training) {
            cf_st(mean + c, cf_ld(rm + c * rms));
            cf_st(rstd + c, (A)1 / sqrt(cf_ld(rv + c * rvs) + eps));
            continue;
        }
        int64_t cnt = N * sp;
        A mu = 0, q = 0;
        for (int64_t nn = 0; nn < N; nn++)
            for (int64_t j = (nn * C + c) * sp; j < (nn * C + c + 1) * sp; j++) mu += cf_ld(x + j);
        mu /= (A)cnt;
        for (int64_t nn = 0; nn < N; nn++)
            for (int64_t j = (nn * C + c) * sp; j < (nn * C + c + 1) * sp; j++) {
                A d = cf_ld(x + j) - mu;
                q += d * d;
            }
        cf_st(mean + c, mu), cf_st(rstd + c, (A)1 / sqrt(q / (A)cnt + eps));
        if (rm) {
            cf_st(rm + c * rms, ((A)1 - mom) * cf_ld(rm + c * rms) + mom * mu);
            cf_st(rv + c * rvs, ((A)1 - mom) * cf_ld(rv + c * rvs) + mom * (q / (A)(cnt - 1)));
        }
    }
}

template <typename S>
__global__ void bn_apply(const S *x, S *y, const S *w, const S *b, const cf_acc_t<S> *mean, const cf_acc_t<S> *rstd, int64_t N, int64_t C,
                         int64_t sp)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, N * C * sp)
    {
        int64_t c = (i / sp) % C;
        A a = cf_ld(rstd + c) * (w ? cf_ld(w + c) : (A)1);
        cf_st(y + i, cf_ld(x + i) * a + ((b ? cf_ld(b + c) : (A)0) - cf_ld(mean + c) * a));
    }
}

// dx = a g - off - (x - mu) k with a = rs w; training: off = a sum(g) / M, k = a rs^2 sum(g (x - mu)) / M
template <typename S>
__global__ void bn_bwd_x(const S *x, const S *g, const S *w, const cf_acc_t<S> *mean, const cf_acc_t<S> *rstd, S *gx, bool acc, int64_t N,
                         int64_t C, int64_t sp, bool training)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, N * C * sp)
    {
        int64_t c = (i / sp) % C;
        A mu = cf_ld(mean + c), rs = cf_ld(rstd + c), a = rs * (w ? cf_ld(w + c) : (A)1), off = 0, k = 0;
        if (training) { // this channel's sums, recomputed by each of its elements: simple, O(N sp) per element
            A sg = 0, sgx = 0, M = (A)(N * sp);
            for (int64_t nn = 0; nn < N; nn++)
                for (int64_t j = (nn * C + c) * sp; j < (nn * C + c + 1) * sp; j++) {
                    sg += cf_ld(g + j);
                    sgx += cf_ld(g + j) * (cf_ld(x + j) - mu);
                }
            off = a * sg / M, k = a * rs * rs * sgx / M;
        }
        A v = a * cf_ld(g + i) - off - (cf_ld(x + i) - mu) * k;
        cf_st(gx + i, acc ? cf_ld(gx + i) + v : v);
    }
}

extern "C" cf_status cf_cuda_batch_norm_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *x, *w, *b, *rm = optional_input(n, a->irm), *rv = optional_input(n, a->irv);
    CF_TRY(forward_inputs(ctx, n, &x, &w, &b));
    int64_t N, C, sp;
    ncs(x, &N, &C, &sp);
    cf_tensor *mean = cf_empty(ctx, stat_dtype(x), 1, &C), *rstd = cf_empty(ctx, stat_dtype(x), 1, &C);
    if (!mean || !rstd) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd; // evaluation copies the running statistics: later updates do not leak in
    int64_t rms = rm ? rm->stride[0] : 0, rvs = rv ? rv->stride[0] : 0;
    CF_FLOAT_SWITCH("batch_norm", x->dtype, {
        CF_KERNEL_RUN("batch_norm", C, bn_stats<S>, ptr<S>(x), ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), N, C, sp,
                      (cf_acc_t<S>)a->eps, a->training, ptr<S>(rm), rms, ptr<S>(rv), rvs, (cf_acc_t<S>)a->momentum);
        CF_KERNEL_RUN("batch_norm", N * C * sp, bn_apply<S>, ptr<S>(x), ptr<S>(n->out), ptr<S>(w), ptr<S>(b),
                      ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), N, C, sp);
    });
    if (a->training && rm) cf_bump_version(rm), cf_bump_version(rv);
    return CF_OK;
}

extern "C" cf_status cf_cuda_batch_norm_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    cf_tensor *gx, *gw, *gb, *w;
    bool acc = false;
    CF_TRY(norm_grads(ctx, n, &gx, &acc, &gw, &gb));
    CF_TRY(cf_cuda_contig(ctx, optional_input(n, a->iw), &w));
    cf_tensor *x = n->aux[2] ? n->aux[2] : n->in[0], *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    int64_t N, C, sp;
    ncs(x, &N, &C, &sp);
    CF_FLOAT_SWITCH("batch_norm backward", x->dtype, {
        if (gw || gb)
            CF_KERNEL_RUN("batch_norm backward", C, channel_bwd_wb<S>, ptr<S>(x), ptr<S>(g), ptr<cf_acc_t<S>>(mean),
                          ptr<cf_acc_t<S>>(rstd), ptr<S>(gw), ptr<S>(gb), N, C, (int64_t)1, sp, true);
        if (gx)
            CF_KERNEL_RUN("batch_norm backward", N * C * sp, bn_bwd_x<S>, ptr<S>(x), ptr<S>(g), ptr<S>(w),
                          ptr<cf_acc_t<S>>(mean), ptr<cf_acc_t<S>>(rstd), ptr<S>(gx), acc, N, C, sp, (bool)a->training);
    });
    return CF_OK;
}
