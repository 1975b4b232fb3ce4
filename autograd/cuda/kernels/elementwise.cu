// CUDA kernels of the elementwise ops (autograd/ops/elementwise.def): the CPU's expressions
// (autograd/cpu/elementwise.c), one line per op, over the CPU's own broadcast geometry (cf_iter).
//
// Forward: one thread per output element, grid-stride. Backward: one thread per element of the input's
// gradient, summing over the dims the input was broadcast along (cf_reduce_split), so a broadcast input needs
// no out-shaped temporary and no atomics (the sum order is fixed). The kernels are templated on the storage
// type with cf_ld/cf_st, so bf16 storage with f32 arithmetic is one more case in CF_FLOAT_SWITCH once the
// elementwise ops accept bf16 tensors (cf_check_float refuses them today); cast already converts bf16.
//
// Ops flagged CF_COMPOSITE_BWD in the op list (neg, sqrt, exp, sigmoid, tanh) have only a forward kernel
// here (CF_CUDA_FWD in elementwise.def): their backward is the composite one of autograd/ops/composite.c,
// which runs on this backend through the forward kernels of mul, div and scale_shift.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/elementwise_attr.h"

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT2PI 0.39894228040143267794
#define SQRT_2_OVER_PI 0.79788456080286535588

template <typename T> __device__ __forceinline__ T sigm(T v) { return (T)1 / ((T)1 + exp(-v)); }
template <typename T> __device__ __forceinline__ T gelu_tanh_grad(T x)
{
    T u = (T)SQRT_2_OVER_PI * (x + (T)0.044715 * x * x * x), t = tanh(u);
    return (T)0.5 * ((T)1 + t) + (T)0.5 * x * ((T)1 - t * t) * (T)SQRT_2_OVER_PI * ((T)1 + (T)3 * (T)0.044715 * x * x);
}

// ---- unary: y = FWD(x, a, b); gx = BWD(x, y, g, a, b) (a, b: the op's ew_attr) ----
#define UNARY_OPS(X) \
    X(scale_shift, x * a + b, g * a) \
    X(pow_scalar, pow(x, a), g * a * pow(x, a - (T)1)) \
    X(rsqrt, (T)1 / sqrt(x), g * (T)-0.5 * y * y * y) \
    X(log, log(x), g / x) \
    X(abs, fabs(x), x > (T)0 ? g : (x < (T)0 ? -g : (T)0)) \
    X(clamp, x < a ? a : (x > b ? b : x), (x >= a && x <= b) ? g : (T)0) \
    X(relu, x > (T)0 ? x : (T)0, x > (T)0 ? g : (T)0) \
    X(gelu, (T)0.5 * x * ((T)1 + erf(x * (T)INV_SQRT2)), \
      g * ((T)0.5 * ((T)1 + erf(x * (T)INV_SQRT2)) + x * (T)INV_SQRT2PI * exp((T)-0.5 * x * x))) \
    X(gelu_tanh, (T)0.5 * x * ((T)1 + tanh((T)SQRT_2_OVER_PI * (x + (T)0.044715 * x * x * x))), \
      g * gelu_tanh_grad(x)) \
    X(silu, x * sigm(x), g * (sigm(x) * ((T)1 + x * ((T)1 - sigm(x))))) \
    X(hardswish, x <= (T)-3 ? (T)0 : (x >= (T)3 ? x : x * (x + (T)3) / (T)6), \
      x < (T)-3 ? (T)0 : (x > (T)3 ? g : g * ((T)2 * x + (T)3) / (T)6)) \
    X(softplus, x * a > b ? x : log1p(exp(x * a)) / a, x * a > b ? g : g * sigm(x * a))

// forward only: the backward is the op's composite one
#define UNARY_FWD_OPS(X) \
    X(neg, -x) \
    X(sqrt, sqrt(x)) \
    X(exp, exp(x)) \
    X(sigmoid, sigm(x)) \
    X(tanh, tanh(x))

#define UNARY_FUNCTOR(NAME, FWD, BWD) \
    struct NAME##_op { \
        template <typename T> __device__ static T fwd(T x, T a, T b) { return (void)a, (void)b, (FWD); } \
        template <typename T> __device__ static T bwd(T x, T y, T g, T a, T b) \
        { \
            return (void)x, (void)y, (void)a, (void)b, (BWD); \
        } \
    };
