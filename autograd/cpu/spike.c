/* CPU kernels of heaviside and sign: a step forward and a surrogate backward (ops/spike.h has the
 * formulas). Operands are walked with cf_iter, so strided inputs need no copy. */
#include "autograd/ops/spike.h"
#include "autograd/ops/spike_attr.h"
#include "autograd/ops/spike_elem.h"
#include "autograd/cpu/cpu.h"

#include <tgmath.h>

CF_SPIKE_SURROGATE(surrogate_float, float, )
CF_SPIKE_SURROGATE(surrogate_double, double, )

#define SPIKE_KERNELS(T) \
    static void step_fwd_##T(const cf_iter *it, T *y, const T *x, T lo) \
    { \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t ys = it->stride[0][it->ndim - 1], xs = it->stride[1][it->ndim - 1]; \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T v = x[off[1] + j * xs]; \
                y[off[0] + j * ys] = v >= 0 ? (T)1 : (v < 0 ? lo : v); /* NaN passes through */ \
            } \
        } \
    } \
    /* operands: gx (contiguous), x, g; scale: 2 for sign's smooth surrogates */ \
    static void step_bwd_##T(const cf_iter *it, T *gx, const T *x, const T *g, int kind, T a, T scale, bool acc) \
    { \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t s0 = it->stride[0][it->ndim - 1], s1 = it->stride[1][it->ndim - 1]; \
        int64_t s2 = it->stride[2][it->ndim - 1]; \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T v = g[off[2] + j * s2] * scale * surrogate_##T(kind, a, x[off[1] + j * s1]); \
                T *d = gx + off[0] + j * s0; \
                *d = acc ? *d + v : v; \
            } \
        } \
    }

SPIKE_KERNELS(float)
SPIKE_KERNELS(double)

static cf_status step_fwd(cf_node *n)
{
    cf_tensor *x = n->in[0], *y = n->out;
    double lo = n->op == CF_OP_sign ? -1.0 : 0.0;
    cf_iter it;
    cf_iter_init(&it, y->ndim, y->shape, 2, (const cf_tensor *[]){y, x});
    if (x->dtype == CF_F32)
        step_fwd_float(&it, cf_data(y), cf_data(x), (float)lo);
    else
        step_fwd_double(&it, cf_data(y), cf_data(x), lo);
    return CF_OK;
}

static cf_status step_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct spike_attr *a = CF_ATTR(n, struct spike_attr);
    cf_tensor *x = n->in[0], *g = n->out->grad;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    bool ste = a->kind == CF_SURROGATE_STE || a->kind == CF_SURROGATE_STE_CLIP;
    double scale = (n->op == CF_OP_sign && !ste) ? 2.0 : 1.0;
    cf_iter it;
    cf_iter_init(&it, x->ndim, x->shape, 3, (const cf_tensor *[]){gx, x, g});
    if (x->dtype == CF_F32)
        step_bwd_float(&it, cf_data(gx), cf_data(x), cf_data(g), a->kind, (float)a->alpha, (float)scale, !overwrite);
    else
        step_bwd_double(&it, cf_data(gx), cf_data(x), cf_data(g), a->kind, a->alpha, scale, !overwrite);
    return CF_OK;
}

cf_status cf_cpu_heaviside_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    return step_fwd(n);
}
cf_status cf_cpu_heaviside_bwd(cf_ctx *ctx, cf_node *n) { return step_bwd(ctx, n); }
cf_status cf_cpu_sign_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    return step_fwd(n);
}
cf_status cf_cpu_sign_bwd(cf_ctx *ctx, cf_node *n) { return step_bwd(ctx, n); }
