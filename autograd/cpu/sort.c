/* CPU kernels of topk and sort. Each row (the elements along dim for one position of the other dims)
 * is handled by one thread: a stable merge sort of (value, index) pairs, or for small k a sorted
 * insertion buffer of the best k, which is O(len * k) with no second pass. Ties keep index order
 * because both only move an element ahead of another that it strictly beats. */
#include "autograd/ops/sort_attr.h"
#include "autograd/cpu/cpu.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* at or below this k, topk keeps an insertion buffer instead of sorting the whole row */
#define TOPK_INSERT_MAX 16
/* runs of this length are insertion-sorted before merging */
#define SORT_RUN 8

typedef struct {
    int64_t outer, len, inner, k; /* the rows: outer x inner of them, len elements along dim */
} row_geom;

static row_geom geom_of(const cf_tensor *x, int d, int64_t k)
{
    row_geom g = {1, x->shape[d], 1, k};
    for (int i = 0; i < d; i++) g.outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) g.inner *= x->shape[i];
    return g;
}

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#define SORT_KERNELS(T) \
    typedef struct { \
        T v; \
        int64_t i; \
    } pair_##T; \
    /* a strictly ahead of b (NaN is the largest value) */ \
    static inline bool before_##T(T a, T b, bool desc) \
    { \
        return desc ? (a > b || (isnan(a) && !isnan(b))) : (a < b || (!isnan(a) && isnan(b))); \
    } \
    static inline bool ahead_##T(const pair_##T *a, const pair_##T *b, bool desc, bool by_index) \
    { \
        return by_index ? a->i < b->i : before_##T(a->v, b->v, desc); \
    } \
    /* Stable sort of p[0..n); tmp has n slots; returns whichever buffer holds the result. */ \
    static pair_##T *merge_sort_##T(pair_##T *p, pair_##T *tmp, int64_t n, bool desc, bool by_index) \
    { \
        for (int64_t lo = 0; lo < n; lo += SORT_RUN) { \
            int64_t hi = lo + SORT_RUN < n ? lo + SORT_RUN : n; \
            for (int64_t a = lo + 1; a < hi; a++) { \
                pair_##T cur = p[a]; \
                int64_t b = a; \
                for (; b > lo && ahead_##T(&cur, &p[b - 1], desc, by_index); b--) p[b] = p[b - 1]; \
                p[b] = cur; \
            } \
        } \
        for (int64_t w = SORT_RUN; w < n; w *= 2) { \
            for (int64_t lo = 0; lo < n; lo += 2 * w) { \
                int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n; \
                int64_t a = lo, b = mid, o = lo; \
                while (a < mid && b < hi) tmp[o++] = ahead_##T(&p[b], &p[a], desc, by_index) ? p[b++] : p[a++]; \
                while (a < mid) tmp[o++] = p[a++]; \
                while (b < hi) tmp[o++] = p[b++]; \
            } \
            pair_##T *s = p; \
            p = tmp, tmp = s; \
        } \
        return p; \
    } \
    /* The best k of one row x[0], x[xs], ... into vo/io (stride os). buf, tmp: len slots each. */ \
    static void select_row_##T(const T *x, int64_t xs, int64_t len, int64_t k, bool desc, bool sorted, \
                               pair_##T *buf, pair_##T *tmp, T *vo, int64_t *io, int64_t os) \
    { \
        if (k == 0) return; \
        pair_##T *res; \
        if (k <= TOPK_INSERT_MAX && k < len) { \
            int64_t cnt = 0; \
            for (int64_t j = 0; j < len; j++) { \
                T v = x[j * xs]; \
                if (cnt == k && !before_##T(v, buf[k - 1].v, desc)) continue; \
                int64_t p = cnt < k ? cnt++ : k - 1; /* when full, the worst entry is dropped */ \
                for (; p > 0 && before_##T(v, buf[p - 1].v, desc); p--) buf[p] = buf[p - 1]; \
                buf[p] = (pair_##T){v, j}; \
            } \
            res = buf; \
        } else { \
            for (int64_t j = 0; j < len; j++) buf[j] = (pair_##T){x[j * xs], j}; \
            res = merge_sort_##T(buf, tmp, len, desc, false); \
        } \
        if (!sorted) res = merge_sort_##T(res, res == buf ? tmp : buf, k, desc, true); \
        for (int64_t j = 0; j < k; j++) vo[j * os] = res[j].v, io[j * os] = res[j].i; \
    } \
    static void select_##T(const row_geom *g, const T *x, T *vo, int64_t *io, bool desc, bool sorted, \
                           pair_##T *scratch) \
    { \
        int64_t rows = g->outer * g->inner; \
        _Pragma("omp parallel if (rows > 1 && rows * g->len > CF_PAR_MIN)") \
        { \
            pair_##T *buf = scratch + (size_t)thread_id() * 2 * (size_t)g->len, *tmp = buf + g->len; \
            _Pragma("omp for") for (int64_t r = 0; r < rows; r++) \
            { \
                int64_t o = r / g->inner, i = r % g->inner; \
                select_row_##T(x + o * g->len * g->inner + i, g->inner, g->len, g->k, desc, sorted, buf, tmp, \
                               vo + o * g->k * g->inner + i, io + o * g->k * g->inner + i, g->inner); \
            } \
        } \
    } \
    /* gx[.., idx, ..] (+)= g: the indices of a row are distinct, so rows never collide */ \
    static void scatter_##T(const row_geom *g, T *gx, const T *go, const int64_t *idx, bool acc) \
    { \
        int64_t rows = g->outer * g->inner; \
        _Pragma("omp parallel for if (rows > 1 && rows * g->k > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t o = r / g->inner, i = r % g->inner, ob = o * g->k * g->inner + i; \
            T *row = gx + o * g->len * g->inner + i; \
            for (int64_t j = 0; j < g->k; j++) { \
                T *d = row + idx[ob + j * g->inner] * g->inner; \
                *d = acc ? *d + go[ob + j * g->inner] : go[ob + j * g->inner]; \
            } \
        } \
    }

SORT_KERNELS(float)
SORT_KERNELS(double)

static cf_status sort_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct sort_attr *a = CF_ATTR(n, struct sort_attr);
    cf_tensor *x = n->in[0], *idx = n->aux[SORT_AUX_INDICES];
    if (!cf_is_contiguous(x)) {
        cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
        if (!c) return cf_last_status();
        cf_cpu_copy_strided(c, x, false);
        x = c;
    }
    row_geom g = geom_of(x, a->dim, a->k);
    if (g.outer * g.inner * g.k == 0) return CF_OK;
    size_t pair_bytes = x->dtype == CF_F32 ? sizeof(pair_float) : sizeof(pair_double);
    void *scratch = cf_scratch(ctx, (size_t)max_threads() * 2 * (size_t)g.len * pair_bytes);
    if (!scratch) return cf_last_status();
    if (x->dtype == CF_F32)
        select_float(&g, cf_data(x), cf_data(n->out), cf_data(idx), a->largest, a->sorted, scratch);
    else
        select_double(&g, cf_data(x), cf_data(n->out), cf_data(idx), a->largest, a->sorted, scratch);
    return CF_OK;
}

static cf_status sort_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct sort_attr *a = CF_ATTR(n, struct sort_attr);
    cf_tensor *x = n->in[0];
    row_geom g = geom_of(x, a->dim, a->k);
    /* a full permutation writes every element once, so a new buffer can be stored into */
    bool overwrite = false;
    cf_tensor *gx = a->k == g.len ? cf_grad_slot(ctx, x, &overwrite) : cf_grad_acc(ctx, x);
    if (!gx) return cf_last_status();
    const int64_t *idx = cf_data(n->aux[SORT_AUX_INDICES]);
    if (x->dtype == CF_F32)
        scatter_float(&g, cf_data(gx), cf_data(n->out->grad), idx, !overwrite);
    else
        scatter_double(&g, cf_data(gx), cf_data(n->out->grad), idx, !overwrite);
    return CF_OK;
}

cf_status cf_cpu_topk_fwd(cf_ctx *ctx, cf_node *n) { return sort_fwd(ctx, n); }
cf_status cf_cpu_topk_bwd(cf_ctx *ctx, cf_node *n) { return sort_bwd(ctx, n); }
cf_status cf_cpu_sort_fwd(cf_ctx *ctx, cf_node *n) { return sort_fwd(ctx, n); }
cf_status cf_cpu_sort_bwd(cf_ctx *ctx, cf_node *n) { return sort_bwd(ctx, n); }
