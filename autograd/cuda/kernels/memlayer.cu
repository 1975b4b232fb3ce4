// CUDA kernels of MemoryFormer's hash-table layer (autograd/ops/memlayer.def; the formulas in
// autograd/ops/memlayer.h, the CPU's conventions in autograd/cpu/memlayer.c; every operand contiguous):
//  - memlayer_hash: one thread per (position, chunk) of tau bits, forward (weight and table row) and backward,
//    the chunk's formulas written once for both backends (autograd/ops/memlayer_elem.h).
//  - memlayer_lookup forward: one thread per output element summing its K chunks' rows in order.
//  - the chunk weights' gradient, a dot product of D terms per (position, chunk): one warp each, lanes striding
//    the columns, then a shuffle tree (a fixed order).
//  - the table's gradient, a scatter-add of w G[n] into the rows used: the (position, chunk) pairs are sorted by
//    row (kernels/index_plan.h), one thread per (run of one row, column) adds its pairs in ascending order, the
//    CPU's order; only the rows used are written, no atomics.
// bf16 storage computes in f32 (cf_ld / cf_st): a hash chunk is staged in f32 registers (tau <= 24) for the
// shared chunk formulas, the sums and dot products accumulate in f32.
#include "autograd/cuda/kernels/index_plan.h"
#include "autograd/ops/memlayer.h"
#include "autograd/ops/memlayer_attr.h"
#include "autograd/ops/memlayer_elem.h"

#include <inttypes.h>

#define WARP 32

CF_MEMLAYER_CHUNK(chunk, float, __device__)
CF_MEMLAYER_CHUNK(chunk, double, __device__)

// chunk() on storage S: f32 and f64 directly, bf16 through f32 copies of z (and of dz when adding to it)
template <typename S>
__device__ __forceinline__ cf_acc_t<S> chunk_of(const S *z, int64_t tau, bool code, cf_acc_t<S> t, int64_t *h,
                                                cf_acc_t<S> gw, S *dz, bool acc)
{
    return chunk(z, tau, code, t, h, gw, dz, acc);
}
template <>
__device__ __forceinline__ float chunk_of<__nv_bfloat16>(const __nv_bfloat16 *z, int64_t tau, bool code, float t,
                                                         int64_t *h, float gw, __nv_bfloat16 *dz, bool acc)
{
    float zf[CF_MEMLAYER_MAX_TAU], df[CF_MEMLAYER_MAX_TAU];
    for (int64_t j = 0; j < tau; j++) {
        zf[j] = cf_ld(z + j);
        df[j] = dz && acc ? cf_ld(dz + j) : 0.0f;
    }
    float w = chunk(zf, tau, code, t, h, gw, dz ? df : (float *)NULL, acc);
    if (dz)
        for (int64_t j = 0; j < tau; j++) cf_st(dz + j, df[j]);
    return w;
}

template <typename S>
__global__ void hash_fwd(const S *z, S *w, int64_t *rows, int64_t NK, int64_t K, int64_t tau, bool code, cf_acc_t<S> t)
{
    CF_GRID_STRIDE(c, NK)
    {
        int64_t h;
        cf_st(w + c, chunk_of(z + c * tau, tau, code, t, &h, (cf_acc_t<S>)0, (S *)NULL, false));
        rows[c] = ((c % K) << tau) + h;
    }
}

template <typename S>
__global__ void hash_bwd(const S *z, const S *gw, S *gz, int64_t NK, int64_t tau, bool code, cf_acc_t<S> t, bool acc)
{
    CF_GRID_STRIDE(c, NK) chunk_of(z + c * tau, tau, code, t, (int64_t *)NULL, cf_ld(gw + c), gz + c * tau, acc);
}

// y[n, c] = sum_k w[n, k] table[rows[n, k], c]
template <typename S>
__global__ void lookup_fwd(const S *tab, const int64_t *rows, const S *w, S *y, int64_t N, int64_t K, int64_t D)
{
    CF_GRID_STRIDE(e, N * D)
    {
        int64_t n = e / D, c = e % D;
        cf_acc_t<S> s = 0;
        for (int64_t k = 0; k < K; k++) s += cf_ld(w + n * K + k) * cf_ld(tab + rows[n * K + k] * D + c);
        cf_st(y + e, s);
    }
}

// gw[n, k] (= or +=) <G[n], table[rows[n, k]]>: one warp per (n, k); the loop bound is the same for a warp's lanes
template <typename S>
__global__ void lookup_bwd_w(const S *tab, const int64_t *rows, const S *g, S *gw, int64_t N, int64_t K, int64_t D,
                             bool acc)
{
    int64_t lane = threadIdx.x % WARP, warps = (int64_t)gridDim.x * (blockDim.x / WARP);
    for (int64_t p = (int64_t)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP; p < N * K; p += warps) {
        const S *row = tab + rows[p] * D, *gn = g + (p / K) * D;
        cf_acc_t<S> s = 0;
        for (int64_t c = lane; c < D; c += WARP) s += cf_ld(gn + c) * cf_ld(row + c);
        for (int off = WARP / 2; off > 0; off /= 2) s += __shfl_down_sync(0xffffffffu, s, off);
        if (lane == 0) cf_st(gw + p, acc ? cf_ld(gw + p) + s : s);
    }
}

