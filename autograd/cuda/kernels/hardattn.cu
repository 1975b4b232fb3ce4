// CUDA kernels of topk_softmax (autograd/ops/hardattn.def) with the CPU's semantics (autograd/cpu/hardattn.c):
// per row, the k largest entries (ties to the lower index, NaN above every number, -0 equal to +0) keep a
// softmax over themselves and every other entry is 0; backward is the softmax backward from the output.
// One block per row (grid-stride over rows). The k-th largest value is found by a radix select on the
// entries' order-preserving integer keys, most significant bit first: per bit one counting pass over the
// row and a block sum (warp shuffles, then the warps' partial sums in a fixed order), so a row costs
// (key bits) x len / threads steps instead of a sort. The entries equal to the k-th largest are then kept
// in index order: each thread owns a contiguous chunk and an exclusive scan of the chunks' counts gives its
// first rank. The softmax's max and sum are block reductions too; no atomics, a fixed order. bf16 storage
// computes in f32 (cf_ld / cf_st) and selects on 16-bit keys: the f32 keys of bf16 values differ only in
// their upper 16 bits, so the f32 order and its tie rules hold with half the radix passes.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/hardattn_attr.h"

#include <string.h>

#define TKS_THREADS 128 // four warps

// the radix select's key type per storage type
template <typename S> struct tks_key;
template <> struct tks_key<float> {
    typedef uint32_t U;
};
template <> struct tks_key<double> {
    typedef uint64_t U;
};
template <> struct tks_key<__nv_bfloat16> {
    typedef uint16_t U;
};

// An unsigned key whose order is the CPU's order of values: NaN (any payload) above +inf, -0 == +0
template <typename T> __device__ __forceinline__ typename tks_key<T>::U value_key(T v)
{
    typedef typename tks_key<T>::U U;
    const U sign = (U)1 << (sizeof(U) * 8 - 1);
    if (v != v) return ~(U)0;
    if (v == (T)0) v = (T)0;
    U u;
    memcpy(&u, &v, sizeof u);
    return (u & sign) ? ~u : (u | sign);
}

// The key of the stored element *p. A bf16 value is the upper half of its f32, so the lower 16 bits of the f32
// key are the same for every value (all 0 or all 1 by sign, all 1 for NaN) and the upper 16 keep the order.
template <typename S> __device__ __forceinline__ typename tks_key<S>::U ordered_key(const S *p)
{
    return value_key(*p);
}
template <> __device__ __forceinline__ uint16_t ordered_key<__nv_bfloat16>(const __nv_bfloat16 *p)
{
    return (uint16_t)(value_key(cf_ld(p)) >> 16);
}

// the start of thread i's chunk of a row: [lo(i), lo(i + 1)) for chunks of c elements
__device__ __forceinline__ int64_t chunk_lo(int64_t i, int64_t c, int64_t len) { return i * c < len ? i * c : len; }

template <typename T> __device__ __forceinline__ T nan_max(T a, T b) { return a != a ? a : (b != b ? b : (b > a ? b : a)); }

// The block's sum (op 0) or NaN-propagating max (op 1) of v, returned to every thread. red: shared, one slot
// per warp; the warps' partials are combined in warp order, so the result does not depend on timing.
template <typename V, typename SM> __device__ __forceinline__ V block_reduce(V v, int op, SM &red)
{
    for (int o = 16; o > 0; o >>= 1) {
        V w = __shfl_xor_sync(0xffffffffu, v, o);
        v = op == 0 ? v + w : nan_max(v, w);
    }
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    if (lane == 0) red[warp] = v;
    __syncthreads();
    V tot = red[0];
    for (int w = 1; w < nw; w++) tot = op == 0 ? tot + (V)red[w] : nan_max(tot, (V)red[w]);
    __syncthreads(); // red is free again
    return tot;
}

