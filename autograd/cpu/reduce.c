/* CPU kernels of the reductions (sum, mean, var, max, min, logsumexp), cumsum, softmax and log_softmax.
 *
 * A reduction sees x as kept dims x reduced dims (each group's adjacent dims merged where the strides
 * allow), so any set of dims and any strides take the same path. Two loop orders:
 *  - per output: each output walks its reduced block; blocks longer than RCHUNK are cut into fixed
 *    chunks whose partial results are combined in order, so big reductions use every thread and the
 *    result does not depend on the thread count;
 *  - columns (sum-like ops whose innermost kept dim has stride 1, e.g. sum over the batch of [B, C]):
 *    rows of the reduced block are added into a block of KB accumulators, which reads x in order.
 *
 * The typed kernels are written once below the `#else` and compiled for float and double: this file
 * includes itself with RK_T defined (see the end of the first part). */
#ifndef RK_T

#include "autograd/ops/reduce_attr.h"
#include "autograd/cpu/cpu.h"

#include <string.h>

#define RCHUNK 32768 /* elements per partial result of one output */
#define KB 256       /* accumulators per column block */

/* R_VMAX: the max value alone (vectorised; a NaN may be skipped, which logsumexp's exp-sum catches) */
enum { R_SUM, R_SQDEV, R_EXPSUM, R_MAX, R_MIN, R_VMAX };

typedef struct rgeom {
    int nk, nr; /* kept / reduced dims after merging (at least one each, maybe of size 1) */
    int64_t kshape[CF_MAX_DIMS], kstride[CF_MAX_DIMS];
    int64_t rshape[CF_MAX_DIMS], rstride[CF_MAX_DIMS];
    int64_t nout, nred;
} rgeom;

static void push_dim(int *n, int64_t *shape, int64_t *stride, int64_t sz, int64_t st)
{
    if (sz == 1) return;
    if (*n > 0 && sz > 0 && shape[*n - 1] > 0 && stride[*n - 1] == st * sz) { /* row-major merge */
        shape[*n - 1] *= sz;
        stride[*n - 1] = st;
        return;
    }
    shape[*n] = sz;
    stride[*n] = st;
    (*n)++;
}

/* Kept dims keep x's order, so output element o (row-major over them) is the o-th kept position;
 * reduced dims keep it too, so a reduced flat index is row-major over the reduced dims. */
static void rgeom_init(rgeom *g, const cf_tensor *x, uint32_t mask)
{
    g->nk = g->nr = 0;
    g->nout = g->nred = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (mask & (1u << d)) {
            push_dim(&g->nr, g->rshape, g->rstride, x->shape[d], x->stride[d]);
            g->nred *= x->shape[d];
        } else {
            push_dim(&g->nk, g->kshape, g->kstride, x->shape[d], x->stride[d]);
            g->nout *= x->shape[d];
        }
    }
    if (g->nk == 0) g->kshape[0] = 1, g->kstride[0] = 0, g->nk = 1;
    if (g->nr == 0) g->rshape[0] = 1, g->rstride[0] = 0, g->nr = 1;
}

static inline int64_t offset_of(int n, const int64_t *shape, const int64_t *stride, int64_t flat)
{
    int64_t off = 0;
    for (int d = n - 1; d >= 0; d--) {
        off += (flat % shape[d]) * stride[d];
        flat /= shape[d];
    }
    return off;
}

/* Steps a multi-index (and its offset) to the next position in row-major order. */
static inline void odo_next(int n, const int64_t *shape, const int64_t *stride, int64_t *idx, int64_t *off)
{
    for (int d = n - 1; d >= 0; d--) {
        *off += stride[d];
        if (++idx[d] < shape[d]) return;
        *off -= stride[d] * shape[d];
        idx[d] = 0;
    }
}

