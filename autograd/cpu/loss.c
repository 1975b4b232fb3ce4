/* CPU kernels of the losses.
 *
 * cross_entropy / nll_loss see the logits as [outer, C, inner] around the class dim; a sample is one
 * (outer, inner) position. With inner == 1 (the [N, C] and class-last layouts) a sample's classes are a
 * contiguous, vectorised row; otherwise forward walks each sample's classes `inner` apart (neighbouring
 * samples share cache lines) and backward runs along inner, one (outer, class) row at a time.
 * Per-sample losses land in a double array that is summed in order, so mean and sum do not depend on
 * the thread count.
 *
 * The typed kernels are written once below the `#else` and compiled for float and double: this file
 * includes itself with LK_T defined. */
#ifndef LK_T

#include "autograd/ops/loss_elem.h"
#include "autograd/ops/reduce_attr.h" /* the vectorised exp */
#include "autograd/cpu/cpu.h"

#include <string.h>

#define ECHUNK 16384  /* elements per task (and partial sum) of the elementwise losses */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *x)
{
    if (cf_is_contiguous(x)) return x;
    cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (c) cf_cpu_copy_strided(c, x, false);
    return c;
}

static void class_split(const cf_tensor *x, int cd, int64_t *outer, int64_t *C, int64_t *inner)
{
    *outer = *C = *inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < cd) *outer *= x->shape[i];
        else if (i == cd) *C = x->shape[i];
        else *inner *= x->shape[i];
    }
}

/* out = the per-sample losses, or their sum / divisor. */
static void finish_out(cf_tensor *out, const double *ls, int64_t S, cf_reduction red, double divisor)
{
    if (red == CF_REDUCTION_NONE) {
        if (out->dtype == CF_F32)
            for (int64_t s = 0; s < S; s++) ((float *)cf_data(out))[s] = (float)ls[s];
        else
            memcpy(cf_data(out), ls, sizeof(double) * (size_t)S);
        return;
    }
    double tot = 0;
    for (int64_t s = 0; s < S; s++) tot += ls[s];
    cf_set_flat(out, 0, tot / divisor);
}

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(f) CAT(f, LK_S)

#define LK_T float
#define LK_S _f
#define EXP expf
#define VEXP expf_shifted
#define LOG logf
#define LOG1P log1pf
#define POW powf
#define FABS fabsf
#include "autograd/cpu/loss.c"
#undef LK_T
#undef LK_S
#undef EXP
#undef VEXP
#undef LOG
#undef LOG1P
#undef POW
#undef FABS
#define LK_T double
#define LK_S _d
#define EXP exp
#define VEXP exp
#define LOG log
#define LOG1P log1p
#define POW pow
#define FABS fabs
#include "autograd/cpu/loss.c"
#undef LK_T
#undef LK_S
#undef EXP
#undef VEXP
#undef LOG
#undef LOG1P
#undef POW
#undef FABS

/* ---- cross entropy ---- */

cf_status cf_cpu_cross_entropy_fwd(cf_ctx *ctx, cf_node *n)
{
    struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = contiguous(ctx, n->in[0]), *tg = contiguous(ctx, n->in[1]);
    if (!x || !tg) return cf_last_status();
    int64_t outer, C, inner;
    class_split(x, a->class_dim, &outer, &C, &inner);
    int64_t S = outer * inner, count = S;
    if (!a->soft)
        CF_TRY(cf_loss_check_targets("cross_entropy", n->in[1], cf_data(tg), S, C, a->ignore_index, &count));
    double *ls = cf_scratch(ctx, sizeof(double) * (size_t)(S ? S : 1));
    int64_t two_s[2] = {2, S};
    n->aux[0] = cf_empty(ctx, x->dtype, 2, two_s); /* per sample: the max logit, log(sum(exp(x - max))) */
    n->aux[1] = a->soft ? cf_empty(ctx, x->dtype, 1, &S) : NULL; /* per sample: sum of the target distribution */
    if (!ls || !n->aux[0] || (a->soft && !n->aux[1])) return cf_last_status();
    void *qs = a->soft ? cf_data(n->aux[1]) : NULL;
    if (x->dtype == CF_F32)
        ce_fwd_f(cf_data(x), a->soft ? NULL : cf_data(tg), a->soft ? cf_data(tg) : NULL, outer, C, inner, a,
                 (float *)cf_data(n->aux[0]), (float *)cf_data(n->aux[0]) + S, qs, ls);
    else
        ce_fwd_d(cf_data(x), a->soft ? NULL : cf_data(tg), a->soft ? cf_data(tg) : NULL, outer, C, inner, a,
                 (double *)cf_data(n->aux[0]), (double *)cf_data(n->aux[0]) + S, qs, ls);
    a->divisor = a->reduction == CF_REDUCTION_MEAN ? (double)count : 1.0;
    finish_out(n->out, ls, S, a->reduction, a->divisor);
    return CF_OK;
}

