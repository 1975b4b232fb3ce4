/* LIF neurons over time (layers/lif.h), composed from heaviside and elementwise ops. */
#include "layers/lif.h"

#include "layers/lmu_steps.h"

cf_lif_config cf_lif_default(void) { return cf_lif_threshold(1.0); }

cf_lif_config cf_lif_threshold(double v_threshold)
{
    return (cf_lif_config){.tau = 2.0, .v_threshold = v_threshold, .v_reset = 0.0, .reset = CF_LIF_RESET_HARD,
                           .detach_reset = true, .decay_input = true, .surrogate = CF_SURROGATE_SIGMOID,
                           .alpha = 4.0};
}

void cf_lif_state_free(cf_lif_state *st)
{
    if (!st) return;
    cf_tensor_free(st->v);
    st->v = NULL;
}

static bool same_leading(const cf_tensor *a, const cf_tensor *b)
{
    if (a->ndim != b->ndim || a->dtype != b->dtype) return false;
    for (int i = 0; i + 1 < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return b->shape[b->ndim - 1] == 1;
}

/* one time step: H from V and X, spike, reset; *v becomes V_t */
static cf_tensor *lif_step(cf_ctx *ctx, const cf_lif_config *c, cf_tensor *xt, cf_tensor **v)
{
    cf_tensor *h;
    if (!*v) /* V = v_reset: the leak term vanishes */
        h = c->decay_input ? cf_add_scalar(ctx, cf_mul_scalar(ctx, xt, 1.0 / c->tau), c->v_reset)
                           : cf_add_scalar(ctx, xt, c->v_reset);
    else if (c->decay_input) /* V + (X - V + v_reset) / tau */
        h = cf_add(ctx, *v, cf_mul_scalar(ctx, cf_add_scalar(ctx, cf_sub(ctx, xt, *v), c->v_reset), 1.0 / c->tau));
    else
        h = cf_add(ctx, cf_sub(ctx, *v, cf_mul_scalar(ctx, cf_add_scalar(ctx, *v, -c->v_reset), 1.0 / c->tau)), xt);
    cf_tensor *s = cf_heaviside(ctx, cf_add_scalar(ctx, h, -c->v_threshold), c->surrogate, c->alpha);
    if (!s) return NULL;
    cf_tensor *sr = c->detach_reset ? cf_detach(ctx, s) : s;
    if (c->reset == CF_LIF_RESET_HARD) /* H - S (H - v_reset) */
        *v = cf_sub(ctx, h, cf_mul(ctx, sr, cf_add_scalar(ctx, h, -c->v_reset)));
    else
        *v = cf_sub(ctx, h, cf_mul_scalar(ctx, sr, c->v_threshold));
    return *v ? s : NULL;
}

cf_tensor *cf_lif_fwd(cf_ctx *ctx, const cf_lif_config *c, cf_tensor *x, cf_lif_state *st)
{
    if (!x) return NULL;
    if (!(c->tau >= 1.0) || x->ndim < 1 || x->shape[x->ndim - 1] < 1) {
        cf_set_error(CF_ERR_ARG, "lif: tau %g must be >= 1 and x needs a non-empty time dim", c->tau);
        return NULL;
    }
    int td = x->ndim - 1;
    int64_t n = x->shape[td];
    cf_tensor *v = NULL;
    if (st && st->v) {
        if (!same_leading(x, st->v)) {
            cf_set_error(CF_ERR_SHAPE, "lif: the carried state does not match the input's neurons");
            return NULL;
        }
        v = cf_empty(ctx, x->dtype, x->ndim, st->v->shape);
        if (!v || cf_copy_(v, st->v) != CF_OK) return NULL;
    }
    cf_tensor **spikes = cf_scratch(ctx, (size_t)n * sizeof *spikes);
    if (!spikes) return NULL;
    for (int64_t t = 0; t < n; t++) {
        spikes[t] = lif_step(ctx, c, n == 1 ? x : cf_narrow(ctx, x, td, t, 1), &v);
        if (!spikes[t]) return NULL;
    }
    if (st) {
        if (!st->v) st->v = cf_tensor_alloc(x->dtype, x->ndim, v->shape);
        if (!st->v || cf_copy_(st->v, v) != CF_OK) return NULL;
    }
    return cf_concat_steps(ctx, n, spikes, td);
}