/* x itself when contiguous, else a contiguous arena copy. */
static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *x)
{
    if (cf_is_contiguous(x)) return x;
    cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (c) cf_cpu_copy_strided(c, x, false);
    return c;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(f) CAT(f, RK_S)

#define RK_T float
#define RK_S _f
#define EXP expf_shifted
#define LOG logf
#include "autograd/cpu/reduce.c"
#undef RK_T
#undef RK_S
#undef EXP
#undef LOG
#define RK_T double
#define RK_S _d
#define EXP exp
#define LOG log
#include "autograd/cpu/reduce.c"
#undef RK_T
#undef RK_S
#undef EXP
#undef LOG

/* ---- typed dispatch ---- */

#define DISPATCH(dt, call_f, call_d) ((dt) == CF_F32 ? (call_f) : (call_d))

static cf_status run_reduce(cf_ctx *ctx, const cf_tensor *x, const rgeom *g, int op, const double *center,
                            double *res, int64_t *arg)
{
    return DISPATCH(x->dtype, reduce_f(ctx, cf_data(x), g, op, center, res, arg),
                    reduce_d(ctx, cf_data(x), g, op, center, res, arg));
}

static void store_out(cf_tensor *out, const double *res, double scale)
{
    int64_t n = cf_numel(out);
    if (out->dtype == CF_F32) {
        float *o = cf_data(out);
        for (int64_t i = 0; i < n; i++) o[i] = (float)(res[i] * scale);
    } else {
        double *o = cf_data(out);
        for (int64_t i = 0; i < n; i++) o[i] = res[i] * scale;
    }
}

static double *res_buf(cf_ctx *ctx, int64_t n) { return cf_scratch(ctx, sizeof(double) * (size_t)(n ? n : 1)); }

static cf_status sum_like_fwd(cf_ctx *ctx, cf_node *n, bool mean)
{
    const struct reduce_attr *a = CF_ATTR(n, struct reduce_attr);
    rgeom g;
    rgeom_init(&g, n->in[0], a->mask);
    double *res = res_buf(ctx, g.nout);
    if (!res) return cf_last_status();
    CF_TRY(run_reduce(ctx, n->in[0], &g, R_SUM, NULL, res, NULL));
    store_out(n->out, res, mean ? 1.0 / (double)g.nred : 1.0);
    return CF_OK;
}

cf_status cf_cpu_sum_fwd(cf_ctx *ctx, cf_node *n) { return sum_like_fwd(ctx, n, false); }
cf_status cf_cpu_mean_fwd(cf_ctx *ctx, cf_node *n) { return sum_like_fwd(ctx, n, true); }

static double var_divisor(int64_t nred, double correction)
{
    double d = (double)nred - correction;
    return d > 0 ? d : 0; /* 0 gives inf or NaN, as torch.var does when there are too few elements */
}

cf_status cf_cpu_var_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct reduce_attr *a = CF_ATTR(n, struct reduce_attr);
    cf_tensor *x = n->in[0];
    rgeom g;
    rgeom_init(&g, x, a->mask);
    double *mean = res_buf(ctx, g.nout), *res = res_buf(ctx, g.nout);
    if (!mean || !res) return cf_last_status();
    CF_TRY(run_reduce(ctx, x, &g, R_SUM, NULL, mean, NULL));
    for (int64_t o = 0; o < g.nout; o++) mean[o] /= (double)g.nred;
    /* two passes: squared deviations from the mean lose nothing to cancellation */
    CF_TRY(run_reduce(ctx, x, &g, R_SQDEV, mean, res, NULL));
    store_out(n->out, res, 1.0 / var_divisor(g.nred, a->correction));
    n->aux[0] = cf_empty(ctx, x->dtype, n->out->ndim, n->out->shape);
    if (!n->aux[0]) return cf_last_status();
    store_out(n->aux[0], mean, 1.0);
    return CF_OK;
}

static cf_status extreme_fwd(cf_ctx *ctx, cf_node *n, int op)
{
    const struct reduce_attr *a = CF_ATTR(n, struct reduce_attr);
    rgeom g;
    rgeom_init(&g, n->in[0], a->mask);
    double *res = res_buf(ctx, g.nout);
    if (!res) return cf_last_status();
    int64_t *arg = cf_data(n->aux[0]);
    CF_TRY(run_reduce(ctx, n->in[0], &g, op, NULL, res, arg));
    store_out(n->out, res, 1.0);
    return CF_OK;
}