#define UNARY_FWD_FUNCTOR(NAME, FWD) \
    struct NAME##_op { \
        template <typename T> __device__ static T fwd(T x, T a, T b) { return (void)a, (void)b, (FWD); } \
    };
UNARY_OPS(UNARY_FUNCTOR)
UNARY_FWD_OPS(UNARY_FWD_FUNCTOR)

template <typename Op, typename S>
__global__ void unary_fwd(cf_iter it, S *y, const S *x, cf_acc_t<S> a, cf_acc_t<S> b)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        cf_st(y + off[0], Op::fwd(cf_ld(x + off[1]), a, b));
    }
}

// operands: gx, x, y, g (all of y's shape)
template <typename Op, typename S>
__global__ void unary_bwd(cf_iter it, S *gx, const S *x, const S *y, const S *g, cf_acc_t<S> a, cf_acc_t<S> b,
                          bool acc)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        cf_acc_t<S> v = Op::bwd(cf_ld(x + off[1]), cf_ld(y + off[2]), cf_ld(g + off[3]), a, b);
        cf_st(gx + off[0], acc ? cf_ld(gx + off[0]) + v : v);
    }
}

template <typename Op> static cf_status unary_fwd_run(const char *name, cf_node *n)
{
    const struct ew_attr *at = CF_ATTR(n, struct ew_attr);
    cf_tensor *x = n->in[0], *y = n->out;
    cf_iter it;
    const cf_tensor *ops[2] = {y, x};
    cf_iter_init(&it, y->ndim, y->shape, 2, ops);
    CF_FLOAT_SWITCH(name, y->dtype,
                    CF_KERNEL_RUN(name, it.numel, (unary_fwd<Op, S>), it, (S *)cf_data(y), (const S *)cf_data(x),
                                  (cf_acc_t<S>)at->a, (cf_acc_t<S>)at->b));
    return CF_OK;
}

template <typename Op> static cf_status unary_bwd_run(const char *name, cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct ew_attr *at = CF_ATTR(n, struct ew_attr);
    cf_tensor *x = n->in[0], *y = n->out, *g = y->grad;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    cf_iter it;
    const cf_tensor *ops[4] = {gx, x, y, g};
    cf_iter_init(&it, y->ndim, y->shape, 4, ops);
    CF_FLOAT_SWITCH(name, y->dtype,
                    CF_KERNEL_RUN(name, it.numel, (unary_bwd<Op, S>), it, (S *)cf_data(gx), (const S *)cf_data(x),
                                  (const S *)cf_data(y), (const S *)cf_data(g), (cf_acc_t<S>)at->a,
                                  (cf_acc_t<S>)at->b, !overwrite));
    return CF_OK;
}

#define UNARY_ENTRIES(NAME, FWD, BWD) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) \
    { \
        (void)ctx; \
        return unary_fwd_run<NAME##_op>(#NAME, n); \
    } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) \
    { \
        return unary_bwd_run<NAME##_op>(#NAME " backward", ctx, n); \
    }
#define UNARY_FWD_ENTRY(NAME, FWD) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) \
    { \
        (void)ctx; \
        return unary_fwd_run<NAME##_op>(#NAME, n); \
    }
UNARY_OPS(UNARY_ENTRIES)
UNARY_FWD_OPS(UNARY_FWD_ENTRY)

// ---- binary with broadcasting: y = FWD(p, q); gp = GA(p, q, y, g); gq = GB(p, q, y, g) ----
#define BINARY_OPS(X) \
    X(add, p + q, g, g) \
    X(sub, p - q, g, -g) \
    X(mul, p * q, g * q, g * p) \
    X(div, p / q, g / q, -g * p / (q * q)) \
    X(pow, pow(p, q), g * q * pow(p, q - (T)1), p > (T)0 ? g * y * log(p) : (T)0)

#define BINARY_FUNCTOR(NAME, FWD, GA, GB) \
    struct NAME##_op { \
        template <typename T> __device__ static T fwd(T p, T q) { return FWD; } \
        template <typename T> __device__ static T grad(int which, T p, T q, T y, T g) \
        { \
            return (void)p, (void)q, (void)y, which == 0 ? (GA) : (GB); \
        } \
    };
