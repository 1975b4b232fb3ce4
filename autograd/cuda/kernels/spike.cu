// CUDA kernels of heaviside and sign (autograd/ops/spike.def): a step forward and a surrogate backward (the
// surrogates written once for both backends in autograd/ops/spike_elem.h), one thread per element over the
// CPU's cf_iter geometry, so strided inputs need no copy.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/spike_attr.h"
#include "autograd/ops/spike_elem.h"

CF_SPIKE_SURROGATE(surrogate, float, __device__)
CF_SPIKE_SURROGATE(surrogate, double, __device__)

// operands y, x: y = 1 where x >= 0, lo where x < 0, NaN stays NaN
template <typename S> __global__ void step_fwd_kernel(cf_iter it, S *y, const S *x, cf_acc_t<S> lo)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        A v = cf_ld(x + off[1]);
        cf_st(y + off[0], v >= 0 ? (A)1 : (v < 0 ? lo : v));
    }
}

// operands gx, x, g: gx (= or +=) g * scale * surrogate(x)
template <typename S>
__global__ void step_bwd_kernel(cf_iter it, S *gx, const S *x, const S *g, int kind, cf_acc_t<S> a,
                                cf_acc_t<S> scale, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        A v = cf_ld(g + off[2]) * scale * surrogate(kind, a, cf_ld(x + off[1]));
        S *d = gx + off[0];
        cf_st(d, acc ? cf_ld(d) + v : v);
    }
}

static cf_status step_fwd(const char *name, cf_node *n, double lo)
{
    cf_tensor *x = n->in[0], *y = n->out;
    cf_iter it;
    const cf_tensor *ops[2] = {y, x};
    cf_iter_init(&it, y->ndim, y->shape, 2, ops);
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, it.numel, step_fwd_kernel<S>, it, (S *)cf_data(y), (const S *)cf_data(x),
                                  (cf_acc_t<S>)lo));
    return CF_OK;
}

static cf_status step_bwd(const char *name, cf_ctx *ctx, cf_node *n, bool is_sign)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct spike_attr *a = CF_ATTR(n, struct spike_attr);
    cf_tensor *x = n->in[0], *g = n->out->grad;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    bool ste = a->kind == CF_SURROGATE_STE || a->kind == CF_SURROGATE_STE_CLIP;
    double scale = (is_sign && !ste) ? 2.0 : 1.0;
    cf_iter it;
    const cf_tensor *ops[3] = {gx, x, g};
    cf_iter_init(&it, x->ndim, x->shape, 3, ops);
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, it.numel, step_bwd_kernel<S>, it, (S *)cf_data(gx), (const S *)cf_data(x),
                                  (const S *)cf_data(g), a->kind, (cf_acc_t<S>)a->alpha, (cf_acc_t<S>)scale,
                                  !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_heaviside_fwd(cf_ctx *ctx, cf_node *n) { return (void)ctx, step_fwd("heaviside", n, 0.0); }
extern "C" cf_status cf_cuda_heaviside_bwd(cf_ctx *ctx, cf_node *n)
{
    return step_bwd("heaviside backward", ctx, n, false);
}
extern "C" cf_status cf_cuda_sign_fwd(cf_ctx *ctx, cf_node *n) { return (void)ctx, step_fwd("sign", n, -1.0); }
extern "C" cf_status cf_cuda_sign_bwd(cf_ctx *ctx, cf_node *n) { return step_bwd("sign backward", ctx, n, true); }