template <typename S>
__global__ void __launch_bounds__(TKS_THREADS) topk_softmax_fwd_kernel(const S *x, S *y, int64_t rows, int64_t len,
                                                                     int64_t k)
{
    typedef cf_acc_t<S> T;
    typedef typename tks_key<S>::U U;
    CF_SHARED(long long, cnt, TKS_THREADS / 32);
    CF_SHARED(T, val, TKS_THREADS / 32);
    CF_SHARED(long long, chunk_base, TKS_THREADS);
    const int tid = threadIdx.x, nt = blockDim.x;
    const int64_t chunk = (len + nt - 1) / nt, c0 = chunk_lo(tid, chunk, len), c1 = chunk_lo(tid + 1, chunk, len);
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const S *xr = x + row * len;
        S *yr = y + row * len;
        if (k >= len) {
            for (int64_t j = c0; j < c1; j++) cf_st(yr + j, (T)1);
        } else {
            // radix select: t = the k-th largest key, need = how many entries equal to t are kept
            U t = 0, decided = 0;
            long long need = (long long)k;
            for (int bit = (int)sizeof(U) * 8 - 1; bit >= 0; bit--) {
                U b = (U)1 << bit;
                long long c = 0;
                for (int64_t j = tid; j < len; j += nt) {
                    U key = ordered_key(xr + j);
                    c += (key & decided) == t && (key & b);
                }
                c = block_reduce(c, 0, cnt);
                if (c >= need)
                    t |= b;
                else
                    need -= c;
                decided |= b;
            }
            // ties in index order: this chunk's first rank among the entries equal to t
            long long eq = 0;
            for (int64_t j = c0; j < c1; j++) eq += ordered_key(xr + j) == t;
            chunk_base[tid] = eq;
            __syncthreads();
            long long rank = 0;
            for (int i = 0; i < tid; i++) rank += chunk_base[i];
            for (int64_t j = c0; j < c1; j++) {
                U key = ordered_key(xr + j);
                cf_st(yr + j, (key > t || (key == t && rank++ < need)) ? (T)1 : (T)0);
            }
        }
        __syncthreads(); // the keep marks in y are visible to the whole block; chunk_base is free again
        // the kept entries' softmax; the exponentials are taken again in the last pass rather than stored
        // (no rounding of them to the storage type). Every entry is scaled by inv, as on the CPU (a NaN sum
        // makes the whole row NaN).
        T m = (T)-INFINITY;
        for (int64_t j = tid; j < len; j += nt)
            if (cf_ld(yr + j) != (T)0) m = nan_max(m, cf_ld(xr + j));
        m = block_reduce(m, 1, val);
        T s = 0;
        for (int64_t j = tid; j < len; j += nt)
            if (cf_ld(yr + j) != (T)0) s += exp(cf_ld(xr + j) - m);
        s = block_reduce(s, 0, val);
        T inv = (T)1 / s;
        for (int64_t j = tid; j < len; j += nt) {
            T e = cf_ld(yr + j) != (T)0 ? (T)exp(cf_ld(xr + j) - m) : (T)0;
            cf_st(yr + j, e * inv);
        }
    }
}

// gx (+)= y (g - sum(g y)) per row
template <typename S>
__global__ void __launch_bounds__(TKS_THREADS) topk_softmax_bwd_kernel(const S *y, const S *g, S *gx, int64_t rows,
                                                                     int64_t len, bool acc)
{
    typedef cf_acc_t<S> T;
    CF_SHARED(T, val, TKS_THREADS / 32);
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const S *yr = y + row * len, *gr = g + row * len;
        S *d = gx + row * len;
        T dot = 0;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) dot += cf_ld(gr + j) * cf_ld(yr + j);
        dot = block_reduce(dot, 0, val);
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
            T v = cf_ld(yr + j) * (cf_ld(gr + j) - dot);
            cf_st(d + j, acc ? cf_ld(d + j) + v : v);
        }
    }
}

static void rows_of(const cf_tensor *t, int64_t *rows, int64_t *len)
{
    *len = t->shape[t->ndim - 1];
    *rows = *len == 0 ? 0 : cf_numel(t) / *len;
}

static unsigned row_blocks(int64_t rows) { return (unsigned)(rows < CF_MAX_BLOCKS ? rows : CF_MAX_BLOCKS); }

extern "C" cf_status cf_cuda_topk_softmax_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = n->in[0];
    if (!cf_is_contiguous(x)) {
        cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
        if (!c) return cf_last_status();
        CF_TRY(cf_cuda_copy(c, x, false));
        x = c;
    }
    int64_t rows, len, k = CF_ATTR(n, struct hardattn_attr)->k;
    rows_of(x, &rows, &len);
    if (rows == 0) return CF_OK;
    CF_FLOAT_SWITCH("topk_softmax", x->dtype,
                    CF_KERNEL_RUN_GRID("topk_softmax", row_blocks(rows), TKS_THREADS, topk_softmax_fwd_kernel<S>,
                                       (const S *)cf_data(x), (S *)cf_data(n->out), rows, len, k));
    return CF_OK;
}

extern "C" cf_status cf_cuda_topk_softmax_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *y = n->out;
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
    if (!gx) return cf_last_status();
    int64_t rows, len;
    rows_of(y, &rows, &len);
    if (rows == 0) return CF_OK;
    CF_FLOAT_SWITCH("topk_softmax backward", y->dtype,
                    CF_KERNEL_RUN_GRID("topk_softmax backward", row_blocks(rows), TKS_THREADS,
                                       topk_softmax_bwd_kernel<S>, (const S *)cf_data(y), (const S *)cf_data(y->grad),
                                       (S *)cf_data(gx), rows, len, !overwrite));
    return CF_OK;
}
