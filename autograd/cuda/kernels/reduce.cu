// CUDA kernels of the reductions (sum, mean, var, max, min, logsumexp), cumsum, softmax and log_softmax
// (autograd/ops/reduce.def), with the CPU's semantics (autograd/cpu/reduce.c): sums in double, var in two
// passes around the mean, max/min report the first extreme position (a NaN counts as extreme), logsumexp
// shifted by the max unless it is infinite or NaN, softmax three passes per row.
//
// A reduction walks x as kept dims x reduced dims: cf_reduce_split of a cf_iter over x whose operand 0 is
// the output seen with x's rank (cf_reduce_keep_view: size 1 on the reduced dims), one thread per output
// element summing its reduced block in row-major order. cumsum takes one thread per column of its [outer, len,
// inner] layout; softmax and log_softmax one warp per column (warp_rows.h: lanes split the len elements, shuffle
// sums in a fixed order). Deterministic.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/cuda/kernels/warp_rows.h"
#include "autograd/ops/reduce_attr.h"

enum { R_SUM, R_SQDEV, R_EXPSUM, R_VMAX, R_MAX, R_MIN };

// operands of rg: out (keep view), x, c (keep view of the center: the mean for R_SQDEV, the max for
// R_EXPSUM; c == NULL reads 0). arg (R_MAX, R_MIN; out's layout): the reduced flat index of the extreme.
// lse: out = c + log(sum), or c itself when c is not finite; else out = sum * scale.
template <typename S>
__global__ void reduce_kernel(cf_reduce_geom rg, int op, S *out, const S *x, const S *c, int64_t *arg, double scale,
                              bool lse)
{
    CF_GRID_STRIDE(i, rg.keep.numel)
    {
        int64_t o[CF_ITER_MAX], u[CF_ITER_MAX];
        cf_iter_offsets(rg.keep, i, o);
        double cc = c ? (double)cf_ld(c + o[2]) : 0.0, res;
        if (op == R_MAX || op == R_MIN) {
            cf_iter_offsets(rg.over, 0, u);
            cf_acc_t<S> best = cf_ld(x + o[1] + u[1]);
            int64_t bi = 0;
            for (int64_t r = 1; r < rg.over.numel && best == best; r++) {
                cf_iter_offsets(rg.over, r, u);
                cf_acc_t<S> v = cf_ld(x + o[1] + u[1]);
                if ((op == R_MAX ? v > best : v < best) || v != v) best = v, bi = r;
            }
            arg[o[0]] = bi;
            res = (double)best;
        } else {
            double acc = op == R_VMAX ? -INFINITY : 0.0;
            cf_acc_t<S> shift = (cf_acc_t<S>)(isfinite(cc) ? cc : 0.0);
            for (int64_t r = 0; r < rg.over.numel; r++) {
                cf_iter_offsets(rg.over, r, u);
                cf_acc_t<S> v = cf_ld(x + o[1] + u[1]);
                if (op == R_SUM) {
                    acc += (double)v;
                } else if (op == R_SQDEV) {
                    double d = (double)v - cc;
                    acc += d * d;
                } else if (op == R_EXPSUM) {
                    acc += (double)exp(v - shift);
                } else if ((double)v > acc) { // R_VMAX: the max value alone; a NaN is skipped (EXPSUM sees it)
                    acc = (double)v;
                }
            }
            res = lse ? (isfinite(cc) ? cc + log(acc) : cc) : acc * scale;
        }
        cf_st(out + o[0], (cf_acc_t<S>)res);
    }
}

// elements in one reduced block
static int64_t red_count(const cf_tensor *x, uint32_t mask)
{
    int64_t k = 1;
    for (int d = 0; d < x->ndim; d++)
        if (mask & (1u << d)) k *= x->shape[d];
    return k;
}

static double var_divisor(int64_t nred, double correction)
{
    double d = (double)nred - correction;
    return d > 0 ? d : 0; // 0 gives inf or NaN, as on the CPU
}

// out (a reduction's output shape, x's dtype) = op over x's dims in mask; c: the center tensor or NULL
static cf_status reduce_run(const char *name, cf_tensor *out, const cf_tensor *x, uint32_t mask, int op,
                            const cf_tensor *c, int64_t *arg, double scale, bool lse)
{
    cf_tensor ok = cf_reduce_keep_view(out, x, mask), ck = cf_reduce_keep_view(c ? c : out, x, mask);
    cf_iter it;
    const cf_tensor *ops[3] = {&ok, x, &ck};
    cf_iter_init(&it, x->ndim, x->shape, 3, ops);
    cf_reduce_geom rg = cf_reduce_split(it);
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, rg.keep.numel, reduce_kernel<S>, rg, op, (S *)cf_data(out),
                                  (const S *)cf_data(x), c ? (const S *)cf_data(c) : (const S *)NULL, arg, scale,
                                  lse));
    return CF_OK;
}

