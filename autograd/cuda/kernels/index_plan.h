// What the CUDA kernels of the index-driven ops share (C++, included by index.cu, segment.cu, memlayer.cu and
// sort.cu only): contiguous copies (ix_contig), a range check of an i64 index on the device, and a sort of index entries by target that turns a
// scatter-add into a deterministic gather.
//
// Range check: one block scans the index (strided by thread, then a shared-memory tree of minima) and
// leaves the first out-of-range position and its value in a 2-element device tensor; the host reads those
// 16 bytes (one synchronising copy per call) and the caller words the error as the CPU kernel does.
//
//     int64_t pos, val;
//     CF_TRY(ix_first_bad(ctx, "embedding", ids_dev, K, V, &pos, &val));   // pos == K: all in [0, V)
//
// Sort by target: keys idx[k] * K + k (unique, so the order is total and the result does not depend on the
// schedule) sorted ascending by a bitonic network over the next power of two P >= K, padded with INT64_MAX:
// the steps within a 1024-key tile run in shared memory, the longer ones one grid-stride launch each. In the
// sorted keys,
// the sources of one target form a run in ascending k; ix_run_head(keys, p, K) says whether p starts a run.
// A scatter dst[idx[k]] += src[k] then becomes one thread per (run, column) summing its run in ascending
// k, the CPU's order: no atomics, each destination element written by one thread.
//
//     cf_tensor *keys;
//     CF_TRY(ix_sort_by_target(ctx, "embedding backward", ids_dev, K, &keys));   // P keys on the device
//     ... kernel: CF_GRID_STRIDE(e, K * D) { p = e / D; if (!ix_run_head(keys, p, K)) continue; ... }
#ifndef CF_CUDA_INDEX_PLAN_H
#define CF_CUDA_INDEX_PLAN_H

#include "autograd/cuda/kernels/launch.h"

#include <stdint.h>

// t itself when contiguous, else a contiguous copy on the device
static inline cf_status ix_contig(cf_ctx *ctx, cf_tensor *t, cf_tensor **out)
{
    *out = t;
    if (cf_is_contiguous(t)) return CF_OK;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (!c) return cf_last_status();
    CF_TRY(cf_cuda_copy(c, t, false));
    *out = c;
    return CF_OK;
}

// ---- range check ----

// out[0] = the first i in [0, n) with idx[i] outside [0, lim) (n when none), out[1] = its value
template <typename I> __global__ void ix_first_bad_kernel(const I *idx, int64_t n, int64_t lim, int64_t *out)
{
    CF_SHARED(int64_t, first, CF_BLOCK_THREADS);
    int64_t f = n;
    for (int64_t i = threadIdx.x; i < n && f == n; i += blockDim.x)
        if (idx[i] < 0 || (int64_t)idx[i] >= lim) f = i;
    first[threadIdx.x] = f;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) {
            int64_t o = first[threadIdx.x + s];
            if (o < first[threadIdx.x]) first[threadIdx.x] = o;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        int64_t p = first[0];
        out[0] = p;
        out[1] = p < n ? idx[p] : 0;
    }
}

// *pos: the first position of idx[0..n) (contiguous, on the device) outside [0, lim), n when none; *val: its
// value. `what` names the op in a launch error.
static inline cf_status ix_first_bad(cf_ctx *ctx, const char *what, const int64_t *idx, int64_t n, int64_t lim,
                              int64_t *pos, int64_t *val)
{
    *pos = n, *val = 0;
    if (n == 0) return CF_OK;
    int64_t two = 2, h[2];
    cf_tensor *r = cf_empty(ctx, CF_I64, 1, &two);
    if (!r) return cf_last_status();
    CF_KERNEL_RUN_GRID(what, 1, CF_BLOCK_THREADS, ix_first_bad_kernel<int64_t>, idx, n, lim, (int64_t *)cf_data(r));
    CF_TRY(cf_tensor_backend(r)->to_host(h, cf_data(r), sizeof h));
    *pos = h[0], *val = h[1];
    return CF_OK;
}

// ---- sort by target ----

