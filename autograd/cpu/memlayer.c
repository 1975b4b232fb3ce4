/* CPU kernels of the memory-layer ops (ops/memlayer.h has the formulas). Every operand is contiguous
 * (the frontends see to it). Threads split the positions in the forward, the hash backward and the
 * weight gradient; the table's scatter-add is split by column blocks, each walking every (position,
 * chunk) pair in order, so no two threads touch one element and the sums do not depend on the thread
 * count. Only the rows a step used are written. */
#include "autograd/ops/memlayer.h"
#include "autograd/ops/memlayer_attr.h"
#include "autograd/ops/memlayer_elem.h"
#include "autograd/cpu/cpu.h"

#include <inttypes.h>
#include <tgmath.h>

/* columns of the table gradient per task */
#define COL_BLOCK 32

CF_MEMLAYER_CHUNK(chunk_float, float, )
CF_MEMLAYER_CHUNK(chunk_double, double, )

#define MEMLAYER_KERNELS(T) \
    static void hash_fwd_##T(const T *z, T *w, int64_t *rows, int64_t N, int64_t K, int64_t tau, bool code, T t) \
    { \
        _Pragma("omp parallel for if (N * K * tau > CF_PAR_MIN)") for (int64_t n = 0; n < N; n++) \
            for (int64_t k = 0; k < K; k++) { \
                int64_t h; \
                w[n * K + k] = chunk_##T(z + (n * K + k) * tau, tau, code, t, &h, 0, NULL, false); \
                rows[n * K + k] = (k << tau) + h; \
            } \
    } \
    static void hash_bwd_##T(const T *z, const T *gw, T *gz, int64_t N, int64_t K, int64_t tau, bool code, T t, \
                             bool acc) \
    { \
        _Pragma("omp parallel for if (N * K * tau > CF_PAR_MIN)") for (int64_t n = 0; n < N; n++) \
            for (int64_t k = 0; k < K; k++) { \
                int64_t at = (n * K + k) * tau; \
                chunk_##T(z + at, tau, code, t, NULL, gw[n * K + k], gz + at, acc); \
            } \
    } \
    static void lookup_fwd_##T(const T *tab, const int64_t *rows, const T *w, T *y, int64_t N, int64_t K, int64_t D) \
    { \
        _Pragma("omp parallel for if (N * K * D > CF_PAR_MIN)") for (int64_t n = 0; n < N; n++) \
        { \
            T *out = y + n * D; \
            for (int64_t c = 0; c < D; c++) out[c] = 0; \
            for (int64_t k = 0; k < K; k++) { \
                const T *row = tab + rows[n * K + k] * D; \
                T wk = w[n * K + k]; \
                for (int64_t c = 0; c < D; c++) out[c] += wk * row[c]; \
            } \
        } \
    } \
    /* dw[n, k] = <G[n], table[rows[n, k]]> */ \
    static void lookup_bwd_w_##T(const T *tab, const int64_t *rows, const T *g, T *gw, int64_t N, int64_t K, \
                                 int64_t D, bool acc) \
    { \
        _Pragma("omp parallel for if (N * K * D > CF_PAR_MIN)") for (int64_t n = 0; n < N; n++) \
            for (int64_t k = 0; k < K; k++) { \
                const T *row = tab + rows[n * K + k] * D, *gn = g + n * D; \
                T s = 0; \
                for (int64_t c = 0; c < D; c++) s += gn[c] * row[c]; \
                gw[n * K + k] = acc ? gw[n * K + k] + s : s; \
            } \
    } \
    /* gtab[rows[n, k]] += w[n, k] G[n], column block by column block */ \
    static void lookup_bwd_table_##T(T *gtab, const int64_t *rows, const T *w, const T *g, int64_t N, int64_t K, \
                                     int64_t D) \
    { \
        int64_t blocks = (D + COL_BLOCK - 1) / COL_BLOCK; \
        _Pragma("omp parallel for if (N * K * D > CF_PAR_MIN)") for (int64_t b = 0; b < blocks; b++) \
        { \
            int64_t c0 = b * COL_BLOCK, c1 = c0 + COL_BLOCK < D ? c0 + COL_BLOCK : D; \
            for (int64_t n = 0; n < N; n++) \
                for (int64_t k = 0; k < K; k++) { \
                    T *dst = gtab + rows[n * K + k] * D; \
                    const T *gn = g + n * D; \
                    T wk = w[n * K + k]; \
                    for (int64_t c = c0; c < c1; c++) dst[c] += wk * gn[c]; \
                } \
        } \
    }