static const struct reduce_attr *attr(const cf_node *n) { return CF_ATTR(n, struct reduce_attr); }

extern "C" cf_status cf_cuda_sum_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    return reduce_run("sum", n->out, n->in[0], attr(n)->mask, R_SUM, NULL, NULL, 1.0, false);
}

extern "C" cf_status cf_cuda_mean_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    double scale = 1.0 / (double)red_count(n->in[0], attr(n)->mask);
    return reduce_run("mean", n->out, n->in[0], attr(n)->mask, R_SUM, NULL, NULL, scale, false);
}

extern "C" cf_status cf_cuda_var_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct reduce_attr *a = attr(n);
    cf_tensor *x = n->in[0];
    int64_t k = red_count(x, a->mask);
    n->aux[0] = cf_empty(ctx, x->dtype, n->out->ndim, n->out->shape); // the mean, for backward
    if (!n->aux[0]) return cf_last_status();
    CF_TRY(reduce_run("var", n->aux[0], x, a->mask, R_SUM, NULL, NULL, 1.0 / (double)k, false));
    return reduce_run("var", n->out, x, a->mask, R_SQDEV, n->aux[0], NULL, 1.0 / var_divisor(k, a->correction), false);
}

static cf_status extreme_fwd(const char *name, cf_node *n, int op)
{
    return reduce_run(name, n->out, n->in[0], attr(n)->mask, op, NULL, (int64_t *)cf_data(n->aux[0]), 1.0, false);
}
extern "C" cf_status cf_cuda_max_fwd(cf_ctx *ctx, cf_node *n) { return (void)ctx, extreme_fwd("max", n, R_MAX); }
extern "C" cf_status cf_cuda_min_fwd(cf_ctx *ctx, cf_node *n) { return (void)ctx, extreme_fwd("min", n, R_MIN); }

extern "C" cf_status cf_cuda_logsumexp_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0];
    cf_tensor *m = cf_empty(ctx, x->dtype, n->out->ndim, n->out->shape);
    if (!m) return cf_last_status();
    CF_TRY(reduce_run("logsumexp", m, x, attr(n)->mask, R_VMAX, NULL, NULL, 1.0, false));
    return reduce_run("logsumexp", n->out, x, attr(n)->mask, R_EXPSUM, m, NULL, 1.0, true);
}

// gx (+)= scale * g (R_SUM), scale * g * (x - c) (R_SQDEV), g * exp(x - c) (R_EXPSUM); operands gx, g, x, c
template <typename S>
__global__ void bcast_bwd(cf_iter it, int op, S *gx, const S *g, const S *x, const S *c, cf_acc_t<S> scale, bool acc)
{
    CF_GRID_STRIDE(i, it.numel)
    {
        int64_t off[CF_ITER_MAX];
        cf_iter_offsets(it, i, off);
        cf_acc_t<S> gv = cf_ld(g + off[1]), v;
        if (op == R_SUM)
            v = gv * scale;
        else if (op == R_SQDEV)
            v = gv * scale * (cf_ld(x + off[2]) - cf_ld(c + off[3]));
        else
            v = gv * exp(cf_ld(x + off[2]) - cf_ld(c + off[3]));
        cf_st(gx + off[0], acc ? cf_ld(gx + off[0]) + v : v);
    }
}

