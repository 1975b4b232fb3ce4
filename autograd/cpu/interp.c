/* CPU bilinear resizing with PyTorch's source-index rule (upsample_bilinear2d given an output size). */
#include "autograd/ops/pool_geom.h"
#include "autograd/cpu/cpu.h"

#include <string.h>

typedef struct igeom {
    int64_t planes, H, W, OH, OW;
} igeom;

/* One output coordinate's two source taps and their weights. */
typedef struct tap {
    int64_t i0, i1;
    double l0, l1;
} tap;

#define T float
#define FN(name) name##_f32
#include "autograd/cpu/interp_loops.inc"
#undef T
#undef FN
#define T double
#define FN(name) name##_f64
#include "autograd/cpu/interp_loops.inc"
#undef T
#undef FN

/* Each output index's taps along one axis (autograd/ops/pool_geom.h), from the context's scratch. */
static tap *taps(cf_ctx *ctx, int64_t in, int64_t out, bool align_corners)
{
    tap *t = cf_scratch(ctx, sizeof(tap) * (size_t)out);
    if (!t) return NULL;
    cf_interp_axis a = cf_interp_axis_make(in, out, align_corners);
    for (int64_t o = 0; o < out; o++) {
        cf_interp_tap(&a, o, &t[o].i0, &t[o].i1, &t[o].l1);
        t[o].l0 = 1.0 - t[o].l1;
    }
    return t;
}

static igeom geometry(const cf_node *n)
{
    const cf_tensor *x = n->in[0], *y = n->out;
    return (igeom){.planes = x->shape[0] * x->shape[1], .H = x->shape[2], .W = x->shape[3], .OH = y->shape[2],
                   .OW = y->shape[3]};
}

cf_status cf_cpu_interpolate_bilinear_fwd(cf_ctx *ctx, cf_node *n)
{
    igeom g = geometry(n);
    bool ac = CF_ATTR(n, struct interp_attr)->align_corners;
    cf_tensor *x = n->in[0], *y = n->out;
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx)); /* the copy and the taps are handed back */
    if (!cf_is_contiguous(x)) {
        x = cf_empty(ctx, x->dtype, x->ndim, x->shape);
        if (!x) return cf_last_status();
        cf_cpu_copy_strided(x, n->in[0], false);
    }
    tap *th = taps(ctx, g.H, g.OH, ac), *tw = taps(ctx, g.W, g.OW, ac);
    if (!th || !tw) return cf_last_status();
    if (y->dtype == CF_F32) bilinear_fwd_f32(&g, th, tw, cf_data(x), cf_data(y));
    else bilinear_fwd_f64(&g, th, tw, cf_data(x), cf_data(y));
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return CF_OK;
}

cf_status cf_cpu_interpolate_bilinear_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    igeom g = geometry(n);
    bool ac = CF_ATTR(n, struct interp_attr)->align_corners, overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite), *dy = n->out->grad;
    if (!gx) return cf_last_status();
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    tap *th = taps(ctx, g.H, g.OH, ac), *tw = taps(ctx, g.W, g.OW, ac);
    if (!th || !tw) return cf_last_status();
    if (dy->dtype == CF_F32) bilinear_bwd_f32(&g, th, tw, cf_data(dy), cf_data(gx), overwrite);
    else bilinear_bwd_f64(&g, th, tw, cf_data(dy), cf_data(gx), overwrite);
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return CF_OK;
}
