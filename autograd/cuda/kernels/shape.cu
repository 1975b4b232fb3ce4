// CUDA kernels of the shape ops (autograd/ops/shape.def). As on the CPU (autograd/cpu/shape.c), views need
// no forward work and the copies are the backend's strided copy (cf_cuda_copy, memory.cu) over the views of
// autograd/ops/shape_views.h; gradients that sum over broadcast or repeated positions go through
// cf_cuda_sum_to below (one thread per destination element, fixed summation order, no atomics), which
// the other kernel families use to reduce a gradient to its input's shape (cf_cuda_accum_grad).
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/shape_views.h"

// operands: d (stride 0 over the summed dims), s
template <typename S> __global__ void sum_to_kernel(cf_reduce_geom rg, S *d, const S *s, bool acc)
{
    CF_GRID_STRIDE(i, rg.keep.numel)
    {
        int64_t o[CF_ITER_MAX], u[CF_ITER_MAX];
        cf_iter_offsets(rg.keep, i, o);
        cf_acc_t<S> sum = 0;
        for (int64_t r = 0; r < rg.over.numel; r++) {
            cf_iter_offsets(rg.over, r, u);
            sum += cf_ld(s + o[1] + u[1]);
        }
        cf_st(d + o[0], acc ? cf_ld(d + o[0]) + sum : sum);
    }
}

extern "C" cf_status cf_cuda_sum_to(cf_tensor *dst, const cf_tensor *src, bool overwrite)
{
    if (dst->dtype != src->dtype) return cf_set_error(CF_ERR_INTERNAL, "sum_to (cuda): dtypes differ");
    cf_iter it;
    const cf_tensor *ops[2] = {dst, src};
    cf_iter_init(&it, src->ndim, src->shape, 2, ops);
    cf_reduce_geom rg = cf_reduce_split(it);
    CF_FLOAT_SWITCH("sum_to", dst->dtype,
                    CF_KERNEL_RUN("sum_to", rg.keep.numel, sum_to_kernel<S>, rg, (S *)cf_data(dst),
                                  (const S *)cf_data(src), !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_accum_grad(cf_ctx *ctx, cf_tensor *x, const cf_tensor *g)
{
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    return cf_cuda_sum_to(gx, g, overwrite);
}

// d += s element by element in flat order on one thread: d may address one element several times
// (unfold's overlapping windows), so the adds must not race. Serial, hence slow: only unfold with
// step < size uses it.
template <typename S> __global__ void accumulate_serial(cf_iter it, S *d, const S *s)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    for (int64_t i = 0; i < it.numel; i++) {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        cf_st(d + off[0], cf_ld(d + off[0]) + cf_ld(s + off[1]));
    }
}

static cf_status view_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0], *g = n->out->grad;
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    if (n->op == CF_OP_expand) return cf_cuda_accum_grad(ctx, x, g);
    bool covers_all = n->op == CF_OP_reshape || n->op == CF_OP_transpose || n->op == CF_OP_permute;
    bool overwrite = false;
    cf_tensor *gx = covers_all ? cf_grad_slot(ctx, x, &overwrite) : cf_grad_acc(ctx, x);
    if (!gx) return cf_last_status();
    cf_geom src = cf_geom_of(gx), dst;
    cf_view_geometry(n->op, a, &src, &dst);
    cf_tensor gv = cf_view_with_geom(gx, &dst);
    if (n->op == CF_OP_unfold && a->step < a->size) { // windows overlap: several outputs add into one input
        cf_iter it;
        const cf_tensor *ops[2] = {&gv, g};
        cf_iter_init(&it, gv.ndim, gv.shape, 2, ops);
        CF_FLOAT_SWITCH("unfold backward", g->dtype,
                        CF_KERNEL_RUN_GRID("unfold backward", 1, 1, accumulate_serial<S>, it, (S *)cf_data(&gv),
                                           (const S *)cf_data(g)));
        return CF_OK;
    }
    return cf_cuda_copy(&gv, g, !overwrite);
}

#define VIEW_KERNELS(NAME) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return (void)ctx, (void)n, CF_OK; } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return view_bwd(ctx, n); }
VIEW_KERNELS(reshape)
VIEW_KERNELS(transpose)
VIEW_KERNELS(permute)
VIEW_KERNELS(expand)
VIEW_KERNELS(slice)
VIEW_KERNELS(unfold)

extern "C" cf_status cf_cuda_contiguous_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    return cf_cuda_copy(n->out, n->in[0], false);
}

extern "C" cf_status cf_cuda_contiguous_bwd(cf_ctx *ctx, cf_node *n)
{
    return cf_needs_grad(n, 0) ? cf_cuda_accum_grad(ctx, n->in[0], n->out->grad) : CF_OK;
}

extern "C" cf_status cf_cuda_concat_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    for (int i = 0; i < n->n_in; i++) {
        cf_tensor part = cf_concat_part(n->out, n, i);
        CF_TRY(cf_cuda_copy(&part, n->in[i], false));
    }
    return CF_OK;
}

extern "C" cf_status cf_cuda_concat_bwd(cf_ctx *ctx, cf_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        if (!cf_needs_grad(n, i)) continue;
        cf_tensor part = cf_concat_part(n->out->grad, n, i);
        CF_TRY(cf_cuda_accum_grad(ctx, n->in[i], &part));
    }
    return CF_OK;
}

extern "C" cf_status cf_cuda_pad_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    CF_TRY(cf_cuda_fill(n->out, a->value));
    cf_tensor inner = cf_pad_interior(n->out, a);
    return cf_cuda_copy(&inner, n->in[0], false);
}

extern "C" cf_status cf_cuda_pad_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor inner = cf_pad_interior(n->out->grad, CF_ATTR(n, struct shape_attr));
    return cf_cuda_accum_grad(ctx, n->in[0], &inner);
}

extern "C" cf_status cf_cuda_roll_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    int d = a->dim;
    int64_t len = n->out->shape[d], s = a->start;
    cf_tensor o1 = cf_narrowed(n->out, d, s, len - s), x1 = cf_narrowed(n->in[0], d, 0, len - s);
    cf_tensor o2 = cf_narrowed(n->out, d, 0, s), x2 = cf_narrowed(n->in[0], d, len - s, s);
    CF_TRY(cf_cuda_copy(&o1, &x1, false));
    return cf_cuda_copy(&o2, &x2, false);
}

extern "C" cf_status cf_cuda_roll_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    int d = a->dim;
    int64_t len = n->out->shape[d], s = a->start;
    cf_tensor *gx = cf_grad_acc(ctx, n->in[0]);
    if (!gx) return cf_last_status();
    cf_tensor g1 = cf_narrowed(n->out->grad, d, s, len - s), x1 = cf_narrowed(gx, d, 0, len - s);
    cf_tensor g2 = cf_narrowed(n->out->grad, d, 0, s), x2 = cf_narrowed(gx, d, len - s, s);
    CF_TRY(cf_cuda_copy(&x1, &g1, true));
    return cf_cuda_copy(&x2, &g2, true);
}

extern "C" cf_status cf_cuda_repeat_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_repeat_views v = cf_repeat_split(n->out, n->in[0], CF_ATTR(n, struct shape_attr), false);
    return cf_cuda_copy(&v.out, &v.x, false);
}

extern "C" cf_status cf_cuda_repeat_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    cf_repeat_views v = cf_repeat_split(n->out->grad, gx, CF_ATTR(n, struct shape_attr), true);
    cf_contiguous_strides(v.x.ndim, v.x.shape, v.x.stride); // gx is contiguous, so is its split view
    return cf_cuda_sum_to(&v.x, &v.out, overwrite);
}