static cf_status broadcast_bwd(const char *name, cf_ctx *ctx, cf_node *n, int op, const cf_tensor *c, double scale)
{
    cf_tensor *x = n->in[0];
    if (!cf_needs_grad(n, 0)) return CF_OK;
    uint32_t mask = attr(n)->mask;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    cf_tensor gk = cf_reduce_keep_view(n->out->grad, x, mask);
    cf_tensor ck = cf_reduce_keep_view(c ? c : n->out->grad, x, mask);
    cf_iter it;
    const cf_tensor *ops[4] = {gx, &gk, x, &ck};
    cf_iter_init(&it, x->ndim, x->shape, 4, ops);
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, it.numel, bcast_bwd<S>, it, op, (S *)cf_data(gx), (const S *)cf_data(&gk),
                                  (const S *)cf_data(x), (const S *)cf_data(&ck), (cf_acc_t<S>)scale, !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_sum_bwd(cf_ctx *ctx, cf_node *n)
{
    return broadcast_bwd("sum backward", ctx, n, R_SUM, NULL, 1.0);
}

extern "C" cf_status cf_cuda_mean_bwd(cf_ctx *ctx, cf_node *n)
{
    double scale = 1.0 / (double)red_count(n->in[0], attr(n)->mask);
    return broadcast_bwd("mean backward", ctx, n, R_SUM, NULL, scale);
}

extern "C" cf_status cf_cuda_var_bwd(cf_ctx *ctx, cf_node *n)
{
    double k = var_divisor(red_count(n->in[0], attr(n)->mask), attr(n)->correction);
    return broadcast_bwd("var backward", ctx, n, R_SQDEV, n->aux[0], 2.0 / k);
}

extern "C" cf_status cf_cuda_logsumexp_bwd(cf_ctx *ctx, cf_node *n)
{
    return broadcast_bwd("logsumexp backward", ctx, n, R_EXPSUM, n->out, 1.0);
}

// The whole gradient goes to the element the forward picked; operands of rg: g (keep view), gx, arg
template <typename S> __global__ void scatter_kernel(cf_reduce_geom rg, S *gx, const S *g, const int64_t *arg)
{
    CF_GRID_STRIDE(i, rg.keep.numel)
    {
        int64_t o[CF_ITER_MAX], u[CF_ITER_MAX];
        cf_iter_offsets(rg.keep, i, o);
        cf_iter_offsets(rg.over, arg[o[0]], u);
        S *d = gx + o[1] + u[1];
        cf_st(d, cf_ld(d) + cf_ld(g + o[0]));
    }
}

static cf_status extreme_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0];
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *gx = cf_grad_acc(ctx, x);
    if (!gx) return cf_last_status();
    // g and the indices share the output's contiguous layout, so o[0] indexes both
    cf_tensor gk = cf_reduce_keep_view(n->out->grad, x, attr(n)->mask);
    cf_iter it;
    const cf_tensor *ops[2] = {&gk, gx};
    cf_iter_init(&it, x->ndim, x->shape, 2, ops);
    cf_reduce_geom rg = cf_reduce_split(it);
    CF_FLOAT_SWITCH("max/min backward", x->dtype,
                    CF_KERNEL_RUN("max/min backward", rg.keep.numel, scatter_kernel<S>, rg, (S *)cf_data(gx),
                                  (const S *)cf_data(n->out->grad), (const int64_t *)cf_data(n->aux[0])));
    return CF_OK;
}
extern "C" cf_status cf_cuda_max_bwd(cf_ctx *ctx, cf_node *n) { return extreme_bwd(ctx, n); }
extern "C" cf_status cf_cuda_min_bwd(cf_ctx *ctx, cf_node *n) { return extreme_bwd(ctx, n); }

// ---- cumsum, softmax, log_softmax: one thread per column of contiguous [outer, len, inner] data ----

// x itself when contiguous, else a contiguous copy on x's device
static const cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *x)
{
    if (cf_is_contiguous(x)) return x;
    cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (!c || cf_cuda_copy(c, x, false) != CF_OK) return NULL;
    return c;
}

// running sums in double along len; reverse runs from the end; acc adds into y
template <typename S>
__global__ void scan_kernel(S *y, const S *x, int64_t outer, int64_t len, int64_t inner, bool reverse, bool acc)
{
    CF_GRID_STRIDE(t, outer * inner)
    {
        int64_t base = (t / inner) * len * inner + t % inner;
        double run = 0;
        for (int64_t i0 = 0; i0 < len; i0++) {
            int64_t at = base + (reverse ? len - 1 - i0 : i0) * inner;
            run += (double)cf_ld(x + at);
            cf_acc_t<S> v = (cf_acc_t<S>)run;
            cf_st(y + at, acc ? cf_ld(y + at) + v : v);
        }
    }
}

static cf_status scan_run(cf_tensor *y, const cf_tensor *x, int dim, bool reverse, bool acc)
{
    int64_t outer, len, inner;
    cf_split_dim(y, dim, &outer, &len, &inner);
    CF_FLOAT_SWITCH("cumsum", y->dtype,
                    CF_KERNEL_RUN("cumsum", outer * inner, scan_kernel<S>, (S *)cf_data(y), (const S *)cf_data(x),
                                  outer, len, inner, reverse, acc));
    return CF_OK;
}

extern "C" cf_status cf_cuda_cumsum_fwd(cf_ctx *ctx, cf_node *n)
{
    const cf_tensor *x = contiguous(ctx, n->in[0]);
    if (!x) return cf_last_status();
    return scan_run(n->out, x, attr(n)->dim, false, false);
}