cf_status cf_cpu_cross_entropy_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    bool need_x = cf_needs_grad(n, 0), need_q = a->soft && cf_needs_grad(n, 1);
    if (!need_x && !need_q) return CF_OK;
    cf_tensor *x = contiguous(ctx, n->in[0]), *tg = contiguous(ctx, n->in[1]);
    if (!x || !tg) return cf_last_status();
    int64_t outer, C, inner;
    class_split(x, a->class_dim, &outer, &C, &inner);
    bool ow_x = false, ow_q = false;
    cf_tensor *gx = need_x ? cf_grad_slot(ctx, n->in[0], &ow_x) : NULL;
    cf_tensor *gq = need_q ? cf_grad_slot(ctx, n->in[1], &ow_q) : NULL;
    if ((need_x && !gx) || (need_q && !gq)) return cf_last_status();
    bool per_sample = a->reduction == CF_REDUCTION_NONE;
    int64_t S = outer * inner;
    if (x->dtype == CF_F32)
        ce_bwd_f(cf_data(x), a->soft ? NULL : cf_data(tg), a->soft ? cf_data(tg) : NULL, outer, C, inner, a,
                 (float *)cf_data(n->aux[0]), (float *)cf_data(n->aux[0]) + S, a->soft ? cf_data(n->aux[1]) : NULL,
                 cf_data(n->out->grad), per_sample, gx ? cf_data(gx) : NULL, !ow_x, gq ? cf_data(gq) : NULL, !ow_q);
    else
        ce_bwd_d(cf_data(x), a->soft ? NULL : cf_data(tg), a->soft ? cf_data(tg) : NULL, outer, C, inner, a,
                 (double *)cf_data(n->aux[0]), (double *)cf_data(n->aux[0]) + S, a->soft ? cf_data(n->aux[1]) : NULL,
                 cf_data(n->out->grad), per_sample, gx ? cf_data(gx) : NULL, !ow_x, gq ? cf_data(gq) : NULL, !ow_q);
    return CF_OK;
}

/* ---- nll ---- */

cf_status cf_cpu_nll_loss_fwd(cf_ctx *ctx, cf_node *n)
{
    struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = n->in[0], *tg = contiguous(ctx, n->in[1]);
    if (!tg) return cf_last_status();
    int64_t outer, C, inner, count;
    class_split(x, a->class_dim, &outer, &C, &inner);
    int64_t S = outer * inner;
    const int64_t *t = cf_data(tg);
    CF_TRY(cf_loss_check_targets("nll_loss", n->in[1], t, S, C, a->ignore_index, &count));
    double *ls = cf_scratch(ctx, sizeof(double) * (size_t)(S ? S : 1));
    if (!ls) return cf_last_status();
    /* one element per sample: read through x's strides */
    int64_t cs = x->stride[a->class_dim];
    cf_tensor xs = *x; /* x without its class dim, as a [S]-shaped walk */
    xs.ndim = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != a->class_dim) xs.shape[xs.ndim] = x->shape[d], xs.stride[xs.ndim++] = x->stride[d];
    for (int64_t s = 0; s < S; s++) {
        if (t[s] == a->ignore_index) {
            ls[s] = 0;
            continue;
        }
        cf_tensor e = xs;
        e.offset += t[s] * cs;
        ls[s] = -cf_get_flat(&e, s);
    }
    a->divisor = a->reduction == CF_REDUCTION_MEAN ? (double)count : 1.0;
    finish_out(n->out, ls, S, a->reduction, a->divisor);
    return CF_OK;
}

