/* CPU kernels of the norm ops (layer_norm, rms_norm, batch_norm, group_norm), f32 and f64 from one
 * macro-templated body each.
 *
 * Statistics are gathered in chunks small enough to stay in L1: a chunk's mean and squared deviations
 * take two passes over cached data, and chunks merge with Chan's formula. So x is read from memory once
 * for the statistics and once more for the output, and the variance never suffers the cancellation of
 * sum(x^2) - n mean^2. Sums accumulate in the data's dtype (f32 or f64), in SIMD lanes.
 *
 * Gradients of weight and bias are sums over rows; they are formed as partial sums over fixed blocks of
 * rows (or per sample) and then summed over the blocks in order, so the result does not depend on the
 * thread count and no two threads ever add into one element. */
#include "autograd/ops/norm_attr.h"
#include "autograd/cpu/cpu.h"

#include <math.h>
#include <string.h>

#define STAT_CHUNK 2048
#define ROW_BLOCK 32

#define SQRT(v) _Generic((v), float: sqrtf, default: sqrt)(v)

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- shared row helpers ---- */
#define ROW_HELPERS(T, S) \
    /* Merges a chunk (mean cm, squared deviations cq, count cn) into a running (mean, m2, n). */ \
    static inline void merge_##S(T *mean, T *m2, int64_t *n, T cm, T cq, int64_t cn) \
    { \
        if (cn == 0) return; \
        if (*n == 0) { \
            *mean = cm, *m2 = cq, *n = cn; \
            return; \
        } \
        int64_t t = *n + cn; \
        T d = cm - *mean; \
        *mean += d * ((T)cn / (T)t); \
        *m2 += cq + d * d * ((T)*n * ((T)cn / (T)t)); \
        *n = t; \
    } \
    static void seg_stats_##S(const T *x, int64_t len, T *mean, T *m2, int64_t *n) \
    { \
        for (int64_t c0 = 0; c0 < len; c0 += STAT_CHUNK) { \
            int64_t cl = min64(STAT_CHUNK, len - c0); \
            const T *p = x + c0; \
            T s = 0, q = 0; \
            _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < cl; j++) s += p[j]; \
            T cm = s / (T)cl; \
            _Pragma("omp simd reduction(+:q)") for (int64_t j = 0; j < cl; j++) \
            { \
                T d = p[j] - cm; \
                q += d * d; \
            } \
            merge_##S(mean, m2, n, cm, q, cl); \
        } \
    } \
    static T sumsq_##S(const T *x, int64_t len) \
    { \
        T s = 0; \
        _Pragma("omp simd reduction(+:s)") for (int64_t j = 0; j < len; j++) s += x[j] * x[j]; \
        return s; \
    } \
    /* y = x a + c */ \
    static inline void scale_shift_##S(const T *restrict x, T *restrict y, int64_t len, T a, T c) \
    { \
        _Pragma("omp simd") for (int64_t j = 0; j < len; j++) y[j] = x[j] * a + c; \
    } \
    /* y = (x a + c) w + b with elementwise w, b (either may be NULL) */ \
    static inline void affine_##S(const T *restrict x, T *restrict y, int64_t len, T a, T c, const T *restrict w, \
                                  const T *restrict b) \
    { \
        if (w && b) { \
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++) y[j] = (x[j] * a + c) * w[j] + b[j]; \
        } else if (w) { \
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++) y[j] = (x[j] * a + c) * w[j]; \
        } else if (b) { \
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++) y[j] = x[j] * a + c + b[j]; \
        } else { \
            scale_shift_##S(x, y, len, a, c); \
        } \
    } \
    /* dx = a g - off - (x - mu) k, stored or added */ \
    static inline void dx_seg_##S(const T *restrict x, const T *restrict g, T *restrict dx, int64_t len, T mu, T a, \
                                  T off, T k, bool acc) \
    { \
        if (acc) { \
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++) dx[j] += a * g[j] - off - (x[j] - mu) * k; \
        } else { \
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++) dx[j] = a * g[j] - off - (x[j] - mu) * k; \
        } \
    } \
    /* the fused ops' input gradient v = rs g w - off - (x - mu) k + gs (w, gs may be NULL), stored or added to \
     * d1 and d2 (either may be NULL) */ \
    static inline void fused_dx_##S(const T *restrict x, const T *restrict g, const T *restrict w, \
                                    const T *restrict gs, T *restrict d1, bool acc1, T *restrict d2, bool acc2, \
                                    int64_t len, T mu, T rs, T off, T k) \
    { \
        if (w && gs && d1 && d2 && !acc1 && !acc2) { /* the common case, one vector loop */ \
            _Pragma("omp simd") for (int64_t j = 0; j < len; j++) \
            { \
                T v = rs * g[j] * w[j] - off - (x[j] - mu) * k + gs[j]; \
                d1[j] = v, d2[j] = v; \
            } \
            return; \
        } \
        for (int64_t j = 0; j < len; j++) { \
            T v = rs * g[j] * (w ? w[j] : (T)1) - off - (x[j] - mu) * k + (gs ? gs[j] : (T)0); \
            if (d1) d1[j] = acc1 ? d1[j] + v : v; \
            if (d2) d2[j] = acc2 ? d2[j] + v : v; \
        } \
    } \
    /* dst[j] += sum over blocks of part[blk][j], blocks in order */ \
    static void reduce_blocks_##S(T *dst, const T *part, int64_t nblk, int64_t D) \
    { \
        _Pragma("omp parallel for schedule(static) if (nblk * D > CF_PAR_MIN)") for (int64_t j = 0; j < D; j++) \
        { \
            T s = 0; \
            for (int64_t b = 0; b < nblk; b++) s += part[b * D + j]; \
            dst[j] += s; \
        } \
    }