// keys[p] = idx[p] * K + p for p < K, INT64_MAX for the padding up to P
template <typename I> __global__ void ix_keys_kernel(const I *idx, int64_t K, int64_t P, int64_t *keys)
{
    CF_GRID_STRIDE(p, P) keys[p] = p < K ? idx[p] * K + p : INT64_MAX;
}

#define IX_TILE 1024 // keys per block in the shared-memory steps of the sort

// One compare-exchange step (stage k, distance j >= IX_TILE) of the ascending bitonic network over P keys
template <typename I> __global__ void ix_bitonic_step(I *keys, int64_t P, int64_t k, int64_t j)
{
    CF_GRID_STRIDE(i, P)
    {
        int64_t l = i ^ j;
        if (l <= i) continue;
        I a = keys[i], b = keys[l];
        bool up = (i & k) == 0;
        if ((a > b) == up) keys[i] = b, keys[l] = a;
    }
}

// The steps of stages k_lo..k_hi whose distance j is below the tile length T = min(P, IX_TILE): they pair keys
// within one tile, so a block loads its tile into shared memory, runs them all there and writes it back
template <typename I> __global__ void ix_bitonic_tile(I *keys, int64_t P, int64_t k_lo, int64_t k_hi)
{
    CF_SHARED(I, tile, IX_TILE);
    int64_t T = P < IX_TILE ? P : IX_TILE;
    for (int64_t base = (int64_t)blockIdx.x * T; base < P; base += (int64_t)gridDim.x * T) {
        for (int64_t i = threadIdx.x; i < T; i += blockDim.x) tile[i] = keys[base + i];
        __syncthreads();
        for (int64_t k = k_lo; k <= k_hi; k *= 2)
            for (int64_t j = (k / 2 < T / 2 ? k / 2 : T / 2); j > 0; j /= 2) {
                for (int64_t i = threadIdx.x; i < T; i += blockDim.x) {
                    int64_t l = i ^ j;
                    if (l <= i) continue;
                    I a = tile[i], b = tile[l];
                    bool up = ((base + i) & k) == 0;
                    if ((a > b) == up) tile[i] = b, tile[l] = a;
                }
                __syncthreads();
            }
        for (int64_t i = threadIdx.x; i < T; i += blockDim.x) keys[base + i] = tile[i];
        __syncthreads();
    }
}

// *keys: a new device tensor of P >= K keys, idx[k] * K + k ascending (idx: K contiguous i64 on the device,
// values >= 0 and small enough that idx * K fits: the callers' range checks bound them by the target count).
// Stages up to the tile length run in one shared-memory launch; each later stage is its steps of distance
// >= IX_TILE in global memory, then one shared-memory launch for the rest (P = 16384: 15 launches, not 105).
static inline cf_status ix_sort_by_target(cf_ctx *ctx, const char *what, const int64_t *idx, int64_t K, cf_tensor **keys)
{
    int64_t P = 1;
    while (P < K) P *= 2;
    *keys = cf_empty(ctx, CF_I64, 1, &P);
    if (!*keys) return cf_last_status();
    int64_t *kp = (int64_t *)cf_data(*keys), T = P < IX_TILE ? P : IX_TILE;
    unsigned tiles = (unsigned)(P / T < CF_MAX_BLOCKS ? P / T : CF_MAX_BLOCKS);
    CF_KERNEL_RUN(what, P, ix_keys_kernel<int64_t>, idx, K, P, kp);
    if (P < 2) return CF_OK;
    CF_KERNEL_RUN_GRID(what, tiles, CF_BLOCK_THREADS, ix_bitonic_tile<int64_t>, kp, P, (int64_t)2, T);
    for (int64_t k = 2 * T; k <= P; k *= 2) {
        for (int64_t j = k / 2; j >= T; j /= 2) CF_KERNEL_RUN(what, P, ix_bitonic_step<int64_t>, kp, P, k, j);
        CF_KERNEL_RUN_GRID(what, tiles, CF_BLOCK_THREADS, ix_bitonic_tile<int64_t>, kp, P, k, k);
    }
    return CF_OK;
}

// Whether sorted position p (< K) starts the run of one target
__device__ __forceinline__ bool ix_run_head(const int64_t *keys, int64_t p, int64_t K)
{
    return p == 0 || keys[p - 1] / K != keys[p] / K;
}

#endif
