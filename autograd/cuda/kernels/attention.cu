// CUDA kernels of cf_sdpa (autograd/ops/attention.h), fused and tiled as FlashAttention-2 (Dao, 2023,
// "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning", Algorithms 1 and 2),
// with the CPU's semantics (autograd/cpu/attention.c):
//  - forward: one block per (batch, head, query tile); the Q tile, then each visible key tile's K and V,
//    sit in shared memory; the [BQ, BK] score tile is built there, an online softmax (running row max m
//    and sum l, one warp per row with shuffles) rescales the O accumulator, and each row's logsumexp
//    m + log l goes to aux[0] for backward. No [Tq, Tk] matrix exists in global memory.
//  - backward: delta = rowsum(dO * O) (one thread per row), then two kernels that rebuild P = exp(S - lse)
//    tile by tile: one block per query tile accumulates dQ (and writes dS into the bias gradient), one block
//    per (batch, kv head, key tile) accumulates dK and dV over its group's query heads and the query tiles
//    that see it. Every gradient element has one owner block: no atomics, a fixed summation order.
//  - structural masks (causal, sliding window, block-local, with the KV-cache offset Tk - Tq) decide per
//    tile whether it is hidden (skipped), fully visible (no per-element test) or partial; attn_mask,
//    key_padding and bias are read through their broadcast strides; q, k and v through their own strides
//    (no contiguous copies for transposed views).
//  - attention dropout regenerates the CPU's keep decisions from (key, step, element) with the device
//    Philox (autograd/cuda/philox.h); the row sum l is taken before dropout, as on the CPU.
// Tiles are sized per kernel so that its shared memory fits the 48 KiB every device grants without opt-in
// (64 x 64 for small heads, halving for large D or f64); K and V rows are padded by one element in shared
// memory so threads walking keys do not hit one bank. f32 storage computes in f32, f64 in f64, bf16 storage
// (__nv_bfloat16) in f32: its tiles, accumulators, the saved logsumexp and delta are f32 (cf_acc_t), the
// tensors are read and written through cf_ld / cf_st, and the tiles are sized for f32 shared memory.
#include "autograd/cuda/kernels/launch.h"
#include "autograd/cuda/philox.h"
#include "autograd/ops/attention.h"
#include "autograd/ops/attention_attr.h"

#include <math.h>
#include <string.h>

#define SDPA_THREADS 128 // four warps
#define SDPA_SMEM_MAX (48 * 1024)

// Everything a kernel needs about one call (passed by value).
struct sdpa_geom {
    int64_t B, H, Hkv, G, Tq, Tk, D, Dv, off; // off = Tk - Tq: absolute position of query 0
    const void *q, *k, *v;
    int64_t qs[4], ks[4], vs[4];          // element strides of q, k, v
    const uint8_t *am;                    // attn_mask (true = keep) or NULL
    int64_t ams[4];                       // its strides over [B, H, Tq, Tk] (0 where broadcast)
    const uint8_t *kp;                    // key padding (true = pad) [B, Tk] or NULL
    int64_t kps[2];
    const void *bias;                     // additive scores or NULL
    int64_t bs[4];
    double scale, p;                      // p: dropout probability, 0 for none
    int mask;                             // cf_sdpa_mask
    int64_t window, block;
    uint32_t drop_below;                  // dropped when the element's 24-bit uniform is below this
    cf_philox_key key;
    uint64_t step;
    int64_t BQ, BK, nqb, nkb;             // this kernel's tiles
};

enum { TILE_EMPTY, TILE_PARTIAL, TILE_FULL };