cf_status cf_cpu_nll_loss_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *x = n->in[0], *tg = contiguous(ctx, n->in[1]), *g = n->out->grad;
    cf_tensor *gx = cf_grad_acc(ctx, x);
    if (!tg || !gx) return cf_last_status();
    int64_t outer, C, inner;
    class_split(x, a->class_dim, &outer, &C, &inner);
    const int64_t *t = cf_data(tg);
    bool per_sample = a->reduction == CF_REDUCTION_NONE;
    for (int64_t s = 0; s < outer * inner; s++) {
        if (t[s] == a->ignore_index) continue;
        int64_t o = s / inner, k = s % inner, at = (o * C + t[s]) * inner + k; /* gx is contiguous */
        double gs = (per_sample ? cf_get_flat(g, s) : cf_get_flat(g, 0)) / a->divisor;
        if (x->dtype == CF_F32)
            ((float *)cf_data(gx))[at] -= (float)gs;
        else
            ((double *)cf_data(gx))[at] -= gs;
    }
    return CF_OK;
}

/* ---- elementwise losses ---- */

static cf_status pointwise_fwd(cf_ctx *ctx, cf_node *n, int kind)
{
    struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = n->in[0], *y = n->in[1], *w = n->n_in > 2 ? n->in[2] : x;
    cf_iter it;
    const cf_tensor *ops[3] = {x, y, w};
    cf_iter_init(&it, x->ndim, x->shape, 3, ops);
    int64_t inner = cf_iter_inner(&it), nch = (inner + ECHUNK - 1) / ECHUNK, tasks = cf_iter_rows(&it) * nch;
    double *part = cf_scratch(ctx, sizeof(double) * (size_t)(tasks ? tasks : 1));
    if (!part) return cf_last_status();
    bool none = a->reduction == CF_REDUCTION_NONE;
    if (x->dtype == CF_F32)
        pw_fwd_f(&it, kind, a, n->n_in > 2, cf_data(x), cf_data(y), cf_data(w), none ? cf_data(n->out) : NULL, part);
    else
        pw_fwd_d(&it, kind, a, n->n_in > 2, cf_data(x), cf_data(y), cf_data(w), none ? cf_data(n->out) : NULL, part);
    a->divisor = a->reduction == CF_REDUCTION_MEAN ? (double)cf_numel(x) : 1.0;
    if (!none) finish_out(n->out, part, tasks, a->reduction, a->divisor);
    return CF_OK;
}

static cf_status pointwise_bwd(cf_ctx *ctx, cf_node *n, int kind)
{
    const struct loss_attr *a = CF_ATTR(n, struct loss_attr);
    cf_tensor *x = n->in[0], *y = n->in[1], *w = n->n_in > 2 ? n->in[2] : x;
    bool nx = cf_needs_grad(n, 0), ny = cf_needs_grad(n, 1), nw = n->n_in > 2 && cf_needs_grad(n, 2);
    if (!nx && !ny && !nw) return CF_OK;
    bool ow_x = false, ow_y = false;
    cf_tensor *gx = nx ? cf_grad_slot(ctx, x, &ow_x) : NULL, *gy = ny ? cf_grad_slot(ctx, y, &ow_y) : NULL;
    /* pos_weight is broadcast: its gradient is made at x's shape, then summed down */
    cf_tensor *gw = nw ? cf_empty(ctx, x->dtype, x->ndim, x->shape) : NULL;
    if ((nx && !gx) || (ny && !gy) || (nw && !gw)) return cf_last_status();
    cf_iter it;
    const cf_tensor *ops[3] = {x, y, w};
    cf_iter_init(&it, x->ndim, x->shape, 3, ops);
    bool none = a->reduction == CF_REDUCTION_NONE;
    double gscale = none ? 1.0 : cf_get_flat(n->out->grad, 0) / a->divisor;
    if (x->dtype == CF_F32)
        pw_bwd_f(&it, kind, a, n->n_in > 2, cf_data(x), cf_data(y), cf_data(w), none ? cf_data(n->out->grad) : NULL,
                 gscale, gx ? cf_data(gx) : NULL, !ow_x, gy ? cf_data(gy) : NULL, !ow_y, gw ? cf_data(gw) : NULL);
    else
        pw_bwd_d(&it, kind, a, n->n_in > 2, cf_data(x), cf_data(y), cf_data(w), none ? cf_data(n->out->grad) : NULL,
                 gscale, gx ? cf_data(gx) : NULL, !ow_x, gy ? cf_data(gy) : NULL, !ow_y, gw ? cf_data(gw) : NULL);
    if (nw) CF_TRY(cf_cpu_accum_grad(ctx, w, gw));
    return CF_OK;
}

