/* CPU matmul and linear through CBLAS. Operands whose last two dims are row- or column-major go to
 * GEMM as they are (a transposed view becomes a transpose flag); anything else is copied once. */
#include "autograd/cpu/cpu.h"
#include "autograd/cpu/gelu.h"
#include "autograd/ops/matmul_geom.h"

#include <string.h>

static void gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda,
                 const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    cf_cpu_gemm(dt, ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

/* t itself when GEMM can read it, else a contiguous copy in the arena. */
static cf_tensor *gemm_ready(cf_ctx *ctx, cf_tensor *t)
{
    mm_ref m;
    if (mm_view(t, &m)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (c) cf_cpu_copy_strided(c, t, false);
    return c;
}

/* Batch geometry: operand strides over the output's batch dims (0 where broadcast). */
typedef struct {
    cf_iter it;
    int64_t nbatch;
} batch_iter;

static void batch_init(batch_iter *bi, const cf_tensor *out, const cf_tensor *a, const cf_tensor *b)
{
    cf_tensor ob = *out, ab = *a, bb = *b;
    ob.ndim -= 2, ab.ndim -= 2, bb.ndim -= 2;
    const cf_tensor *ops[3] = {&ob, &ab, &bb};
    cf_iter_init(&bi->it, ob.ndim, ob.shape, 3, ops);
    bi->nbatch = bi->it.numel;
}

static void batch_offsets(const batch_iter *bi, int64_t k, int64_t off[3])
{
    int64_t inner = cf_iter_inner(&bi->it);
    cf_iter_row(&bi->it, k / inner, off);
    int64_t j = k % inner;
    for (int o = 0; o < 3; o++) off[o] += j * bi->it.stride[o][bi->it.ndim - 1];
}

/* C[batch] (beta) += A[batch] op B[batch] over the batch iterator; parallel over batches when each
 * product is small, since one GEMM per thread then beats threads inside one small GEMM. */
static void batched(const batch_iter *bi, cf_dtype dt, const mm_ref *A, const mm_ref *B, void *C, int64_t M,
                    int64_t N, int64_t K, int64_t ldc, double beta, int64_t sc_ovr[3], bool serial)
{
    size_t es = cf_dtype_size(dt);
    /* one GEMM per thread beats threads inside a small GEMM, but only when there is work to share */
    bool small = (double)M * N * K < 96.0 * 96 * 96, worth = (double)M * N * K * (double)bi->nbatch > 1e6;
    #pragma omp parallel for if (small && worth && !serial && bi->nbatch > 1)
    for (int64_t k = 0; k < bi->nbatch; k++) {
        int64_t off[3];
        batch_offsets(bi, k, off);
        for (int o = 0; o < 3; o++)
            if (sc_ovr[o] >= 0) off[o] = off[o] * sc_ovr[o];
        gemm(dt, A->trans, B->trans, M, N, K, (const char *)A->p + off[1] * (int64_t)es, A->ld,
             (const char *)B->p + off[2] * (int64_t)es, B->ld, beta, (char *)C + off[0] * (int64_t)es, ldc);
    }
}

cf_status cf_cpu_matmul_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *a = gemm_ready(ctx, n->in[0]), *b = gemm_ready(ctx, n->in[1]), *y = n->out;
    if (!a || !b) return cf_last_status();
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    mm_ref A, B;
    mm_view(a, &A);
    mm_view(b, &B);
    if (b->ndim == 2 && mm_folds(a)) {
        gemm(y->dtype, false, B.trans, mm_rows(a), N, K, cf_data(a), a->stride[a->ndim - 2], B.p, B.ld, 0.0, cf_data(y), N);
        return CF_OK;
    }
    batch_iter bi;
    batch_init(&bi, y, a, b);
    int64_t none[3] = {-1, -1, -1};
    batched(&bi, y->dtype, &A, &B, cf_data(y), M, N, K, N, 0.0, none, false);
    return CF_OK;
}

cf_status cf_cpu_matmul_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *a = gemm_ready(ctx, n->in[0]), *b = gemm_ready(ctx, n->in[1]), *y = n->out, *g = y->grad;
    if (!a || !b) return cf_last_status();
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    mm_ref A, B, G = {cf_data(g), N, false};
    mm_view(a, &A);
    mm_view(b, &B);
    bool fold = b->ndim == 2 && mm_folds(a);
    batch_iter bi;
    batch_init(&bi, y, a, b);

    if (cf_needs_grad(n, 0)) {
        bool bcast = mm_batch_broadcast(a, y), overwrite = false;
        cf_tensor *ga = bcast ? cf_grad_acc(ctx, n->in[0]) : cf_grad_slot(ctx, n->in[0], &overwrite);
        if (!ga) return cf_last_status();
        double beta = overwrite ? 0.0 : 1.0;
        mm_ref Bt = {B.p, B.ld, !B.trans}; /* dA = G B^T */
        if (fold) {
            gemm(y->dtype, false, Bt.trans, mm_rows(a), K, N, G.p, N, Bt.p, Bt.ld, beta, cf_data(ga), K);
        } else {
            /* ga is contiguous in a's shape: its batch offset is the batch index times M*K, broadcast
             * dims collapse onto one block, so those must accumulate serially */
            cf_tensor gav = *ga;
            const cf_tensor *ops[3] = {y, &gav, b};
            cf_tensor yb = *y, gb_ = gav, bb = *b;
            yb.ndim -= 2, gb_.ndim -= 2, bb.ndim -= 2;
            ops[0] = &yb, ops[1] = &gb_, ops[2] = &bb;
            batch_iter bg;
            cf_iter_init(&bg.it, yb.ndim, yb.shape, 3, ops);
            bg.nbatch = bg.it.numel;
            int64_t none[3] = {-1, -1, -1};
            size_t es = cf_dtype_size(y->dtype);
            bool serial = bcast;
            bool worth = (double)M * N * K * (double)bg.nbatch > 1e6;
            #pragma omp parallel for if (!serial && worth && (double)M * N * K < 96.0 * 96 * 96 && bg.nbatch > 1)
            for (int64_t k = 0; k < bg.nbatch; k++) {
                int64_t off[3];
                batch_offsets(&bg, k, off);
                gemm(y->dtype, false, Bt.trans, M, K, N, (const char *)G.p + k * M * N * (int64_t)es, N,
                     (const char *)Bt.p + off[2] * (int64_t)es, Bt.ld, beta, (char *)cf_data(ga) + off[1] * (int64_t)es, K);
            }
            (void)none;
        }
    }
    if (cf_needs_grad(n, 1)) {
        bool bcast = mm_batch_broadcast(b, y), overwrite = false;
        cf_tensor *gbt = (bcast && !fold) ? cf_grad_acc(ctx, n->in[1]) : cf_grad_slot(ctx, n->in[1], &overwrite);
        if (!gbt) return cf_last_status();
        double beta = overwrite ? 0.0 : 1.0;
        mm_ref At = {A.p, A.ld, !A.trans}; /* dB = A^T G */
        if (fold) {
            gemm(y->dtype, true, false, K, N, mm_rows(a), cf_data(a), a->stride[a->ndim - 2], G.p, N, beta, cf_data(gbt), N);
        } else {
            cf_tensor yb = *y, ab = *a, gb_ = *gbt;
            yb.ndim -= 2, ab.ndim -= 2, gb_.ndim -= 2;
            const cf_tensor *ops[3] = {&yb, &ab, &gb_};
            batch_iter bg;
            cf_iter_init(&bg.it, yb.ndim, yb.shape, 3, ops);
            bg.nbatch = bg.it.numel;
            size_t es = cf_dtype_size(y->dtype);
            bool serial = bcast;
            bool worth = (double)M * N * K * (double)bg.nbatch > 1e6;
            #pragma omp parallel for if (!serial && worth && (double)M * N * K < 96.0 * 96 * 96 && bg.nbatch > 1)
            for (int64_t k = 0; k < bg.nbatch; k++) {
                int64_t off[3];
                batch_offsets(&bg, k, off);
                gemm(y->dtype, At.trans, false, K, N, M, (const char *)At.p + off[1] * (int64_t)es, At.ld,
                     (const char *)G.p + k * M * N * (int64_t)es, N, beta, (char *)cf_data(gbt) + off[2] * (int64_t)es, N);
            }
        }
    }
    return CF_OK;
}

