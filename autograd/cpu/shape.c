/* CPU kernels of the shape ops. Views need no forward work; their backward applies the view's geometry
 * to the input's gradient buffer and adds the output's gradient through it. */
#include "autograd/ops/shape_views.h"
#include "autograd/cpu/cpu.h"

#include <string.h>

static cf_status noop_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx, (void)n;
    return CF_OK;
}

/* Adds src into dst element by element, one thread: dst may alias itself (overlapping windows). */
static void accumulate_serial(cf_tensor *dst, const cf_tensor *src)
{
    int64_t n = cf_numel(src);
    if (dst->dtype == CF_F32) {
        float *d = dst->storage->data;
        for (int64_t i = 0; i < n; i++) {
            int64_t off = dst->offset, r = i;
            for (int k = dst->ndim - 1; k >= 0; k--) off += (r % dst->shape[k]) * dst->stride[k], r /= dst->shape[k];
            d[off] += (float)cf_get_flat(src, i);
        }
    } else {
        double *d = dst->storage->data;
        for (int64_t i = 0; i < n; i++) {
            int64_t off = dst->offset, r = i;
            for (int k = dst->ndim - 1; k >= 0; k--) off += (r % dst->shape[k]) * dst->stride[k], r /= dst->shape[k];
            d[off] += cf_get_flat(src, i);
        }
    }
}

static cf_status view_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0], *g = n->out->grad;
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    if (n->op == CF_OP_expand) return cf_cpu_accum_grad(ctx, x, g);
    bool covers_all = n->op == CF_OP_reshape || n->op == CF_OP_transpose || n->op == CF_OP_permute;
    bool overwrite = false;
    cf_tensor *gx = covers_all ? cf_grad_slot(ctx, x, &overwrite) : cf_grad_acc(ctx, x);
    if (!gx) return cf_last_status();
    cf_geom src = cf_geom_of(gx), dst;
    cf_view_geometry(n->op, a, &src, &dst);
    cf_tensor gv = cf_view_with_geom(gx, &dst);
    if (n->op == CF_OP_unfold && a->step < a->size)
        accumulate_serial(&gv, g); /* windows overlap: several outputs add into one input */
    else
        cf_cpu_copy_strided(&gv, g, !overwrite);
    return CF_OK;
}

#define VIEW_KERNELS(NAME) \
    cf_status cf_cpu_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return noop_fwd(ctx, n); } \
    cf_status cf_cpu_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return view_bwd(ctx, n); }
VIEW_KERNELS(reshape)
VIEW_KERNELS(transpose)
VIEW_KERNELS(permute)
VIEW_KERNELS(expand)
VIEW_KERNELS(slice)
VIEW_KERNELS(unfold)

cf_status cf_cpu_contiguous_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_cpu_copy_strided(n->out, n->in[0], false);
    return CF_OK;
}

cf_status cf_cpu_contiguous_bwd(cf_ctx *ctx, cf_node *n)
{
    return cf_needs_grad(n, 0) ? cf_cpu_accum_grad(ctx, n->in[0], n->out->grad) : CF_OK;
}

cf_status cf_cpu_concat_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    for (int i = 0; i < n->n_in; i++) {
        cf_tensor part = cf_concat_part(n->out, n, i);
        cf_cpu_copy_strided(&part, n->in[i], false);
    }
    return CF_OK;
}

cf_status cf_cpu_concat_bwd(cf_ctx *ctx, cf_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        if (!cf_needs_grad(n, i)) continue;
        cf_tensor part = cf_concat_part(n->out->grad, n, i);
        CF_TRY(cf_cpu_accum_grad(ctx, n->in[i], &part));
    }
    return CF_OK;
}

cf_status cf_cpu_pad_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    CF_TRY(cf_fill_(n->out, a->value));
    cf_tensor inner = cf_pad_interior(n->out, a);
    cf_cpu_copy_strided(&inner, n->in[0], false);
    return CF_OK;
}

cf_status cf_cpu_pad_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor inner = cf_pad_interior(n->out->grad, CF_ATTR(n, struct shape_attr));
    return cf_cpu_accum_grad(ctx, n->in[0], &inner);
}

cf_status cf_cpu_roll_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    int d = a->dim;
    int64_t len = n->out->shape[d], s = a->start;
    cf_tensor o1 = cf_narrowed(n->out, d, s, len - s), x1 = cf_narrowed(n->in[0], d, 0, len - s);
    cf_tensor o2 = cf_narrowed(n->out, d, 0, s), x2 = cf_narrowed(n->in[0], d, len - s, s);
    cf_cpu_copy_strided(&o1, &x1, false);
    cf_cpu_copy_strided(&o2, &x2, false);
    return CF_OK;
}

cf_status cf_cpu_roll_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct shape_attr *a = CF_ATTR(n, struct shape_attr);
    int d = a->dim;
    int64_t len = n->out->shape[d], s = a->start;
    cf_tensor *gx = cf_grad_acc(ctx, n->in[0]);
    if (!gx) return cf_last_status();
    cf_tensor g1 = cf_narrowed(n->out->grad, d, s, len - s), x1 = cf_narrowed(gx, d, 0, len - s);
    cf_tensor g2 = cf_narrowed(n->out->grad, d, 0, s), x2 = cf_narrowed(gx, d, len - s, s);
    cf_cpu_copy_strided(&x1, &g1, true);
    cf_cpu_copy_strided(&x2, &g2, true);
    return CF_OK;
}

cf_status cf_cpu_repeat_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_repeat_views v = cf_repeat_split(n->out, n->in[0], CF_ATTR(n, struct shape_attr), false);
    cf_cpu_copy_strided(&v.out, &v.x, false);
    return CF_OK;
}

cf_status cf_cpu_repeat_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    cf_repeat_views v = cf_repeat_split(n->out->grad, gx, CF_ATTR(n, struct shape_attr), true);
    /* gx is contiguous, so its split view with size-1 reduced dims is contiguous too */
    cf_contiguous_strides(v.x.ndim, v.x.shape, v.x.stride);
    return cf_cpu_sum_to(&v.x, &v.out, overwrite);
}
