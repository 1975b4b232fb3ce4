/* Frontends of dropout and drop-path: argument checks, the identity cases, the mask's key. */
#include "autograd/ops/random.h"

#include "autograd/cf_node.h"
#include "autograd/ops/random_attr.h"

#include <math.h>

static cf_tensor *random_op(cf_ctx *ctx, cf_op op, cf_tensor *x, double p, uint64_t stream)
{
    const char *name = cf_op_name(op);
    CF_GUARD(x);
    CF_TRY_NULL(cf_check_float(name, x));
    if (!(p >= 0.0 && p <= 1.0)) {
        cf_set_error(CF_ERR_ARG, "%s: p must be in [0, 1], got %g", name, p);
        return NULL;
    }
    if (op == CF_OP_drop_path && x->ndim < 1) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "drop_path: x needs a batch dim (dim 0), got %s", cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    if (!cf_is_training(ctx) || p == 0.0) return x;
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, op, 1, &x, out);
    if (!n) return NULL;
    struct random_attr *a = CF_ATTR(n, struct random_attr);
    a->key = cf_rng_key(cf_ctx_seed(ctx), stream);
    a->step = cf_ctx_step(ctx);
    a->drop_all = p >= 1.0;
    /* p < 1 here, so p * 2^32 < 2^32 and the floor fits in 32 bits */
    a->threshold = a->drop_all ? 0 : (uint32_t)floor(p * 4294967296.0);
    a->scale = a->drop_all ? 0.0 : 1.0 / (1.0 - p);
    n->saves = 0; /* backward regenerates the mask and reads only the output's gradient */
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_dropout(cf_ctx *ctx, cf_tensor *x, double p, uint64_t stream)
{
    return random_op(ctx, CF_OP_dropout, x, p, stream);
}

cf_tensor *cf_drop_path(cf_ctx *ctx, cf_tensor *x, double p, uint64_t stream)
{
    return random_op(ctx, CF_OP_drop_path, x, p, stream);
}