/* ---- layer_norm / rms_norm: M rows of D; center = false is rms_norm (mean 0) ---- */
#define ROW_NORM(T, S) \
    /* res non-NULL (the fused add_*_norm ops): the rows of sum = x + res are written first and normalised */ \
    static void row_fwd_##S(const T *x, const T *res, T *sum, T *y, const T *w, const T *b, T *mean, T *rstd, \
                            int64_t M, int64_t D, T eps, bool center) \
    { \
        _Pragma("omp parallel for schedule(static) if (M * D > CF_PAR_MIN)") for (int64_t r = 0; r < M; r++) \
        { \
            const T *xr = x + r * D; \
            if (res) { \
                const T *restrict ar = xr, *restrict br = res + r * D; \
                T *restrict sr = sum + r * D; \
                _Pragma("omp simd") for (int64_t j = 0; j < D; j++) sr[j] = ar[j] + br[j]; \
                xr = sr; \
            } \
            T mu = 0, var; \
            if (center) { \
                T m2 = 0; \
                int64_t cnt = 0; \
                seg_stats_##S(xr, D, &mu, &m2, &cnt); \
                var = m2 / (T)D; \
                mean[r] = mu; \
            } else { \
                var = sumsq_##S(xr, D) / (T)D; \
            } \
            T rs = (T)1 / SQRT(var + eps); \
            rstd[r] = rs; \
            affine_##S(xr, y + r * D, D, rs, -mu * rs, w, b); \
        } \
    } \
    /* pw, pb: per-block partial sums [nblk, D] of g xhat and g, or NULL; gx NULL: no input gradient. \
     * g NULL: no gradient from the output. The fused ops: gs (NULL: none) is the sum's own gradient, added, \
     * and the result goes to gx and to gx2 (the residual's gradient, acc2: add), either of which may be NULL. */ \
    static void row_bwd_##S(const T *x, const T *g, const T *w, const T *mean, const T *rstd, T *gx, bool acc, \
                            T *pw, T *pb, int64_t M, int64_t D, bool center, const T *gs, T *gx2, bool acc2) \
    { \
        int64_t nblk = (M + ROW_BLOCK - 1) / ROW_BLOCK; \
        _Pragma("omp parallel for schedule(static) if (M * D > CF_PAR_MIN)") for (int64_t blk = 0; blk < nblk; \
                                                                                   blk++) \
        { \
            T *bw = pw ? pw + blk * D : NULL, *bb = pb ? pb + blk * D : NULL; \
            if (bw) memset(bw, 0, sizeof(T) * (size_t)D); \
            if (bb) memset(bb, 0, sizeof(T) * (size_t)D); \
            for (int64_t r = blk * ROW_BLOCK; r < min64((blk + 1) * ROW_BLOCK, M); r++) { \
                const T *restrict xr = x + r * D, *restrict gr = g ? g + r * D : NULL; \
                T mu = center ? mean[r] : (T)0, rs = rstd[r]; \
                if (!gr) { /* the fused ops' sum gradient alone */ \
                    if (gx) dx_seg_##S(xr, gs + r * D, gx + r * D, D, mu, (T)1, (T)0, (T)0, acc); \
                    if (gx2) dx_seg_##S(xr, gs + r * D, gx2 + r * D, D, mu, (T)1, (T)0, (T)0, acc2); \
                    continue; \
                } \
                if (bw) { \
                    _Pragma("omp simd") for (int64_t j = 0; j < D; j++) bw[j] += gr[j] * ((xr[j] - mu) * rs); \
                } \
                if (bb) { \
                    _Pragma("omp simd") for (int64_t j = 0; j < D; j++) bb[j] += gr[j]; \
                } \
                if (!gx && !gx2) continue; \
                T *dr = gx ? gx + r * D : NULL; \
                T s1 = 0, s2 = 0; \
                if (w) { \
                    _Pragma("omp simd reduction(+:s1, s2)") for (int64_t j = 0; j < D; j++) \
                    { \
                        T gy = gr[j] * w[j]; \
                        s1 += gy; \
                        s2 += gy * (xr[j] - mu); \
                    } \
                } else { \
                    _Pragma("omp simd reduction(+:s1, s2)") for (int64_t j = 0; j < D; j++) \
                    { \
                        s1 += gr[j]; \
                        s2 += gr[j] * (xr[j] - mu); \
                    } \
                } \
                /* dx = rs (gy - mean(gy) - xhat mean(gy xhat)) with xhat = (x - mu) rs */ \
                T k = rs * rs * rs * s2 / (T)D, off = center ? rs * s1 / (T)D : (T)0; \
                if (gs || gx2) { /* fused: dx = gs + norm's dx, to gx and gx2 */ \
                    fused_dx_##S(xr, gr, w, gs ? gs + r * D : NULL, gx ? gx + r * D : NULL, acc, gx2 ? gx2 + r * D : NULL, acc2, \
                                 D, mu, rs, off, k); \
                } else if (!w) { \
                    dx_seg_##S(xr, gr, dr, D, mu, rs, off, k, acc); \
                } else if (acc) { \
                    _Pragma("omp simd") for (int64_t j = 0; j < D; j++) dr[j] += rs * gr[j] * w[j] - off - \
                                                                                 (xr[j] - mu) * k; \
                } else { \
                    _Pragma("omp simd") for (int64_t j = 0; j < D; j++) dr[j] = rs * gr[j] * w[j] - off - \
                                                                                (xr[j] - mu) * k; \
                } \
            } \
        } \
    }

