/* CPU kernels of the elementwise ops. Each op is one line of FWD/BWD expressions below; the macros
 * turn it into f32 and f64 kernels that walk broadcast operands with cf_iter and run contiguous data
 * through one flat, vectorisable OpenMP loop. */
#include "autograd/ops/elementwise_attr.h"
#include "autograd/cpu/cpu.h"
#include "autograd/cpu/fastmath.h"
#include "autograd/cpu/gelu.h"

#include <string.h>
#include <tgmath.h>

#define SQRT_2_OVER_PI 0.79788456080286535588

static inline double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }
static inline float sigmf(float v) { return 1.0f / (1.0f + cf_fast_expf(-v)); }
#define SIGMOID(v) _Generic((v), float: sigmf, default: sigm)(v)

/* ---- unary: y = FWD(x, a, b); gx = BWD(x, y, g, a, b) ---- */
#define UNARY_OPS(X) \
    X(neg, -x, -g) \
    X(scale_shift, x * a + b, g * a) \
    X(pow_scalar, pow(x, a), g * a * pow(x, a - 1)) \
    X(sqrt, sqrt(x), g * (T)0.5 / y) \
    X(rsqrt, (T)1 / sqrt(x), g * (T)-0.5 * y * y * y) \
    X(exp, exp(x), g * y) \
    X(log, log(x), g / x) \
    X(abs, fabs(x), x > 0 ? g : (x < 0 ? -g : (T)0)) \
    X(clamp, x < a ? a : (x > b ? b : x), (x >= a && x <= b) ? g : (T)0) \
    X(relu, x > 0 ? x : (T)0, x > 0 ? g : (T)0) \
    X(gelu, CF_GELU(x), g * CF_GELU_GRAD(x)) \
    X(gelu_tanh, (T)0.5 * x * ((T)1 + tanh((T)SQRT_2_OVER_PI * (x + (T)0.044715 * x * x * x))), \
      g * gelu_tanh_grad(x)) \
    X(silu, x * SIGMOID(x), g * (SIGMOID(x) * ((T)1 + x * ((T)1 - SIGMOID(x))))) \
    X(sigmoid, SIGMOID(x), g * y * ((T)1 - y)) \
    X(tanh, tanh(x), g * ((T)1 - y * y)) \
    X(hardswish, x <= -3 ? (T)0 : (x >= 3 ? x : x * (x + 3) / (T)6), \
      x < -3 ? (T)0 : (x > 3 ? g : g * ((T)2 * x + (T)3) / (T)6)) \
    X(softplus, x * a > b ? x : log1p(exp(x * a)) / a, x * a > b ? g : g * SIGMOID(x * a))

static inline double gelu_tanh_grad_d(double x)
{
    double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x), t = tanh(u);
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}
static inline float gelu_tanh_grad_f(float x)
{
    float u = (float)SQRT_2_OVER_PI * (x + 0.044715f * x * x * x), t = tanhf(u);
    return 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * (float)SQRT_2_OVER_PI * (1 + 3 * 0.044715f * x * x);
}
#define gelu_tanh_grad(v) _Generic((v), float: gelu_tanh_grad_f, default: gelu_tanh_grad_d)(v)

#define UNARY_KERNELS(NAME, TY, FWD, BWD) \
    static void NAME##_fwd_##TY(const cf_iter *it, TY *yp, const TY *xp, TY a, TY b) \
    { \
        typedef TY T; \
        (void)a, (void)b; \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t ys = it->stride[0][it->ndim - 1], xs = it->stride[1][it->ndim - 1]; \
        if (rows == 1 && ys == 1 && xs == 1) { \
            _Pragma("omp parallel for simd if (inner > CF_PAR_MIN)") for (int64_t j = 0; j < inner; j++) \
            { \
                T x = xp[j]; \
                (void)x; \
                yp[j] = (FWD); \
            } \
            return; \
        } \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T x = xp[off[1] + j * xs]; \
                (void)x; \
                yp[off[0] + j * ys] = (FWD); \
            } \
        } \
    } \
    /* operands: gx (contiguous), x, y, g */ \
    static void NAME##_bwd_##TY(const cf_iter *it, TY *gxp, const TY *xp, const TY *yp, const TY *gp, TY a, \
                                TY b, bool acc) \
    { \
        typedef TY T; \
        (void)a, (void)b, (void)xp, (void)yp; \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t s0 = it->stride[0][it->ndim - 1], s1 = it->stride[1][it->ndim - 1]; \
        int64_t s2 = it->stride[2][it->ndim - 1], s3 = it->stride[3][it->ndim - 1]; \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T x = xp[off[1] + j * s1], y = yp[off[2] + j * s2], g = gp[off[3] + j * s3]; \
                (void)x, (void)y; \
                T v = (BWD); \
                T *d = gxp + off[0] + j * s0; \
                *d = acc ? *d + v : v; \
            } \
        } \
    }

