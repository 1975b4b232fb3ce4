// CUDA kernels of the elementwise losses (mse_loss, l1_loss, bce_with_logits, sigmoid_focal_loss): the
// element function is the CPU's own (autograd/ops/loss_elem.h, compiled here as a device function), over
// the CPU's cf_iter geometry. cross_entropy and nll_loss see the logits as [outer, C, inner] around the
// class dim, one warp per sample forward (the CPU's formulas, sums in double) and one per logit backward;
// their class indices are copied to the host and checked there by the CPU's own check (a synchronising
// copy of S indices per step; a device-side error flag would avoid it). Reduction mean/sum: per-sample
// losses in double, then one block sums them in a fixed tree order (deterministic). A loss is returned, and
// its gradient read, in the arithmetic type cf_acc_t<S> (f32 for bf16 inputs: autograd/ops/loss.c), and the
// saved per-sample statistics are kept in it too.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/cuda/kernels/warp_rows.h"
#include "autograd/ops/reduce_attr.h"

#define EXP exp
#define LOG1P log1p
#define POW pow
#define FABS fabs
#include "autograd/ops/loss_elem.h"
CF_LOSS_ELEM(pw_elem, float, __device__)
CF_LOSS_ELEM(pw_elem, double, __device__)

// operands x, y, w over x's shape: out[i] = loss (reduction none; out contiguous) or l[i] = loss (f64)
template <typename S>
__global__ void pw_fwd(cf_iter it, int kind, struct loss_attr a, bool has_w, const S *x, const S *y, const S *w,
                       cf_acc_t<S> *out, double *l)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        A v = pw_elem(kind, &a, cf_ld(x + off[0]), cf_ld(y + off[1]), has_w ? cf_ld(w + off[2]) : (A)1, false,
                      (A *)NULL, (A *)NULL, (A *)NULL);
        if (out)
            cf_st(out + i, v);
        else
            l[i] = (double)v;
    }
}

// out[0] = sum(l[0..n)) / divisor on one block: strided partial sums, then a tree
template <typename S> __global__ void total_kernel(const double *l, int64_t n, double divisor, S *out)
{
    CF_SHARED(double, s, CF_BLOCK_THREADS);
    double acc = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += l[i];
    s[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k /= 2) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) cf_st(out, (cf_acc_t<S>)(s[0] / divisor));
}

// g: the output's gradient, per element (none) or the scalar's, divided by divisor; gx, gy, gw flat
template <typename S>
__global__ void pw_bwd(cf_iter it, int kind, struct loss_attr a, bool has_w, const S *x, const S *y, const S *w,
                       const cf_acc_t<S> *g, bool none, double divisor, S *gx, bool acc_x, S *gy, bool acc_y, S *gw)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        A dx = 0, dy = 0, dw = 0;
        pw_elem(kind, &a, cf_ld(x + off[0]), cf_ld(y + off[1]), has_w ? cf_ld(w + off[2]) : (A)1, true, &dx, &dy,
                &dw);
        A gs = none ? cf_ld(g + i) : (A)((double)cf_ld(g) / divisor);
        if (gx) cf_st(gx + i, acc_x ? cf_ld(gx + i) + dx * gs : dx * gs);
        if (gy) cf_st(gy + i, acc_y ? cf_ld(gy + i) + dy * gs : dy * gs);
        if (gw) cf_st(gw + i, dw * gs);
    }
}

static cf_status pointwise_fwd(const char *name, cf_ctx *ctx, cf_node *n, int kind)
{
    struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = n->in[0], *y = n->in[1], *w = n->n_in > 2 ? n->in[2] : x;
    cf_iter it;
    const cf_tensor *ops[3] = {x, y, w};
    cf_iter_init(&it, x->ndim, x->shape, 3, ops);
    bool none = a->reduction == CF_REDUCTION_NONE;
    a->divisor = a->reduction == CF_REDUCTION_MEAN ? (double)cf_numel(x) : 1.0;
    cf_tensor *l = none ? NULL : cf_empty(ctx, CF_F64, 1, &it.numel);
    if (!none && !l) return cf_last_status();
    CF_FLOAT_SWITCH(name, x->dtype, {
        CF_KERNEL_RUN(name, it.numel, pw_fwd<S>, it, kind, *a, n->n_in > 2, (const S *)cf_data(x),
                      (const S *)cf_data(y), (const S *)cf_data(w),
                      none ? (cf_acc_t<S> *)cf_data(n->out) : (cf_acc_t<S> *)NULL,
                      none ? (double *)NULL : (double *)cf_data(l));
        if (!none)
            CF_KERNEL_RUN_GRID(name, 1, CF_BLOCK_THREADS, total_kernel<cf_acc_t<S>>, (const double *)cf_data(l),
                               it.numel, a->divisor, (cf_acc_t<S> *)cf_data(n->out));
    });
    return CF_OK;
}