/* ---- group_norm: x [N, C, S] as N*G rows of (C/G)*S; weight/bias per channel ---- */
#define GROUP_NORM(T, S) \
    static void group_fwd_##S(const T *x, T *y, const T *w, const T *b, T *mean, T *rstd, int64_t N, int64_t C, \
                              int64_t G, int64_t sp, T eps) \
    { \
        int64_t Cg = C / G, L = Cg * sp; \
        _Pragma("omp parallel for schedule(static) if (N * C * sp > CF_PAR_MIN)") for (int64_t r = 0; r < N * G; \
                                                                                        r++) \
        { \
            const T *xr = x + r * L; \
            T *yr = y + r * L; \
            T mu = 0, m2 = 0; \
            int64_t cnt = 0; \
            seg_stats_##S(xr, L, &mu, &m2, &cnt); \
            T rs = (T)1 / SQRT(m2 / (T)L + eps); \
            mean[r] = mu, rstd[r] = rs; \
            for (int64_t cc = 0, c = (r % G) * Cg; cc < Cg; cc++, c++) { \
                T a = rs * (w ? w[c] : (T)1); \
                scale_shift_##S(xr + cc * sp, yr + cc * sp, sp, a, (b ? b[c] : (T)0) - mu * a); \
            } \
        } \
    } \
    /* pw, pb: per-(sample, channel) partial sums [N, C] of g xhat and g, or NULL */ \
    static void group_bwd_##S(const T *x, const T *g, const T *w, const T *mean, const T *rstd, T *gx, bool acc, \
                              T *pw, T *pb, int64_t N, int64_t C, int64_t G, int64_t sp) \
    { \
        int64_t Cg = C / G, L = Cg * sp; \
        _Pragma("omp parallel for schedule(static) if (N * C * sp > CF_PAR_MIN)") for (int64_t r = 0; r < N * G; \
                                                                                        r++) \
        { \
            int64_t n = r / G, c0 = (r % G) * Cg; \
            const T *xr = x + r * L, *gr = g + r * L; \
            T mu = mean[r], rs = rstd[r], s1 = 0, s2 = 0; \
            for (int64_t cc = 0; cc < Cg; cc++) { \
                const T *xs = xr + cc * sp, *gs = gr + cc * sp; \
                T sg = 0, sgx = 0; \
                _Pragma("omp simd reduction(+:sg, sgx)") for (int64_t j = 0; j < sp; j++) \
                { \
                    sg += gs[j]; \
                    sgx += gs[j] * (xs[j] - mu); \
                } \
                if (pw) pw[n * C + c0 + cc] = sgx * rs; \
                if (pb) pb[n * C + c0 + cc] = sg; \
                T wc = w ? w[c0 + cc] : (T)1; \
                s1 += wc * sg, s2 += wc * sgx; \
            } \
            if (!gx) continue; \
            T k = rs * rs * rs * s2 / (T)L, off = rs * s1 / (T)L; \
            for (int64_t cc = 0; cc < Cg; cc++) \
                dx_seg_##S(xr + cc * sp, gr + cc * sp, gx + r * L + cc * sp, sp, mu, rs * (w ? w[c0 + cc] : (T)1), \
                           off, k, acc); \
        } \
    }