cf_status cf_cpu_max_fwd(cf_ctx *ctx, cf_node *n) { return extreme_fwd(ctx, n, R_MAX); }
cf_status cf_cpu_min_fwd(cf_ctx *ctx, cf_node *n) { return extreme_fwd(ctx, n, R_MIN); }

cf_status cf_cpu_logsumexp_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct reduce_attr *a = CF_ATTR(n, struct reduce_attr);
    rgeom g;
    rgeom_init(&g, n->in[0], a->mask);
    double *m = res_buf(ctx, g.nout), *res = res_buf(ctx, g.nout);
    if (!m || !res) return cf_last_status();
    CF_TRY(run_reduce(ctx, n->in[0], &g, R_VMAX, NULL, m, NULL));
    /* an infinite or NaN max is the answer itself; shifting by it would make NaNs */
    double *shift = res_buf(ctx, g.nout);
    if (!shift) return cf_last_status();
    for (int64_t o = 0; o < g.nout; o++) shift[o] = isfinite(m[o]) ? m[o] : 0;
    CF_TRY(run_reduce(ctx, n->in[0], &g, R_EXPSUM, shift, res, NULL));
    for (int64_t o = 0; o < g.nout; o++) res[o] = isfinite(m[o]) ? m[o] + log(res[o]) : m[o];
    store_out(n->out, res, 1.0);
    return CF_OK;
}

/* gx (+)= f(g, x, c) over x's shape, with g and c (output-shaped) broadcast over the reduced dims. */
static cf_status broadcast_bwd(cf_ctx *ctx, cf_node *n, int op, const cf_tensor *c, double scale)
{
    cf_tensor *x = n->in[0];
    if (!cf_needs_grad(n, 0)) return CF_OK;
    uint32_t mask = CF_ATTR(n, struct reduce_attr)->mask;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    cf_tensor gk = cf_reduce_keep_view(n->out->grad, x, mask);
    cf_tensor ck = cf_reduce_keep_view(c ? c : n->out->grad, x, mask);
    cf_iter it;
    const cf_tensor *ops[4] = {gx, &gk, x, &ck};
    cf_iter_init(&it, x->ndim, x->shape, 4, ops);
    if (x->dtype == CF_F32)
        bcast_bwd_f(&it, cf_data(gx), cf_data(&gk), cf_data(x), cf_data(&ck), op, scale, !overwrite);
    else
        bcast_bwd_d(&it, cf_data(gx), cf_data(&gk), cf_data(x), cf_data(&ck), op, scale, !overwrite);
    return CF_OK;
}

static int64_t red_count(const cf_tensor *x, uint32_t mask)
{
    int64_t k = 1;
    for (int d = 0; d < x->ndim; d++)
        if (mask & (1u << d)) k *= x->shape[d];
    return k;
}

cf_status cf_cpu_sum_bwd(cf_ctx *ctx, cf_node *n) { return broadcast_bwd(ctx, n, R_SUM, NULL, 1.0); }

cf_status cf_cpu_mean_bwd(cf_ctx *ctx, cf_node *n)
{
    return broadcast_bwd(ctx, n, R_SUM, NULL, 1.0 / (double)red_count(n->in[0], CF_ATTR(n, struct reduce_attr)->mask));
}

cf_status cf_cpu_var_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct reduce_attr *a = CF_ATTR(n, struct reduce_attr);
    double k = var_divisor(red_count(n->in[0], a->mask), a->correction);
    return broadcast_bwd(ctx, n, R_SQDEV, n->aux[0], 2.0 / k);
}

cf_status cf_cpu_logsumexp_bwd(cf_ctx *ctx, cf_node *n) { return broadcast_bwd(ctx, n, R_EXPSUM, n->out, 1.0); }