static cf_status pointwise_bwd(const char *name, cf_ctx *ctx, cf_node *n, int kind)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = n->in[0], *y = n->in[1], *w = n->n_in > 2 ? n->in[2] : x;
    bool nx = cf_needs_grad(n, 0), ny = cf_needs_grad(n, 1), nw = n->n_in > 2 && cf_needs_grad(n, 2);
    if (!nx && !ny && !nw) return CF_OK;
    bool ow_x = false, ow_y = false;
    cf_tensor *gx = nx ? cf_grad_slot(ctx, x, &ow_x) : NULL, *gy = ny ? cf_grad_slot(ctx, y, &ow_y) : NULL;
    // pos_weight is broadcast: its gradient is made at x's shape, then summed down
    cf_tensor *gw = nw ? cf_empty(ctx, x->dtype, x->ndim, x->shape) : NULL;
    if ((nx && !gx) || (ny && !gy) || (nw && !gw)) return cf_last_status();
    cf_iter it;
    const cf_tensor *ops[3] = {x, y, w};
    cf_iter_init(&it, x->ndim, x->shape, 3, ops);
    bool none = a->reduction == CF_REDUCTION_NONE;
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, it.numel, pw_bwd<S>, it, kind, *a, n->n_in > 2, (const S *)cf_data(x),
                                  (const S *)cf_data(y), (const S *)cf_data(w),
                                  (const cf_acc_t<S> *)cf_data(n->out->grad),
                                  none, a->divisor, gx ? (S *)cf_data(gx) : (S *)NULL, !ow_x,
                                  gy ? (S *)cf_data(gy) : (S *)NULL, !ow_y, gw ? (S *)cf_data(gw) : (S *)NULL));
    if (nw) CF_TRY(cf_cuda_accum_grad(ctx, w, gw));
    return CF_OK;
}

#define POINTWISE_ENTRIES(NAME, KIND) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return pointwise_fwd(#NAME, ctx, n, KIND); } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) \
    { \
        return pointwise_bwd(#NAME " backward", ctx, n, KIND); \
    }
POINTWISE_ENTRIES(mse_loss, L_MSE)
POINTWISE_ENTRIES(l1_loss, L_L1)
POINTWISE_ENTRIES(bce_with_logits, L_BCE)
POINTWISE_ENTRIES(sigmoid_focal_loss, L_FOCAL)

// ---- cross_entropy and nll_loss ----

// out = the per-sample losses ls (reduction none; out contiguous) or their sum / divisor
template <typename S> __global__ void store_losses(const double *ls, int64_t n, S *out)
{
    CF_GRID_STRIDE(i, n) cf_st(out + i, (cf_acc_t<S>)ls[i]);
}

static cf_status finish_out(const char *name, cf_tensor *out, const cf_tensor *ls, int64_t count, bool none,
                            double divisor)
{
    CF_FLOAT_SWITCH(name, out->dtype, {
        if (none)
            CF_KERNEL_RUN(name, count, store_losses<S>, (const double *)cf_data(ls), count, (S *)cf_data(out));
        else
            CF_KERNEL_RUN_GRID(name, 1, CF_BLOCK_THREADS, total_kernel<S>, (const double *)cf_data(ls), count,
                               divisor, (S *)cf_data(out));
    });
    return CF_OK;
}

// t itself when contiguous, else a contiguous copy on the device
static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *t)
{
    if (cf_is_contiguous(t)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    return c && cf_cuda_copy(c, t, false) == CF_OK ? c : NULL;
}

// The class indices tg (contiguous, on the device) checked on the host; *count: the non-ignored ones
static cf_status check_targets(const char *name, cf_ctx *ctx, cf_node *n, const cf_tensor *tg, int64_t S, int64_t C,
                               int64_t *count)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    int64_t *h = (int64_t *)cf_scratch(ctx, sizeof(int64_t) * (size_t)(S ? S : 1));
    if (!h) return cf_last_status();
    CF_TRY(cf_tensor_backend(tg)->to_host(h, cf_data(tg), sizeof(int64_t) * (size_t)S));
    return cf_loss_check_targets(name, n->in[1], h, S, C, a->ignore_index, count);
}