// gtab[r, c] += sum over the pairs p of row r (ascending) of w[p] G[p / K, c]; keys: the pairs sorted by row
template <typename S>
__global__ void lookup_bwd_table(S *gtab, const int64_t *keys, const S *w, const S *g, int64_t NK, int64_t K,
                                 int64_t D)
{
    CF_GRID_STRIDE(e, NK * D)
    {
        int64_t q = e / D, c = e % D;
        if (!ix_run_head(keys, q, NK)) continue;
        int64_t r = keys[q] / NK;
        cf_acc_t<S> s = cf_ld(gtab + r * D + c);
        for (; q < NK && keys[q] / NK == r; q++) {
            int64_t p = keys[q] % NK;
            s += cf_ld(w + p) * cf_ld(g + (p / K) * D + c);
        }
        cf_st(gtab + r * D + c, s);
    }
}

template <typename T> static T *ptr(const cf_tensor *t) { return (T *)cf_data(t); }

extern "C" cf_status cf_cuda_memlayer_hash_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    const struct memlayer_hash_attr *a = CF_ATTR(n, struct memlayer_hash_attr);
    cf_tensor *z = n->in[0], *w = n->out, *rows = n->aux[MEMLAYER_AUX_ROWS];
    int64_t K = w->shape[w->ndim - 1], NK = cf_numel(w);
    bool code = a->weight == CF_MEMWEIGHT_CODE;
    CF_FLOAT_SWITCH("memlayer_hash", z->dtype,
                    CF_KERNEL_RUN("memlayer_hash", NK, hash_fwd<S>, ptr<S>(z), ptr<S>(w), ptr<int64_t>(rows), NK, K,
                                  a->tau, code, (cf_acc_t<S>)a->temperature));
    return CF_OK;
}

extern "C" cf_status cf_cuda_memlayer_hash_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct memlayer_hash_attr *a = CF_ATTR(n, struct memlayer_hash_attr);
    cf_tensor *z = n->in[0], *g = n->out->grad;
    bool overwrite;
    cf_tensor *gz = cf_grad_slot(ctx, z, &overwrite);
    if (!gz) return cf_last_status();
    int64_t NK = cf_numel(n->out);
    bool code = a->weight == CF_MEMWEIGHT_CODE;
    CF_FLOAT_SWITCH("memlayer_hash backward", z->dtype,
                    CF_KERNEL_RUN("memlayer_hash backward", NK, hash_bwd<S>, ptr<S>(z), ptr<S>(g), ptr<S>(gz), NK,
                                  a->tau, code, (cf_acc_t<S>)a->temperature, !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_memlayer_lookup_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *tab = n->in[0], *rows = n->in[1], *w = n->in[2], *y = n->out;
    int64_t R = tab->shape[0], D = tab->shape[1], K = w->shape[w->ndim - 1], NK = cf_numel(w), N = K ? NK / K : 0;
    int64_t bad, val;
    CF_TRY(ix_first_bad(ctx, "memlayer_lookup", ptr<int64_t>(rows), NK, R, &bad, &val));
    if (bad < NK)
        return cf_set_error(CF_ERR_ARG, "memlayer_lookup: row %" PRId64 " at position %" PRId64
                            " of the rows is out of range [0, %" PRId64 ") of the table", val, bad, R);
    CF_FLOAT_SWITCH("memlayer_lookup", tab->dtype,
                    CF_KERNEL_RUN("memlayer_lookup", N * D, lookup_fwd<S>, ptr<S>(tab), ptr<int64_t>(rows), ptr<S>(w),
                                  ptr<S>(y), N, K, D));
    return CF_OK;
}

extern "C" cf_status cf_cuda_memlayer_lookup_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *tab = n->in[0], *rows = n->in[1], *w = n->in[2], *g = n->out->grad;
    int64_t D = tab->shape[1], K = w->shape[w->ndim - 1], NK = cf_numel(w), N = K ? NK / K : 0;
    if (cf_needs_grad(n, 2)) {
        bool overwrite;
        cf_tensor *gw = cf_grad_slot(ctx, w, &overwrite);
        if (!gw) return cf_last_status();
        int64_t threads = NK * WARP; // a warp per (n, k)
        CF_FLOAT_SWITCH("memlayer_lookup backward", tab->dtype,
                        CF_KERNEL_RUN("memlayer_lookup backward", threads, lookup_bwd_w<S>, ptr<S>(tab),
                                      ptr<int64_t>(rows), ptr<S>(g), ptr<S>(gw), N, K, D, !overwrite));
    }
    if (cf_needs_grad(n, 0) && NK * D > 0) {
        cf_tensor *gt = cf_grad_acc(ctx, tab), *keys; // dense buffer, written only in the rows used
        if (!gt) return cf_last_status();
        CF_TRY(ix_sort_by_target(ctx, "memlayer_lookup backward", ptr<int64_t>(rows), NK, &keys));
        CF_FLOAT_SWITCH("memlayer_lookup backward", tab->dtype,
                        CF_KERNEL_RUN("memlayer_lookup backward", NK * D, lookup_bwd_table<S>, ptr<S>(gt),
                                      ptr<int64_t>(keys), ptr<S>(w), ptr<S>(g), NK, K, D));
    }
    return CF_OK;
}
