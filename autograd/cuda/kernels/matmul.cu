// CUDA kernels of matmul, linear and linear_gelu (autograd/ops/matmul.def) over the backend's GEMM
// (autograd/cuda/blas.h), with the CPU's conventions (autograd/cpu/matmul.c): operands GEMM can read as they
// are (autograd/ops/matmul_geom.h) go as they are, a transposed view as a transpose flag; anything else is
// copied once. Batch dims broadcast as NumPy's matmul: the innermost batch dim is one strided-batched
// GEMM (stride 0 for a broadcast operand), the outer ones a host loop; a broadcast operand's gradient is
// formed per output batch and summed onto its shape (cf_cuda_sum_to), never by GEMMs racing on one
// block. linear's bias and linear_gelu's GELU are an epilogue kernel after the GEMM; linear_gelu's
// backward forms the pre-activation's gradient and the bias gradient in one pass.
//
// Also add_into (autograd/ops/elementwise.def), recomputation's in-place accumulate: y (the storage of
// in[0]) += in[1] broadcast, through the backend's accumulating copy.
#include "autograd/arena.h"
#include "autograd/cuda/blas.h"
#include "autograd/cuda/kernels/contig.h"
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/matmul_geom.h"

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT2PI 0.39894228040143267794

// GELU (exact, erf form) and its derivative, as the CPU's autograd/cpu/gelu.h
template <typename A> __device__ __forceinline__ A gelu_of(A x) { return (A)0.5 * x * ((A)1 + erf(x * (A)INV_SQRT2)); }
template <typename A> __device__ __forceinline__ A gelu_grad_of(A x)
{
    return (A)0.5 * ((A)1 + erf(x * (A)INV_SQRT2)) + x * (A)INV_SQRT2PI * exp((A)-0.5 * x * x);
}

// t itself when GEMM can read its last two dims, else a contiguous copy on the device
static cf_tensor *gemm_ready(cf_ctx *ctx, cf_tensor *t)
{
    mm_ref m;
    cf_tensor *c = t;
    return mm_view(t, &m) || cf_cuda_contig(ctx, t, &c) == CF_OK ? c : NULL;
}

// The batch dims of c, a, b (all but the last two) walked together over c's: operand strides in elements,
// 0 where broadcast.
static void batch_iter(cf_iter *it, const cf_tensor *c, const cf_tensor *a, const cf_tensor *b)
{
    cf_tensor cb = *c, ab = *a, bb = *b;
    cb.ndim -= 2, ab.ndim -= 2, bb.ndim -= 2;
    const cf_tensor *ops[3] = {&cb, &ab, &bb};
    cf_iter_init(it, cb.ndim, cb.shape, 3, ops);
}

// C[i] (beta)= op(A[i]) op(B[i]) [M, N] over K for every batch index of it (operands 0, 1, 2: C, A, B); C's
// matrices must not overlap.
static cf_status batched(cf_dtype dt, const cf_iter *it, mm_ref C, mm_ref A, mm_ref B, int64_t M, int64_t N, int64_t K,
                         double beta)
{
    size_t es = cf_dtype_size(dt);
    int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it), s[3] = {0, 0, 0};
    if (it->ndim)
        for (int k = 0; k < 3; k++) s[k] = it->stride[k][it->ndim - 1];
    for (int64_t r = 0; r < rows; r++) {
        int64_t off[3];
        cf_iter_row(it, r, off);
        CF_TRY(cf_cuda_gemm_batched(dt, A.trans, B.trans, M, N, K, 1.0, (const char *)A.p + off[1] * (int64_t)es, A.ld,
                                    s[1], (const char *)B.p + off[2] * (int64_t)es, B.ld, s[2], beta,
                                    (char *)C.p + off[0] * (int64_t)es, C.ld, s[0], inner));
    }
    return CF_OK;
}

static mm_ref rows_of_matrix(const void *p, int64_t ld) { return mm_ref{p, ld, false}; }

