// CUDA kernels of dropout and drop_path (autograd/ops/random.def) with the CPU's mask (autograd/cpu/random.c):
// the mask is a pure function of (key, step, index) through the device Philox (autograd/cuda/philox.h), so
// both backends keep and drop the same elements bit for bit, and backward regenerates the mask instead of
// storing it. dropout: one thread per Philox block of 4 consecutive elements (one Philox call serves four
// outputs; grid-stride, coalesced in the block index). drop_path: one thread per sample draws its factor
// (scale or 0) into an arena buffer, then one thread per element applies it.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/cuda/philox.h"
#include "autograd/ops/random_attr.h"

// dst[i] (+)= keep(i) ? src[i] * scale : 0 over n contiguous elements
template <typename S>
__global__ void dropout_kernel(cf_philox_key key, uint64_t step, uint32_t thr, bool all, cf_acc_t<S> scale, S *dst,
                               const S *src, int64_t n, bool acc)
{
    CF_GRID_STRIDE(b, (n + 3) / 4)
    {
        uint32_t w[4] = {0, 0, 0, 0};
        if (!all) cf_dev_philox_block(key, step, (uint64_t)b, w);
        int64_t i0 = 4 * b, m = n - i0 < 4 ? n - i0 : 4;
        for (int64_t j = 0; j < m; j++) {
            cf_acc_t<S> v = (!all && w[j] >= thr) ? cf_ld(src + i0 + j) * scale : (cf_acc_t<S>)0;
            S *d = dst + i0 + j;
            cf_st(d, acc ? cf_ld(d) + v : v);
        }
    }
}

// factor[s] = scale or 0 for each of the nsamples samples (block s / 4, word s % 4)
template <typename S>
__global__ void drop_path_factors(cf_philox_key key, uint64_t step, uint32_t thr, bool all, cf_acc_t<S> scale,
                                  S *factor, int64_t nsamples)
{
    CF_GRID_STRIDE(s, nsamples)
    {
        uint32_t w[4] = {0, 0, 0, 0};
        if (!all) cf_dev_philox_block(key, step, (uint64_t)(s / 4), w);
        cf_st(factor + s, (!all && w[s & 3] >= thr) ? scale : (cf_acc_t<S>)0);
    }
}

// dst[i] (+)= src[i] * factor[i / inner] (exactly 0 where the sample is dropped, whatever src holds)
template <typename S>
__global__ void drop_path_apply(const S *factor, S *dst, const S *src, int64_t n, int64_t inner, bool acc)
{
    CF_GRID_STRIDE(i, n)
    {
        cf_acc_t<S> f = cf_ld(factor + i / inner), v = f != (cf_acc_t<S>)0 ? cf_ld(src + i) * f : (cf_acc_t<S>)0;
        cf_st(dst + i, acc ? cf_ld(dst + i) + v : v);
    }
}

// src -> dst through the op's mask; both contiguous with the op's shape
static cf_status apply(cf_ctx *ctx, const cf_node *n, const cf_tensor *src, cf_tensor *dst, bool acc)
{
    const struct random_attr *a = CF_ATTR(n, struct random_attr);
    const char *name = cf_op_name(n->op);
    int64_t numel = cf_numel(dst);
    if (numel == 0) return CF_OK;
    if (n->op == CF_OP_dropout) {
        CF_FLOAT_SWITCH(name, dst->dtype,
                        CF_KERNEL_RUN(name, (numel + 3) / 4, dropout_kernel<S>, a->key, a->step, a->threshold,
                                      a->drop_all, (cf_acc_t<S>)a->scale, (S *)cf_data(dst), (const S *)cf_data(src),
                                      numel, acc));
        return CF_OK;
    }
    int64_t nsamples = dst->shape[0], inner = numel / nsamples;
    cf_tensor *factor = cf_empty(ctx, dst->dtype, 1, &nsamples);
    if (!factor) return cf_last_status();
    CF_FLOAT_SWITCH(name, dst->dtype, {
        CF_KERNEL_RUN(name, nsamples, drop_path_factors<S>, a->key, a->step, a->threshold, a->drop_all,
                      (cf_acc_t<S>)a->scale, (S *)cf_data(factor), nsamples);
        CF_KERNEL_RUN(name, numel, drop_path_apply<S>, (const S *)cf_data(factor), (S *)cf_data(dst),
                      (const S *)cf_data(src), numel, inner, acc);
    });
    return CF_OK;
}

static cf_status random_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0];
    if (!cf_is_contiguous(x)) { // the mask is indexed in row-major order
        cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
        if (!c) return cf_last_status();
        CF_TRY(cf_cuda_copy(c, x, false));
        x = c;
    }
    return apply(ctx, n, x, n->out, false);
}

static cf_status random_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    return apply(ctx, n, n->out->grad, gx, !overwrite);
}

extern "C" cf_status cf_cuda_dropout_fwd(cf_ctx *ctx, cf_node *n) { return random_fwd(ctx, n); }
extern "C" cf_status cf_cuda_dropout_bwd(cf_ctx *ctx, cf_node *n) { return random_bwd(ctx, n); }
extern "C" cf_status cf_cuda_drop_path_fwd(cf_ctx *ctx, cf_node *n) { return random_fwd(ctx, n); }
extern "C" cf_status cf_cuda_drop_path_bwd(cf_ctx *ctx, cf_node *n) { return random_bwd(ctx, n); }