// One warp per sample (warp_rows.h: lanes split the C logits, shuffle sums in a fixed order): its loss, max logit,
// log(sum(exp(x - max))) and (soft) sum of the smoothed target, sums in double, stored by lane 0
template <typename S>
__global__ void ce_fwd(const S *x, const int64_t *tg, const S *q, int64_t outer, int64_t C, int64_t inner,
                       int64_t ignore, double eps, cf_acc_t<S> *mx, cf_acc_t<S> *lsum, cf_acc_t<S> *qsum, double *ls)
{
    typedef cf_acc_t<S> A;
    CF_ROW_WARP_LOOP(s, lane, outer * inner)
    {
        int64_t base = (s / inner) * C * inner + s % inner;
        if (tg && tg[s] == ignore) {
            if (lane == 0) {
                ls[s] = 0;
                cf_st(mx + s, (A)0), cf_st(lsum + s, (A)0);
            }
            continue;
        }
        A m = -INFINITY;
        for (int64_t c = lane; c < C; c += CF_ROW_WARP) {
            A v = cf_ld(x + base + c * inner);
            m = v > m ? v : m;
        }
        m = cf_warp_max(m);
        double se = 0, sx = 0, sq = 0, sqx = 0;
        for (int64_t c = lane; c < C; c += CF_ROW_WARP) {
            A v = cf_ld(x + base + c * inner);
            se += (double)exp(v - m);
            sx += (double)v;
            if (q) {
                double qv = (double)cf_ld(q + base + c * inner);
                sq += qv, sqx += qv * (double)v;
            }
        }
        se = cf_warp_sum(se), sx = cf_warp_sum(sx);
        if (q) sq = cf_warp_sum(sq), sqx = cf_warp_sum(sqx);
        if (lane != 0) continue;
        double lse = (double)m + log(se);
        cf_st(mx + s, m), cf_st(lsum + s, (A)log(se));
        if (q) { // q' = (1 - eps) q + eps / C;  loss = sum(q') lse - sum(q' x)
            double sq2 = (1 - eps) * sq + eps, sqx2 = (1 - eps) * sqx + eps * sx / (double)C;
            cf_st(qsum + s, (A)sq2);
            ls[s] = sq2 * lse - sqx2;
        } else { // (1 - eps) (lse - x_t) + eps (lse - mean(x))
            ls[s] = (1 - eps) * (lse - (double)cf_ld(x + base + tg[s] * inner)) + eps * (lse - sx / (double)C);
        }
    }
}

// One logit per thread: gx = (softmax sum(q') - q') gs, gq = -(1 - eps) log_softmax gs, gs = g / divisor
template <typename S>
__global__ void ce_bwd(const S *x, const int64_t *tg, const S *q, int64_t outer, int64_t C, int64_t inner,
                       int64_t ignore, double eps, double inv, const cf_acc_t<S> *mx, const cf_acc_t<S> *lsum,
                       const cf_acc_t<S> *qsum, const cf_acc_t<S> *g, bool per_sample, S *gx, bool acc_x, S *gq,
                       bool acc_q)
{
    typedef cf_acc_t<S> A;
    A off = (A)(eps / (double)C), keep = (A)(1 - eps);
    CF_GRID_STRIDE(i, outer * C * inner)
    {
        int64_t k = i % inner, c = (i / inner) % C, s = (i / (inner * C)) * inner + k;
        A gs = (A)((double)cf_ld(g + (per_sample ? s : 0)) * inv);
        A lp = (cf_ld(x + i) - cf_ld(mx + s)) - cf_ld(lsum + s), vx, vq = 0;
        if (tg) {
            vx = tg[s] == ignore ? (A)0 : (exp(lp) - keep * (A)(tg[s] == c) - off) * gs;
        } else {
            vx = (exp(lp) * cf_ld(qsum + s) - (keep * cf_ld(q + i) + off)) * gs;
            vq = -keep * lp * gs;
        }
        if (gx) cf_st(gx + i, acc_x ? cf_ld(gx + i) + vx : vx);
        if (gq) cf_st(gq + i, acc_q ? cf_ld(gq + i) + vq : vq);
    }
}

