/* CPU max/avg pools, fixed-window and adaptive. 1-D pools run as 2-D ones with a height of 1. */
#include "autograd/ops/pool_geom.h"
#include "autograd/cpu/cpu.h"

#include <math.h>
#include <string.h>

#define T float
#define FN(name) name##_f32
#include "autograd/cpu/pool_loops.inc"
#undef T
#undef FN
#define T double
#define FN(name) name##_f64
#include "autograd/cpu/pool_loops.inc"
#undef T
#undef FN

static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *t)
{
    if (cf_is_contiguous(t)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (c) cf_cpu_copy_strided(c, t, false);
    return c;
}

/* The forward kernels copy a strided input once and hand the copy back to the arena when done; the
 * argmax indices, kept for backward, are taken before that point. */
static cf_status max_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_pool_geom g = cf_pool_geometry(n);
    cf_tensor *y = n->out, *idx = cf_empty(ctx, CF_I64, y->ndim, y->shape);
    if (!idx) return cf_last_status();
    n->aux[0] = idx;
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    cf_tensor *x = contiguous(ctx, n->in[0]);
    if (!x) return cf_last_status();
    if (y->dtype == CF_F32) max_fwd_f32(&g, cf_data(x), cf_data(y), cf_data(idx));
    else max_fwd_f64(&g, cf_data(x), cf_data(y), cf_data(idx));
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return CF_OK;
}

static cf_status max_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_pool_geom g = cf_pool_geometry(n);
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite), *dy = n->out->grad;
    if (!gx) return cf_last_status();
    if (dy->dtype == CF_F32) max_bwd_f32(&g, cf_data(dy), cf_data(n->aux[0]), cf_data(gx), overwrite);
    else max_bwd_f64(&g, cf_data(dy), cf_data(n->aux[0]), cf_data(gx), overwrite);
    return CF_OK;
}

static cf_status avg_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_pool_geom g = cf_pool_geometry(n);
    cf_arena_mark mark = cf_arena_get_mark(cf_ctx_arena(ctx));
    cf_tensor *x = contiguous(ctx, n->in[0]), *y = n->out;
    if (!x) return cf_last_status();
    if (y->dtype == CF_F32) avg_fwd_f32(&g, cf_data(x), cf_data(y));
    else avg_fwd_f64(&g, cf_data(x), cf_data(y));
    cf_arena_rewind(cf_ctx_arena(ctx), mark);
    return CF_OK;
}

static cf_status avg_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_pool_geom g = cf_pool_geometry(n);
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite), *dy = n->out->grad;
    if (!gx) return cf_last_status();
    if (dy->dtype == CF_F32) avg_bwd_f32(&g, cf_data(dy), cf_data(gx), overwrite);
    else avg_bwd_f64(&g, cf_data(dy), cf_data(gx), overwrite);
    return CF_OK;
}

#define POOL_KERNELS(NAME, KIND) \
    cf_status cf_cpu_##NAME##_fwd(cf_ctx *ctx, cf_node *n) { return KIND##_fwd(ctx, n); } \
    cf_status cf_cpu_##NAME##_bwd(cf_ctx *ctx, cf_node *n) { return KIND##_bwd(ctx, n); }
POOL_KERNELS(max_pool1d, max)
POOL_KERNELS(max_pool2d, max)
POOL_KERNELS(adaptive_max_pool2d, max)
POOL_KERNELS(avg_pool1d, avg)
POOL_KERNELS(avg_pool2d, avg)
POOL_KERNELS(adaptive_avg_pool2d, avg)