__host__ __device__ __forceinline__ int64_t sd_min(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int64_t sd_max(int64_t a, int64_t b) { return a > b ? a : b; }

// The keys [lo, hi) that query row i may see under the structural mask (both ends non-decreasing in i).
__device__ __forceinline__ void key_range(const sdpa_geom &g, int64_t i, int64_t *lo, int64_t *hi)
{
    int64_t p = i + g.off, a = 0, b = g.Tk;
    if (g.mask == CF_SDPA_CAUSAL) {
        b = p + 1;
    } else if (g.mask == CF_SDPA_WINDOW) {
        a = p - g.window + 1, b = p + 1;
    } else if (g.mask == CF_SDPA_BLOCK) {
        a = (p >= 0 ? p / g.block : -((-p + g.block - 1) / g.block)) * g.block;
        b = a + g.block;
    }
    a = sd_min(sd_max(a, 0), g.Tk);
    *lo = a;
    *hi = sd_max(sd_min(b, g.Tk), a);
}

// Whether the structural mask hides all, some or none of rows [i0, i0+nr) x keys [j0, j0+nc).
__device__ __forceinline__ int tile_kind(const sdpa_geom &g, int64_t i0, int64_t nr, int64_t j0, int64_t nc)
{
    int64_t lo0, hi0, lo1, hi1;
    key_range(g, i0, &lo0, &hi0);
    key_range(g, i0 + nr - 1, &lo1, &hi1);
    if (hi1 <= j0 || lo0 >= j0 + nc) return TILE_EMPTY;
    if (lo1 <= j0 && j0 + nc <= hi0) return TILE_FULL;
    return TILE_PARTIAL;
}

// The dropout multiplier of element (b, h, i, j): 0 or 1 / (1 - p) (1 without dropout)
template <typename T> __device__ __forceinline__ T drop_mul(const sdpa_geom &g, int64_t b, int64_t h, int64_t i, int64_t j)
{
    if (g.p <= 0) return (T)1;
    uint64_t e = (uint64_t)(((b * g.H + h) * g.Tq + i) * g.Tk + j);
    uint32_t w[4];
    cf_dev_philox_block(g.key, g.step, (e >> 2) | (1ull << 62), w);
    return (w[e & 3] >> 8) >= g.drop_below ? (T)(1.0 / (1.0 - g.p)) : (T)0;
}

// One score: scale q_i . k_j + bias, or -inf where a mask hides (i, j). q row r at sm[oq + r ldq], k row c
// at sm[ok + c ldk].
template <typename S, typename SM>
__device__ __forceinline__ cf_acc_t<S> score(const sdpa_geom &g, SM &sm, int64_t oq, int64_t ldq, int64_t ok,
                                             int64_t ldk, int64_t b, int64_t h, int64_t i0, int64_t r, int64_t j0,
                                             int64_t c, int kind)
{
    typedef cf_acc_t<S> T;
    int64_t i = i0 + r, j = j0 + c;
    if (kind == TILE_PARTIAL) {
        int64_t lo, hi;
        key_range(g, i, &lo, &hi);
        if (j < lo || j >= hi) return (T)-INFINITY;
    }
    if (g.am && !g.am[b * g.ams[0] + h * g.ams[1] + i * g.ams[2] + j * g.ams[3]]) return (T)-INFINITY;
    if (g.kp && g.kp[b * g.kps[0] + j * g.kps[1]]) return (T)-INFINITY;
    T s = 0;
    for (int64_t d = 0; d < g.D; d++) s += (T)sm[oq + r * ldq + d] * (T)sm[ok + c * ldk + d];
    s *= (T)g.scale;
    if (g.bias) s += cf_ld((const S *)g.bias + (b * g.bs[0] + h * g.bs[1] + i * g.bs[2] + j * g.bs[3]));
    return s;
}

// Copies rows [t0, t0+n) of head (b, h) of x (strides xs) into sm[o + r ld + d], d < D, in the arithmetic
// type (coalesced in d when x's rows are contiguous).
template <typename S, typename SM>
__device__ __forceinline__ void load_rows(SM &sm, int64_t o, int64_t ld, const S *x, const int64_t *xs, int64_t b,
                                          int64_t h, int64_t t0, int64_t n, int64_t D)
{
    for (int64_t e = threadIdx.x; e < n * D; e += blockDim.x) {
        int64_t r = e / D, d = e % D;
        sm[o + r * ld + d] = cf_ld(x + (b * xs[0] + h * xs[1] + (t0 + r) * xs[2] + d * xs[3]));
    }
}

// The key tiles [*kb0, *kb1) that may hold keys visible to rows [i0, i0+nr) under the structural mask (a
// tile inside the range may still be hidden from all of them: tile_kind tells).
__device__ __forceinline__ void key_tiles(const sdpa_geom &g, int64_t i0, int64_t nr, int64_t *kb0, int64_t *kb1)
{
    int64_t lo, hi, lo1, hi1;
    key_range(g, i0, &lo, &hi);
    key_range(g, i0 + nr - 1, &lo1, &hi1);
    *kb0 = lo / g.BK, *kb1 = (hi1 + g.BK - 1) / g.BK;
}

// Key tile kb (keys *j0 .. *j0 + *nc) as rows [i0, i0+nr) see it: its tile_kind, and unless it is hidden,
// its K and V rows of kv head (b, kvh) loaded into sm[oK + c (D+1) + d] and sm[oV + c (Dv+1) + d]. Block-uniform,
// so a hidden tile is skipped by every thread together. The caller synchronises before reading the rows.
template <typename S, typename SM>
__device__ __forceinline__ int load_kv_tile(const sdpa_geom &g, SM &sm, int64_t oK, int64_t oV, int64_t b, int64_t kvh,
                                            int64_t i0, int64_t nr, int64_t kb, int64_t *j0, int64_t *nc)
{
    *j0 = kb * g.BK, *nc = sd_min(g.BK, g.Tk - *j0);
    int kind = tile_kind(g, i0, nr, *j0, *nc);
    if (kind != TILE_EMPTY) {
        load_rows(sm, oK, g.D + 1, (const S *)g.k, g.ks, b, kvh, *j0, *nc, g.D);
        load_rows(sm, oV, g.Dv + 1, (const S *)g.v, g.vs, b, kvh, *j0, *nc, g.Dv);
    }
    return kind;
}

template <typename T> __device__ __forceinline__ T warp_max(T v)
{
    for (int o = 16; o > 0; o >>= 1) {
        T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

template <typename T> __device__ __forceinline__ T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// ---- forward ----

// shared memory of the forward kernel, in arithmetic-type elements: Q [BQ, D], K [BK, D+1], V [BK, Dv+1], S [BQ, BK],
// O [BQ, Dv], m, l, alpha [BQ]
static int64_t fwd_smem(int64_t BQ, int64_t BK, int64_t D, int64_t Dv)
{
    return BQ * D + BK * (D + 1) + BK * (Dv + 1) + BQ * BK + BQ * Dv + 3 * BQ;
}

template <typename S>
__global__ void __launch_bounds__(SDPA_THREADS) sdpa_fwd_kernel(sdpa_geom g, S *out, cf_acc_t<S> *lse)
{
    typedef cf_acc_t<S> T;
    CF_DYNAMIC_SHARED(T, sm);
    const int64_t BQ = g.BQ, BK = g.BK, D = g.D, Dv = g.Dv, BH = g.B * g.H;
    const int64_t oQ = 0, oK = oQ + BQ * D, oV = oK + BK * (D + 1), oS = oV + BK * (Dv + 1), oO = oS + BQ * BK,
                  oM = oO + BQ * Dv, oL = oM + BQ, oA = oL + BQ;
    // the last query tiles first: under a causal mask they see the most keys
    const int64_t bh = blockIdx.x % BH, b = bh / g.H, h = bh % g.H, qb = g.nqb - 1 - blockIdx.x / BH;
    const int64_t i0 = qb * BQ, nr = sd_min(BQ, g.Tq - i0), kvh = h / g.G;
    const int tid = threadIdx.x, nt = blockDim.x, lane = tid % 32, warp = tid / 32, nw = nt / 32;

    load_rows(sm, oQ, D, (const S *)g.q, g.qs, b, h, i0, nr, D);
    for (int64_t e = tid; e < nr * Dv; e += nt) sm[oO + e] = (T)0;
    for (int64_t r = tid; r < nr; r += nt) sm[oM + r] = (T)-INFINITY, sm[oL + r] = (T)0;
    __syncthreads();

    int64_t kb0, kb1;
    key_tiles(g, i0, nr, &kb0, &kb1);
    for (int64_t kb = kb0; kb < kb1; kb++) {
        int64_t j0, nc;
        int kind = load_kv_tile<S>(g, sm, oK, oV, b, kvh, i0, nr, kb, &j0, &nc);
        if (kind == TILE_EMPTY) continue;
        __syncthreads();
        for (int64_t e = tid; e < nr * nc; e += nt) {
            int64_t r = e / nc, c = e % nc;
            sm[oS + r * BK + c] = score<S>(g, sm, oQ, D, oK, D + 1, b, h, i0, r, j0, c, kind);
        }
        __syncthreads();
        // online softmax, one warp per row: m, l and alpha are touched by lane 0 only
        for (int64_t r = warp; r < nr; r += nw) {
            T mx = (T)-INFINITY;
            for (int64_t c = lane; c < nc; c += 32) {
                T s = sm[oS + r * BK + c];
                mx = s > mx ? s : mx;
            }
            mx = warp_max(mx);
            T mold = lane == 0 ? (T)sm[oM + r] : (T)0;
            mold = __shfl_sync(0xffffffffu, mold, 0);
            T mnew = mx > mold ? mx : mold;
            T mu = mnew == (T)-INFINITY ? (T)0 : mnew; // a row with nothing visible yet stays all zero
            T sum = 0;
            for (int64_t c = lane; c < nc; c += 32) {
                T pv = exp((T)sm[oS + r * BK + c] - mu);
                sum += pv;
                sm[oS + r * BK + c] = pv * drop_mul<T>(g, b, h, i0 + r, j0 + c);
            }
            sum = warp_sum(sum);
            if (lane == 0) {
                T alpha = exp(mold - mu);
                sm[oA + r] = alpha;
                sm[oL + r] = (T)sm[oL + r] * alpha + sum;
                sm[oM + r] = mnew;
            }
        }
        __syncthreads();
        for (int64_t e = tid; e < nr * Dv; e += nt) {
            int64_t r = e / Dv, d = e % Dv;
            T acc = (T)sm[oO + e] * (T)sm[oA + r];
            for (int64_t c = 0; c < nc; c++) acc += (T)sm[oS + r * BK + c] * (T)sm[oV + c * (Dv + 1) + d];
            sm[oO + e] = acc;
        }
        __syncthreads();
    }
    S *O = out + (bh * g.Tq + i0) * Dv;
    for (int64_t e = tid; e < nr * Dv; e += nt) {
        T l = sm[oL + e / Dv];
        cf_st(O + e, l > 0 ? (T)sm[oO + e] * ((T)1 / l) : (T)0);
    }
    for (int64_t r = tid; r < nr; r += nt) {
        T l = sm[oL + r];
        // a row that sees nothing: lse = +inf, so backward's exp(s - lse) is 0 and no gradient flows
        lse[bh * g.Tq + i0 + r] = l > 0 ? (T)sm[oM + r] + log(l) : (T)INFINITY;
    }
}

// ---- backward ----

// delta[row] = sum_d dO[row, d] O[row, d]
template <typename S>
__global__ void sdpa_delta_kernel(const S *dout, const S *out, cf_acc_t<S> *delta, int64_t rows, int64_t Dv)
{
    CF_GRID_STRIDE(r, rows)
    {
        cf_acc_t<S> s = 0;
        for (int64_t d = 0; d < Dv; d++) s += cf_ld(dout + r * Dv + d) * cf_ld(out + r * Dv + d);
        delta[r] = s;
    }
}

// shared memory of the dQ kernel: Q [BQ, D], dO [BQ, Dv], K [BK, D+1], V [BK, Dv+1], dS [BQ, BK],
// dQ [BQ, D], lse, delta [BQ]
static int64_t bwd_q_smem(int64_t BQ, int64_t BK, int64_t D, int64_t Dv)
{
    return BQ * D + BQ * Dv + BK * (D + 1) + BK * (Dv + 1) + BQ * BK + BQ * D + 2 * BQ;
}

// p = exp(s - lse) and the dropout multiplier of (r, c); ds = p (dP mul - delta) with dP = dO_r . V_c
template <typename S, typename SM>
__device__ __forceinline__ void prob_and_ds(const sdpa_geom &g, SM &sm, int64_t oQ, int64_t ldq, int64_t oK, int64_t oV,
                                            int64_t odO, int64_t oLse, int64_t oDel, int64_t b, int64_t h,
                                            int64_t i0, int64_t r, int64_t j0, int64_t c, int kind, cf_acc_t<S> *pm,
                                            cf_acc_t<S> *ds)
{
    typedef cf_acc_t<S> T;
    T s = score<S>(g, sm, oQ, ldq, oK, g.D + 1, b, h, i0, r, j0, c, kind);
    T p = exp(s - (T)sm[oLse + r]), mul = drop_mul<T>(g, b, h, i0 + r, j0 + c), dp = 0;
    for (int64_t d = 0; d < g.Dv; d++) dp += (T)sm[odO + r * g.Dv + d] * (T)sm[oV + c * (g.Dv + 1) + d];
    *pm = p * mul;
    *ds = p * (dp * mul - (T)sm[oDel + r]);
}

// Loads the rows' dO, lse and delta of head (b, h) from row i0 (dO, lse, delta contiguous)
template <typename S, typename SM>
__device__ __forceinline__ void load_row_grads(const sdpa_geom &g, SM &sm, int64_t odO, int64_t oLse, int64_t oDel,
                                               const S *dout, const cf_acc_t<S> *lse, const cf_acc_t<S> *delta,
                                               int64_t b, int64_t h, int64_t i0, int64_t nr)
{
    int64_t row0 = (b * g.H + h) * g.Tq + i0;
    for (int64_t e = threadIdx.x; e < nr * g.Dv; e += blockDim.x) sm[odO + e] = cf_ld(dout + row0 * g.Dv + e);
    for (int64_t r = threadIdx.x; r < nr; r += blockDim.x) sm[oLse + r] = lse[row0 + r], sm[oDel + r] = delta[row0 + r];
}

// One block per (b, h, query tile): dQ += scale dS K over the visible key tiles; dS also goes to dbias
// (strides dbs over [B, H, Tq, Tk], each element owned by this block) when that is not NULL.
template <typename S>
__global__ void __launch_bounds__(SDPA_THREADS)
    sdpa_bwd_q_kernel(sdpa_geom g, const S *dout, const cf_acc_t<S> *lse, const cf_acc_t<S> *delta, S *dq, S *dbias,
                      int64_t dbs0, int64_t dbs1, int64_t dbs2, int64_t dbs3)
{
    typedef cf_acc_t<S> T;
    CF_DYNAMIC_SHARED(T, sm);
    const int64_t BQ = g.BQ, BK = g.BK, D = g.D, Dv = g.Dv, BH = g.B * g.H;
    const int64_t oQ = 0, odO = oQ + BQ * D, oK = odO + BQ * Dv, oV = oK + BK * (D + 1), odS = oV + BK * (Dv + 1),
                  odQ = odS + BQ * BK, oLse = odQ + BQ * D, oDel = oLse + BQ;
    const int64_t bh = blockIdx.x % BH, b = bh / g.H, h = bh % g.H, qb = g.nqb - 1 - blockIdx.x / BH;
    const int64_t i0 = qb * BQ, nr = sd_min(BQ, g.Tq - i0), kvh = h / g.G;
    const int tid = threadIdx.x, nt = blockDim.x;

    load_rows(sm, oQ, D, (const S *)g.q, g.qs, b, h, i0, nr, D);
    load_row_grads(g, sm, odO, oLse, oDel, dout, lse, delta, b, h, i0, nr);
    for (int64_t e = tid; e < nr * D; e += nt) sm[odQ + e] = (T)0;
    __syncthreads();
    int64_t kb0, kb1;
    key_tiles(g, i0, nr, &kb0, &kb1);
    for (int64_t kb = kb0; kb < kb1; kb++) {
        int64_t j0, nc;
        int kind = load_kv_tile<S>(g, sm, oK, oV, b, kvh, i0, nr, kb, &j0, &nc);
        if (kind == TILE_EMPTY) continue;
        __syncthreads();
        for (int64_t e = tid; e < nr * nc; e += nt) {
            int64_t r = e / nc, c = e % nc;
            T pm, ds;
            prob_and_ds<S>(g, sm, oQ, D, oK, oV, odO, oLse, oDel, b, h, i0, r, j0, c, kind, &pm, &ds);
            sm[odS + r * BK + c] = ds;
            if (dbias) {
                S *db = dbias + (b * dbs0 + h * dbs1 + (i0 + r) * dbs2 + (j0 + c) * dbs3);
                cf_st(db, cf_ld(db) + ds);
            }
        }
        __syncthreads();
        if (dq)
            for (int64_t e = tid; e < nr * D; e += nt) {
                int64_t r = e / D, d = e % D;
                T acc = 0;
                for (int64_t c = 0; c < nc; c++) acc += (T)sm[odS + r * BK + c] * (T)sm[oK + c * (D + 1) + d];
                sm[odQ + e] = (T)sm[odQ + e] + (T)g.scale * acc;
            }
        __syncthreads();
    }
    if (dq) {
        S *dqr = dq + (bh * g.Tq + i0) * D;
        for (int64_t e = tid; e < nr * D; e += nt) cf_st(dqr + e, cf_ld(dqr + e) + (T)sm[odQ + e]);
    }
}

// shared memory of the dK/dV kernel: K [BK, D+1], V [BK, Dv+1], dK [BK, D], dV [BK, Dv], Q [BQ, D],
// dO [BQ, Dv], P [BQ, BK], dS [BQ, BK], lse, delta [BQ]
static int64_t bwd_kv_smem(int64_t BQ, int64_t BK, int64_t D, int64_t Dv)
{
    return BK * (D + 1) + BK * (Dv + 1) + BK * D + BK * Dv + BQ * D + BQ * Dv + 2 * BQ * BK + 2 * BQ;
}

// One block per (b, kv head, key tile): dV += (P mul)^T dO and dK += scale dS^T Q over the query heads of
// the group and the query tiles that see this key tile.
template <typename S>
__global__ void __launch_bounds__(SDPA_THREADS)
    sdpa_bwd_kv_kernel(sdpa_geom g, const S *dout, const cf_acc_t<S> *lse, const cf_acc_t<S> *delta, S *dk, S *dv)
{
    typedef cf_acc_t<S> T;
    CF_DYNAMIC_SHARED(T, sm);
    const int64_t BQ = g.BQ, BK = g.BK, D = g.D, Dv = g.Dv;
    const int64_t oK = 0, oV = oK + BK * (D + 1), odK = oV + BK * (Dv + 1), odV = odK + BK * D, oQ = odV + BK * Dv,
                  odO = oQ + BQ * D, oP = odO + BQ * Dv, odS = oP + BQ * BK, oLse = odS + BQ * BK, oDel = oLse + BQ;
    const int64_t bk = blockIdx.x % (g.B * g.Hkv), b = bk / g.Hkv, kvh = bk % g.Hkv, kb = blockIdx.x / (g.B * g.Hkv);
    const int64_t j0 = kb * BK, nc = sd_min(BK, g.Tk - j0);
    const int tid = threadIdx.x, nt = blockDim.x;

    load_rows(sm, oK, D + 1, (const S *)g.k, g.ks, b, kvh, j0, nc, D);
    load_rows(sm, oV, Dv + 1, (const S *)g.v, g.vs, b, kvh, j0, nc, Dv);
    for (int64_t e = tid; e < nc * D; e += nt) sm[odK + e] = (T)0;
    for (int64_t e = tid; e < nc * Dv; e += nt) sm[odV + e] = (T)0;
    for (int64_t h = kvh * g.G; h < (kvh + 1) * g.G; h++)
        for (int64_t qb = 0; qb < g.nqb; qb++) {
            int64_t i0 = qb * BQ, nr = sd_min(BQ, g.Tq - i0);
            int kind = tile_kind(g, i0, nr, j0, nc);
            if (kind == TILE_EMPTY) continue;
            __syncthreads(); // the previous tile's readers are done with Q, dO, P and dS
            load_rows(sm, oQ, D, (const S *)g.q, g.qs, b, h, i0, nr, D);
            load_row_grads(g, sm, odO, oLse, oDel, dout, lse, delta, b, h, i0, nr);
            __syncthreads();
            for (int64_t e = tid; e < nr * nc; e += nt) {
                int64_t r = e / nc, c = e % nc;
                T pm, ds;
                prob_and_ds<S>(g, sm, oQ, D, oK, oV, odO, oLse, oDel, b, h, i0, r, j0, c, kind, &pm, &ds);
                sm[oP + r * BK + c] = pm;
                sm[odS + r * BK + c] = ds;
            }
            __syncthreads();
            for (int64_t e = tid; e < nc * Dv; e += nt) {
                int64_t c = e / Dv, d = e % Dv;
                T acc = 0;
                for (int64_t r = 0; r < nr; r++) acc += (T)sm[oP + r * BK + c] * (T)sm[odO + r * Dv + d];
                sm[odV + e] = (T)sm[odV + e] + acc;
            }
            for (int64_t e = tid; e < nc * D; e += nt) {
                int64_t c = e / D, d = e % D;
                T acc = 0;
                for (int64_t r = 0; r < nr; r++) acc += (T)sm[odS + r * BK + c] * (T)sm[oQ + r * D + d];
                sm[odK + e] = (T)sm[odK + e] + (T)g.scale * acc;
            }
        }
    __syncthreads();
    int64_t row0 = (b * g.Hkv + kvh) * g.Tk + j0;
    if (dk)
        for (int64_t e = tid; e < nc * D; e += nt) cf_st(dk + row0 * D + e, cf_ld(dk + row0 * D + e) + (T)sm[odK + e]);
    if (dv)
        for (int64_t e = tid; e < nc * Dv; e += nt)
            cf_st(dv + row0 * Dv + e, cf_ld(dv + row0 * Dv + e) + (T)sm[odV + e]);
}

// ---- host side ----

// Strides of t over the 4-D shape it broadcasts to (dims aligned from the right; 0 where size 1).
static void bcast_strides(const cf_tensor *t, int64_t s[4])
{
    for (int d = 0; d < 4; d++) s[d] = 0;
    for (int d = 0; d < t->ndim; d++) s[4 - t->ndim + d] = t->shape[d] == 1 ? 0 : t->stride[d];
}

static void geom_init(const cf_node *n, sdpa_geom *g)
{
    const struct sdpa_attr *a = CF_ATTR(n, struct sdpa_attr);
    const cf_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    memset(g, 0, sizeof *g);
    g->B = q->shape[0], g->H = q->shape[1], g->Tq = q->shape[2], g->D = q->shape[3];
    g->Hkv = k->shape[1], g->Tk = k->shape[2], g->Dv = v->shape[3];
    g->G = g->H / g->Hkv;
    g->off = g->Tk - g->Tq;
    g->q = cf_data(q), g->k = cf_data(k), g->v = cf_data(v);
    for (int d = 0; d < 4; d++) g->qs[d] = q->stride[d], g->ks[d] = k->stride[d], g->vs[d] = v->stride[d];
    if (a->i_mask >= 0) {
        g->am = (const uint8_t *)cf_data(n->in[a->i_mask]);
        bcast_strides(n->in[a->i_mask], g->ams);
    }
    if (a->i_pad >= 0) {
        const cf_tensor *p = n->in[a->i_pad];
        g->kp = (const uint8_t *)cf_data(p);
        g->kps[0] = p->stride[0], g->kps[1] = p->stride[1];
    }
    if (a->i_bias >= 0) {
        g->bias = cf_data(n->in[a->i_bias]);
        bcast_strides(n->in[a->i_bias], g->bs);
    }
    g->scale = a->scale;
    g->mask = a->mask, g->window = a->window, g->block = a->block;
    g->p = a->dropout;
    if (g->p > 0) {
        g->drop_below = (uint32_t)ceil(g->p * 16777216.0);
        g->key = cf_rng_key(a->seed, a->stream);
        g->step = a->step;
    }
}

// The arithmetic dtype of storage dt (the saved logsumexp, delta and the shared tiles): f32 for bf16.
static cf_dtype acc_dtype(cf_dtype dt) { return dt == CF_BF16 ? CF_F32 : dt; }

// The largest tiles (64 x 64 down, halving the larger side) whose shared memory fits; false if not even
// 1 x 1 does (head dims in the thousands).
static bool pick_tiles(sdpa_geom *g, int64_t (*smem)(int64_t, int64_t, int64_t, int64_t), size_t el, size_t *bytes)
{
    int64_t BQ = 64, BK = 64;
    while ((size_t)smem(BQ, BK, g->D, g->Dv) * el > SDPA_SMEM_MAX) {
        if (BQ == 1 && BK == 1) return false;
        if (BK >= BQ && BK > 1)
            BK /= 2;
        else
            BQ /= 2;
    }
    g->BQ = BQ, g->BK = BK;
    g->nqb = (g->Tq + BQ - 1) / BQ, g->nkb = (g->Tk + BK - 1) / BK;
    *bytes = (size_t)smem(BQ, BK, g->D, g->Dv) * el;
    return true;
}

#define SDPA_RUN(what, grid, shmem, kernel, ...) \
    do { \
        if ((grid) > 0) { \
            CF_LAUNCH(kernel, (unsigned)(grid), SDPA_THREADS, (shmem), __VA_ARGS__); \
            char launch_err_[256]; \
            if (CF_CUDA_CHECK_LAUNCH(launch_err_, sizeof launch_err_)) \
                return cf_set_error(CF_ERR_DEVICE, "%s: %s", (what), launch_err_); \
        } \
    } while (0)

static cf_status too_large(const sdpa_geom *g)
{
    return cf_set_error(CF_ERR_SHAPE, "sdpa (cuda): head dims D %lld, Dv %lld leave no tile in %d bytes of shared memory",
                        (long long)g->D, (long long)g->Dv, SDPA_SMEM_MAX);
}

extern "C" cf_status cf_cuda_sdpa_fwd(cf_ctx *ctx, cf_node *n)
{
    sdpa_geom g;
    geom_init(n, &g);
    size_t el = cf_dtype_size(acc_dtype(n->out->dtype)), shm;
    if (!pick_tiles(&g, fwd_smem, el, &shm)) return too_large(&g);
    int64_t lse_shape[3] = {g.B, g.H, g.Tq};
    cf_tensor *lse = cf_empty(ctx, acc_dtype(n->out->dtype), 3, lse_shape);
    if (!lse) return cf_last_status();
    n->aux[0] = lse;
    CF_FLOAT_SWITCH("sdpa", n->out->dtype,
                    SDPA_RUN("sdpa", g.B * g.H * g.nqb, shm, sdpa_fwd_kernel<S>, g, (S *)cf_data(n->out),
                             (cf_acc_t<S> *)cf_data(lse)));
    return CF_OK;
}

// The size t has along dim d of the 4-D shape it broadcasts to.
static int64_t bcast_size(const cf_tensor *t, int d)
{
    int td = d - (4 - t->ndim);
    return td >= 0 ? t->shape[td] : 1;
}

extern "C" cf_status cf_cuda_sdpa_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct sdpa_attr *a = CF_ATTR(n, struct sdpa_attr);
    sdpa_geom g;
    geom_init(n, &g);
    cf_dtype dt = n->out->dtype;
    size_t el = cf_dtype_size(acc_dtype(dt));
    cf_tensor *dq = NULL, *dk = NULL, *dv = NULL, *dbias = NULL, *bias_full = NULL;
    if (cf_needs_grad(n, 0) && !(dq = cf_grad_acc(ctx, n->in[0]))) return cf_last_status();
    if (cf_needs_grad(n, 1) && !(dk = cf_grad_acc(ctx, n->in[1]))) return cf_last_status();
    if (cf_needs_grad(n, 2) && !(dv = cf_grad_acc(ctx, n->in[2]))) return cf_last_status();
    int64_t dbs[4] = {0, 0, 0, 0};
    if (a->i_bias >= 0 && cf_needs_grad(n, a->i_bias)) {
        cf_tensor *bias = n->in[a->i_bias];
        bool full = true;
        int64_t want[4] = {g.B, g.H, g.Tq, g.Tk};
        for (int d = 0; d < 4; d++) full = full && (bcast_size(bias, d) == want[d] || want[d] == 1);
        if (full) { // one bias element per score: dS adds straight into the gradient
            if (!(dbias = cf_grad_acc(ctx, bias))) return cf_last_status();
        } else { // shared elements: dS of every score first, then summed to the bias's shape
            if (!(dbias = bias_full = cf_zeros(ctx, dt, 4, want))) return cf_last_status();
        }
        bcast_strides(dbias, dbs);
    }
    if (!dq && !dk && !dv && !dbias) return CF_OK;
    int64_t rows = g.B * g.H * g.Tq;
    cf_tensor *delta = cf_empty(ctx, acc_dtype(dt), 1, &rows);
    if (!delta) return cf_last_status();
    const cf_tensor *dout = n->out->grad, *lse = n->aux[0];
    CF_FLOAT_SWITCH("sdpa backward", dt, {
        typedef cf_acc_t<S> A;
        CF_KERNEL_RUN("sdpa backward", rows, sdpa_delta_kernel<S>, (const S *)cf_data(dout),
                      (const S *)cf_data(n->out), (A *)cf_data(delta), rows, g.Dv);
        size_t shm;
        if (dq || dbias) {
            if (!pick_tiles(&g, bwd_q_smem, el, &shm)) return too_large(&g);
            SDPA_RUN("sdpa backward", g.B * g.H * g.nqb, shm, sdpa_bwd_q_kernel<S>, g, (const S *)cf_data(dout),
                     (const A *)cf_data(lse), (const A *)cf_data(delta), dq ? (S *)cf_data(dq) : (S *)NULL,
                     dbias ? (S *)cf_data(dbias) : (S *)NULL, dbs[0], dbs[1], dbs[2], dbs[3]);
        }
        if (dk || dv) {
            if (!pick_tiles(&g, bwd_kv_smem, el, &shm)) return too_large(&g);
            SDPA_RUN("sdpa backward", g.B * g.Hkv * g.nkb, shm, sdpa_bwd_kv_kernel<S>, g, (const S *)cf_data(dout),
                     (const A *)cf_data(lse), (const A *)cf_data(delta), dk ? (S *)cf_data(dk) : (S *)NULL,
                     dv ? (S *)cf_data(dv) : (S *)NULL);
        }
    });
    if (bias_full) return cf_cuda_accum_grad(ctx, n->in[a->i_bias], bias_full);
    return CF_OK;
}