BINARY_OPS(BINARY_FUNCTOR)

template <typename Op, typename S> __global__ void binary_fwd(cf_iter it, S *y, const S *p, const S *q)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        cf_st(y + off[0], Op::fwd(cf_ld(p + off[1]), cf_ld(q + off[2])));
    }
}

// operands: d (the input's gradient, broadcast), p, q, y, g; one thread per element of d
template <typename Op, typename S>
__global__ void binary_bwd(cf_reduce_geom rg, int which, S *d, const S *p, const S *q, const S *y, const S *g,
                           bool acc)
{
    CF_GRID_STRIDE(i, rg.keep.numel)
    {
        int64_t o[CF_ITER_MAX], u[CF_ITER_MAX];
        cf_iter_offsets(rg.keep, i, o);
        cf_acc_t<S> s = 0;
        for (int64_t r = 0; r < rg.over.numel; r++) {
            cf_iter_offsets(rg.over, r, u);
            s += Op::grad(which, cf_ld(p + o[1] + u[1]), cf_ld(q + o[2] + u[2]), cf_ld(y + o[3] + u[3]),
                          cf_ld(g + o[4] + u[4]));
        }
        cf_st(d + o[0], acc ? cf_ld(d + o[0]) + s : s);
    }
}

template <typename Op> static cf_status binary_fwd_run(const char *name, cf_node *n)
{
    cf_tensor *y = n->out;
    cf_iter it;
    const cf_tensor *ops[3] = {y, n->in[0], n->in[1]};
    cf_iter_init(&it, y->ndim, y->shape, 3, ops);
    CF_FLOAT_SWITCH(name, y->dtype,
                    CF_KERNEL_RUN(name, it.numel, (binary_fwd<Op, S>), it, (S *)cf_data(y),
                                  (const S *)cf_data(n->in[0]), (const S *)cf_data(n->in[1])));
    return CF_OK;
}

template <typename Op> static cf_status binary_bwd_run(const char *name, cf_ctx *ctx, cf_node *n)
{
    cf_tensor *y = n->out, *g = y->grad;
    for (int which = 0; which < 2; which++) {
        if (!cf_needs_grad(n, which)) continue;
        bool overwrite;
        cf_tensor *gx = cf_grad_slot(ctx, n->in[which], &overwrite);
        if (!gx) return cf_last_status();
        cf_iter it;
        const cf_tensor *ops[5] = {gx, n->in[0], n->in[1], y, g};
        cf_iter_init(&it, y->ndim, y->shape, 5, ops);
        cf_reduce_geom rg = cf_reduce_split(it);
        CF_FLOAT_SWITCH(name, y->dtype,
                        CF_KERNEL_RUN(name, rg.keep.numel, (binary_bwd<Op, S>), rg, which, (S *)cf_data(gx),
                                      (const S *)cf_data(n->in[0]), (const S *)cf_data(n->in[1]),
                                      (const S *)cf_data(y), (const S *)cf_data(g), !overwrite));
    }
    return CF_OK;
}

#define BINARY_ENTRIES(NAME, FWD, GA, GB) \
    extern "C" cf_status cf_cuda_##NAME##_fwd(cf_ctx *ctx, cf_node *n) \
    { \
        (void)ctx; \
        return binary_fwd_run<NAME##_op>(#NAME, n); \
    } \
    extern "C" cf_status cf_cuda_##NAME##_bwd(cf_ctx *ctx, cf_node *n) \
    { \
        return binary_bwd_run<NAME##_op>(#NAME " backward", ctx, n); \
    }
BINARY_OPS(BINARY_ENTRIES)

// ---- where(cond, a, b) and masked_fill(x, mask, v): selects; the gradient is g where the select took x ----

template <typename S> __global__ void where_fwd(cf_iter it, S *y, const uint8_t *c, const S *a, const S *b)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        y[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]];
    }
}

// masked_fill: operands y, mask, x
template <typename S> __global__ void masked_fill_fwd(cf_iter it, S *y, const uint8_t *m, const S *x, cf_acc_t<S> v)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        if (m[off[1]]) cf_st(y + off[0], v);
        else y[off[0]] = x[off[2]];
    }
}