/* ---- linear: y[R, out] = x[R, in] w^T + bias ---- */

static cf_tensor *rows_ready(cf_ctx *ctx, cf_tensor *x)
{
    if (mm_rows_ready(x)) return x;
    cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (c) cf_cpu_copy_strided(c, x, false);
    return c;
}

/* A bias (or any 1-D operand) as a contiguous vector: itself, or a copy in the arena. */
static cf_tensor *contiguous_1d(cf_ctx *ctx, cf_tensor *t)
{
    if (t->stride[0] == 1 || t->shape[0] <= 1) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, 1, t->shape);
    if (c) cf_cpu_copy_strided(c, t, false);
    return c;
}

cf_status cf_cpu_linear_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = rows_ready(ctx, n->in[0]), *w = gemm_ready(ctx, n->in[1]), *y = n->out;
    if (!x || !w) return cf_last_status();
    int64_t R = mm_rows(x), in = w->shape[1], out = w->shape[0];
    mm_ref W;
    mm_view(w, &W);
    double beta = 0.0;
    if (n->n_in == 3) {
        cf_tensor yv = *y, bv = *n->in[2];
        cf_cpu_copy_strided(&yv, &bv, false); /* broadcast the bias into every row */
        beta = 1.0;
    }
    gemm(y->dtype, false, !W.trans, R, out, in, cf_data(x), mm_row_stride(x), W.p, W.ld, beta, cf_data(y), out);
    return CF_OK;
}

