// CUDA kernels of segment_max (autograd/ops/segment.def), with the CPU's conventions (autograd/cpu/segment.c):
// x [N, C], seg [N] in [0, nseg); out [nseg, C] and aux argmax [nseg, C] (-1 and 0 for an empty segment).
// Forward sorts the rows by segment (index_plan.h: ascending row within a segment), then one thread per
// (run of one segment, column) walks its rows in order, so ties keep the lowest row as on the CPU. Backward
// is one thread per output element adding into its winning row: a row belongs to one segment, so no two
// threads share a destination element.
#include "autograd/cuda/kernels/index_plan.h"
#include "autograd/ops/segment_attr.h"

#include <inttypes.h>

template <typename S> __global__ void segmax_init(S *out, int64_t *arg, int64_t n)
{
    CF_GRID_STRIDE(i, n) cf_st(out + i, (cf_acc_t<S>)0), arg[i] = -1;
}

// keys: rows sorted by segment (ix_sort_by_target over seg); one thread per (sorted position, column)
template <typename S>
__global__ void segmax_fwd(const S *x, const int64_t *keys, S *out, int64_t *arg, int64_t N, int64_t C)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(e, N * C)
    {
        int64_t c = e % C, p = e / C;
        if (!ix_run_head(keys, p, N)) continue;
        int64_t s = keys[p] / N, best = -1;
        A m = 0;
        for (int64_t q = p; q < N && keys[q] / N == s; q++) {
            int64_t i = keys[q] % N;
            A v = cf_ld(x + i * C + c);
            if (best < 0 || v > m) best = i, m = v;
        }
        arg[s * C + c] = best;
        cf_st(out + s * C + c, m);
    }
}

template <typename S> __global__ void segmax_bwd(S *gx, const S *gout, const int64_t *arg, int64_t n, int64_t C)
{
    CF_GRID_STRIDE(e, n)
    {
        int64_t i = arg[e];
        if (i < 0) continue;
        S *d = gx + i * C + e % C;
        cf_st(d, cf_ld(d) + cf_ld(gout + e));
    }
}

extern "C" cf_status cf_cuda_segment_max_fwd(cf_ctx *ctx, cf_node *n)
{
    int64_t S_ = CF_ATTR(n, struct segment_attr)->nseg;
    cf_tensor *x, *seg;
    CF_TRY(ix_contig(ctx, n->in[0], &x));
    CF_TRY(ix_contig(ctx, n->in[1], &seg));
    int64_t N = x->shape[0], C = x->shape[1], bad, val;
    const int64_t *sv = (const int64_t *)cf_data(seg);
    CF_TRY(ix_first_bad(ctx, "segment_max", sv, N, S_, &bad, &val));
    if (bad < N)
        return cf_set_error(CF_ERR_ARG, "segment_max: seg[%" PRId64 "] = %" PRId64 " is out of range [0, %" PRId64 ")", bad, val, S_);
    if (S_ * C == 0) return CF_OK;
    int64_t *arg = (int64_t *)cf_data(n->aux[SEGMENT_AUX_ARGMAX]);
    cf_tensor *keys = NULL;
    if (N) CF_TRY(ix_sort_by_target(ctx, "segment_max", sv, N, &keys));
    CF_FLOAT_SWITCH("segment_max", x->dtype, {
        CF_KERNEL_RUN("segment_max", S_ * C, segmax_init<S>, (S *)cf_data(n->out), arg, S_ * C);
        CF_KERNEL_RUN("segment_max", N * C, segmax_fwd<S>, (const S *)cf_data(x),
                      keys ? (const int64_t *)cf_data(keys) : (const int64_t *)NULL, (S *)cf_data(n->out), arg, N, C);
    });
    return CF_OK;
}

extern "C" cf_status cf_cuda_segment_max_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    cf_tensor *gx = cf_grad_acc(ctx, n->in[0]), *go;
    if (!gx) return cf_last_status();
    CF_TRY(ix_contig(ctx, n->out->grad, &go));
    int64_t S_ = n->out->shape[0], C = n->out->shape[1];
    CF_FLOAT_SWITCH("segment_max backward", gx->dtype,
                    CF_KERNEL_RUN("segment_max backward", S_ * C, segmax_bwd<S>, (S *)cf_data(gx),
                                  (const S *)cf_data(go), (const int64_t *)cf_data(n->aux[SEGMENT_AUX_ARGMAX]), S_ * C,
                                  C));
    return CF_OK;
}
