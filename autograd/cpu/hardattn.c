/* CPU kernels of topk_softmax (autograd/ops/hardattn.h). One thread per row: the k-th largest value is
 * found by quickselect on a copy of the row (O(len)), the kept set is every entry strictly larger plus the
 * first entries equal to it in index order (so exactly k are kept, ties to the lower index as cf_topk), and
 * the softmax runs over the kept entries. The quickselect copies live in a scratch buffer of the input's size
 * (each row its own slice, so no thread bookkeeping). Backward is the softmax backward from the output, which is zero
 * wherever the output is. NaN counts as larger than every number, as in cf_topk. */
#include "autograd/ops/hardattn_attr.h"
#include "autograd/cpu/cpu.h"

#include <math.h>
#define HARDATTN_KERNELS(T, EXPF) \
    static inline bool gt_##T(T a, T b) { return a > b || (isnan(a) && !isnan(b)); } \
    /* The k-th largest (1-based) of buf[0..n), reordering buf (Hoare quickselect, middle pivot). */ \
    static T kth_largest_##T(T *buf, int64_t n, int64_t k) \
    { \
        int64_t lo = 0, hi = n - 1, want = k - 1; \
        while (lo < hi) { \
            T pivot = buf[lo + (hi - lo) / 2]; \
            int64_t i = lo, j = hi; \
            while (i <= j) { \
                while (gt_##T(buf[i], pivot)) i++; \
                while (gt_##T(pivot, buf[j])) j--; \
                if (i <= j) { \
                    T s = buf[i]; \
                    buf[i] = buf[j], buf[j] = s; \
                    i++, j--; \
                } \
            } \
            if (want <= j) hi = j; \
            else if (want >= i) lo = i; \
            else return buf[want]; \
        } \
        return buf[want]; \
    } \
    static void row_fwd_##T(T *restrict y, const T *restrict x, int64_t len, int64_t k, T *restrict buf) \
    { \
        int64_t need = len; \
        T t = 0; \
        if (k < len) { \
            for (int64_t j = 0; j < len; j++) buf[j] = x[j]; \
            t = kth_largest_##T(buf, len, k); \
            int64_t above = 0; \
            for (int64_t j = 0; j < len; j++) above += gt_##T(x[j], t); \
            need = k - above; /* entries equal to t still to keep, in index order */ \
        } \
        T m = -INFINITY, s = 0; \
        for (int64_t j = 0; j < len; j++) { \
            bool keep = k >= len || gt_##T(x[j], t) || (!gt_##T(t, x[j]) && need-- > 0); \
            y[j] = keep ? (T)1 : (T)0; \
            if (keep && (x[j] > m || isnan(x[j]))) m = x[j]; \
        } \
        for (int64_t j = 0; j < len; j++) \
            if (y[j] != 0) s += y[j] = EXPF(x[j] - m); \
        T inv = (T)1 / s; \
        for (int64_t j = 0; j < len; j++) y[j] *= inv; \
    } \
    static void fwd_##T(T *y, const T *x, int64_t rows, int64_t len, int64_t k, T *scratch) \
    { \
        _Pragma("omp parallel for if (rows > 1 && rows * len > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
            row_fwd_##T(y + r * len, x + r * len, len, k, scratch + r * len); \
    } \
    /* gx = y * (g - sum(g * y)) per row */ \
    static void bwd_##T(T *gx, const T *y, const T *g, int64_t rows, int64_t len, bool acc) \
    { \
        _Pragma("omp parallel for if (rows > 1 && rows * len > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            const T *yp = y + r * len, *gp = g + r * len; \
            T *d = gx + r * len, dot = 0; \
            for (int64_t j = 0; j < len; j++) dot += gp[j] * yp[j]; \
            for (int64_t j = 0; j < len; j++) { \
                T v = yp[j] * (gp[j] - dot); \
                d[j] = acc ? d[j] + v : v; \
            } \
        } \
    }

HARDATTN_KERNELS(float, expf)
HARDATTN_KERNELS(double, exp)

static void rows_of(const cf_tensor *t, int64_t *rows, int64_t *len)
{
    *len = t->shape[t->ndim - 1];
    *rows = *len == 0 ? 0 : cf_numel(t) / *len;
}

cf_status cf_cpu_topk_softmax_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0];
    if (!cf_is_contiguous(x)) {
        cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
        if (!c) return cf_last_status();
        cf_cpu_copy_strided(c, x, false);
        x = c;
    }
    int64_t rows, len;
    rows_of(x, &rows, &len);
    if (rows == 0) return CF_OK;
    int64_t k = CF_ATTR(n, struct hardattn_attr)->k;
    size_t el = x->dtype == CF_F32 ? sizeof(float) : sizeof(double);
    void *scratch = cf_scratch(ctx, (size_t)rows * (size_t)len * el);
    if (!scratch) return cf_last_status();
    if (x->dtype == CF_F32)
        fwd_float(cf_data(n->out), cf_data(x), rows, len, k, scratch);
    else
        fwd_double(cf_data(n->out), cf_data(x), rows, len, k, scratch);
    return CF_OK;
}

cf_status cf_cpu_topk_softmax_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *x = n->in[0], *y = n->out;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    int64_t rows, len;
    rows_of(y, &rows, &len);
    if (y->dtype == CF_F32)
        bwd_float(cf_data(gx), cf_data(y), cf_data(y->grad), rows, len, !overwrite);
    else
        bwd_double(cf_data(gx), cf_data(y), cf_data(y->grad), rows, len, !overwrite);
    return CF_OK;
}
