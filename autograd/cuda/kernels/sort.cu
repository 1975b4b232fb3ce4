// CUDA kernels of topk and sort (autograd/ops/sort.def), with the CPU's results (autograd/cpu/sort.c): x seen as
// rows of len elements along dim (outer x inner rows), the best k of each row by value, ties in index order,
// NaN the largest value; unsorted (sorted false): the chosen k in ascending index order.
//
// Forward: one block per row (grid-stride over rows) sorts the row's (value, index) pairs with a bitonic network
// over the next power of two P >= len, in shared memory when P <= SHARED_MAX, else in a global scratch slice
// per block. The order compares values and breaks ties by index, a strict total order, so the network (not
// stable by itself) gives exactly the CPU's stable order and indices match. Unsorted output sorts the first k
// pairs again by index. Backward: one thread per output element storing its gradient at its index; a row's
// indices are distinct, so no two threads share a destination. bf16 storage sorts its values as f32 (cf_ld into
// f32 sort buffers, cf_st of the chosen values back: exact both ways), with the f32 rules for ties, -0 == +0
// and NaN.
#include "autograd/cuda/kernels/index_plan.h"
#include "autograd/ops/sort_attr.h"

#define SHARED_MAX 1024
#define PAD INT64_MAX // the index of a padding pair: after every real pair
#define GLOBAL_BLOCKS 64 // blocks of the global-memory path (each holds a P-pair scratch slice)

struct row_geom {
    int64_t outer, len, inner, k; // the rows: outer x inner of them, len elements along dim
};

// a strictly ahead of b (descending when desc; NaN is the largest value)
template <typename T> __device__ __forceinline__ bool before(T a, T b, bool desc)
{
    bool na = a != a, nb = b != b;
    return desc ? (a > b || (na && !nb)) : (a < b || (!na && nb));
}

// pair (va, ia) ahead of (vb, ib): padding last, then by value (ties by index), or by index alone
template <typename T> __device__ __forceinline__ bool ahead(T va, int64_t ia, T vb, int64_t ib, bool desc, bool by_index)
{
    if (by_index || ia == PAD || ib == PAD) return ia < ib;
    return before(va, vb, desc) || (!before(vb, va, desc) && ia < ib);
}

// Sorts the pairs sv/si[0..P) ascending by `ahead` (the block's threads together; P a power of two)
template <typename T, class VA, class IA> __device__ void bitonic(VA &sv, IA &si, int64_t P, bool desc, bool by_index)
{
    for (int64_t k = 2; k <= P; k *= 2)
        for (int64_t j = k / 2; j > 0; j /= 2) {
            for (int64_t i = threadIdx.x; i < P; i += blockDim.x) {
                int64_t l = i ^ j;
                if (l <= i) continue;
                T va = sv[i], vb = sv[l];
                int64_t ia = si[i], ib = si[l];
                bool up = (i & k) == 0;
                if (up ? ahead(vb, ib, va, ia, desc, by_index) : ahead(va, ia, vb, ib, desc, by_index)) {
                    sv[i] = vb, si[i] = ib;
                    sv[l] = va, si[l] = ia;
                }
            }
            __syncthreads();
        }
}

__host__ __device__ __forceinline__ int64_t pow2_at_least(int64_t n)
{
    int64_t p = 1;
    while (p < n) p *= 2;
    return p;
}

// The best k pairs of row r into vo/io, through the sort buffers sv/si (P pairs each, values in cf_acc_t<S>)
template <typename S, class VA, class IA>
__device__ void select_row(VA &sv, IA &si, int64_t P, const S *x, row_geom g, int64_t r, bool desc, bool sorted, S *vo,
                           int64_t *io)
{
    int64_t o = r / g.inner, in = r % g.inner;
    const S *xr = x + o * g.len * g.inner + in;
    __syncthreads(); // the buffers' previous row is written out
    for (int64_t i = threadIdx.x; i < P; i += blockDim.x) {
        sv[i] = i < g.len ? cf_ld(xr + i * g.inner) : (cf_acc_t<S>)0;
        si[i] = i < g.len ? i : PAD;
    }
    __syncthreads();
    bitonic<cf_acc_t<S>>(sv, si, P, desc, false);
    if (!sorted) { // the chosen k by index: the rest becomes padding
        int64_t P2 = pow2_at_least(g.k);
        for (int64_t i = g.k + threadIdx.x; i < P2; i += blockDim.x) si[i] = PAD;
        __syncthreads();
        bitonic<cf_acc_t<S>>(sv, si, P2, desc, true);
    }
    int64_t ob = o * g.k * g.inner + in;
    for (int64_t j = threadIdx.x; j < g.k; j += blockDim.x) {
        cf_st(vo + ob + j * g.inner, (cf_acc_t<S>)sv[j]);
        io[ob + j * g.inner] = si[j];
    }
}

template <typename S>
__global__ void select_shared(const S *x, row_geom g, int64_t P, bool desc, bool sorted, S *vo, int64_t *io)
{
    CF_SHARED(cf_acc_t<S>, sv, SHARED_MAX);
    CF_SHARED(int64_t, si, SHARED_MAX);
    for (int64_t r = blockIdx.x; r < g.outer * g.inner; r += gridDim.x) select_row(sv, si, P, x, g, r, desc, sorted, vo, io);
}