/* The input, weight and bias gradients of y = x w^T + b from g = dL/dy [R, out] (linear and linear_gelu). */
static cf_status linear_grads(cf_ctx *ctx, cf_node *n, const cf_tensor *x, const cf_tensor *w, const cf_tensor *g)
{
    int64_t R = mm_rows(x), in = w->shape[1], out = w->shape[0];
    mm_ref W;
    mm_view(w, &W);
    bool overwrite;
    if (cf_needs_grad(n, 0)) { /* dx[R, in] = g[R, out] w[out, in] */
        cf_tensor *gx = cf_grad_slot(ctx, n->in[0], &overwrite);
        if (!gx) return cf_last_status();
        gemm(g->dtype, false, W.trans, R, in, out, cf_data(g), out, W.p, W.ld, overwrite ? 0.0 : 1.0, cf_data(gx), in);
    }
    if (cf_needs_grad(n, 1)) { /* dw[out, in] = g^T[out, R] x[R, in] */
        cf_tensor *gw = cf_grad_slot(ctx, n->in[1], &overwrite);
        if (!gw) return cf_last_status();
        gemm(g->dtype, true, false, out, in, R, cf_data(g), out, cf_data(x), mm_row_stride(x), overwrite ? 0.0 : 1.0,
             cf_data(gw), in);
    }
    if (n->n_in == 3 && cf_needs_grad(n, 2)) return cf_cpu_accum_grad(ctx, n->in[2], g);
    return CF_OK;
}

cf_status cf_cpu_linear_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = rows_ready(ctx, n->in[0]), *w = gemm_ready(ctx, n->in[1]), *g = n->out->grad;
    if (!x || !w) return cf_last_status();
    return linear_grads(ctx, n, x, w, g);
}

/* ---- linear_gelu: y = gelu(x w^T + bias); aux[0] = x w^T (without the bias) ---- */

