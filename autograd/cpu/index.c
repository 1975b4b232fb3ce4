/* CPU kernels of the index ops, f32 and f64.
 *
 * Two shapes of work:
 *  - whole slices (embedding, index_select, index_add): x viewed as [O, N, I] around dim, a 1-D index
 *    of K entries. Picking a slice is a row copy. Adding slices into rows (the backward of a pick, and
 *    index_add) first sorts the index by target row (a stable counting sort, so each row lists its
 *    sources in ascending k), then each task owns one (o, target row, column block) and adds its
 *    sources in that order: no two threads touch one element, and the sums are the same bits whatever
 *    the thread count.
 *  - elementwise along dim (gather, scatter_add): offsets into each operand are precomputed for the
 *    dims before and after dim, so strided operands need no copy. A scatter's task owns one (o, column
 *    block) and walks k in ascending order; distinct (o, column) pairs never collide, so again no races
 *    and a fixed order.
 * Index values are range-checked before any memory is touched. */
#include "autograd/ops/index_attr.h"
#include "autograd/cpu/cpu.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define COL_BLOCK 512

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- helpers ---- */

static cf_status contig(cf_ctx *ctx, cf_tensor *t, cf_tensor **out)
{
    *out = t;
    if (cf_is_contiguous(t)) return CF_OK;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (!c) return cf_last_status();
    cf_cpu_copy_strided(c, t, false);
    *out = c;
    return CF_OK;
}

/* The contiguous index of node n (input 1), copied once in forward and kept in aux[0]. */
static cf_status index_of(cf_ctx *ctx, cf_node *n, cf_tensor **idx)
{
    if (n->aux[0]) {
        *idx = n->aux[0];
        return CF_OK;
    }
    CF_TRY(contig(ctx, n->in[1], idx));
    if (*idx != n->in[1]) n->aux[0] = *idx;
    return CF_OK;
}