#define UNARY_INSTANCE(NAME, FWD, BWD) \
    UNARY_KERNELS(NAME, float, FWD, BWD) \
    UNARY_KERNELS(NAME, double, FWD, BWD) \
    cf_status cf_cpu_##NAME##_fwd(cf_ctx *ctx, cf_node *n) \
    { \
        (void)ctx; \
        return unary_fwd(n, NAME##_fwd_float, NAME##_fwd_double); \
    } \
    cf_status cf_cpu_##NAME##_bwd(cf_ctx *ctx, cf_node *n) \
    { \
        return unary_bwd(ctx, n, NAME##_bwd_float, NAME##_bwd_double); \
    }

typedef void (*ufwd_f)(const cf_iter *, float *, const float *, float, float);
typedef void (*ufwd_d)(const cf_iter *, double *, const double *, double, double);
typedef void (*ubwd_f)(const cf_iter *, float *, const float *, const float *, const float *, float, float, bool);
typedef void (*ubwd_d)(const cf_iter *, double *, const double *, const double *, const double *, double, double,
                       bool);

static cf_status unary_fwd(cf_node *n, ufwd_f ff, ufwd_d fd)
{
    const struct ew_attr *at = CF_ATTR(n, struct ew_attr);
    cf_tensor *x = n->in[0], *y = n->out;
    cf_iter it;
    const cf_tensor *ops[2] = {y, x};
    cf_iter_init(&it, y->ndim, y->shape, 2, ops);
    if (x->dtype == CF_F32)
        ff(&it, cf_data(y), cf_data(x), (float)at->a, (float)at->b);
    else
        fd(&it, cf_data(y), cf_data(x), at->a, at->b);
    return CF_OK;
}

static cf_status unary_bwd(cf_ctx *ctx, cf_node *n, ubwd_f ff, ubwd_d fd)
{
    const struct ew_attr *at = CF_ATTR(n, struct ew_attr);
    cf_tensor *x = n->in[0], *y = n->out, *g = y->grad;
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    cf_iter it;
    const cf_tensor *ops[4] = {gx, x, y, g};
    cf_iter_init(&it, y->ndim, y->shape, 4, ops);
    if (x->dtype == CF_F32)
        ff(&it, cf_data(gx), cf_data(x), cf_data(y), cf_data(g), (float)at->a, (float)at->b, !overwrite);
    else
        fd(&it, cf_data(gx), cf_data(x), cf_data(y), cf_data(g), at->a, at->b, !overwrite);
    return CF_OK;
}

UNARY_OPS(UNARY_INSTANCE)

/* ---- binary with broadcasting: y = FWD(p, q); gp = GA(p, q, y, g); gq = GB(p, q, y, g) ---- */
#define BINARY_OPS(X) \
    X(add, p + q, g, g) \
    X(sub, p - q, g, -g) \
    X(mul, p * q, g * q, g * p) \
    X(div, p / q, g / q, -g * p / (q * q)) \
    X(pow, pow(p, q), g * q * pow(p, q - 1), p > 0 ? g * y * log(p) : (T)0)

#define BINARY_KERNELS(NAME, TY, FWD, GA, GB) \
    static void NAME##_fwd_##TY(const cf_iter *it, TY *yp, const TY *pp, const TY *qp) \
    { \
        typedef TY T; \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t s0 = it->stride[0][it->ndim - 1], s1 = it->stride[1][it->ndim - 1]; \
        int64_t s2 = it->stride[2][it->ndim - 1]; \
        if (rows == 1 && s0 == 1 && s1 == 1 && s2 == 1) { \
            _Pragma("omp parallel for simd if (inner > CF_PAR_MIN)") for (int64_t j = 0; j < inner; j++) \
            { \
                T p = pp[j], q = qp[j]; \
                yp[j] = (FWD); \
            } \
            return; \
        } \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T p = pp[off[1] + j * s1], q = qp[off[2] + j * s2]; \
                yp[off[0] + j * s0] = (FWD); \
            } \
        } \
    } \
    /* operands: d (out-shaped, contiguous), p, q, y, g; which: 0 for GA, 1 for GB */ \
    static void NAME##_bwd_##TY(const cf_iter *it, TY *dp, const TY *pp, const TY *qp, const TY *yp, \
                                const TY *gp, int which, bool acc) \
    { \
        typedef TY T; \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t s[5]; \
        for (int k = 0; k < 5; k++) s[k] = it->stride[k][it->ndim - 1]; \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T p = pp[off[1] + j * s[1]], q = qp[off[2] + j * s[2]]; \
                T y = yp[off[3] + j * s[3]], g = gp[off[4] + j * s[4]]; \
                (void)p, (void)q, (void)y; \
                T v = which == 0 ? (GA) : (GB); \
                T *d = dp + off[0] + j * s[0]; \
                *d = acc ? *d + v : v; \
            } \
        } \
    }

