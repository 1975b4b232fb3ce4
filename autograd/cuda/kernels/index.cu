// CUDA kernels of the index ops (autograd/ops/index.def), with the CPU's conventions (autograd/cpu/index.c):
//  - whole slices (embedding, index_select, index_add): x seen as [O, N, I] around dim, a 1-D index of K
//    entries. Picking slices is one thread per output element (coalesced along I). Adding slices into rows
//    (the backward of a pick, and index_add) sorts the index by target row (index_plan.h), then one thread per
//    (o, run of one target, column) adds its sources in ascending k: the CPU's order, no atomics.
//  - elementwise along dim (gather, scatter_add): operand offsets from each operand's own strides, so strided
//    operands need no copy. A pull (gather) is one thread per index element; a push (scatter) is one thread
//    per (position before dim, position after dim) walking k in ascending order, as the CPU's task does:
//    distinct threads never share a destination element, and the order is fixed.
// Index values are range-checked on the device before any kernel reads through them; the error is the CPU's.
#include "autograd/cuda/kernels/index_plan.h"
#include "autograd/ops/index_attr.h"

#include <inttypes.h>
#include <stdio.h>

// The contiguous index of node n (input 1), copied once in forward and kept in aux[0]
static cf_status index_of(cf_ctx *ctx, cf_node *n, cf_tensor **idx)
{
    if (n->aux[0]) {
        *idx = n->aux[0];
        return CF_OK;
    }
    CF_TRY(ix_contig(ctx, n->in[1], idx));
    if (*idx != n->in[1]) n->aux[0] = *idx;
    return CF_OK;
}

static const int64_t *iptr(const cf_tensor *t) { return (const int64_t *)cf_data(t); }

// Every value of idx (contiguous, on the device) in [0, n); otherwise the CPU's error: the op, the first bad
// value, its position, the index's shape and the valid range, `what` saying what the range is
static cf_status check_range(cf_ctx *ctx, const char *op, const cf_tensor *idx, int64_t n, const char *what)
{
    int64_t bad, val, cnt = cf_numel(idx);
    CF_TRY(ix_first_bad(ctx, op, iptr(idx), cnt, n, &bad, &val));
    if (bad == cnt) return CF_OK;
    int64_t m[CF_MAX_DIMS], r = bad;
    for (int d = idx->ndim - 1; d >= 0; d--) {
        m[d] = idx->shape[d] ? r % idx->shape[d] : 0;
        r = idx->shape[d] ? r / idx->shape[d] : 0;
    }
    char pos[96], shape[128];
    size_t k = (size_t)snprintf(pos, sizeof pos, "[");
    for (int d = 0; d < idx->ndim && k < sizeof pos; d++)
        k += (size_t)snprintf(pos + k, sizeof pos - k, "%s%" PRId64, d ? ", " : "", m[d]);
    if (k < sizeof pos) snprintf(pos + k, sizeof pos - k, "]");
    return cf_set_error(CF_ERR_ARG, "%s: index %" PRId64 " at position %s of the index %s is out of range [0, %" PRId64 ") (%s)",
                        op, val, pos, cf_shape_str(idx, shape, sizeof shape), n, what);
}

// "dim 1 of input [2, 3] f32"
static const char *dim_of(const cf_tensor *t, int dim, char *buf, size_t n)
{
    char s[128];
    snprintf(buf, n, "dim %d of input %s", dim, cf_shape_str(t, s, sizeof s));
    return buf;
}

// x as [O, N, I] around dim
static void split3(const cf_tensor *x, int dim, int64_t *O, int64_t *N, int64_t *I)
{
    *O = 1, *I = 1, *N = x->shape[dim];
    for (int d = 0; d < dim; d++) *O *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) *I *= x->shape[d];
}

// ---- whole slices ----