/* "[1, 2]": the position of flat element i in a tensor of t's shape. */
static const char *pos_str(const cf_tensor *t, int64_t i, char *buf, size_t n)
{
    int64_t m[CF_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        m[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, d ? ", " : "", m[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* Every value of idx (contiguous) in [0, n); otherwise an error naming the op, the first bad value, its
 * position and the valid range, with `what` saying what the range is. */
static cf_status check_range(const char *op, const cf_tensor *idx, int64_t n, const char *what)
{
    const int64_t *p = cf_data(idx);
    int64_t cnt = cf_numel(idx), bad = cnt;
#pragma omp parallel for reduction(min : bad) if (cnt > CF_PAR_MIN)
    for (int64_t i = 0; i < cnt; i++)
        if ((uint64_t)p[i] >= (uint64_t)n && i < bad) bad = i;
    if (bad == cnt) return CF_OK;
    char a[96], b[128];
    return cf_set_error(CF_ERR_ARG, "%s: index %" PRId64 " at position %s of the index %s is out of range [0, %" PRId64 ") (%s)",
                        op, p[bad], pos_str(idx, bad, a, sizeof a), cf_shape_str(idx, b, sizeof b), n, what);
}

/* "dim 1 of input [2, 3] f32" */
static const char *dim_of(const char *what, const cf_tensor *t, int dim, char *buf, size_t n)
{
    char s[128];
    snprintf(buf, n, "dim %d of %s %s", dim, what, cf_shape_str(t, s, sizeof s));
    return buf;
}

/* x as [O, N, I] around dim. */
static void split3(const cf_tensor *x, int dim, int64_t *O, int64_t *N, int64_t *I)
{
    *O = 1, *I = 1, *N = x->shape[dim];
    for (int d = 0; d < dim; d++) *O *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) *I *= x->shape[d];
}

/* A stable counting sort of idx[0..K) (values in [0, N)) by value: rows[0..*U) are the distinct values
 * in ascending order, and the sources of value v are order[start[v] .. start[v + 1]) in ascending k. */
typedef struct {
    int64_t *start, *order, *rows, U;
} csr;

static cf_status csr_build(cf_ctx *ctx, const int64_t *idx, int64_t K, int64_t N, csr *c)
{
    c->start = cf_scratch(ctx, sizeof(int64_t) * (size_t)(N + 1));
    c->order = cf_scratch(ctx, sizeof(int64_t) * (size_t)K);
    c->rows = cf_scratch(ctx, sizeof(int64_t) * (size_t)N);
    int64_t *cur = cf_scratch(ctx, sizeof(int64_t) * (size_t)N);
    if (!c->start || !c->order || !c->rows || !cur) return cf_last_status();
    memset(c->start, 0, sizeof(int64_t) * (size_t)(N + 1));
    for (int64_t k = 0; k < K; k++) c->start[idx[k] + 1]++;
    c->U = 0;
    for (int64_t v = 0; v < N; v++) {
        if (c->start[v + 1]) c->rows[c->U++] = v;
        c->start[v + 1] += c->start[v];
    }
    if (N) memcpy(cur, c->start, sizeof(int64_t) * (size_t)N);
    for (int64_t k = 0; k < K; k++) c->order[cur[idx[k]]++] = k;
    return CF_OK;
}

/* Element offsets of t at idx's positions, split around dim: o[] over the dims before dim, i[] over the
 * dims after it (both row-major in idx's shape), s: t's stride along dim. */
typedef struct {
    int64_t *o, *i, s;
} layout;

static void fill_offsets(int64_t *out, int64_t count, const int64_t *shape, const int64_t *stride, int from, int to)
{
    for (int64_t e = 0; e < count; e++) {
        int64_t r = e, off = 0;
        for (int d = to - 1; d >= from; d--) {
            off += (r % shape[d]) * stride[d];
            r /= shape[d];
        }
        out[e] = off;
    }
}

static cf_status layout_of(cf_ctx *ctx, layout *L, const cf_tensor *t, const cf_tensor *idx, int dim)
{
    int64_t O, K, I;
    split3(idx, dim, &O, &K, &I);
    L->o = cf_scratch(ctx, sizeof(int64_t) * (size_t)O);
    L->i = cf_scratch(ctx, sizeof(int64_t) * (size_t)I);
    if (!L->o || !L->i) return cf_last_status();
    fill_offsets(L->o, O, idx->shape, t->stride, 0, dim);
    fill_offsets(L->i, I, idx->shape, t->stride, dim + 1, idx->ndim);
    L->s = t->stride[dim];
    return CF_OK;
}

/* ---- typed kernels ---- */
#define INDEX_KERNELS(T, S) \
    /* dst[o, k, :] (= or +=) alpha * src[o, idx[k], :]; src [O, N, I], dst [O, K, I] */ \
    static void pick_rows_##S(T *dst, const T *src, const int64_t *idx, int64_t O, int64_t N, int64_t K, int64_t I, \
                              T alpha, bool acc) \
    { \
        _Pragma("omp parallel for collapse(2) schedule(static) if (O * K * I > CF_PAR_MIN)") for (int64_t o = 0; \
                                                                                                  o < O; o++) \
        for (int64_t k = 0; k < K; k++) { \
            T *restrict d = dst + (o * K + k) * I; \
            const T *restrict s = src + (o * N + idx[k]) * I; \
            if (acc) { \
                _Pragma("omp simd") for (int64_t j = 0; j < I; j++) d[j] += alpha * s[j]; \
            } else if (alpha == (T)1) { \
                memcpy(d, s, sizeof(T) * (size_t)I); \
            } else { \
                _Pragma("omp simd") for (int64_t j = 0; j < I; j++) d[j] = alpha * s[j]; \
            } \
        } \
    } \
    /* dst[o, v, :] += alpha * src[o, k, :] for every k with idx[k] == v, k ascending */ \
    static void add_rows_##S(T *dst, const T *src, const csr *c, int64_t O, int64_t N, int64_t K, int64_t I, T alpha) \
    { \
        int64_t nib = (I + COL_BLOCK - 1) / COL_BLOCK, tasks = O * c->U * nib; \
        _Pragma("omp parallel for schedule(dynamic, 4) if (O * K * I > CF_PAR_MIN)") for (int64_t t = 0; \
                                                                                          t < tasks; t++) \
        { \
            int64_t ib = t % nib, u = (t / nib) % c->U, o = t / (nib * c->U); \
            int64_t v = c->rows[u], j0 = ib * COL_BLOCK, jl = min64(COL_BLOCK, I - j0); \
            T *restrict d = dst + (o * N + v) * I + j0; \
            for (int64_t q = c->start[v]; q < c->start[v + 1]; q++) { \
                const T *restrict s = src + (o * K + c->order[q]) * I + j0; \
                _Pragma("omp simd") for (int64_t j = 0; j < jl; j++) d[j] += alpha * s[j]; \
            } \
        } \
    } \
    /* dst[Ld(o, k, i)] (= or +=) src[Ls(o, idx[o, k, i], i)]: distinct destinations, any order */ \
    static void pull_##S(T *dst, const layout *Ld, const T *src, const layout *Ls, const int64_t *idx, int64_t O, \
                         int64_t K, int64_t I, bool acc) \
    { \
        _Pragma("omp parallel for collapse(2) schedule(static) if (O * K * I > CF_PAR_MIN)") for (int64_t o = 0; \
                                                                                                  o < O; o++) \
        for (int64_t k = 0; k < K; k++) { \
            const int64_t *ir = idx + (o * K + k) * I; \
            T *d = dst + Ld->o[o] + k * Ld->s; \
            const T *s = src + Ls->o[o]; \
            for (int64_t i = 0; i < I; i++) { \
                T v = s[ir[i] * Ls->s + Ls->i[i]]; \
                d[Ld->i[i]] = acc ? d[Ld->i[i]] + v : v; \
            } \
        } \
    } \
    /* dst[Ld(o, idx[o, k, i], i)] += src[Ls(o, k, i)]; a task owns (o, column block), k ascending */ \
    static void push_##S(T *dst, const layout *Ld, const T *src, const layout *Ls, const int64_t *idx, int64_t O, \
                         int64_t K, int64_t I) \
    { \
        int64_t nib = (I + COL_BLOCK - 1) / COL_BLOCK, tasks = O * nib; \
        _Pragma("omp parallel for schedule(static) if (O * K * I > CF_PAR_MIN)") for (int64_t t = 0; t < tasks; \
                                                                                      t++) \
        { \
            int64_t o = t / nib, j0 = (t % nib) * COL_BLOCK, j1 = min64(j0 + COL_BLOCK, I); \
            T *d = dst + Ld->o[o]; \
            const T *s = src + Ls->o[o]; \
            for (int64_t k = 0; k < K; k++) { \
                const int64_t *ir = idx + (o * K + k) * I; \
                for (int64_t i = j0; i < j1; i++) d[ir[i] * Ld->s + Ld->i[i]] += s[k * Ls->s + Ls->i[i]]; \
            } \
        } \
    }