extern "C" cf_status cf_cuda_cross_entropy_fwd(cf_ctx *ctx, cf_node *n)
{
    struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = contiguous(ctx, n->in[0]), *tg = contiguous(ctx, n->in[1]);
    if (!x || !tg) return cf_last_status();
    int64_t outer, C, inner;
    cf_split_dim(x, a->class_dim, &outer, &C, &inner);
    int64_t ns = outer * inner, count = ns, two_s[2] = {2, ns};
    if (!a->soft) CF_TRY(check_targets("cross_entropy", ctx, n, tg, ns, C, &count));
    cf_tensor *ls = cf_empty(ctx, CF_F64, 1, &ns);
    cf_dtype adt = cf_dtype_accum(x->dtype);
    n->aux[0] = cf_empty(ctx, adt, 2, two_s);                // per sample: the max logit, log(sum(exp(x - max)))
    n->aux[1] = a->soft ? cf_empty(ctx, adt, 1, &ns) : NULL; // per sample: sum of the target distribution
    if (!ls || !n->aux[0] || (a->soft && !n->aux[1])) return cf_last_status();
    CF_FLOAT_SWITCH("cross_entropy", x->dtype,
                    if (ns > 0) CF_KERNEL_RUN_GRID("cross_entropy", cf_row_blocks(ns), CF_BLOCK_THREADS, ce_fwd<S>,
                                  (const S *)cf_data(x),
                                  a->soft ? (const int64_t *)NULL : (const int64_t *)cf_data(tg),
                                  a->soft ? (const S *)cf_data(tg) : (const S *)NULL, outer, C, inner,
                                  a->ignore_index, a->label_smoothing, (cf_acc_t<S> *)cf_data(n->aux[0]),
                                  (cf_acc_t<S> *)cf_data(n->aux[0]) + ns,
                                  a->soft ? (cf_acc_t<S> *)cf_data(n->aux[1]) : (cf_acc_t<S> *)NULL,
                                  (double *)cf_data(ls)));
    a->divisor = a->reduction == CF_REDUCTION_MEAN ? (double)count : 1.0;
    return finish_out("cross_entropy", n->out, ls, ns, a->reduction == CF_REDUCTION_NONE, a->divisor);
}

extern "C" cf_status cf_cuda_cross_entropy_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    bool need_x = cf_needs_grad(n, 0), need_q = a->soft && cf_needs_grad(n, 1);
    if (!need_x && !need_q) return CF_OK;
    cf_tensor *x = contiguous(ctx, n->in[0]), *tg = contiguous(ctx, n->in[1]);
    if (!x || !tg) return cf_last_status();
    int64_t outer, C, inner;
    cf_split_dim(x, a->class_dim, &outer, &C, &inner);
    bool ow_x = false, ow_q = false;
    cf_tensor *gx = need_x ? cf_grad_slot(ctx, n->in[0], &ow_x) : NULL;
    cf_tensor *gq = need_q ? cf_grad_slot(ctx, n->in[1], &ow_q) : NULL;
    if ((need_x && !gx) || (need_q && !gq)) return cf_last_status();
    int64_t ns = outer * inner;
    CF_FLOAT_SWITCH("cross_entropy backward", x->dtype,
                    CF_KERNEL_RUN("cross_entropy backward", ns * C, ce_bwd<S>, (const S *)cf_data(x),
                                  a->soft ? (const int64_t *)NULL : (const int64_t *)cf_data(tg),
                                  a->soft ? (const S *)cf_data(tg) : (const S *)NULL, outer, C, inner,
                                  a->ignore_index, a->label_smoothing, 1.0 / a->divisor,
                                  (const cf_acc_t<S> *)cf_data(n->aux[0]), (const cf_acc_t<S> *)cf_data(n->aux[0]) + ns,
                                  a->soft ? (const cf_acc_t<S> *)cf_data(n->aux[1]) : (const cf_acc_t<S> *)NULL,
                                  (const cf_acc_t<S> *)cf_data(n->out->grad), a->reduction == CF_REDUCTION_NONE,
                                  gx ? (S *)cf_data(gx) : (S *)NULL, !ow_x, gq ? (S *)cf_data(gq) : (S *)NULL, !ow_q));
    return CF_OK;
}