// matmul's operands as GEMM reads them: a [.., M, K], b [.., K, N]
struct mm_operands {
    cf_tensor *a, *b;
    mm_ref A, B;
    int64_t M, K, N;
};

static cf_status mm_prepare(cf_ctx *ctx, cf_node *n, mm_operands *o)
{
    o->a = gemm_ready(ctx, n->in[0]), o->b = gemm_ready(ctx, n->in[1]);
    if (!o->a || !o->b) return cf_last_status();
    o->M = o->a->shape[o->a->ndim - 2], o->K = o->a->shape[o->a->ndim - 1], o->N = o->b->shape[o->b->ndim - 1];
    mm_view(o->a, &o->A);
    mm_view(o->b, &o->B);
    return CF_OK;
}

extern "C" cf_status cf_cuda_matmul_fwd(cf_ctx *ctx, cf_node *n)
{
    mm_operands o;
    CF_TRY(mm_prepare(ctx, n, &o));
    cf_tensor *a = o.a, *b = o.b, *y = n->out;
    int64_t M = o.M, K = o.K, N = o.N;
    mm_ref A = o.A, B = o.B;
    if (b->ndim == 2 && mm_folds(a))
        return cf_cuda_gemm(y->dtype, false, B.trans, mm_rows(a), N, K, 1.0, cf_data(a), a->stride[a->ndim - 2], B.p,
                            B.ld, 0.0, cf_data(y), N);
    cf_iter it;
    batch_iter(&it, y, a, b);
    return batched(y->dtype, &it, rows_of_matrix(cf_data(y), N), A, B, M, N, K, 0.0);
}

// gx (=, or += unless overwrite), the gradient of operand i (x, [.., R, C]) of y = a @ b, from the per-batch
// products op(P) op(Q) [R, C] over `inner`: straight into gx when x's batch dims are y's, else into a buffer of
// y's batch dims summed onto x's shape. p and q are the tensors whose batch dims P and Q walk.
static cf_status batch_grad(cf_ctx *ctx, cf_node *n, int i, cf_tensor *gx, bool overwrite, const cf_tensor *p,
                            mm_ref P, const cf_tensor *q, mm_ref Q, int64_t R, int64_t C, int64_t inner)
{
    cf_tensor *y = n->out;
    cf_dtype dt = y->dtype;
    cf_iter it;
    if (!mm_batch_broadcast(n->in[i], y)) {
        batch_iter(&it, gx, p, q);
        return batched(dt, &it, rows_of_matrix(cf_data(gx), C), P, Q, R, C, inner, overwrite ? 0.0 : 1.0);
    }
    int64_t shape[CF_MAX_DIMS];
    for (int d = 0; d < y->ndim - 2; d++) shape[d] = y->shape[d];
    shape[y->ndim - 2] = R, shape[y->ndim - 1] = C;
    cf_tensor *full = cf_empty(ctx, dt, y->ndim, shape);
    if (!full) return cf_last_status();
    batch_iter(&it, full, p, q);
    CF_TRY(batched(dt, &it, rows_of_matrix(cf_data(full), C), P, Q, R, C, inner, 0.0));
    return cf_cuda_sum_to(gx, full, overwrite);
}

// dA = G B^T and dB = A^T G into ga and gb (either NULL: not needed; ow_*: store, not add)
static cf_status matmul_grads(cf_ctx *ctx, cf_node *n, cf_tensor *ga, bool ow_a, cf_tensor *gb, bool ow_b)
{
    mm_operands o;
    CF_TRY(mm_prepare(ctx, n, &o));
    cf_tensor *a = o.a, *b = o.b, *g = n->out->grad;
    cf_dtype dt = g->dtype;
    int64_t M = o.M, K = o.K, N = o.N;
    mm_ref A = o.A, B = o.B, G = rows_of_matrix(cf_data(g), N), Bt = {B.p, B.ld, !B.trans}, At = {A.p, A.ld, !A.trans};
    // b 2-D and a's rows one matrix: every row of every batch against the one b, one GEMM over batch * M rows
    bool fold = b->ndim == 2 && mm_folds(a);
    if (ga && fold)
        CF_TRY(cf_cuda_gemm(dt, false, Bt.trans, mm_rows(a), K, N, 1.0, G.p, N, Bt.p, Bt.ld, ow_a ? 0.0 : 1.0,
                            cf_data(ga), K));
    else if (ga)
        CF_TRY(batch_grad(ctx, n, 0, ga, ow_a, g, G, b, Bt, M, K, N));
    if (gb && fold)
        return cf_cuda_gemm(dt, true, false, K, N, mm_rows(a), 1.0, cf_data(a), a->stride[a->ndim - 2], G.p, N,
                            ow_b ? 0.0 : 1.0, cf_data(gb), N);
    return gb ? batch_grad(ctx, n, 1, gb, ow_b, a, At, g, G, K, N, M) : CF_OK;
}