// operands: d (the input's gradient, broadcast), cond, g; keeps g where (cond != 0) == want
template <typename S>
__global__ void select_bwd(cf_reduce_geom rg, S *d, const uint8_t *c, const S *g, int want, bool acc)
{
    CF_GRID_STRIDE(i, rg.keep.numel)
    {
        int64_t o[CF_ITER_MAX], u[CF_ITER_MAX];
        cf_iter_offsets(rg.keep, i, o);
        cf_acc_t<S> s = 0;
        for (int64_t r = 0; r < rg.over.numel; r++) {
            cf_iter_offsets(rg.over, r, u);
            if ((c[o[1] + u[1]] != 0) == want) s += cf_ld(g + o[2] + u[2]);
        }
        cf_st(d + o[0], acc ? cf_ld(d + o[0]) + s : s);
    }
}

extern "C" cf_status cf_cuda_where_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_tensor *y = n->out;
    cf_iter it;
    const cf_tensor *ops[4] = {y, n->in[0], n->in[1], n->in[2]};
    cf_iter_init(&it, y->ndim, y->shape, 4, ops);
    CF_FLOAT_SWITCH("where", y->dtype,
                    CF_KERNEL_RUN("where", it.numel, where_fwd<S>, it, (S *)cf_data(y),
                                  (const uint8_t *)cf_data(n->in[0]), (const S *)cf_data(n->in[1]),
                                  (const S *)cf_data(n->in[2])));
    return CF_OK;
}

extern "C" cf_status cf_cuda_masked_fill_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_tensor *y = n->out;
    double v = CF_ATTR(n, struct ew_attr)->a;
    cf_iter it;
    const cf_tensor *ops[3] = {y, n->in[1], n->in[0]};
    cf_iter_init(&it, y->ndim, y->shape, 3, ops);
    CF_FLOAT_SWITCH("masked_fill", y->dtype,
                    CF_KERNEL_RUN("masked_fill", it.numel, masked_fill_fwd<S>, it, (S *)cf_data(y),
                                  (const uint8_t *)cf_data(n->in[1]), (const S *)cf_data(n->in[0]), (cf_acc_t<S>)v));
    return CF_OK;
}

// x's gradient from the select node n whose condition is cond: g where (cond != 0) == want
static cf_status select_grad(cf_ctx *ctx, const char *name, cf_node *n, cf_tensor *x, cf_tensor *cond, int want)
{
    cf_tensor *y = n->out;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    cf_iter it;
    const cf_tensor *ops[3] = {gx, cond, y->grad};
    cf_iter_init(&it, y->ndim, y->shape, 3, ops);
    cf_reduce_geom rg = cf_reduce_split(it);
    CF_FLOAT_SWITCH(name, y->dtype,
                    CF_KERNEL_RUN(name, rg.keep.numel, select_bwd<S>, rg, (S *)cf_data(gx),
                                  (const uint8_t *)cf_data(cond), (const S *)cf_data(y->grad), want, !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_where_bwd(cf_ctx *ctx, cf_node *n)
{
    if (cf_needs_grad(n, 1)) CF_TRY(select_grad(ctx, "where backward", n, n->in[1], n->in[0], 1));
    if (cf_needs_grad(n, 2)) CF_TRY(select_grad(ctx, "where backward", n, n->in[2], n->in[0], 0));
    return CF_OK;
}

extern "C" cf_status cf_cuda_masked_fill_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    return select_grad(ctx, "masked_fill backward", n, n->in[0], n->in[1], 0);
}

// ---- cast between the floating dtypes (f32, f64, bf16): the backend's converting copy (memory.cu) ----

static cf_status cast_run(cf_tensor *dst, const cf_tensor *src, bool acc)
{
    const cf_tensor *t[2] = {src, dst};
    for (int i = 0; i < 2; i++)
        if (t[i]->dtype != CF_F32 && t[i]->dtype != CF_F64 && t[i]->dtype != CF_BF16)
            return cf_set_error(CF_ERR_DTYPE, "cast (cuda): %s %s is not supported", i ? "to" : "from",
                                cf_dtype_name(t[i]->dtype));
    return cf_cuda_copy(dst, src, acc);
}

extern "C" cf_status cf_cuda_cast_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    return cast_run(n->out, n->in[0], false);
}

extern "C" cf_status cf_cuda_cast_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    return cast_run(gx, n->out->grad, !overwrite);
}
