/* CPU kernels of dropout and drop-path. The mask is a pure function of (key, step, index), so forward
 * and backward each regenerate it block by block in parallel: no mask is stored and the result does
 * not depend on how the loop is split between threads. */
#include "autograd/ops/random_attr.h"
#include "autograd/cpu/cpu.h"

/* x itself when contiguous, else a contiguous arena copy (the mask is indexed in row-major order). */
static cf_tensor *contiguous_input(cf_ctx *ctx, cf_tensor *x)
{
    if (cf_is_contiguous(x)) return x;
    cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (c) cf_cpu_copy_strided(c, x, false);
    return c;
}

#define RANDOM_KERNELS(T) \
    /* dst[i] (+)= keep(i) ? src[i] * scale : 0 */ \
    static void dropout_apply_##T(const struct random_attr *a, T *dst, const T *src, int64_t n, bool acc) \
    { \
        const T s = (T)a->scale; \
        const uint32_t thr = a->threshold; \
        const bool all = a->drop_all; \
        _Pragma("omp parallel for if (n > CF_PAR_MIN)") for (int64_t b = 0; b < (n + 3) / 4; b++) \
        { \
            uint32_t w[4] = {0, 0, 0, 0}; \
            if (!all) cf_random_block(a, (uint64_t)b, w); \
            int64_t i0 = 4 * b, m = n - i0 < 4 ? n - i0 : 4; \
            for (int64_t j = 0; j < m; j++) { \
                T v = (!all && w[j] >= thr) ? src[i0 + j] * s : (T)0; \
                dst[i0 + j] = acc ? dst[i0 + j] + v : v; \
            } \
        } \
    } \
    /* the same with one decision per sample: factor[b] is the scale or 0 */ \
    static void drop_path_apply_##T(const T *factor, T *dst, const T *src, int64_t nsamples, int64_t inner, \
                                    bool acc) \
    { \
        _Pragma("omp parallel for collapse(2) if (nsamples * inner > CF_PAR_MIN)") \
        for (int64_t b = 0; b < nsamples; b++) \
            for (int64_t j = 0; j < inner; j++) { \
                int64_t i = b * inner + j; \
                T v = factor[b] != (T)0 ? src[i] * factor[b] : (T)0; \
                dst[i] = acc ? dst[i] + v : v; \
            } \
    } \
    static void drop_path_factors_##T(const struct random_attr *a, T *factor, int64_t nsamples) \
    { \
        for (int64_t b = 0; b < nsamples; b += 4) { \
            uint32_t w[4] = {0, 0, 0, 0}; \
            if (!a->drop_all) cf_random_block(a, (uint64_t)(b / 4), w); \
            for (int64_t j = 0; j < 4 && b + j < nsamples; j++) \
                factor[b + j] = (!a->drop_all && w[j] >= a->threshold) ? (T)a->scale : (T)0; \
        } \
    }

RANDOM_KERNELS(float)
RANDOM_KERNELS(double)

/* src -> dst through the op's mask; dst is contiguous with src's shape */
static cf_status apply(cf_ctx *ctx, const cf_node *n, const cf_tensor *src, cf_tensor *dst, bool acc)
{
    const struct random_attr *a = CF_ATTR(n, struct random_attr);
    int64_t numel = cf_numel(dst);
    if (numel == 0) return CF_OK;
    bool f32 = dst->dtype == CF_F32;
    if (n->op == CF_OP_dropout) {
        if (f32)
            dropout_apply_float(a, cf_data(dst), cf_data(src), numel, acc);
        else
            dropout_apply_double(a, cf_data(dst), cf_data(src), numel, acc);
        return CF_OK;
    }
    int64_t nsamples = dst->shape[0], inner = numel / nsamples;
    void *factor = cf_scratch(ctx, (size_t)nsamples * cf_dtype_size(dst->dtype));
    if (!factor) return cf_last_status();
    if (f32) {
        drop_path_factors_float(a, factor, nsamples);
        drop_path_apply_float(factor, cf_data(dst), cf_data(src), nsamples, inner, acc);
    } else {
        drop_path_factors_double(a, factor, nsamples);
        drop_path_apply_double(factor, cf_data(dst), cf_data(src), nsamples, inner, acc);
    }
    return CF_OK;
}

static cf_status random_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = contiguous_input(ctx, n->in[0]);
    if (!x) return cf_last_status();
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

cf_status cf_cpu_dropout_fwd(cf_ctx *ctx, cf_node *n) { return random_fwd(ctx, n); }
cf_status cf_cpu_dropout_bwd(cf_ctx *ctx, cf_node *n) { return random_bwd(ctx, n); }
cf_status cf_cpu_drop_path_fwd(cf_ctx *ctx, cf_node *n) { return random_fwd(ctx, n); }
cf_status cf_cpu_drop_path_bwd(cf_ctx *ctx, cf_node *n) { return random_bwd(ctx, n); }