/* The whole gradient goes to the element the forward picked. */
static cf_status extreme_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0];
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *gx = cf_grad_acc(ctx, x);
    if (!gx) return cf_last_status();
    rgeom g;
    rgeom_init(&g, gx, CF_ATTR(n, struct reduce_attr)->mask);
    const int64_t *idx = cf_data(n->aux[0]);
    if (x->dtype == CF_F32)
        scatter_f(cf_data(gx), cf_data(n->out->grad), idx, &g);
    else
        scatter_d(cf_data(gx), cf_data(n->out->grad), idx, &g);
    return CF_OK;
}

cf_status cf_cpu_max_bwd(cf_ctx *ctx, cf_node *n) { return extreme_bwd(ctx, n); }
cf_status cf_cpu_min_bwd(cf_ctx *ctx, cf_node *n) { return extreme_bwd(ctx, n); }

/* ---- cumsum ---- */

cf_status cf_cpu_cumsum_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = contiguous(ctx, n->in[0]), *y = n->out;
    if (!x) return cf_last_status();
    int64_t outer, len, inner;
    cf_split_dim(y, CF_ATTR(n, struct reduce_attr)->dim, &outer, &len, &inner);
    if (y->dtype == CF_F32)
        scan_f(cf_data(y), cf_data(x), outer, len, inner, false, false);
    else
        scan_d(cf_data(y), cf_data(x), outer, len, inner, false, false);
    return CF_OK;
}

/* The gradient of a running sum is the running sum from the other end. */
cf_status cf_cpu_cumsum_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0], *g = n->out->grad;
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    int64_t outer, len, inner;
    cf_split_dim(x, CF_ATTR(n, struct reduce_attr)->dim, &outer, &len, &inner);
    if (x->dtype == CF_F32)
        scan_f(cf_data(gx), cf_data(g), outer, len, inner, true, !overwrite);
    else
        scan_d(cf_data(gx), cf_data(g), outer, len, inner, true, !overwrite);
    return CF_OK;
}

/* ---- softmax / log_softmax ---- */

static cf_status softmax_fwd(cf_ctx *ctx, cf_node *n, bool take_log)
{
    cf_tensor *x = contiguous(ctx, n->in[0]), *y = n->out;
    if (!x) return cf_last_status();
    int64_t outer, len, inner;
    cf_split_dim(y, CF_ATTR(n, struct reduce_attr)->dim, &outer, &len, &inner);
    if (y->dtype == CF_F32)
        softmax_f(cf_data(y), cf_data(x), outer, len, inner, take_log);
    else
        softmax_d(cf_data(y), cf_data(x), outer, len, inner, take_log);
    return CF_OK;
}

static cf_status softmax_bwd(cf_ctx *ctx, cf_node *n, bool take_log)
{
    cf_tensor *x = n->in[0], *y = n->out, *g = y->grad;
    if (!cf_needs_grad(n, 0)) return CF_OK;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    int64_t outer, len, inner;
    cf_split_dim(y, CF_ATTR(n, struct reduce_attr)->dim, &outer, &len, &inner);
    if (y->dtype == CF_F32)
        softmax_grad_f(cf_data(gx), cf_data(y), cf_data(g), outer, len, inner, take_log, !overwrite);
    else
        softmax_grad_d(cf_data(gx), cf_data(y), cf_data(g), outer, len, inner, take_log, !overwrite);
    return CF_OK;
}

cf_status cf_cpu_softmax_fwd(cf_ctx *ctx, cf_node *n) { return softmax_fwd(ctx, n, false); }
cf_status cf_cpu_softmax_bwd(cf_ctx *ctx, cf_node *n) { return softmax_bwd(ctx, n, false); }
cf_status cf_cpu_log_softmax_fwd(cf_ctx *ctx, cf_node *n) { return softmax_fwd(ctx, n, true); }
cf_status cf_cpu_log_softmax_bwd(cf_ctx *ctx, cf_node *n) { return softmax_bwd(ctx, n, true); }

#else /* ======== typed kernels, T = RK_T ======== */

#define T RK_T

/* One output's reduction over the reduced flat range [lo, hi); c: the center of SQDEV / EXPSUM. MAX and
 * MIN report the first position of the extreme value (a NaN counts as extreme) in *arg. */