MEMLAYER_KERNELS(float)
MEMLAYER_KERNELS(double)

cf_status cf_cpu_memlayer_hash_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    const struct memlayer_hash_attr *a = CF_ATTR(n, struct memlayer_hash_attr);
    cf_tensor *z = n->in[0], *w = n->out, *rows = n->aux[MEMLAYER_AUX_ROWS];
    int64_t K = w->shape[w->ndim - 1], N = K ? cf_numel(w) / K : 0;
    bool code = a->weight == CF_MEMWEIGHT_CODE;
    if (z->dtype == CF_F32)
        hash_fwd_float(cf_data(z), cf_data(w), cf_data(rows), N, K, a->tau, code, (float)a->temperature);
    else
        hash_fwd_double(cf_data(z), cf_data(w), cf_data(rows), N, K, a->tau, code, a->temperature);
    return CF_OK;
}

cf_status cf_cpu_memlayer_hash_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    const struct memlayer_hash_attr *a = CF_ATTR(n, struct memlayer_hash_attr);
    cf_tensor *z = n->in[0], *g = n->out->grad;
    bool overwrite;
    cf_tensor *gz = cf_grad_slot(ctx, z, &overwrite);
    if (!gz) return cf_last_status();
    int64_t K = n->out->shape[n->out->ndim - 1], N = K ? cf_numel(n->out) / K : 0;
    bool code = a->weight == CF_MEMWEIGHT_CODE;
    if (z->dtype == CF_F32)
        hash_bwd_float(cf_data(z), cf_data(g), cf_data(gz), N, K, a->tau, code, (float)a->temperature, !overwrite);
    else
        hash_bwd_double(cf_data(z), cf_data(g), cf_data(gz), N, K, a->tau, code, a->temperature, !overwrite);
    return CF_OK;
}

cf_status cf_cpu_memlayer_lookup_fwd(cf_ctx *ctx, cf_node *n)
{
    (void)ctx;
    cf_tensor *tab = n->in[0], *rows = n->in[1], *w = n->in[2], *y = n->out;
    int64_t R = tab->shape[0], D = tab->shape[1], K = w->shape[w->ndim - 1], N = K ? cf_numel(w) / K : 0;
    const int64_t *r = cf_data(rows);
    for (int64_t i = 0; i < N * K; i++)
        if (r[i] < 0 || r[i] >= R)
            return cf_set_error(CF_ERR_ARG, "memlayer_lookup: row %" PRId64 " at position %" PRId64
                                " of the rows is out of range [0, %" PRId64 ") of the table", r[i], i, R);
    if (tab->dtype == CF_F32)
        lookup_fwd_float(cf_data(tab), r, cf_data(w), cf_data(y), N, K, D);
    else
        lookup_fwd_double(cf_data(tab), r, cf_data(w), cf_data(y), N, K, D);
    return CF_OK;
}

cf_status cf_cpu_memlayer_lookup_bwd(cf_ctx *ctx, cf_node *n)
{
    cf_tensor *tab = n->in[0], *rows = n->in[1], *w = n->in[2], *g = n->out->grad;
    int64_t D = tab->shape[1], K = w->shape[w->ndim - 1], N = K ? cf_numel(w) / K : 0;
    bool f32 = tab->dtype == CF_F32;
    if (cf_needs_grad(n, 2)) {
        bool overwrite;
        cf_tensor *gw = cf_grad_slot(ctx, w, &overwrite);
        if (!gw) return cf_last_status();
        if (f32)
            lookup_bwd_w_float(cf_data(tab), cf_data(rows), cf_data(g), cf_data(gw), N, K, D, !overwrite);
        else
            lookup_bwd_w_double(cf_data(tab), cf_data(rows), cf_data(g), cf_data(gw), N, K, D, !overwrite);
    }
    if (cf_needs_grad(n, 0)) {
        cf_tensor *gt = cf_grad_acc(ctx, tab); /* dense buffer, written only in the rows used */
        if (!gt) return cf_last_status();
        if (f32)
            lookup_bwd_table_float(cf_data(gt), cf_data(rows), cf_data(w), cf_data(g), N, K, D);
        else
            lookup_bwd_table_double(cf_data(gt), cf_data(rows), cf_data(w), cf_data(g), N, K, D);
    }
    return CF_OK;
}