cf_status cf_cpu_mse_loss_fwd(cf_ctx *ctx, cf_node *n) { return pointwise_fwd(ctx, n, L_MSE); }
cf_status cf_cpu_mse_loss_bwd(cf_ctx *ctx, cf_node *n) { return pointwise_bwd(ctx, n, L_MSE); }
cf_status cf_cpu_l1_loss_fwd(cf_ctx *ctx, cf_node *n) { return pointwise_fwd(ctx, n, L_L1); }
cf_status cf_cpu_l1_loss_bwd(cf_ctx *ctx, cf_node *n) { return pointwise_bwd(ctx, n, L_L1); }
cf_status cf_cpu_bce_with_logits_fwd(cf_ctx *ctx, cf_node *n) { return pointwise_fwd(ctx, n, L_BCE); }
cf_status cf_cpu_bce_with_logits_bwd(cf_ctx *ctx, cf_node *n) { return pointwise_bwd(ctx, n, L_BCE); }
cf_status cf_cpu_sigmoid_focal_loss_fwd(cf_ctx *ctx, cf_node *n) { return pointwise_fwd(ctx, n, L_FOCAL); }
cf_status cf_cpu_sigmoid_focal_loss_bwd(cf_ctx *ctx, cf_node *n) { return pointwise_bwd(ctx, n, L_FOCAL); }

#else /* ======== typed kernels, T = LK_T ======== */

#define T LK_T

/* Per-sample loss of cross entropy. xr: the sample's first logit, classes cs apart; t: its class (hard)
 * or q: its target distribution, also cs apart (soft). Also stores the max logit and log(sum(exp(x - max)))
 * (backward's log_softmax is (x - max) - that, exact near the max) and, soft, sum(q'). */
static inline double NAME(ce_sample)(const T *xr, int64_t cs, int64_t C, int64_t t, const T *q, double eps,
                                     T *max_out, T *lsum_out, T *qsum_out)
{
    T m = -INFINITY;
    if (cs == 1) {
        _Pragma("omp simd reduction(max:m)") for (int64_t c = 0; c < C; c++) m = xr[c] > m ? xr[c] : m;
    } else {
        for (int64_t c = 0; c < C; c++) m = xr[c * cs] > m ? xr[c * cs] : m;
    }
    double se = 0, sx = 0, sq = 0, sqx = 0;
    if (cs == 1) {
        _Pragma("omp simd reduction(+:se, sx)") for (int64_t c = 0; c < C; c++)
        {
            se += (double)VEXP(xr[c] - m);
            sx += (double)xr[c];
        }
        if (q) {
            _Pragma("omp simd reduction(+:sq, sqx)") for (int64_t c = 0; c < C; c++)
            {
                sq += (double)q[c];
                sqx += (double)q[c] * (double)xr[c];
            }
        }
    } else {
        for (int64_t c = 0; c < C; c++) {
            T v = xr[c * cs];
            se += (double)VEXP(v - m);
            sx += (double)v;
            if (q) sq += (double)q[c * cs], sqx += (double)q[c * cs] * (double)v;
        }
    }
    double lse = (double)m + log(se);
    *max_out = m;
    *lsum_out = (T)log(se);
    if (q) {
        /* q' = (1 - eps) q + eps / C;  loss = sum(q') lse - sum(q' x) */
        double sq2 = (1 - eps) * sq + eps, sqx2 = (1 - eps) * sqx + eps * sx / (double)C;
        *qsum_out = (T)sq2;
        return sq2 * lse - sqx2;
    }
    /* (1 - eps) (lse - x_t) + eps (lse - mean(x)) */
    return (1 - eps) * (lse - (double)xr[t * cs]) + eps * (lse - sx / (double)C);
}