// The gradient buffers first (they outlive the call), then operand copies and batch buffers, handed back to
// the device arena at the end
extern "C" cf_status cf_cuda_matmul_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *ga = NULL, *gb = NULL;
    bool ow_a = false, ow_b = false;
    if (cf_needs_grad(n, 0) && !(ga = cf_grad_slot(ctx, n->in[0], &ow_a))) return cf_last_status();
    if (cf_needs_grad(n, 1) && !(gb = cf_grad_slot(ctx, n->in[1], &ow_b))) return cf_last_status();
    cf_arena *arena = cf_ctx_device_arena(ctx);
    cf_arena_mark mark = cf_arena_get_mark(arena);
    cf_status st = matmul_grads(ctx, n, ga, ow_a, gb, ow_b);
    cf_arena_rewind(arena, mark);
    return st;
}

// ---- linear and linear_gelu: y[R, out] = act(x[R, in] w^T + bias) ----

// y = act(p + b) over rows of `out` columns (b NULL: none; bs its stride); y may be p
template <typename S>
__global__ void bias_act(const S *p, const S *b, int64_t bs, S *y, int64_t R, int64_t out, bool gelu)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, R * out)
    {
        A v = cf_ld(p + i) + (b ? cf_ld(b + (i % out) * bs) : (A)0);
        cf_st(y + i, gelu ? gelu_of(v) : v);
    }
}

#define COL_TILE 32   // columns of a block: a warp reads 32 neighbours of one row
#define ROW_LANES 8   // rows a block walks in parallel
#define SLAB_ROWS 256 // rows of one block (a slab): R / SLAB_ROWS slabs run side by side
#define MAX_SLABS 1024

// Over slab blockIdx.y's rows of g [R, out] (rows_per each), per column j of the block's tile: with gelu,
// g = g gelu'(pre + b) in place (the pre-activation's gradient; b NULL: none, bs its stride); with part, the
// slab's column sums into part[slab][j]. Thread (x, y) sums rows y, y + ROW_LANES, ... of the slab's column x,
// then the ROW_LANES partials are added in order: deterministic, no atomics.
template <typename S>
__global__ void bias_grad_slabs(S *g, const S *pre, const S *b, int64_t bs, S *part, int64_t R, int64_t out,
                                int64_t rows_per, bool gelu)
{
    typedef cf_acc_t<S> A;
    CF_SHARED(A, lane, COL_TILE * ROW_LANES);
    int64_t r0 = (int64_t)blockIdx.y * rows_per, r1 = r0 + rows_per < R ? r0 + rows_per : R;
    for (int64_t j0 = (int64_t)blockIdx.x * COL_TILE; j0 < out; j0 += (int64_t)gridDim.x * COL_TILE) {
        int64_t j = j0 + threadIdx.x;
        A s = 0;
        if (j < out)
            for (int64_t r = r0 + threadIdx.y; r < r1; r += ROW_LANES) {
                S *gp = g + r * out + j;
                A v = cf_ld(gp);
                if (gelu) {
                    v *= gelu_grad_of(cf_ld(pre + r * out + j) + (b ? cf_ld(b + j * bs) : (A)0));
                    cf_st(gp, v);
                }
                s += v;
            }
        if (!part) continue; // block-uniform: no barrier is skipped by some threads only
        lane[threadIdx.y * COL_TILE + threadIdx.x] = s;
        __syncthreads();
        if (threadIdx.y == 0 && j < out) {
            A t = 0;
            for (int k = 0; k < ROW_LANES; k++) t += lane[k * COL_TILE + threadIdx.x];
            cf_st(part + blockIdx.y * out + j, t);
        }
        __syncthreads();
    }
}