INDEX_KERNELS(float, f)
INDEX_KERNELS(double, d)

#define IS_F32(t) ((t)->dtype == CF_F32)

static void pick_rows(cf_tensor *dst, const cf_tensor *src, const int64_t *idx, int64_t O, int64_t N, int64_t K,
                      int64_t I, double alpha, bool acc)
{
    if (IS_F32(dst))
        pick_rows_f(cf_data(dst), cf_data(src), idx, O, N, K, I, (float)alpha, acc);
    else
        pick_rows_d(cf_data(dst), cf_data(src), idx, O, N, K, I, alpha, acc);
}

static cf_status add_rows(cf_ctx *ctx, cf_tensor *dst, const cf_tensor *src, const int64_t *idx, int64_t O, int64_t N,
                          int64_t K, int64_t I, double alpha)
{
    csr c;
    CF_TRY(csr_build(ctx, idx, K, N, &c));
    if (IS_F32(dst))
        add_rows_f(cf_data(dst), cf_data(src), &c, O, N, K, I, (float)alpha);
    else
        add_rows_d(cf_data(dst), cf_data(src), &c, O, N, K, I, alpha);
    return CF_OK;
}

/* pull (gather) or push (scatter-add) between dst and src along dim, positions from idx (contiguous). */
static cf_status along_dim(cf_ctx *ctx, bool push, cf_tensor *dst, const cf_tensor *src, const cf_tensor *idx, int dim,
                           bool acc)
{
    layout Ld, Ls;
    CF_TRY(layout_of(ctx, &Ld, dst, idx, dim));
    CF_TRY(layout_of(ctx, &Ls, src, idx, dim));
    int64_t O, K, I;
    split3(idx, dim, &O, &K, &I);
    const int64_t *ip = cf_data(idx);
    if (IS_F32(dst)) {
        if (push) push_f(cf_data(dst), &Ld, cf_data(src), &Ls, ip, O, K, I);
        else pull_f(cf_data(dst), &Ld, cf_data(src), &Ls, ip, O, K, I, acc);
    } else {
        if (push) push_d(cf_data(dst), &Ld, cf_data(src), &Ls, ip, O, K, I);
        else pull_d(cf_data(dst), &Ld, cf_data(src), &Ls, ip, O, K, I, acc);
    }
    return CF_OK;
}

/* ---- embedding ---- */

cf_status cf_cpu_embedding_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *w, *ids;
    CF_TRY(contig(ctx, n->in[0], &w));
    CF_TRY(index_of(ctx, n, &ids));
    int64_t V = w->shape[0], D = w->shape[1];
    char what[160], s[128];
    snprintf(what, sizeof what, "the weight %s has %" PRId64 " rows", cf_shape_str(w, s, sizeof s), V);
    CF_TRY(check_range("embedding", ids, V, what));
    pick_rows(n->out, w, cf_data(ids), 1, V, cf_numel(ids), D, 1.0, false);
    return CF_OK;
}

