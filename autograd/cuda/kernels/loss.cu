// CUDA kernels of the elementwise losses (mse_loss, l1_loss, bce_with_logits, sigmoid_focal_loss): the
// element function is the CPU's own (autograd/ops/loss_elem.h, compiled here as a device function), over
// the CPU's cf_iter geometry. Reduction mean/sum: per-element losses in double, then one block sums them
// in a fixed tree order (deterministic). cross_entropy and nll_loss are not ported yet: their class-index
// check reads the targets on the host, which on a device wants a copy or a device-side error flag.
#include "autograd/cuda/kernels/launch.h"

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
                       S *out, double *l)
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
                       const S *g, bool none, double divisor, S *gx, bool acc_x, S *gy, bool acc_y, S *gw)
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
                      (const S *)cf_data(y), (const S *)cf_data(w), none ? (S *)cf_data(n->out) : (S *)NULL,
                      none ? (double *)NULL : (double *)cf_data(l));
        if (!none)
            CF_KERNEL_RUN_GRID(name, 1, CF_BLOCK_THREADS, total_kernel<S>, (const double *)cf_data(l), it.numel,
                               a->divisor, (S *)cf_data(n->out));
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
                                  (const S *)cf_data(y), (const S *)cf_data(w), (const S *)cf_data(n->out->grad),
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