// gb[j] (gbs its stride) = or += the slabs' sums of column j, in slab order
template <typename S> __global__ void sum_slabs(const S *part, int64_t slabs, S *gb, int64_t gbs, int64_t out, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(j, out)
    {
        A t = 0;
        for (int64_t k = 0; k < slabs; k++) t += cf_ld(part + k * out + j);
        cf_st(gb + j * gbs, acc ? cf_ld(gb + j * gbs) + t : t);
    }
}

// x as GEMM rows: itself when it folds, else a contiguous copy
static cf_tensor *rows_ready(cf_ctx *ctx, cf_tensor *x)
{
    cf_tensor *c = x;
    return mm_rows_ready(x) || cf_cuda_contig(ctx, x, &c) == CF_OK ? c : NULL;
}

static cf_status linear_fwd(cf_ctx *ctx, cf_node *n, bool gelu)
{
    cf_tensor *x = rows_ready(ctx, n->in[0]), *w = gemm_ready(ctx, n->in[1]), *y = n->out;
    cf_tensor *b = n->n_in == 3 ? n->in[2] : NULL, *pre = y;
    if (!x || !w) return cf_last_status();
    if (gelu && !(pre = cf_empty(ctx, y->dtype, y->ndim, y->shape))) return cf_last_status();
    int64_t R = mm_rows(x), in = w->shape[1], out = w->shape[0];
    mm_ref W;
    mm_view(w, &W);
    CF_TRY(cf_cuda_gemm(y->dtype, false, !W.trans, R, out, in, 1.0, cf_data(x), mm_row_stride(x), W.p, W.ld, 0.0,
                        cf_data(pre), out));
    if (gelu) n->aux[0] = pre;
    if (!b && !gelu) return CF_OK;
    int64_t bs = b ? b->stride[0] : 0;
    CF_FLOAT_SWITCH(cf_op_name(n->op), y->dtype,
                    CF_KERNEL_RUN(cf_op_name(n->op), R * out, bias_act<S>, (const S *)cf_data(pre),
                                  b ? (const S *)cf_data(b) : (const S *)NULL, bs, (S *)cf_data(y), R, out, gelu));
    return CF_OK;
}

// The pre-activation's gradient over g (gelu), and the bias gradient into gb (NULL: none) from the same pass
static cf_status bias_act_grad(cf_ctx *ctx, cf_node *n, cf_tensor *g, cf_tensor *gb, bool acc, int64_t R, int64_t out,
                               bool gelu)
{
    const char *name = cf_op_name(n->op);
    cf_tensor *b = n->n_in == 3 ? n->in[2] : NULL, *pre = gelu ? n->aux[0] : NULL;
    int64_t bs = b ? b->stride[0] : 0, tiles = (out + COL_TILE - 1) / COL_TILE;
    int64_t slabs = (R + SLAB_ROWS - 1) / SLAB_ROWS;
    slabs = slabs < 1 ? 1 : (slabs > MAX_SLABS ? MAX_SLABS : slabs);
    int64_t rows_per = (R + slabs - 1) / slabs;
    void *part = gb ? cf_device_scratch(ctx, (size_t)(slabs * out) * cf_dtype_size(g->dtype)) : NULL;
    if (gb && !part) return cf_last_status();
    dim3 grid((unsigned)(tiles < CF_MAX_BLOCKS ? (tiles > 0 ? tiles : 1) : CF_MAX_BLOCKS), (unsigned)slabs);
    CF_FLOAT_SWITCH(name, g->dtype, {
        CF_KERNEL_RUN_GRID(name, grid, dim3(COL_TILE, ROW_LANES), bias_grad_slabs<S>, (S *)cf_data(g),
                           pre ? (const S *)cf_data(pre) : (const S *)NULL, b ? (const S *)cf_data(b) : (const S *)NULL,
                           bs, (S *)part, R, out, rows_per, gelu);
        if (gb)
            CF_KERNEL_RUN(name, out, sum_slabs<S>, (const S *)part, slabs, (S *)cf_data(gb), gb->stride[0], out, acc);
    });
    return CF_OK;
}

