/* Frontends of heaviside and sign: surrogate kind and sharpness checks. */
#include "autograd/ops/spike.h"

#include "autograd/cf_node.h"
#include "autograd/ops/spike_attr.h"

#include <math.h>
#include <string.h>

static const char *const surrogate_names[CF_SURROGATE_COUNT] = {"ste", "ste_clip", "sigmoid", "atan", "triangle"};

const char *cf_surrogate_name(cf_surrogate kind)
{
    return (unsigned)kind < CF_SURROGATE_COUNT ? surrogate_names[kind] : "?";
}

bool cf_surrogate_parse(const char *s, cf_surrogate *out)
{
    for (int i = 0; s && i < CF_SURROGATE_COUNT; i++)
        if (strcmp(s, surrogate_names[i]) == 0) {
            *out = (cf_surrogate)i;
            return true;
        }
    return false;
}

static cf_tensor *step_op(cf_ctx *ctx, cf_op op, cf_tensor *x, cf_surrogate kind, double alpha)
{
    const char *name = cf_op_name(op);
    CF_GUARD(x);
    CF_TRY_NULL(cf_check_float(name, x));
    if ((unsigned)kind >= CF_SURROGATE_COUNT) {
        cf_set_error(CF_ERR_ARG, "%s: unknown surrogate kind %d", name, (int)kind);
        return NULL;
    }
    if (kind != CF_SURROGATE_STE && kind != CF_SURROGATE_STE_CLIP && !(alpha > 0 && isfinite(alpha))) {
        cf_set_error(CF_ERR_ARG, "%s: surrogate %s needs a finite alpha > 0, got %g", name, cf_surrogate_name(kind),
                     alpha);
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, op, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct spike_attr) = (struct spike_attr){(int)kind, alpha};
    n->saves = 1u; /* the surrogate is a function of x */
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_heaviside(cf_ctx *ctx, cf_tensor *x, cf_surrogate kind, double alpha)
{
    return step_op(ctx, CF_OP_heaviside, x, kind, alpha);
}

cf_tensor *cf_sign(cf_ctx *ctx, cf_tensor *x, cf_surrogate kind, double alpha)
{
    return step_op(ctx, CF_OP_sign, x, kind, alpha);
}