// dst[o, k, j] (= or +=) alpha * src[o, idx[k], j]; src [O, N, I], dst [O, K, I], both contiguous
template <typename S>
__global__ void pick_rows_kernel(S *dst, const S *src, const int64_t *idx, int64_t O, int64_t N, int64_t K, int64_t I,
                                 cf_acc_t<S> alpha, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(e, O * K * I)
    {
        int64_t j = e % I, k = (e / I) % K, o = e / (I * K);
        A v = alpha * cf_ld(src + (o * N + idx[k]) * I + j);
        cf_st(dst + e, acc ? cf_ld(dst + e) + v : v);
    }
}

// dst[o, v, j] += alpha * src[o, k, j] for every k with idx[k] == v, k ascending: one thread per
// (o, sorted position p heading a run, j); keys from ix_sort_by_target
template <typename S>
__global__ void add_rows_kernel(S *dst, const S *src, const int64_t *keys, int64_t O, int64_t N, int64_t K, int64_t I,
                                cf_acc_t<S> alpha)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(e, O * K * I)
    {
        int64_t j = e % I, p = (e / I) % K, o = e / (I * K);
        if (!ix_run_head(keys, p, K)) continue;
        int64_t v = keys[p] / K;
        S *d = dst + (o * N + v) * I + j;
        A acc = cf_ld(d);
        for (int64_t q = p; q < K && keys[q] / K == v; q++) acc += alpha * cf_ld(src + (o * K + keys[q] % K) * I + j);
        cf_st(d, acc);
    }
}

static cf_status pick_rows(const char *what, cf_tensor *dst, const cf_tensor *src, const cf_tensor *idx, int64_t O,
                           int64_t N, int64_t I, double alpha, bool acc)
{
    int64_t K = cf_numel(idx);
    CF_FLOAT_SWITCH(what, dst->dtype,
                    CF_KERNEL_RUN(what, O * K * I, pick_rows_kernel<S>, (S *)cf_data(dst), (const S *)cf_data(src),
                                  iptr(idx), O, N, K, I, (cf_acc_t<S>)alpha, acc));
    return CF_OK;
}

static cf_status add_rows(const char *what, cf_ctx *ctx, cf_tensor *dst, const cf_tensor *src, const cf_tensor *idx,
                          int64_t O, int64_t N, int64_t I, double alpha)
{
    int64_t K = cf_numel(idx);
    if (O * K * I == 0) return CF_OK;
    cf_tensor *keys;
    CF_TRY(ix_sort_by_target(ctx, what, iptr(idx), K, &keys));
    CF_FLOAT_SWITCH(what, dst->dtype,
                    CF_KERNEL_RUN(what, O * K * I, add_rows_kernel<S>, (S *)cf_data(dst), (const S *)cf_data(src),
                                  iptr(keys), O, N, K, I, (cf_acc_t<S>)alpha));
    return CF_OK;
}

// ---- elementwise along dim ----

// The index's shape, and each operand's strides; the operand whose position along dim is the index value
// is `at`, the other steps along dim with the index's own position k
struct along_geom {
    int ndim, dim;
    int64_t shape[CF_MAX_DIMS], dst_stride[CF_MAX_DIMS], src_stride[CF_MAX_DIMS];
};

// Offsets in dst and src of index element e, leaving out the dim coordinate (returned in *k)
__device__ __forceinline__ void along_base(const along_geom &g, int64_t e, int64_t *od, int64_t *os, int64_t *k)
{
    *od = 0, *os = 0, *k = 0;
    for (int d = g.ndim - 1; d >= 0; d--) {
        int64_t c = e % g.shape[d];
        e /= g.shape[d];
        if (d == g.dim)
            *k = c;
        else
            *od += c * g.dst_stride[d], *os += c * g.src_stride[d];
    }
}

// dst[.., k, ..] (= or +=) src[.., idx[e], ..]: one thread per index element (distinct destinations)
template <typename S>
__global__ void pull_kernel(along_geom g, int64_t numel, S *dst, const S *src, const int64_t *idx, bool acc)
{
    CF_GRID_STRIDE(e, numel)
    {
        int64_t od, os, k;
        along_base(g, e, &od, &os, &k);
        S *d = dst + od + k * g.dst_stride[g.dim];
        cf_acc_t<S> v = cf_ld(src + os + idx[e] * g.src_stride[g.dim]);
        cf_st(d, acc ? cf_ld(d) + v : v);
    }
}