// The gradient buffers first (they outlive the call), then scratch and operand copies, handed back to the
// device arena at the end
static cf_status linear_bwd(cf_ctx *ctx, cf_node *n, bool gelu)
{
    cf_tensor *g = n->out->grad, *b = n->n_in == 3 ? n->in[2] : NULL, *gx = NULL, *gw = NULL, *gb = NULL;
    bool ow_x = false, ow_w = false, ow_b = false;
    if (cf_needs_grad(n, 0) && !(gx = cf_grad_slot(ctx, n->in[0], &ow_x))) return cf_last_status();
    if (cf_needs_grad(n, 1) && !(gw = cf_grad_slot(ctx, n->in[1], &ow_w))) return cf_last_status();
    if (b && cf_needs_grad(n, 2) && !(gb = cf_grad_slot(ctx, b, &ow_b))) return cf_last_status();
    cf_arena *arena = cf_ctx_device_arena(ctx);
    cf_arena_mark mark = cf_arena_get_mark(arena);
    cf_status st = CF_OK;
    cf_tensor *x = rows_ready(ctx, n->in[0]), *w = gemm_ready(ctx, n->in[1]);
    int64_t R = x ? mm_rows(x) : 0, in = n->in[1]->shape[1], out = n->in[1]->shape[0];
    mm_ref W;
    if (!x || !w) st = cf_last_status();
    // the pre-activation's gradient over the output's (released by the engine after this backward, as on
    // the CPU), and the bias gradient from the same pass
    if (st == CF_OK && (gelu || gb)) st = bias_act_grad(ctx, n, g, gb, !ow_b, R, out, gelu);
    if (st == CF_OK) mm_view(w, &W);
    if (st == CF_OK && gx) // dx[R, in] = g[R, out] w[out, in]
        st = cf_cuda_gemm(g->dtype, false, W.trans, R, in, out, 1.0, cf_data(g), out, W.p, W.ld, ow_x ? 0.0 : 1.0,
                          cf_data(gx), in);
    if (st == CF_OK && gw) // dw[out, in] = g^T[out, R] x[R, in]
        st = cf_cuda_gemm(g->dtype, true, false, out, in, R, 1.0, cf_data(g), out, cf_data(x), mm_row_stride(x),
                          ow_w ? 0.0 : 1.0, cf_data(gw), in);
    cf_arena_rewind(arena, mark);
    return st;
}

extern "C" cf_status cf_cuda_linear_fwd(cf_ctx *ctx, cf_node *n) { return linear_fwd(ctx, n, false); }
extern "C" cf_status cf_cuda_linear_bwd(cf_ctx *ctx, cf_node *n) { return linear_bwd(ctx, n, false); }
extern "C" cf_status cf_cuda_linear_gelu_fwd(cf_ctx *ctx, cf_node *n) { return linear_fwd(ctx, n, true); }
extern "C" cf_status cf_cuda_linear_gelu_bwd(cf_ctx *ctx, cf_node *n) { return linear_bwd(ctx, n, true); }

// ---- add_into: the output is in[0]'s storage (cf_add_into's contract), so y += in[1] is the whole op ----

extern "C" cf_status cf_cuda_add_into_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    return cf_cuda_copy(n->out, n->in[1], true);
}

extern "C" cf_status cf_cuda_add_into_bwd(cf_ctx *ctx, cf_node *n)
{
    for (int i = 0; i < 2; i++)
        if (cf_needs_grad(n, i)) CF_TRY(cf_cuda_accum_grad(ctx, n->in[i], n->out->grad));
    return CF_OK;
}