template <typename S>
__global__ void select_global(const S *x, row_geom g, int64_t P, bool desc, bool sorted, S *vo, int64_t *io,
                              cf_acc_t<S> *scratch_v, int64_t *scratch_i)
{
    cf_acc_t<S> *sv = scratch_v + (int64_t)blockIdx.x * P;
    int64_t *si = scratch_i + (int64_t)blockIdx.x * P;
    for (int64_t r = blockIdx.x; r < g.outer * g.inner; r += gridDim.x) select_row(sv, si, P, x, g, r, desc, sorted, vo, io);
}

// gx[.., idx, ..] (= or +=) g over the outer x k x inner output elements
template <typename S>
__global__ void scatter_back(row_geom g, S *gx, const S *go, const int64_t *idx, bool acc)
{
    CF_GRID_STRIDE(e, g.outer * g.k * g.inner)
    {
        int64_t in = e % g.inner, o = e / (g.k * g.inner);
        S *d = gx + (o * g.len + idx[e]) * g.inner + in;
        cf_st(d, acc ? cf_ld(d) + cf_ld(go + e) : cf_ld(go + e));
    }
}

static row_geom geom_of(const cf_tensor *x, int d, int64_t k)
{
    row_geom g = {1, x->shape[d], 1, k};
    for (int i = 0; i < d; i++) g.outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) g.inner *= x->shape[i];
    return g;
}

static cf_status sort_fwd(const char *name, cf_ctx *ctx, cf_node *n)
{
    const struct sort_attr *a = CF_ATTR(n, struct sort_attr);
    cf_tensor *x, *idx = n->aux[SORT_AUX_INDICES];
    CF_TRY(ix_contig(ctx, n->in[0], &x));
    row_geom g = geom_of(x, a->dim, a->k);
    int64_t rows = g.outer * g.inner, P = pow2_at_least(g.len);
    if (rows * g.k == 0) return CF_OK;
    unsigned threads = (unsigned)(P / 2 < 32 ? 32 : (P / 2 > CF_BLOCK_THREADS ? CF_BLOCK_THREADS : P / 2));
    int64_t *io = (int64_t *)cf_data(idx);
    if (P <= SHARED_MAX) {
        unsigned blocks = (unsigned)(rows < CF_MAX_BLOCKS ? rows : CF_MAX_BLOCKS);
        CF_FLOAT_SWITCH(name, x->dtype,
                        CF_KERNEL_RUN_GRID(name, blocks, threads, select_shared<S>, (const S *)cf_data(x), g, P,
                                           a->largest, a->sorted, (S *)cf_data(n->out), io));
        return CF_OK;
    }
    int64_t blocks = rows < GLOBAL_BLOCKS ? rows : GLOBAL_BLOCKS, slots = blocks * P;
    cf_dtype vdt = x->dtype == CF_BF16 ? CF_F32 : x->dtype; // the sort buffers hold cf_acc_t values
    cf_tensor *sc_v = cf_empty(ctx, vdt, 1, &slots), *sc_i = cf_empty(ctx, CF_I64, 1, &slots);
    if (!sc_v || !sc_i) return cf_last_status();
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN_GRID(name, (unsigned)blocks, threads, select_global<S>, (const S *)cf_data(x), g, P,
                                       a->largest, a->sorted, (S *)cf_data(n->out), io, (cf_acc_t<S> *)cf_data(sc_v),
                                       (int64_t *)cf_data(sc_i)));
    return CF_OK;
}

static cf_status sort_bwd(const char *name, cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct sort_attr *a = CF_ATTR(n, struct sort_attr);
    cf_tensor *x = n->in[0], *go;
    row_geom g = geom_of(x, a->dim, a->k);
    // a full permutation writes every element once, so a new buffer can be stored into
    bool overwrite = false;
    cf_tensor *gx = a->k == g.len ? cf_grad_slot(ctx, x, &overwrite) : cf_grad_acc(ctx, x);
    if (!gx) return cf_last_status();
    CF_TRY(ix_contig(ctx, n->out->grad, &go));
    CF_FLOAT_SWITCH(name, x->dtype,
                    CF_KERNEL_RUN(name, g.outer * g.k * g.inner, scatter_back<S>, g, (S *)cf_data(gx),
                                  (const S *)cf_data(go), (const int64_t *)cf_data(n->aux[SORT_AUX_INDICES]),
                                  !overwrite));
    return CF_OK;
}

extern "C" cf_status cf_cuda_topk_fwd(cf_ctx *ctx, cf_node *n) { return sort_fwd("topk", ctx, n); }
extern "C" cf_status cf_cuda_topk_bwd(cf_ctx *ctx, cf_node *n) { return sort_bwd("topk backward", ctx, n); }
extern "C" cf_status cf_cuda_sort_fwd(cf_ctx *ctx, cf_node *n) { return sort_fwd("sort", ctx, n); }
extern "C" cf_status cf_cuda_sort_bwd(cf_ctx *ctx, cf_node *n) { return sort_bwd("sort backward", ctx, n); }