static double NAME(block)(const T *x, const rgeom *g, int64_t base, int64_t lo, int64_t hi, int op, double c,
                          int64_t *arg)
{
    int nr = g->nr;
    int64_t inner = g->rshape[nr - 1], is = g->rstride[nr - 1];
    if (op == R_MAX || op == R_MIN) {
        if (lo >= hi) {
            if (arg) *arg = 0;
            return op == R_MAX ? -INFINITY : INFINITY;
        }
        T best = x[base + offset_of(nr, g->rshape, g->rstride, lo)];
        int64_t bi = lo;
        for (int64_t r = lo; r < hi;) {
            int64_t len = min64(inner - r % inner, hi - r);
            const T *p = x + base + offset_of(nr, g->rshape, g->rstride, r);
            if (best != best) break; /* a NaN already won */
            if (op == R_MAX) {
                for (int64_t j = 0; j < len; j++) {
                    T v = p[j * is];
                    if (v > best || v != v) {
                        best = v, bi = r + j;
                        if (v != v) break;
                    }
                }
            } else {
                for (int64_t j = 0; j < len; j++) {
                    T v = p[j * is];
                    if (v < best || v != v) {
                        best = v, bi = r + j;
                        if (v != v) break;
                    }
                }
            }
            r += len;
        }
        if (arg) *arg = bi;
        return best;
    }
    double acc = op == R_VMAX ? -INFINITY : 0;
    T ct = (T)c;
    for (int64_t r = lo; r < hi;) {
        int64_t len = min64(inner - r % inner, hi - r);
        const T *p = x + base + offset_of(nr, g->rshape, g->rstride, r);
        double s = 0;
        if (op == R_SUM) {
            if (is == 1) {
                _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < len; j++) s += (double)p[j];
            } else {
                for (int64_t j = 0; j < len; j++) s += (double)p[j * is];
            }
        } else if (op == R_SQDEV) {
            _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < len; j++)
            {
                double d = (double)p[j * is] - c;
                s += d * d;
            }
        } else if (op == R_VMAX) {
            T m = (T)acc;
            _Pragma("omp simd reduction(max:m)") for (int64_t j = 0; j < len; j++) m = p[j * is] > m ? p[j * is] : m;
            acc = m;
            r += len;
            continue;
        } else { /* R_EXPSUM */
            if (is == 1) {
                _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < len; j++) s += (double)EXP(p[j] - ct);
            } else {
                for (int64_t j = 0; j < len; j++) s += (double)EXP(p[j * is] - ct);
            }
        }
        acc += s;
        r += len;
    }
    return acc;
}

/* Sum-like ops over columns: the innermost kept dim has stride 1 and each reduced position adds a row of
 * it into KB accumulators. The reduced rows are cut into chunks of about RCHUNK elements (partial sums
 * in part, combined in order), so a tall reduction such as [1M, 64] -> [64] still uses every thread. */
static cf_status NAME(columns)(cf_ctx *ctx, const T *x, const rgeom *g, int op, const double *center, double *res)
{
    int nk = g->nk, nr = g->nr;
    int64_t K = g->kshape[nk - 1], nouter = g->nout / K, nkb = (K + KB - 1) / KB;
    int64_t rows = RCHUNK / min64(K, KB), nrc = (g->nred + rows - 1) / rows;
    double *part = res;
    if (nrc > 1) {
        part = cf_scratch(ctx, sizeof(double) * (size_t)(g->nout * nrc));
        if (!part) return cf_last_status();
    }
    _Pragma("omp parallel for schedule(static) if (g->nout * g->nred > CF_PAR_MIN)")
    for (int64_t t = 0; t < nouter * nkb * nrc; t++) {
        int64_t rc = t % nrc, o2 = t / nrc / nkb, k0 = (t / nrc % nkb) * KB, kl = min64(KB, K - k0);
        int64_t r0 = rc * rows, r1 = min64(r0 + rows, g->nred);
        const T *xb = x + offset_of(nk - 1, g->kshape, g->kstride, o2) + k0;
        double acc[KB], cen[KB];
        for (int64_t k = 0; k < kl; k++) acc[k] = 0, cen[k] = center ? center[o2 * K + k0 + k] : 0;
        int64_t idx[CF_MAX_DIMS], off = 0, f = r0;
        for (int d = nr - 1; d >= 0; d--) { /* the multi-index of row r0 */
            idx[d] = f % g->rshape[d];
            off += idx[d] * g->rstride[d];
            f /= g->rshape[d];
        }
        for (int64_t r = r0; r < r1; r++) {
            const T *p = xb + off;
            if (op == R_SUM) {
                _Pragma("omp simd") for (int64_t k = 0; k < kl; k++) acc[k] += (double)p[k];
            } else {
                _Pragma("omp simd") for (int64_t k = 0; k < kl; k++)
                {
                    double d = (double)p[k] - cen[k];
                    acc[k] += d * d;
                }
            }
            odo_next(nr, g->rshape, g->rstride, idx, &off);
        }
        for (int64_t k = 0; k < kl; k++) part[(o2 * K + k0 + k) * nrc + rc] = acc[k];
    }
    if (nrc > 1)
        for (int64_t o = 0; o < g->nout; o++) {
            double v = 0;
            for (int64_t c = 0; c < nrc; c++) v += part[o * nrc + c];
            res[o] = v;
        }
    return CF_OK;
}