// dst[.., idx[o, k, i], ..] += src[.., k, ..]: one thread per (o, i) walking k ascending (O, K, I: the index
// as [O, K, I] around dim)
template <typename S>
__global__ void push_kernel(along_geom g, int64_t O, int64_t K, int64_t I, S *dst, const S *src, const int64_t *idx)
{
    CF_GRID_STRIDE(t, O * I)
    {
        int64_t e0 = (t / I) * K * I + t % I, od, os, k;
        along_base(g, e0, &od, &os, &k);
        for (k = 0; k < K; k++) {
            S *d = dst + od + idx[e0 + k * I] * g.dst_stride[g.dim];
            cf_st(d, cf_ld(d) + cf_ld(src + os + k * g.src_stride[g.dim]));
        }
    }
}

// pull (gather) or push (scatter-add) between dst and src along dim, positions from idx (contiguous)
static cf_status along_dim(const char *what, bool push, cf_tensor *dst, const cf_tensor *src, const cf_tensor *idx,
                           int dim, bool acc)
{
    along_geom g;
    g.ndim = idx->ndim, g.dim = dim;
    for (int d = 0; d < idx->ndim; d++)
        g.shape[d] = idx->shape[d], g.dst_stride[d] = dst->stride[d], g.src_stride[d] = src->stride[d];
    int64_t O, K, I;
    split3(idx, dim, &O, &K, &I);
    int64_t columns = K > 0 ? O * I : 0; // push: one thread per (o, i), none without sources
    CF_FLOAT_SWITCH(what, dst->dtype, {
        if (push)
            CF_KERNEL_RUN(what, columns, push_kernel<S>, g, O, K, I, (S *)cf_data(dst),
                          (const S *)cf_data(src), iptr(idx));
        else
            CF_KERNEL_RUN(what, O * K * I, pull_kernel<S>, g, O * K * I, (S *)cf_data(dst), (const S *)cf_data(src),
                          iptr(idx), acc);
    });
    return CF_OK;
}

// ---- embedding ----

extern "C" cf_status cf_cuda_embedding_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *w, *ids;
    CF_TRY(ix_contig(ctx, n->in[0], &w));
    CF_TRY(index_of(ctx, n, &ids));
    int64_t V = w->shape[0], D = w->shape[1];
    char what[160], s[128];
    snprintf(what, sizeof what, "the weight %s has %" PRId64 " rows", cf_shape_str(w, s, sizeof s), V);
    CF_TRY(check_range(ctx, "embedding", ids, V, what));
    return pick_rows("embedding", n->out, w, ids, 1, V, D, 1.0, false);
}

extern "C" cf_status cf_cuda_embedding_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *ids, *g, *gw = cf_grad_acc(ctx, n->in[0]);
    if (!gw) return cf_last_status();
    CF_TRY(index_of(ctx, n, &ids));
    CF_TRY(ix_contig(ctx, n->out->grad, &g));
    return add_rows("embedding backward", ctx, gw, g, ids, 1, gw->shape[0], gw->shape[1], 1.0);
}

// ---- index_select ----

extern "C" cf_status cf_cuda_index_select_fwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *x, *idx;
    CF_TRY(ix_contig(ctx, n->in[0], &x));
    CF_TRY(index_of(ctx, n, &idx));
    int64_t O, N, I;
    split3(x, dim, &O, &N, &I);
    char what[160];
    CF_TRY(check_range(ctx, "index_select", idx, N, dim_of(x, dim, what, sizeof what)));
    return pick_rows("index_select", n->out, x, idx, O, N, I, 1.0, false);
}

extern "C" cf_status cf_cuda_index_select_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *idx, *g, *gx = cf_grad_acc(ctx, n->in[0]);
    if (!gx) return cf_last_status();
    CF_TRY(index_of(ctx, n, &idx));
    CF_TRY(ix_contig(ctx, n->out->grad, &g));
    int64_t O, N, I;
    split3(gx, dim, &O, &N, &I);
    return add_rows("index_select backward", ctx, gx, g, idx, O, N, I, 1.0);
}