typedef void (*bfwd_f)(const cf_iter *, float *, const float *, const float *);
typedef void (*bfwd_d)(const cf_iter *, double *, const double *, const double *);
typedef void (*bbwd_f)(const cf_iter *, float *, const float *, const float *, const float *, const float *, int,
                       bool);
typedef void (*bbwd_d)(const cf_iter *, double *, const double *, const double *, const double *, const double *,
                       int, bool);

static cf_status binary_fwd(cf_node *n, bfwd_f ff, bfwd_d fd)
{
    cf_tensor *y = n->out;
    cf_iter it;
    const cf_tensor *ops[3] = {y, n->in[0], n->in[1]};
    cf_iter_init(&it, y->ndim, y->shape, 3, ops);
    if (y->dtype == CF_F32)
        ff(&it, cf_data(y), cf_data(n->in[0]), cf_data(n->in[1]));
    else
        fd(&it, cf_data(y), cf_data(n->in[0]), cf_data(n->in[1]));
    return CF_OK;
}

static cf_status binary_bwd(cf_ctx *ctx, cf_node *n, bbwd_f ff, bbwd_d fd)
{
    cf_tensor *y = n->out, *g = y->grad;
    for (int which = 0; which < 2; which++) {
        cf_tensor *x = n->in[which];
        if (!cf_needs_grad(n, which)) continue;
        bool same = cf_same_shape(x, y), overwrite = true;
        /* same shape: write straight into the grad; broadcast: an out-shaped temporary, then reduce */
        cf_tensor *d = same ? cf_grad_slot(ctx, x, &overwrite) : cf_empty(ctx, y->dtype, y->ndim, y->shape);
        if (!d) return cf_last_status();
        cf_iter it;
        const cf_tensor *ops[5] = {d, n->in[0], n->in[1], y, g};
        cf_iter_init(&it, y->ndim, y->shape, 5, ops);
        if (y->dtype == CF_F32)
            ff(&it, cf_data(d), cf_data(n->in[0]), cf_data(n->in[1]), cf_data(y), cf_data(g), which, !overwrite);
        else
            fd(&it, cf_data(d), cf_data(n->in[0]), cf_data(n->in[1]), cf_data(y), cf_data(g), which, !overwrite);
        if (!same) CF_TRY(cf_cpu_accum_grad(ctx, x, d));
    }
    return CF_OK;
}