/* ---- batch_norm: x [N, C, S], statistics per channel over N and S ---- */
#define BATCH_NORM(T, S) \
    /* Batch statistics into mean/rstd [C] and the running-stat update (rm NULL: none). pm, pm2: [N*C] scratch. */ \
    static void bn_stats_##S(const T *x, T *mean, T *rstd, int64_t N, int64_t C, int64_t sp, T eps, T *pm, T *pm2, \
                             T *rm, int64_t rms, T *rv, int64_t rvs, T mom) \
    { \
        _Pragma("omp parallel for schedule(static) if (N * C * sp > CF_PAR_MIN)") for (int64_t p = 0; p < N * C; \
                                                                                        p++) \
        { \
            T m = 0, m2 = 0; \
            int64_t cnt = 0; \
            seg_stats_##S(x + p * sp, sp, &m, &m2, &cnt); \
            pm[p] = m, pm2[p] = m2; \
        } \
        for (int64_t c = 0; c < C; c++) { \
            T m = 0, m2 = 0; \
            int64_t cnt = 0; \
            for (int64_t n = 0; n < N; n++) merge_##S(&m, &m2, &cnt, pm[n * C + c], pm2[n * C + c], sp); \
            mean[c] = m; \
            rstd[c] = (T)1 / SQRT(m2 / (T)cnt + eps); \
            if (rm) { \
                rm[c * rms] = ((T)1 - mom) * rm[c * rms] + mom * m; \
                rv[c * rvs] = ((T)1 - mom) * rv[c * rvs] + mom * (m2 / (T)(cnt - 1)); \
            } \
        } \
    } \
    static void bn_apply_##S(const T *x, T *y, const T *w, const T *b, const T *mean, const T *rstd, int64_t N, \
                             int64_t C, int64_t sp) \
    { \
        _Pragma("omp parallel for schedule(static) if (N * C * sp > CF_PAR_MIN)") for (int64_t p = 0; p < N * C; \
                                                                                        p++) \
        { \
            int64_t c = p % C; \
            T a = rstd[c] * (w ? w[c] : (T)1); \
            scale_shift_##S(x + p * sp, y + p * sp, sp, a, (b ? b[c] : (T)0) - mean[c] * a); \
        } \
    } \
    /* ps, psx: [N*C] scratch; cs, csx: [C] scratch. gw/gb/gx NULL when not wanted. */ \
    static void bn_bwd_##S(const T *x, const T *g, const T *w, const T *mean, const T *rstd, T *gx, bool acc, T *gw, \
                           T *gb, int64_t N, int64_t C, int64_t sp, bool training, T *ps, T *psx, T *cs, T *csx) \
    { \
        bool sums = gw || gb || (gx && training); \
        if (sums) { \
            _Pragma("omp parallel for schedule(static) if (N * C * sp > CF_PAR_MIN)") for (int64_t p = 0; \
                                                                                            p < N * C; p++) \
            { \
                const T *xs = x + p * sp, *gs = g + p * sp; \
                T mu = mean[p % C], sg = 0, sgx = 0; \
                _Pragma("omp simd reduction(+:sg, sgx)") for (int64_t j = 0; j < sp; j++) \
                { \
                    sg += gs[j]; \
                    sgx += gs[j] * (xs[j] - mu); \
                } \
                ps[p] = sg, psx[p] = sgx; \
            } \
            for (int64_t c = 0; c < C; c++) { \
                T sg = 0, sgx = 0; \
                for (int64_t n = 0; n < N; n++) sg += ps[n * C + c], sgx += psx[n * C + c]; \
                cs[c] = sg, csx[c] = sgx; \
                if (gw) gw[c] += sgx * rstd[c]; \
                if (gb) gb[c] += sg; \
            } \
        } \
        if (!gx) return; \
        T M = (T)(N * sp); \
        _Pragma("omp parallel for schedule(static) if (N * C * sp > CF_PAR_MIN)") for (int64_t p = 0; p < N * C; \
                                                                                        p++) \
        { \
            int64_t c = p % C; \
            T rs = rstd[c], a = rs * (w ? w[c] : (T)1); \
            T off = training ? a * cs[c] / M : (T)0, k = training ? a * rs * rs * csx[c] / M : (T)0; \
            dx_seg_##S(x + p * sp, g + p * sp, gx + p * sp, sp, mean[c], a, off, k, acc); \
        } \
    }