// nll: the loss of sample s is -x[s, t_s] (0 when ignored); x contiguous [outer, C, inner]
template <typename S>
__global__ void nll_fwd(const S *x, const int64_t *tg, int64_t C, int64_t inner, int64_t S_, int64_t ignore,
                        double *ls)
{
    CF_GRID_STRIDE(s, S_)
    {
        int64_t at = ((s / inner) * C + tg[s]) * inner + s % inner;
        ls[s] = tg[s] == ignore ? 0.0 : -(double)cf_ld(x + at);
    }
}

// gx[s, t_s] -= g / divisor, one sample per thread (the samples' positions are distinct)
template <typename S>
__global__ void nll_bwd(S *gx, const int64_t *tg, const cf_acc_t<S> *g, bool per_sample, int64_t C, int64_t inner, int64_t S_,
                        int64_t ignore, double divisor)
{
    CF_GRID_STRIDE(s, S_)
    {
        if (tg[s] == ignore) continue;
        int64_t at = ((s / inner) * C + tg[s]) * inner + s % inner;
        double gs = (double)cf_ld(g + (per_sample ? s : 0)) / divisor;
        cf_st(gx + at, cf_ld(gx + at) - (cf_acc_t<S>)gs);
    }
}

extern "C" cf_status cf_cuda_nll_loss_fwd(cf_ctx *ctx, cf_node *n)
{
    struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = contiguous(ctx, n->in[0]), *tg = contiguous(ctx, n->in[1]);
    if (!x || !tg) return cf_last_status();
    int64_t outer, C, inner, count;
    cf_split_dim(x, a->class_dim, &outer, &C, &inner);
    int64_t ns = outer * inner;
    CF_TRY(check_targets("nll_loss", ctx, n, tg, ns, C, &count));
    cf_tensor *ls = cf_empty(ctx, CF_F64, 1, &ns);
    if (!ls) return cf_last_status();
    CF_FLOAT_SWITCH("nll_loss", x->dtype,
                    CF_KERNEL_RUN("nll_loss", ns, nll_fwd<S>, (const S *)cf_data(x), (const int64_t *)cf_data(tg), C,
                                  inner, ns, a->ignore_index, (double *)cf_data(ls)));
    a->divisor = a->reduction == CF_REDUCTION_MEAN ? (double)count : 1.0;
    return finish_out("nll_loss", n->out, ls, ns, a->reduction == CF_REDUCTION_NONE, a->divisor);
}

extern "C" cf_status cf_cuda_nll_loss_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *tg = contiguous(ctx, n->in[1]), *gx = cf_grad_acc(ctx, n->in[0]);
    if (!tg || !gx) return cf_last_status();
    int64_t outer, C, inner;
    cf_split_dim(gx, a->class_dim, &outer, &C, &inner);
    int64_t ns = outer * inner;
    CF_FLOAT_SWITCH("nll_loss backward", gx->dtype,
                    CF_KERNEL_RUN("nll_loss backward", ns, nll_bwd<S>, (S *)cf_data(gx), (const int64_t *)cf_data(tg),
                                  (const cf_acc_t<S> *)cf_data(n->out->grad), a->reduction == CF_REDUCTION_NONE, C,
                                  inner, ns,
                                  a->ignore_index, a->divisor));
    return CF_OK;
}