cf_status cf_cpu_embedding_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *ids, *gw = cf_grad_acc(ctx, n->in[0]);
    if (!gw) return cf_last_status();
    CF_TRY(index_of(ctx, n, &ids));
    return add_rows(ctx, gw, n->out->grad, cf_data(ids), 1, gw->shape[0], cf_numel(ids), gw->shape[1], 1.0);
}

/* ---- index_select ---- */

cf_status cf_cpu_index_select_fwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *x, *idx;
    CF_TRY(contig(ctx, n->in[0], &x));
    CF_TRY(index_of(ctx, n, &idx));
    int64_t O, N, I;
    split3(x, dim, &O, &N, &I);
    char what[160];
    CF_TRY(check_range("index_select", idx, N, dim_of("input", x, dim, what, sizeof what)));
    pick_rows(n->out, x, cf_data(idx), O, N, cf_numel(idx), I, 1.0, false);
    return CF_OK;
}

cf_status cf_cpu_index_select_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *idx, *gx = cf_grad_acc(ctx, n->in[0]);
    if (!gx) return cf_last_status();
    CF_TRY(index_of(ctx, n, &idx));
    int64_t O, N, I;
    split3(gx, dim, &O, &N, &I);
    return add_rows(ctx, gx, n->out->grad, cf_data(idx), O, N, cf_numel(idx), I, 1.0);
}

/* ---- gather ---- */

cf_status cf_cpu_gather_fwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *x = n->in[0], *idx;
    CF_TRY(index_of(ctx, n, &idx));
    char what[160];
    CF_TRY(check_range("gather", idx, x->shape[dim], dim_of("input", x, dim, what, sizeof what)));
    return along_dim(ctx, false, n->out, x, idx, dim, false);
}

cf_status cf_cpu_gather_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *idx, *gx = cf_grad_acc(ctx, n->in[0]);
    if (!gx) return cf_last_status();
    CF_TRY(index_of(ctx, n, &idx));
    return along_dim(ctx, true, gx, n->out->grad, idx, CF_ATTR(n, struct index_attr)->dim, true);
}

/* ---- scatter_add ---- */

cf_status cf_cpu_scatter_add_fwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *x = n->in[0], *src = n->in[2], *idx;
    CF_TRY(index_of(ctx, n, &idx));
    char what[160];
    CF_TRY(check_range("scatter_add", idx, x->shape[dim], dim_of("input", x, dim, what, sizeof what)));
    cf_cpu_copy_strided(n->out, x, false);
    return along_dim(ctx, true, n->out, src, idx, dim, true);
}

cf_status cf_cpu_scatter_add_bwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *g = n->out->grad, *src = n->in[2], *idx;
    if (cf_needs_grad(n, 0)) CF_TRY(cf_cpu_accum_grad(ctx, n->in[0], g));
    if (!cf_needs_grad(n, 2)) return CF_OK;
    CF_TRY(index_of(ctx, n, &idx));
    /* src elements outside idx's extent received nothing: their gradient is 0 */
    bool covers = cf_same_shape(src, idx), overwrite = false;
    cf_tensor *gs = covers ? cf_grad_slot(ctx, src, &overwrite) : cf_grad_acc(ctx, src);
    if (!gs) return cf_last_status();
    return along_dim(ctx, false, gs, g, idx, dim, !overwrite);
}

/* ---- index_add ---- */

cf_status cf_cpu_index_add_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct index_attr *a = CF_ATTR(n, struct index_attr);
    cf_tensor *x = n->in[0], *src, *idx;
    CF_TRY(contig(ctx, n->in[2], &src));
    CF_TRY(index_of(ctx, n, &idx));
    int64_t O, N, I;
    split3(x, a->dim, &O, &N, &I);
    char what[160];
    CF_TRY(check_range("index_add", idx, N, dim_of("input", x, a->dim, what, sizeof what)));
    cf_cpu_copy_strided(n->out, x, false);
    return add_rows(ctx, n->out, src, cf_data(idx), O, N, cf_numel(idx), I, a->alpha);
}

cf_status cf_cpu_index_add_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct index_attr *a = CF_ATTR(n, struct index_attr);
    cf_tensor *g = n->out->grad, *idx;
    if (cf_needs_grad(n, 0)) CF_TRY(cf_cpu_accum_grad(ctx, n->in[0], g));
    if (!cf_needs_grad(n, 2)) return CF_OK;
    CF_TRY(index_of(ctx, n, &idx));
    bool overwrite;
    cf_tensor *gs = cf_grad_slot(ctx, n->in[2], &overwrite);
    if (!gs) return cf_last_status();
    int64_t O, N, I;
    split3(g, a->dim, &O, &N, &I);
    pick_rows(gs, g, cf_data(idx), O, N, cf_numel(idx), I, a->alpha, !overwrite);
    return CF_OK;
}