ROW_HELPERS(float, f)
ROW_HELPERS(double, d)
ROW_NORM(float, f)
ROW_NORM(double, d)
GROUP_NORM(float, f)
GROUP_NORM(double, d)
BATCH_NORM(float, f)
BATCH_NORM(double, d)

/* ---- dispatch ---- */

#define F32P(t) ((t) ? (float *)cf_data(t) : NULL)
#define F64P(t) ((t) ? (double *)cf_data(t) : NULL)

typedef struct {
    cf_tensor *x, *w, *b, *rm, *rv;
} norm_inputs;

static norm_inputs inputs_of(const cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    return (norm_inputs){n->in[0], a->iw > 0 ? n->in[a->iw] : NULL, a->ib > 0 ? n->in[a->ib] : NULL,
                         a->irm > 0 ? n->in[a->irm] : NULL, a->irv > 0 ? n->in[a->irv] : NULL};
}

/* t itself when contiguous (or NULL), else a contiguous copy in the arena. */
static cf_status contig(cf_ctx *ctx, cf_tensor *t, cf_tensor **out)
{
    *out = t;
    if (!t || cf_is_contiguous(t)) return CF_OK;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (!c) return cf_last_status();
    cf_cpu_copy_strided(c, t, false);
    *out = c;
    return CF_OK;
}

/* Contiguous x for forward; kept in aux[2] so backward reads the same copy. */
static cf_status forward_x(cf_ctx *ctx, cf_node *n, cf_tensor **x)
{
    CF_TRY(contig(ctx, n->in[0], x));
    n->aux[2] = *x == n->in[0] ? NULL : *x;
    return CF_OK;
}

static cf_tensor *saved_x(const cf_node *n) { return n->aux[2] ? n->aux[2] : n->in[0]; }

static cf_tensor *vec(cf_ctx *ctx, cf_dtype dt, int64_t n) { return cf_empty(ctx, dt, 1, &n); }

/* Gradient buffers of x (slot), weight and bias (accumulate) as the node needs them. */
typedef struct {
    cf_tensor *gx, *gw, *gb;
    bool acc;
} norm_grads;

static cf_status grads_of(cf_ctx *ctx, const cf_node *n, const norm_inputs *in, norm_grads *g)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    *g = (norm_grads){0};
    bool overwrite = false;
    if (cf_needs_grad(n, 0) && !(g->gx = cf_grad_slot(ctx, in->x, &overwrite))) return cf_last_status();
    g->acc = !overwrite;
    if (in->w && cf_needs_grad(n, a->iw) && !(g->gw = cf_grad_acc(ctx, in->w))) return cf_last_status();
    if (in->b && cf_needs_grad(n, a->ib) && !(g->gb = cf_grad_acc(ctx, in->b))) return cf_last_status();
    return CF_OK;
}

/* ---- layer_norm / rms_norm ---- */

static cf_status row_norm_fwd(cf_ctx *ctx, cf_node *n, bool center)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    norm_inputs in = inputs_of(n);
    cf_tensor *x, *w, *b;
    CF_TRY(forward_x(ctx, n, &x));
    CF_TRY(contig(ctx, in.w, &w));
    CF_TRY(contig(ctx, in.b, &b));
    int64_t D = 1;
    for (int i = x->ndim - a->norm_ndim; i < x->ndim; i++) D *= x->shape[i];
    int64_t M = cf_numel(x) / D;
    cf_tensor *mean = center ? vec(ctx, x->dtype, M) : NULL, *rstd = vec(ctx, x->dtype, M);
    if (!rstd || (center && !mean)) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    if (x->dtype == CF_F32)
        row_fwd_f(F32P(x), NULL, NULL, F32P(n->out), F32P(w), F32P(b), F32P(mean), F32P(rstd), M, D, (float)a->eps,
                  center);
    else
        row_fwd_d(F64P(x), NULL, NULL, F64P(n->out), F64P(w), F64P(b), F64P(mean), F64P(rstd), M, D, a->eps, center);
    return CF_OK;
}