static void NAME(ce_fwd)(const T *x, const int64_t *tg, const T *q, int64_t outer, int64_t C, int64_t inner,
                         const struct loss_attr *a, T *mx, T *lsum, T *qsum, double *ls)
{
    int64_t S = outer * inner;
    double eps = a->label_smoothing;
    _Pragma("omp parallel for schedule(static) if (S * C > CF_PAR_MIN)")
    for (int64_t s = 0; s < S; s++) {
        int64_t o = s / inner, k = s % inner, base = o * C * inner + k;
        if (tg && tg[s] == a->ignore_index) {
            ls[s] = 0;
            mx[s] = lsum[s] = 0;
            continue;
        }
        T qs;
        ls[s] = NAME(ce_sample)(x + base, inner, C, tg ? tg[s] : 0, q ? q + base : NULL, eps, &mx[s], &lsum[s], &qs);
        if (qsum) qsum[s] = qs;
    }
}

/* gx = (softmax * sum(q') - q') * gs and gq = -(1 - eps) log_softmax * gs, where gs is the sample's
 * gradient over the divisor; with inner > 1, rows (o, c) run along inner so every loop is contiguous. */
static void NAME(ce_bwd)(const T *x, const int64_t *tg, const T *q, int64_t outer, int64_t C, int64_t inner,
                         const struct loss_attr *a, const T *mx, const T *lsum, const T *qsum, const T *g,
                         bool per_sample,
                         T *gx, bool acc_x, T *gq, bool acc_q)
{
    double eps = a->label_smoothing, inv = 1.0 / a->divisor;
    T off = (T)(eps / (double)C), keep = (T)(1 - eps), g0 = per_sample ? 0 : (T)((double)g[0] * inv);
    if (inner == 1) { /* one contiguous row per sample */
        _Pragma("omp parallel for schedule(static) if (outer * C > CF_PAR_MIN)")
        for (int64_t s = 0; s < outer; s++) {
            const T *xr = x + s * C, m = mx[s], l = lsum[s];
            T gs = per_sample ? (T)((double)g[s] * inv) : g0;
            T *gxr = gx ? gx + s * C : NULL, *gqr = gq ? gq + s * C : NULL;
            if (tg && tg[s] == a->ignore_index) {
                if (gxr && !acc_x) memset(gxr, 0, sizeof(T) * (size_t)C);
                continue;
            }
            if (tg) {
                _Pragma("omp simd") for (int64_t c = 0; c < C; c++)
                {
                    T v = (VEXP((xr[c] - m) - l) - off) * gs;
                    gxr[c] = acc_x ? gxr[c] + v : v;
                }
                gxr[tg[s]] -= keep * gs;
                continue;
            }
            const T *qr = q + s * C, qs = qsum[s];
            if (gxr) {
                _Pragma("omp simd") for (int64_t c = 0; c < C; c++)
                {
                    T v = (VEXP((xr[c] - m) - l) * qs - (keep * qr[c] + off)) * gs;
                    gxr[c] = acc_x ? gxr[c] + v : v;
                }
            }
            if (gqr) {
                _Pragma("omp simd") for (int64_t c = 0; c < C; c++)
                {
                    T v = -keep * ((xr[c] - m) - l) * gs;
                    gqr[c] = acc_q ? gqr[c] + v : v;
                }
            }
        }
        return;
    }
    _Pragma("omp parallel for schedule(static) if (outer * C * inner > CF_PAR_MIN)")
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t c = 0; c < C; c++) {
            int64_t row = (o * C + c) * inner;
            const T *xr = x + row, *mr = mx + o * inner, *lr = lsum + o * inner;
            const int64_t *tr = tg ? tg + o * inner : NULL;
            const T *qr = q ? q + row : NULL, *qsr = qsum ? qsum + o * inner : NULL;
            const T *gr = per_sample ? g + o * inner : NULL;
            T *gxr = gx ? gx + row : NULL, *gqr = gq ? gq + row : NULL;
            _Pragma("omp simd") for (int64_t k = 0; k < inner; k++)
            {
                T gs = per_sample ? (T)((double)gr[k] * inv) : g0;
                T lp = (xr[k] - mr[k]) - lr[k];
                T vx, vq = 0;
                if (tr) {
                    bool ign = tr[k] == a->ignore_index;
                    vx = ign ? (T)0 : (VEXP(lp) - keep * (T)(tr[k] == c) - off) * gs;
                } else {
                    vx = (VEXP(lp) * qsr[k] - (keep * qr[k] + off)) * gs;
                    vq = -keep * lp * gs;
                }
                if (gxr) gxr[k] = acc_x ? gxr[k] + vx : vx;
                if (gqr) gqr[k] = acc_q ? gqr[k] + vq : vq;
            }
        }
    }
}