/* res[o] (double) = the reduction of output o; arg[o] = its index for MAX/MIN. */
static cf_status NAME(reduce)(cf_ctx *ctx, const T *x, const rgeom *g, int op, const double *center, double *res,
                              int64_t *arg)
{
    if ((op == R_SUM || op == R_SQDEV) && g->kstride[g->nk - 1] == 1 && g->kshape[g->nk - 1] > 1 && g->nred > 1)
        return NAME(columns)(ctx, x, g, op, center, res);
    int64_t nchunk = g->nred > RCHUNK ? (g->nred + RCHUNK - 1) / RCHUNK : 1, tasks = g->nout * nchunk;
    double *part = res;
    int64_t *parg = arg;
    if (nchunk > 1) {
        part = cf_scratch(ctx, sizeof(double) * (size_t)tasks);
        parg = arg ? cf_scratch(ctx, sizeof(int64_t) * (size_t)tasks) : NULL;
        if (!part || (arg && !parg)) return cf_last_status();
    }
    _Pragma("omp parallel for schedule(static) if (g->nout * g->nred > CF_PAR_MIN)")
    for (int64_t t = 0; t < tasks; t++) {
        int64_t o = t / nchunk, lo = (t % nchunk) * RCHUNK, hi = min64(lo + RCHUNK, g->nred);
        int64_t base = offset_of(g->nk, g->kshape, g->kstride, o);
        part[t] = NAME(block)(x, g, base, lo, hi, op, center ? center[o] : 0, parg ? &parg[t] : NULL);
    }
    if (nchunk == 1) return CF_OK;
    for (int64_t o = 0; o < g->nout; o++) { /* combine in order: earlier chunks win ties */
        const double *p = part + o * nchunk;
        const int64_t *pa = parg ? parg + o * nchunk : NULL;
        double v = p[0];
        int64_t a = pa ? pa[0] : 0;
        for (int64_t c = 1; c < nchunk; c++) {
            if (op == R_MAX || op == R_MIN) {
                bool better = op == R_MAX ? p[c] > v : p[c] < v;
                if (v == v && (better || p[c] != p[c])) v = p[c], a = pa ? pa[c] : 0;
            } else if (op == R_VMAX) {
                v = p[c] > v ? p[c] : v;
            } else {
                v += p[c];
            }
        }
        res[o] = v;
        if (arg) arg[o] = a;
    }
    return CF_OK;
}

/* gx (+)= scale * g (R_SUM), scale * g * (x - c) (R_SQDEV), g * exp(x - c) (R_EXPSUM); operands of it:
 * gx, g, x, c. */