// the gradient of a running sum is the running sum from the other end
extern "C" cf_status cf_cuda_cumsum_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    return scan_run(gx, n->out->grad, attr(n)->dim, true, !overwrite);
}

// max, then exp(x - max) summed; softmax stores exp(x - max) / sum, log_softmax (x - max) - log(sum). One warp
// per column t of [outer, len, inner]
template <typename S>
__global__ void softmax_kernel(S *y, const S *x, int64_t outer, int64_t len, int64_t inner, bool take_log)
{
    typedef cf_acc_t<S> A;
    CF_ROW_WARP_LOOP(t, lane, outer * inner)
    {
        int64_t base = (t / inner) * len * inner + t % inner;
        A m = -INFINITY, s = 0;
        for (int64_t i = lane; i < len; i += CF_ROW_WARP) {
            A v = cf_ld(x + base + i * inner);
            m = v > m ? v : m;
        }
        m = cf_warp_max(m);
        for (int64_t i = lane; i < len; i += CF_ROW_WARP) s += exp(cf_ld(x + base + i * inner) - m);
        s = cf_warp_sum(s);
        A ls = log(s), inv = (A)1 / s;
        for (int64_t i = lane; i < len; i += CF_ROW_WARP) {
            A d = cf_ld(x + base + i * inner) - m;
            cf_st(y + base + i * inner, take_log ? d - ls : exp(d) * inv);
        }
    }
}

// softmax: gx = y * (g - sum(g * y)); log_softmax: gx = g - exp(y) * sum(g). One warp per column
template <typename S>
__global__ void softmax_grad_kernel(S *gx, const S *y, const S *g, int64_t outer, int64_t len, int64_t inner,
                                    bool take_log, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_ROW_WARP_LOOP(t, lane, outer * inner)
    {
        int64_t base = (t / inner) * len * inner + t % inner;
        A dot = 0;
        for (int64_t i = lane; i < len; i += CF_ROW_WARP) {
            A gv = cf_ld(g + base + i * inner);
            dot += take_log ? gv : gv * cf_ld(y + base + i * inner);
        }
        dot = cf_warp_sum(dot);
        for (int64_t i = lane; i < len; i += CF_ROW_WARP) {
            int64_t at = base + i * inner;
            A gv = cf_ld(g + at), yv = cf_ld(y + at);
            A v = take_log ? gv - exp(yv) * dot : yv * (gv - dot);
            cf_st(gx + at, acc ? cf_ld(gx + at) + v : v);
        }
    }
}

static cf_status softmax_fwd(const char *name, cf_ctx *ctx, cf_node *n, bool take_log)
{
    const cf_tensor *x = contiguous(ctx, n->in[0]);
    cf_tensor *y = n->out;
    if (!x) return cf_last_status();
    int64_t outer, len, inner;
    cf_split_dim(y, attr(n)->dim, &outer, &len, &inner);
    CF_FLOAT_SWITCH(name, y->dtype,
                    if (outer * inner > 0) CF_KERNEL_RUN_GRID(name, cf_row_blocks(outer * inner), CF_BLOCK_THREADS,
                                                              softmax_kernel<S>, (S *)cf_data(y), (const S *)cf_data(x),
                                                              outer, len, inner, take_log));
    return CF_OK;
}

static cf_status softmax_bwd(const char *name, cf_ctx *ctx, cf_node *n, bool take_log)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *y = n->out;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    int64_t outer, len, inner;
    cf_split_dim(y, attr(n)->dim, &outer, &len, &inner);
    CF_FLOAT_SWITCH(name, y->dtype,
                    if (outer * inner > 0) CF_KERNEL_RUN_GRID(name, cf_row_blocks(outer * inner), CF_BLOCK_THREADS,
                                                              softmax_grad_kernel<S>, (S *)cf_data(gx), (const S *)cf_data(y),
                                                              (const S *)cf_data(y->grad), outer, len, inner, take_log,
                                                              !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_softmax_fwd(cf_ctx *ctx, cf_node *n) { return softmax_fwd("softmax", ctx, n, false); }
extern "C" cf_status cf_cuda_softmax_bwd(cf_ctx *ctx, cf_node *n) { return softmax_bwd("softmax", ctx, n, false); }
extern "C" cf_status cf_cuda_log_softmax_fwd(cf_ctx *ctx, cf_node *n)
{
    return softmax_fwd("log_softmax", ctx, n, true);
}
extern "C" cf_status cf_cuda_log_softmax_bwd(cf_ctx *ctx, cf_node *n)
{
    return softmax_bwd("log_softmax", ctx, n, true);
}