CF_LOSS_ELEM(NAME(pw_elem), T, )

/* Forward over cf_iter rows of x, y, w, cut into ECHUNK tasks: out[flat] = loss (none) or
 * part[task] = the task's sum. */
static void NAME(pw_fwd)(const cf_iter *it, int kind, const struct loss_attr *a, bool has_w, const T *x, const T *y,
                         const T *w, T *out, double *part)
{
    int64_t inner = cf_iter_inner(it), nch = (inner + ECHUNK - 1) / ECHUNK, tasks = cf_iter_rows(it) * nch;
    int64_t sx = it->stride[0][it->ndim - 1], sy = it->stride[1][it->ndim - 1], sw = it->stride[2][it->ndim - 1];
    _Pragma("omp parallel for schedule(static) if (it->numel > CF_PAR_MIN)")
    for (int64_t t = 0; t < tasks; t++) {
        int64_t r = t / nch, j0 = (t % nch) * ECHUNK, j1 = min64(j0 + ECHUNK, inner);
        int64_t off[CF_ITER_MAX];
        cf_iter_row(it, r, off);
        double acc = 0;
        for (int64_t j = j0; j < j1; j++) {
            T l = NAME(pw_elem)(kind, a, x[off[0] + j * sx], y[off[1] + j * sy], has_w ? w[off[2] + j * sw] : (T)1,
                                false, NULL, NULL, NULL);
            if (out)
                out[r * inner + j] = l;
            else
                acc += (double)l;
        }
        part[t] = acc;
    }
}

static void NAME(pw_bwd)(const cf_iter *it, int kind, const struct loss_attr *a, bool has_w, const T *x, const T *y,
                         const T *w, const T *g, double gscale, T *gx, bool acc_x, T *gy, bool acc_y, T *gw)
{
    int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it);
    int64_t sx = it->stride[0][it->ndim - 1], sy = it->stride[1][it->ndim - 1], sw = it->stride[2][it->ndim - 1];
    T gsc = (T)gscale;
    _Pragma("omp parallel for schedule(static) if (it->numel > CF_PAR_MIN)")
    for (int64_t r = 0; r < rows; r++) {
        int64_t off[CF_ITER_MAX];
        cf_iter_row(it, r, off);
        for (int64_t j = 0; j < inner; j++) {
            int64_t f = r * inner + j; /* the flat position: gx, gy, gw and g are contiguous */
            T dx = 0, dy = 0, dw = 0;
            NAME(pw_elem)(kind, a, x[off[0] + j * sx], y[off[1] + j * sy], has_w ? w[off[2] + j * sw] : (T)1, true,
                          &dx, &dy, &dw);
            T gs = g ? g[f] : gsc;
            if (gx) gx[f] = acc_x ? gx[f] + dx * gs : dx * gs;
            if (gy) gy[f] = acc_y ? gy[f] + dy * gs : dy * gs;
            if (gw) gw[f] = dw * gs;
        }
    }
}

#undef T

#endif