#define BINARY_INSTANCE(NAME, FWD, GA, GB) \
    BINARY_KERNELS(NAME, float, FWD, GA, GB) \
    BINARY_KERNELS(NAME, double, FWD, GA, GB) \
    cf_status cf_cpu_##NAME##_fwd(cf_ctx *ctx, cf_node *n) \
    { \
        (void)ctx; \
        return binary_fwd(n, NAME##_fwd_float, NAME##_fwd_double); \
    } \
    cf_status cf_cpu_##NAME##_bwd(cf_ctx *ctx, cf_node *n) \
    { \
        return binary_bwd(ctx, n, NAME##_bwd_float, NAME##_bwd_double); \
    }

BINARY_OPS(BINARY_INSTANCE)

/* add_into: add's kernels with the output over in[0]: each element is read before it is written at the same
 * index, and the backward reads only the output's gradient. */
cf_status cf_cpu_add_into_fwd(cf_ctx *ctx, cf_node *n) { return cf_cpu_add_fwd(ctx, n); }
cf_status cf_cpu_add_into_bwd(cf_ctx *ctx, cf_node *n) { return cf_cpu_add_bwd(ctx, n); }

/* ---- where / masked_fill ---- */

#define WHERE_KERNELS(T) \
    static void where_fwd_##T(const cf_iter *it, T *yp, const uint8_t *cp, const T *ap, const T *bp) \
    { \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t s[4]; \
        for (int k = 0; k < 4; k++) s[k] = it->stride[k][it->ndim - 1]; \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) \
                yp[off[0] + j * s[0]] = cp[off[1] + j * s[1]] ? ap[off[2] + j * s[2]] : bp[off[3] + j * s[3]]; \
        } \
    } \
    /* operands: d (out-shaped), cond, g; keep elements where cond == want */ \
    static void where_bwd_##T(const cf_iter *it, T *dp, const uint8_t *cp, const T *gp, int want, bool acc) \
    { \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t s[3]; \
        for (int k = 0; k < 3; k++) s[k] = it->stride[k][it->ndim - 1]; \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            for (int64_t j = 0; j < inner; j++) { \
                T v = ((cp[off[1] + j * s[1]] != 0) == want) ? gp[off[2] + j * s[2]] : (T)0; \
                T *d = dp + off[0] + j * s[0]; \
                *d = acc ? *d + v : v; \
            } \
        } \
    }
WHERE_KERNELS(float)
WHERE_KERNELS(double)

cf_status cf_cpu_where_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_tensor *y = n->out;
    cf_iter it;
    const cf_tensor *ops[4] = {y, n->in[0], n->in[1], n->in[2]};
    cf_iter_init(&it, y->ndim, y->shape, 4, ops);
    if (y->dtype == CF_F32)
        where_fwd_float(&it, cf_data(y), cf_data(n->in[0]), cf_data(n->in[1]), cf_data(n->in[2]));
    else
        where_fwd_double(&it, cf_data(y), cf_data(n->in[0]), cf_data(n->in[1]), cf_data(n->in[2]));
    return CF_OK;
}

/* Gradient of a select: g where cond == want, reduced to x's shape. */
static cf_status select_grad(cf_ctx *ctx, cf_tensor *x, cf_tensor *cond, cf_tensor *y, int want)
{
    bool same = cf_same_shape(x, y), overwrite = true;
    cf_tensor *d = same ? cf_grad_slot(ctx, x, &overwrite) : cf_empty(ctx, y->dtype, y->ndim, y->shape);
    if (!d) return cf_last_status();
    cf_iter it;
    const cf_tensor *ops[3] = {d, cond, y->grad};
    cf_iter_init(&it, y->ndim, y->shape, 3, ops);
    if (y->dtype == CF_F32)
        where_bwd_float(&it, cf_data(d), cf_data(cond), cf_data(y->grad), want, !overwrite);
    else
        where_bwd_double(&it, cf_data(d), cf_data(cond), cf_data(y->grad), want, !overwrite);
    return same ? CF_OK : cf_cpu_accum_grad(ctx, x, d);
}

