/* CPU kernels of the segment ops, f32 and f64. segment_max walks the rows in order (so ties keep the lowest
 * row) with one task per column block, which owns its columns of every segment: no races, and the same result
 * whatever the thread count. Backward adds dout[s, c] into the winning row (each input element wins at most
 * once per column, so again no two writers). */
#include "autograd/ops/segment_attr.h"
#include "autograd/cpu/cpu.h"

#include <inttypes.h>
#include <string.h>

#define COL_BLOCK 64

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

#define SEGMENT_MAX(T)                                                                                   \
    static void segmax_##T(const T *x, const int64_t *seg, T *out, int64_t *arg, int64_t N, int64_t C,  \
                           int64_t S)                                                                    \
    {                                                                                                    \
        int64_t blocks = (C + COL_BLOCK - 1) / COL_BLOCK;                                                \
        _Pragma("omp parallel for schedule(static) if (N * C > CF_PAR_MIN)")                             \
        for (int64_t bk = 0; bk < blocks; bk++) {                                                        \
            int64_t c0 = bk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;                   \
            for (int64_t s = 0; s < S; s++)                                                              \
                for (int64_t c = c0; c < c1; c++) arg[s * C + c] = -1;                                   \
            for (int64_t i = 0; i < N; i++) {                                                            \
                int64_t s = seg[i];                                                                      \
                for (int64_t c = c0; c < c1; c++) {                                                      \
                    int64_t *a = &arg[s * C + c];                                                        \
                    T v = x[i * C + c];                                                                  \
                    if (*a < 0 || v > out[s * C + c]) {                                                  \
                        *a = i;                                                                          \
                        out[s * C + c] = v;                                                              \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
            for (int64_t s = 0; s < S; s++)                                                              \
                for (int64_t c = c0; c < c1; c++)                                                        \
                    if (arg[s * C + c] < 0) out[s * C + c] = 0;                                          \
        }                                                                                                \
    }                                                                                                    \
    static void segmax_bwd_##T(T *gx, const T *gout, const int64_t *arg, int64_t S, int64_t C)          \
    {                                                                                                    \
        for (int64_t s = 0; s < S; s++)                                                                  \
            for (int64_t c = 0; c < C; c++) {                                                            \
                int64_t i = arg[s * C + c];                                                              \
                if (i >= 0) gx[i * C + c] += gout[s * C + c];                                            \
            }                                                                                            \
    }
SEGMENT_MAX(float)
SEGMENT_MAX(double)

cf_status cf_cpu_segment_max_fwd(cf_ctx *ctx, cf_node *n)
{
    int64_t S = CF_ATTR(n, struct segment_attr)->nseg;
    cf_tensor *x, *seg;
    CF_TRY(contig(ctx, n->in[0], &x));
    CF_TRY(contig(ctx, n->in[1], &seg));
    int64_t N = x->shape[0], C = x->shape[1];
    const int64_t *sv = cf_data(seg);
    for (int64_t i = 0; i < N; i++)
        if (sv[i] < 0 || sv[i] >= S)
            return cf_set_error(CF_ERR_ARG, "segment_max: seg[%" PRId64 "] = %" PRId64 " is out of range [0, %" PRId64 ")", i, sv[i], S);
    if (S * C == 0) return CF_OK;
    int64_t *arg = cf_data(n->aux[SEGMENT_AUX_ARGMAX]);
    if (x->dtype == CF_F32)
        segmax_float(cf_data(x), sv, cf_data(n->out), arg, N, C, S);
    else
        segmax_double(cf_data(x), sv, cf_data(n->out), arg, N, C, S);
    return CF_OK;
}

cf_status cf_cpu_segment_max_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *gx = cf_grad_acc(ctx, n->in[0]), *go;
    if (!gx) return cf_last_status();
    CF_TRY(contig(ctx, n->out->grad, &go));
    int64_t S = n->out->shape[0], C = n->out->shape[1];
    const int64_t *arg = cf_data(n->aux[SEGMENT_AUX_ARGMAX]);
    if (gx->dtype == CF_F32)
        segmax_bwd_float(cf_data(gx), cf_data(go), arg, S, C);
    else
        segmax_bwd_double(cf_data(gx), cf_data(go), arg, S, C);
    return CF_OK;
}