// ---- gather ----

extern "C" cf_status cf_cuda_gather_fwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *x = n->in[0], *idx;
    CF_TRY(index_of(ctx, n, &idx));
    char what[160];
    CF_TRY(check_range(ctx, "gather", idx, x->shape[dim], dim_of(x, dim, what, sizeof what)));
    return along_dim("gather", false, n->out, x, idx, dim, false);
}

extern "C" cf_status cf_cuda_gather_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *idx, *gx = cf_grad_acc(ctx, n->in[0]);
    if (!gx) return cf_last_status();
    CF_TRY(index_of(ctx, n, &idx));
    return along_dim("gather backward", true, gx, n->out->grad, idx, CF_ATTR(n, struct index_attr)->dim, true);
}

// ---- scatter_add ----

extern "C" cf_status cf_cuda_scatter_add_fwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *x = n->in[0], *src = n->in[2], *idx;
    CF_TRY(index_of(ctx, n, &idx));
    char what[160];
    CF_TRY(check_range(ctx, "scatter_add", idx, x->shape[dim], dim_of(x, dim, what, sizeof what)));
    CF_TRY(cf_cuda_copy(n->out, x, false));
    return along_dim("scatter_add", true, n->out, src, idx, dim, true);
}

extern "C" cf_status cf_cuda_scatter_add_bwd(cf_ctx *ctx, cf_node *n)
{
    int dim = CF_ATTR(n, struct index_attr)->dim;
    cf_tensor *g = n->out->grad, *src = n->in[2], *idx;
    if (cf_needs_grad(n, 0)) CF_TRY(cf_cuda_accum_grad(ctx, n->in[0], g));
    if (!cf_needs_grad(n, 2)) return CF_OK;
    CF_TRY(index_of(ctx, n, &idx));
    // src elements outside idx's extent received nothing: their gradient is 0
    bool covers = cf_same_shape(src, idx), overwrite = false;
    cf_tensor *gs = covers ? cf_grad_slot(ctx, src, &overwrite) : cf_grad_acc(ctx, src);
    if (!gs) return cf_last_status();
    return along_dim("scatter_add backward", false, gs, g, idx, dim, !overwrite);
}

// ---- index_add ----

extern "C" cf_status cf_cuda_index_add_fwd(cf_ctx *ctx, cf_node *n)
{
    const struct index_attr *a = CF_ATTR(n, struct index_attr);
    cf_tensor *x = n->in[0], *src, *idx;
    CF_TRY(ix_contig(ctx, n->in[2], &src));
    CF_TRY(index_of(ctx, n, &idx));
    int64_t O, N, I;
    split3(x, a->dim, &O, &N, &I);
    char what[160];
    CF_TRY(check_range(ctx, "index_add", idx, N, dim_of(x, a->dim, what, sizeof what)));
    CF_TRY(cf_cuda_copy(n->out, x, false));
    return add_rows("index_add", ctx, n->out, src, idx, O, N, I, a->alpha);
}

extern "C" cf_status cf_cuda_index_add_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct index_attr *a = CF_ATTR(n, struct index_attr);
    cf_tensor *g, *idx;
    if (cf_needs_grad(n, 0)) CF_TRY(cf_cuda_accum_grad(ctx, n->in[0], n->out->grad));
    if (!cf_needs_grad(n, 2)) return CF_OK;
    CF_TRY(index_of(ctx, n, &idx));
    CF_TRY(ix_contig(ctx, n->out->grad, &g));
    bool overwrite;
    cf_tensor *gs = cf_grad_slot(ctx, n->in[2], &overwrite);
    if (!gs) return cf_last_status();
    int64_t O, N, I;
    split3(g, a->dim, &O, &N, &I);
    return pick_rows("index_add backward", gs, g, idx, O, N, I, a->alpha, !overwrite);
}