#define GELU_PASSES(T, S) \
    /* y = gelu(p + b) over rows of `out` columns */ \
    static void gelu_bias_fwd_##S(const T *p, const T *b, T *y, int64_t R, int64_t out) \
    { \
        _Pragma("omp parallel for if (R * out > CF_PAR_MIN)") for (int64_t r = 0; r < R; r++) \
        { \
            const T *pr = p + r * out; \
            T *yr = y + r * out; \
            if (b) { \
                _Pragma("omp simd") for (int64_t j = 0; j < out; j++) yr[j] = CF_GELU(pr[j] + b[j]); \
            } else { \
                _Pragma("omp simd") for (int64_t j = 0; j < out; j++) yr[j] = CF_GELU(pr[j]); \
            } \
        } \
    } \
    /* d = g gelu'(p + b) */ \
    static void gelu_bias_bwd_##S(const T *p, const T *b, const T *g, T *d, int64_t R, int64_t out) \
    { \
        _Pragma("omp parallel for if (R * out > CF_PAR_MIN)") for (int64_t r = 0; r < R; r++) \
        { \
            const T *pr = p + r * out, *gr = g + r * out; \
            T *dr = d + r * out; \
            if (b) { \
                _Pragma("omp simd") for (int64_t j = 0; j < out; j++) dr[j] = gr[j] * CF_GELU_GRAD(pr[j] + b[j]); \
            } else { \
                _Pragma("omp simd") for (int64_t j = 0; j < out; j++) dr[j] = gr[j] * CF_GELU_GRAD(pr[j]); \
            } \
        } \
    }
GELU_PASSES(float, f)
GELU_PASSES(double, d)

cf_status cf_cpu_linear_gelu_fwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = rows_ready(ctx, n->in[0]), *w = gemm_ready(ctx, n->in[1]), *y = n->out;
    cf_tensor *b = n->n_in == 3 ? contiguous_1d(ctx, n->in[2]) : NULL;
    if (!x || !w || (n->n_in == 3 && !b)) return cf_last_status();
    int64_t R = mm_rows(x), in = w->shape[1], out = w->shape[0];
    cf_tensor *pre = cf_empty(ctx, y->dtype, y->ndim, y->shape);
    if (!pre) return cf_last_status();
    mm_ref W;
    mm_view(w, &W);
    gemm(y->dtype, false, !W.trans, R, out, in, cf_data(x), mm_row_stride(x), W.p, W.ld, 0.0, cf_data(pre), out);
    if (y->dtype == CF_F32) gelu_bias_fwd_f(cf_data(pre), b ? cf_data(b) : NULL, cf_data(y), R, out);
    else gelu_bias_fwd_d(cf_data(pre), b ? cf_data(b) : NULL, cf_data(y), R, out);
    n->aux[0] = pre;
    return CF_OK;
}

cf_status cf_cpu_linear_gelu_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *x = rows_ready(ctx, n->in[0]), *w = gemm_ready(ctx, n->in[1]), *g = n->out->grad, *pre = n->aux[0];
    cf_tensor *b = n->n_in == 3 ? contiguous_1d(ctx, n->in[2]) : NULL;
    if (!x || !w || (n->n_in == 3 && !b)) return cf_last_status();
    int64_t R = mm_rows(x), out = w->shape[0];
    /* the pre-activation's gradient, over the output's: the engine releases that after this backward, and
     * nothing else reads it (a new buffer here would be 4 MB a GPT layer that the free list never sees) */
    cf_tensor *d = g;
    if (g->dtype == CF_F32) gelu_bias_bwd_f(cf_data(pre), b ? cf_data(b) : NULL, cf_data(g), cf_data(d), R, out);
    else gelu_bias_bwd_d(cf_data(pre), b ? cf_data(b) : NULL, cf_data(g), cf_data(d), R, out);
    return linear_grads(ctx, n, x, w, d);
}