static cf_status row_norm_bwd(cf_ctx *ctx, cf_node *n, bool center)
{
    norm_inputs in = inputs_of(n);
    norm_grads gr;
    CF_TRY(grads_of(ctx, n, &in, &gr));
    cf_tensor *x = saved_x(n), *w, *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    CF_TRY(contig(ctx, in.w, &w));
    int64_t M = cf_numel(rstd), D = M ? cf_numel(x) / M : 0;
    int64_t nblk = (M + ROW_BLOCK - 1) / ROW_BLOCK;
    size_t part = (size_t)(nblk * D) * cf_dtype_size(x->dtype);
    void *pw = gr.gw ? cf_scratch(ctx, part) : NULL, *pb = gr.gb ? cf_scratch(ctx, part) : NULL;
    if ((gr.gw && !pw) || (gr.gb && !pb)) return cf_last_status();
    if (x->dtype == CF_F32) {
        row_bwd_f(F32P(x), F32P(g), F32P(w), F32P(mean), F32P(rstd), F32P(gr.gx), gr.acc, pw, pb, M, D, center, NULL,
                  NULL, false);
        if (gr.gw) reduce_blocks_f(F32P(gr.gw), pw, nblk, D);
        if (gr.gb) reduce_blocks_f(F32P(gr.gb), pb, nblk, D);
    } else {
        row_bwd_d(F64P(x), F64P(g), F64P(w), F64P(mean), F64P(rstd), F64P(gr.gx), gr.acc, pw, pb, M, D, center, NULL,
                  NULL, false);
        if (gr.gw) reduce_blocks_d(F64P(gr.gw), pw, nblk, D);
        if (gr.gb) reduce_blocks_d(F64P(gr.gb), pb, nblk, D);
    }
    return CF_OK;
}

/* ---- add_layer_norm / add_rms_norm: in = {x, r, weight?, bias?}, out2 = s = x + r (contiguous, made here) ---- */

static cf_status add_norm_fwd(cf_ctx *ctx, cf_node *n, bool center)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    norm_inputs in = inputs_of(n);
    cf_tensor *x, *r, *w, *b, *s = n->out2;
    CF_TRY(contig(ctx, n->in[0], &x));
    CF_TRY(contig(ctx, n->in[1], &r));
    CF_TRY(contig(ctx, in.w, &w));
    CF_TRY(contig(ctx, in.b, &b));
    int64_t D = x->shape[x->ndim - 1], M = cf_numel(x) / D;
    cf_tensor *mean = center ? vec(ctx, x->dtype, M) : NULL, *rstd = vec(ctx, x->dtype, M);
    if (!rstd || (center && !mean)) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    if (x->dtype == CF_F32)
        row_fwd_f(F32P(x), F32P(r), F32P(s), F32P(n->out), F32P(w), F32P(b), F32P(mean), F32P(rstd), M, D,
                  (float)a->eps, center);
    else
        row_fwd_d(F64P(x), F64P(r), F64P(s), F64P(n->out), F64P(w), F64P(b), F64P(mean), F64P(rstd), M, D, a->eps,
                  center);
    return CF_OK;
}

static cf_status add_norm_bwd(cf_ctx *ctx, cf_node *n, bool center)
{
    norm_inputs in = inputs_of(n);
    cf_tensor *s = n->out2, *g = n->out->grad, *gs = s->grad, *mean = n->aux[0], *rstd = n->aux[1], *w;
    cf_add_norm_grads gd;
    CF_TRY(cf_add_norm_grads_of(ctx, n, &gd));
    CF_TRY(contig(ctx, in.w, &w));
    int64_t M = cf_numel(rstd), D = M ? cf_numel(s) / M : 0;
    int64_t nblk = (M + ROW_BLOCK - 1) / ROW_BLOCK;
    size_t part = (size_t)(nblk * D) * cf_dtype_size(s->dtype);
    void *pw = gd.gw ? cf_scratch(ctx, part) : NULL, *pb = gd.gb ? cf_scratch(ctx, part) : NULL;
    if ((gd.gw && !pw) || (gd.gb && !pb)) return cf_last_status();
    if (s->dtype == CF_F32) {
        row_bwd_f(F32P(s), F32P(g), F32P(w), F32P(mean), F32P(rstd), F32P(gd.gx), gd.acc, pw, pb, M, D, center,
                  F32P(gs), F32P(gd.gr), gd.acc2);
        if (gd.gw) reduce_blocks_f(F32P(gd.gw), pw, nblk, D);
        if (gd.gb) reduce_blocks_f(F32P(gd.gb), pb, nblk, D);
    } else {
        row_bwd_d(F64P(s), F64P(g), F64P(w), F64P(mean), F64P(rstd), F64P(gd.gx), gd.acc, pw, pb, M, D, center,
                  F64P(gs), F64P(gd.gr), gd.acc2);
        if (gd.gw) reduce_blocks_d(F64P(gd.gw), pw, nblk, D);
        if (gd.gb) reduce_blocks_d(F64P(gd.gb), pb, nblk, D);
    }
    return CF_OK;
}