static void NAME(bcast_bwd)(const cf_iter *it, T *gx, const T *g, const T *x, const T *c, int op, double scale,
                            bool acc)
{
    int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it);
    int64_t s0 = it->stride[0][it->ndim - 1], s1 = it->stride[1][it->ndim - 1];
    int64_t s2 = it->stride[2][it->ndim - 1], s3 = it->stride[3][it->ndim - 1];
    T sc = (T)scale;
    _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)")
    for (int64_t r = 0; r < rows; r++) {
        int64_t off[CF_ITER_MAX];
        cf_iter_row(it, r, off);
        T *d = gx + off[0];
        const T *gp = g + off[1], *xp = x + off[2], *cp = c + off[3];
        for (int64_t j = 0; j < inner; j++) {
            T v;
            if (op == R_SUM)
                v = gp[j * s1] * sc;
            else if (op == R_SQDEV)
                v = gp[j * s1] * sc * (xp[j * s2] - cp[j * s3]);
            else
                v = gp[j * s1] * EXP(xp[j * s2] - cp[j * s3]);
            d[j * s0] = acc ? d[j * s0] + v : v;
        }
    }
}

static void NAME(scatter)(T *gx, const T *g, const int64_t *idx, const rgeom *gg)
{
    _Pragma("omp parallel for if (gg->nout > CF_PAR_MIN)")
    for (int64_t o = 0; o < gg->nout; o++)
        gx[offset_of(gg->nk, gg->kshape, gg->kstride, o) + offset_of(gg->nr, gg->rshape, gg->rstride, idx[o])] += g[o];
}

/* Running sums along the middle dim of contiguous [outer, len, inner] data, accumulated in double;
 * reverse runs from the end. acc adds into y instead of storing. */
static void NAME(scan)(T *y, const T *x, int64_t outer, int64_t len, int64_t inner, bool reverse, bool acc)
{
    int64_t nkb = (inner + KB - 1) / KB;
    _Pragma("omp parallel for schedule(static) if (outer * len * inner > CF_PAR_MIN)")
    for (int64_t t = 0; t < outer * nkb; t++) {
        int64_t o = t / nkb, k0 = (t % nkb) * KB, kl = min64(KB, inner - k0);
        double run[KB] = {0};
        for (int64_t i0 = 0; i0 < len; i0++) {
            int64_t i = reverse ? len - 1 - i0 : i0;
            const T *p = x + (o * len + i) * inner + k0;
            T *q = y + (o * len + i) * inner + k0;
            for (int64_t k = 0; k < kl; k++) {
                run[k] += (double)p[k];
                q[k] = acc ? q[k] + (T)run[k] : (T)run[k];
            }
        }
    }
}

/* One contiguous row: max, then exp(x - max) (stored, and summed), then scaled; log_softmax stores
 * (x - max) - log(sum) instead. Three passes over a row that stays in L1/L2: memory sees one read of x
 * and one write of y. */
static inline void NAME(softmax_row)(T *restrict y, const T *restrict x, int64_t len, bool take_log)
{
    T m = -INFINITY;
    _Pragma("omp simd reduction(max:m)") for (int64_t j = 0; j < len; j++) m = x[j] > m ? x[j] : m;
    T s = 0;
    if (take_log) {
        _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < len; j++) s += EXP(x[j] - m);
        T ls = LOG(s); /* (x - m) - ls, not x - (m + ls): exact near the max however large m is */
        _Pragma("omp simd") for (int64_t j = 0; j < len; j++) y[j] = (x[j] - m) - ls;
    } else {
        _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < len; j++)
        {
            T e = EXP(x[j] - m);
            y[j] = e;
            s += e;
        }
        T inv = (T)1 / s;
        _Pragma("omp simd") for (int64_t j = 0; j < len; j++) y[j] *= inv;
    }
}