cf_status cf_cpu_where_bwd(cf_ctx *ctx, cf_node *n)
{
    if (cf_needs_grad(n, 1)) CF_TRY(select_grad(ctx, n->in[1], n->in[0], n->out, 1));
    if (cf_needs_grad(n, 2)) CF_TRY(select_grad(ctx, n->in[2], n->in[0], n->out, 0));
    return CF_OK;
}

cf_status cf_cpu_masked_fill_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_tensor *y = n->out, *x = n->in[0], *mask = n->in[1];
    double v = CF_ATTR(n, struct ew_attr)->a;
    cf_iter it;
    const cf_tensor *ops[3] = {y, mask, x};
    cf_iter_init(&it, y->ndim, y->shape, 3, ops);
    int64_t inner = cf_iter_inner(&it), rows = cf_iter_rows(&it);
    int64_t s0 = it.stride[0][it.ndim - 1], s1 = it.stride[1][it.ndim - 1], s2 = it.stride[2][it.ndim - 1];
    const uint8_t *m = cf_data(mask);
    if (y->dtype == CF_F32) {
        float *yp = cf_data(y), fv = (float)v;
        const float *xp = cf_data(x);
        #pragma omp parallel for if (it.numel > CF_PAR_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t off[CF_ITER_MAX];
            cf_iter_row(&it, r, off);
            for (int64_t j = 0; j < inner; j++)
                yp[off[0] + j * s0] = m[off[1] + j * s1] ? fv : xp[off[2] + j * s2];
        }
    } else {
        double *yp = cf_data(y);
        const double *xp = cf_data(x);
        #pragma omp parallel for if (it.numel > CF_PAR_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t off[CF_ITER_MAX];
            cf_iter_row(&it, r, off);
            for (int64_t j = 0; j < inner; j++)
                yp[off[0] + j * s0] = m[off[1] + j * s1] ? v : xp[off[2] + j * s2];
        }
    }
    return CF_OK;
}

cf_status cf_cpu_masked_fill_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    return select_grad(ctx, n->in[0], n->in[1], n->out, 0);
}

/* ---- cast ---- */

static void convert(cf_tensor *dst, const cf_tensor *src, bool acc)
{
    int64_t n = cf_numel(dst);
    if (!acc && cf_is_contiguous(dst) && cf_is_contiguous(src)) {
        if (dst->dtype == src->dtype) {
            memcpy(cf_data(dst), cf_data(src), (size_t)n * cf_dtype_size(dst->dtype));
            return;
        }
        if (dst->dtype == CF_BF16 && src->dtype == CF_F32) {
            uint16_t *d = cf_data(dst);
            const float *s = cf_data(src);
            #pragma omp parallel for if (n > CF_PAR_MIN)
            for (int64_t i = 0; i < n; i++) d[i] = cf_f32_to_bf16(s[i]);
            return;
        }
        if (dst->dtype == CF_F32 && src->dtype == CF_BF16) {
            float *d = cf_data(dst);
            const uint16_t *s = cf_data(src);
            #pragma omp parallel for if (n > CF_PAR_MIN)
            for (int64_t i = 0; i < n; i++) d[i] = cf_bf16_to_f32(s[i]);
            return;
        }
        if (dst->dtype == CF_F64 && src->dtype == CF_F32) {
            double *d = cf_data(dst);
            const float *s = cf_data(src);
            for (int64_t i = 0; i < n; i++) d[i] = s[i];
            return;
        }
        if (dst->dtype == CF_F32 && src->dtype == CF_F64) {
            float *d = cf_data(dst);
            const double *s = cf_data(src);
            for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
            return;
        }
    }
    for (int64_t i = 0; i < n; i++) cf_set_flat(dst, i, (acc ? cf_get_flat(dst, i) : 0.0) + cf_get_flat(src, i));
}

cf_status cf_cpu_cast_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    convert(n->out, n->in[0], false);
    return CF_OK;
}

cf_status cf_cpu_cast_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    convert(gx, n->out->grad, !overwrite);
    return CF_OK;
}
