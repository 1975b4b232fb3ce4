/* Backward passes written once from other ops, for the ops flagged CF_COMPOSITE_BWD in the op list
 * (autograd/ops.def). They run on whatever backend the node's tensors live on, through that backend's
 * forward kernels, whenever its table has no backward kernel for the op (the CPU has fused ones). Grad
 * mode is off during backward, so the ops below record nothing. Each reads the op's saved output y and
 * the incoming gradient g and adds dx into the input's gradient. */
#include "autograd/cf_node.h"
#include "autograd/ops/elementwise.h"

/* x.grad = dx, or += dx when x already has a gradient. dx has x's shape. */
static cf_status accumulate(cf_ctx *ctx, cf_tensor *x, cf_tensor *dx)
{
    if (!dx) return cf_last_status();
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    return cf_tensor_backend(gx)->copy(gx, dx, !overwrite);
}

#define UNARY_COMPOSITE(name, DX) \
    static cf_status cf_composite_##name##_bwd(cf_ctx *ctx, cf_node *n) \
    { \
        if (!cf_needs_grad(n, 0)) return CF_OK; \
        cf_tensor *g = n->out->grad, *y = n->out; \
        (void)y; \
        return accumulate(ctx, n->in[0], DX); \
    }

UNARY_COMPOSITE(neg, cf_neg(ctx, g))                                                        /* -g */
UNARY_COMPOSITE(sqrt, cf_div(ctx, cf_mul_scalar(ctx, g, 0.5), y))                           /* g / (2 y) */
UNARY_COMPOSITE(exp, cf_mul(ctx, g, y))                                                     /* g y */
UNARY_COMPOSITE(sigmoid, cf_mul(ctx, cf_mul(ctx, g, y), cf_scale_shift(ctx, y, -1.0, 1.0))) /* g y (1 - y) */
UNARY_COMPOSITE(tanh, cf_mul(ctx, g, cf_scale_shift(ctx, cf_mul(ctx, y, y), -1.0, 1.0)))    /* g (1 - y^2) */

const cf_kernel_fn cf_composite_bwd[CF_OP_COUNT] = {
#define CF_OP(name)
#define CF_COMPOSITE_BWD(name) [CF_OP_##name] = cf_composite_##name##_bwd,
#include "autograd/ops.def"
#undef CF_COMPOSITE_BWD
#undef CF_OP
};