cf_status cf_cpu_add_layer_norm_fwd(cf_ctx *ctx, cf_node *n) { return add_norm_fwd(ctx, n, true); }
cf_status cf_cpu_add_layer_norm_bwd(cf_ctx *ctx, cf_node *n) { return add_norm_bwd(ctx, n, true); }
cf_status cf_cpu_add_rms_norm_fwd(cf_ctx *ctx, cf_node *n) { return add_norm_fwd(ctx, n, false); }
cf_status cf_cpu_add_rms_norm_bwd(cf_ctx *ctx, cf_node *n) { return add_norm_bwd(ctx, n, false); }

cf_status cf_cpu_layer_norm_fwd(cf_ctx *ctx, cf_node *n) { return row_norm_fwd(ctx, n, true); }
cf_status cf_cpu_layer_norm_bwd(cf_ctx *ctx, cf_node *n) { return row_norm_bwd(ctx, n, true); }
cf_status cf_cpu_rms_norm_fwd(cf_ctx *ctx, cf_node *n) { return row_norm_fwd(ctx, n, false); }
cf_status cf_cpu_rms_norm_bwd(cf_ctx *ctx, cf_node *n) { return row_norm_bwd(ctx, n, false); }

/* ---- group_norm / batch_norm: x viewed as [N, C, S] ---- */

static void ncs(const cf_tensor *x, int64_t *N, int64_t *C, int64_t *sp)
{
    *N = x->shape[0], *C = x->shape[1], *sp = 1;
    for (int i = 2; i < x->ndim; i++) *sp *= x->shape[i];
}

cf_status cf_cpu_group_norm_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    norm_inputs in = inputs_of(n);
    cf_tensor *x, *w, *b;
    CF_TRY(forward_x(ctx, n, &x));
    CF_TRY(contig(ctx, in.w, &w));
    CF_TRY(contig(ctx, in.b, &b));
    int64_t N, C, sp, G = a->groups;
    ncs(x, &N, &C, &sp);
    cf_tensor *mean = vec(ctx, x->dtype, N * G), *rstd = vec(ctx, x->dtype, N * G);
    if (!mean || !rstd) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    if (x->dtype == CF_F32)
        group_fwd_f(F32P(x), F32P(n->out), F32P(w), F32P(b), F32P(mean), F32P(rstd), N, C, G, sp, (float)a->eps);
    else
        group_fwd_d(F64P(x), F64P(n->out), F64P(w), F64P(b), F64P(mean), F64P(rstd), N, C, G, sp, a->eps);
    return CF_OK;
}

cf_status cf_cpu_group_norm_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    norm_inputs in = inputs_of(n);
    norm_grads gr;
    CF_TRY(grads_of(ctx, n, &in, &gr));
    cf_tensor *x = saved_x(n), *w, *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    CF_TRY(contig(ctx, in.w, &w));
    int64_t N, C, sp, G = a->groups;
    ncs(x, &N, &C, &sp);
    size_t part = (size_t)(N * C) * cf_dtype_size(x->dtype);
    void *pw = gr.gw ? cf_scratch(ctx, part) : NULL, *pb = gr.gb ? cf_scratch(ctx, part) : NULL;
    if ((gr.gw && !pw) || (gr.gb && !pb)) return cf_last_status();
    if (x->dtype == CF_F32) {
        group_bwd_f(F32P(x), F32P(g), F32P(w), F32P(mean), F32P(rstd), F32P(gr.gx), gr.acc, pw, pb, N, C, G, sp);
        if (gr.gw) reduce_blocks_f(F32P(gr.gw), pw, N, C);
        if (gr.gb) reduce_blocks_f(F32P(gr.gb), pb, N, C);
    } else {
        group_bwd_d(F64P(x), F64P(g), F64P(w), F64P(mean), F64P(rstd), F64P(gr.gx), gr.acc, pw, pb, N, C, G, sp);
        if (gr.gw) reduce_blocks_d(F64P(gr.gw), pw, N, C);
        if (gr.gb) reduce_blocks_d(F64P(gr.gb), pb, N, C);
    }
    return CF_OK;
}