static void NAME(softmax)(T *y, const T *x, int64_t outer, int64_t len, int64_t inner, bool take_log)
{
    if (inner == 1) {
        _Pragma("omp parallel for schedule(static) if (outer * len > CF_PAR_MIN)")
        for (int64_t o = 0; o < outer; o++) NAME(softmax_row)(y + o * len, x + o * len, len, take_log);
        return;
    }
    /* softmax over a strided dim: KB columns at a time, each pass vectorised across the columns */
    int64_t nkb = (inner + KB - 1) / KB;
    _Pragma("omp parallel for schedule(static) if (outer * len * inner > CF_PAR_MIN)")
    for (int64_t t = 0; t < outer * nkb; t++) {
        int64_t o = t / nkb, k0 = (t % nkb) * KB, kl = min64(KB, inner - k0);
        const T *xb = x + o * len * inner + k0;
        T *yb = y + o * len * inner + k0;
        T m[KB], s[KB];
        for (int64_t k = 0; k < kl; k++) m[k] = -INFINITY, s[k] = 0;
        for (int64_t i = 0; i < len; i++) {
            const T *p = xb + i * inner;
            _Pragma("omp simd") for (int64_t k = 0; k < kl; k++) m[k] = p[k] > m[k] ? p[k] : m[k];
        }
        for (int64_t i = 0; i < len; i++) {
            const T *p = xb + i * inner;
            T *q = yb + i * inner;
            _Pragma("omp simd") for (int64_t k = 0; k < kl; k++)
            {
                T e = EXP(p[k] - m[k]);
                if (!take_log) q[k] = e;
                s[k] += e;
            }
        }
        for (int64_t k = 0; k < kl; k++) s[k] = take_log ? LOG(s[k]) : (T)1 / s[k];
        for (int64_t i = 0; i < len; i++) {
            const T *p = xb + i * inner;
            T *q = yb + i * inner;
            if (take_log) {
                _Pragma("omp simd") for (int64_t k = 0; k < kl; k++) q[k] = (p[k] - m[k]) - s[k];
            } else {
                _Pragma("omp simd") for (int64_t k = 0; k < kl; k++) q[k] *= s[k];
            }
        }
    }
}

/* softmax: gx = y * (g - sum(g * y)); log_softmax: gx = g - exp(y) * sum(g). */
static void NAME(softmax_grad)(T *gx, const T *y, const T *g, int64_t outer, int64_t len, int64_t inner, bool take_log,
                               bool acc)
{
    if (inner == 1) {
        _Pragma("omp parallel for schedule(static) if (outer * len > CF_PAR_MIN)")
        for (int64_t o = 0; o < outer; o++) {
            const T *yp = y + o * len, *gp = g + o * len;
            T *d = gx + o * len;
            T dot = 0;
            if (take_log) {
                _Pragma("omp simd reduction(+:dot)") for (int64_t j = 0; j < len; j++) dot += gp[j];
            } else {
                _Pragma("omp simd reduction(+:dot)") for (int64_t j = 0; j < len; j++) dot += gp[j] * yp[j];
            }
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++)
            {
                T v = take_log ? gp[j] - EXP(yp[j]) * dot : yp[j] * (gp[j] - dot);
                d[j] = acc ? d[j] + v : v;
            }
        }
        return;
    }
    int64_t nkb = (inner + KB - 1) / KB;
    _Pragma("omp parallel for schedule(static) if (outer * len * inner > CF_PAR_MIN)")
    for (int64_t t = 0; t < outer * nkb; t++) {
        int64_t o = t / nkb, k0 = (t % nkb) * KB, kl = min64(KB, inner - k0);
        int64_t base = o * len * inner + k0;
        T dot[KB];
        for (int64_t k = 0; k < kl; k++) dot[k] = 0;
        for (int64_t i = 0; i < len; i++) {
            const T *yp = y + base + i * inner, *gp = g + base + i * inner;
            if (take_log) {
                for (int64_t k = 0; k < kl; k++) dot[k] += gp[k];
            } else {
                for (int64_t k = 0; k < kl; k++) dot[k] += gp[k] * yp[k];
            }
        }
        for (int64_t i = 0; i < len; i++) {
            const T *yp = y + base + i * inner, *gp = g + base + i * inner;
            T *d = gx + base + i * inner;
            for (int64_t k = 0; k < kl; k++) {
                T v = take_log ? gp[k] - EXP(yp[k]) * dot[k] : yp[k] * (gp[k] - dot[k]);
                d[k] = acc ? d[k] + v : v;
            }
        }
    }
}

#undef T

#endif