cf_status cf_cpu_batch_norm_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    norm_inputs in = inputs_of(n);
    cf_tensor *x, *w, *b;
    CF_TRY(forward_x(ctx, n, &x));
    CF_TRY(contig(ctx, in.w, &w));
    CF_TRY(contig(ctx, in.b, &b));
    int64_t N, C, sp;
    ncs(x, &N, &C, &sp);
    cf_tensor *mean = vec(ctx, x->dtype, C), *rstd = vec(ctx, x->dtype, C);
    if (!mean || !rstd) return cf_last_status();
    n->aux[0] = mean, n->aux[1] = rstd;
    size_t es = cf_dtype_size(x->dtype);
    if (a->training) {
        void *pm = cf_scratch(ctx, (size_t)(N * C) * es), *pm2 = cf_scratch(ctx, (size_t)(N * C) * es);
        if (!pm || !pm2) return cf_last_status();
        int64_t rms = in.rm ? in.rm->stride[0] : 0, rvs = in.rv ? in.rv->stride[0] : 0;
        if (x->dtype == CF_F32)
            bn_stats_f(F32P(x), F32P(mean), F32P(rstd), N, C, sp, (float)a->eps, pm, pm2, F32P(in.rm), rms,
                       F32P(in.rv), rvs, (float)a->momentum);
        else
            bn_stats_d(F64P(x), F64P(mean), F64P(rstd), N, C, sp, a->eps, pm, pm2, F64P(in.rm), rms, F64P(in.rv),
                       rvs, a->momentum);
        if (in.rm) cf_bump_version(in.rm), cf_bump_version(in.rv);
    } else {
        /* copied, so that backward is unaffected by later updates of the running statistics */
        for (int64_t c = 0; c < C; c++) {
            double m = cf_get_flat(in.rm, c), v = cf_get_flat(in.rv, c);
            cf_set_flat(mean, c, m);
            cf_set_flat(rstd, c, x->dtype == CF_F32 ? (double)(1.0f / sqrtf((float)v + (float)a->eps)) : 1.0 / sqrt(v + a->eps));
        }
    }
    if (x->dtype == CF_F32)
        bn_apply_f(F32P(x), F32P(n->out), F32P(w), F32P(b), F32P(mean), F32P(rstd), N, C, sp);
    else
        bn_apply_d(F64P(x), F64P(n->out), F64P(w), F64P(b), F64P(mean), F64P(rstd), N, C, sp);
    return CF_OK;
}

cf_status cf_cpu_batch_norm_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    norm_inputs in = inputs_of(n);
    norm_grads gr;
    CF_TRY(grads_of(ctx, n, &in, &gr));
    cf_tensor *x = saved_x(n), *w, *g = n->out->grad, *mean = n->aux[0], *rstd = n->aux[1];
    CF_TRY(contig(ctx, in.w, &w));
    int64_t N, C, sp;
    ncs(x, &N, &C, &sp);
    size_t es = cf_dtype_size(x->dtype);
    void *ps = cf_scratch(ctx, (size_t)(N * C) * es), *psx = cf_scratch(ctx, (size_t)(N * C) * es);
    void *cs = cf_scratch(ctx, (size_t)C * es), *csx = cf_scratch(ctx, (size_t)C * es);
    if (!ps || !psx || !cs || !csx) return cf_last_status();
    if (x->dtype == CF_F32)
        bn_bwd_f(F32P(x), F32P(g), F32P(w), F32P(mean), F32P(rstd), F32P(gr.gx), gr.acc, F32P(gr.gw), F32P(gr.gb), N,
                 C, sp, a->training, ps, psx, cs, csx);
    else
        bn_bwd_d(F64P(x), F64P(g), F64P(w), F64P(mean), F64P(rstd), F64P(gr.gx), gr.acc, F64P(gr.gw), F64P(gr.gb), N,
                 C, sp, a->training, ps, psx, cs, csx);
    return CF_OK;
}
