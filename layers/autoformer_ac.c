/* Autoformer's series decomposition and Auto-Correlation (Wu et al., NeurIPS 2021, Sec. 3.1 Eq. 1 and
 * Sec. 3.2 Eq. 5-6), composed from autograd ops (layers/autoformer.h). */
#include "layers/autoformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_tensor *cf_moving_avg(cf_ctx *ctx, cf_tensor *x, int64_t k)
{
    if (!x) return NULL;
    if (x->ndim != 3 || k < 1 || k % 2 == 0) {
        cf_set_error(CF_ERR_ARG, "moving_avg: x must be [B, L, C] and the kernel odd and >= 1 (got %lld; an even "
                     "kernel would shorten the series)", (long long)k);
        return NULL;
    }
    int64_t B = x->shape[0], L = x->shape[1], C = x->shape[2], p = (k - 1) / 2;
    if (p == 0) return x;
    cf_tensor *parts[3] = {cf_expand(ctx, cf_slice(ctx, x, 1, 0, 1, 1), CF_SHAPE(B, p, C)), x,
                           cf_expand(ctx, cf_slice(ctx, x, 1, L - 1, L, 1), CF_SHAPE(B, p, C))};
    cf_tensor *xp = cf_contiguous(ctx, cf_transpose(ctx, cf_concat(ctx, 3, parts, 1), 1, 2)); /* [B, C, L + 2p] */
    return cf_transpose(ctx, cf_avg_pool1d(ctx, xp, k, 1, 0, true), 1, 2);
}

cf_tensor *cf_series_decomp(cf_ctx *ctx, cf_tensor *x, int64_t k, cf_tensor **trend)
{
    cf_tensor *t = cf_moving_avg(ctx, x, k);
    if (trend) *trend = t;
    return t ? cf_sub(ctx, x, t) : NULL;
}

/* the real or imaginary part [..., M, 1] of a spectrum [..., M, 2] */
static cf_tensor *part(cf_ctx *ctx, cf_tensor *X, int64_t i) { return X ? cf_slice(ctx, X, X->ndim - 1, i, i + 1, 1) : NULL; }

cf_tensor *cf_autocorr(cf_ctx *ctx, cf_tensor *q, cf_tensor *k)
{
    if (!q) return NULL;
    if (!k) return NULL;
    int64_t L = q->shape[q->ndim - 1];
    cf_tensor *Q = cf_rfft(ctx, cf_contiguous(ctx, q), 0), *K = cf_rfft(ctx, cf_contiguous(ctx, k), 0);
    cf_tensor *qr = part(ctx, Q, 0), *qi = part(ctx, Q, 1), *kr = part(ctx, K, 0), *ki = part(ctx, K, 1);
    /* Q conj(K) = (qr kr + qi ki) + i (qi kr - qr ki) */
    cf_tensor *ri[2] = {cf_add(ctx, cf_mul(ctx, qr, kr), cf_mul(ctx, qi, ki)),
                        cf_sub(ctx, cf_mul(ctx, qi, kr), cf_mul(ctx, qr, ki))};
    if (!ri[0] || !ri[1]) return NULL;
    return cf_irfft(ctx, cf_concat(ctx, 2, ri, ri[0]->ndim - 1), L);
}

/* indices of the n largest of v[0 .. L) (ties: the lower index first) */
static void top_n(const double *v, int64_t L, int64_t n, int64_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t best = -1;
        for (int64_t t = 0; t < L; t++) {
            bool taken = false;
            for (int64_t j = 0; j < i && !taken; j++) taken = out[j] == t;
            if (!taken && (best < 0 || v[t] > v[best])) best = t;
        }
        out[i] = best;
    }
}

cf_tensor *cf_time_delay_agg(cf_ctx *ctx, cf_tensor *v, cf_tensor *corr, int64_t ntop, bool per_sample,
                             int64_t *delays)
{
    if (!v) return NULL;
    if (!corr) return NULL;
    if (v->ndim != 4 || corr->ndim != 4 || v->shape[0] != corr->shape[0] || v->shape[3] != corr->shape[3] ||
        ntop < 1 || ntop > v->shape[3]) {
        cf_set_error(CF_ERR_SHAPE, "time_delay_agg: v and corr must be [B, H, E, L] with the same B and L and "
                     "1 <= ntop <= L (ntop %lld)", (long long)ntop);
        return NULL;
    }
    int64_t B = v->shape[0], L = v->shape[3];
    cf_tensor *mv = cf_mean(ctx, corr, 2, (int[]){1, 2}, false); /* [B, L] */
    double *host = mv ? malloc((size_t)(B * L) * sizeof *host) : NULL;
    int64_t *tau = host ? malloc((size_t)(B * ntop) * sizeof *tau) : NULL;
    if (!tau) {
        free(host);
        if (mv) cf_set_error(CF_ERR_OOM, "time_delay_agg: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < B * L; i++) host[i] = cf_get_flat(mv, i);
    if (per_sample) {
        for (int64_t b = 0; b < B; b++) top_n(host + b * L, L, ntop, tau + b * ntop);
    } else { /* the batch mean's top delays, shared */
        for (int64_t t = 0; t < L; t++) {
            double s = 0;
            for (int64_t b = 0; b < B; b++) s += host[b * L + t];
            host[t] = s / (double)B;
        }
        top_n(host, L, ntop, tau);
        for (int64_t b = 1; b < B; b++) memcpy(tau + b * ntop, tau, (size_t)ntop * sizeof *tau);
    }
    if (delays) memcpy(delays, tau, (size_t)(B * ntop) * sizeof *tau);
    /* the weights: softmax over the chosen delays of each sample's mean correlation */
    cf_tensor *idx = cf_empty(ctx, CF_I64, CF_SHAPE(B, ntop));
    for (int64_t i = 0; idx && i < B * ntop; i++) ((int64_t *)cf_data(idx))[i] = tau[i];
    cf_tensor *p = cf_softmax(ctx, cf_gather(ctx, mv, 1, idx), 1), *out = NULL; /* [B, ntop] */
    for (int64_t i = 0; p && i < ntop; i++) {
        cf_tensor *rolled;
        if (per_sample) { /* gather V[(t + tau_b) mod L] along time, one shift per sample */
            cf_tensor *g = cf_empty(ctx, CF_I64, CF_SHAPE(B, 1, 1, L));
            for (int64_t b = 0; g && b < B; b++)
                for (int64_t t = 0; t < L; t++) ((int64_t *)cf_data(g))[b * L + t] = (t + tau[b * ntop + i]) % L;
            rolled = cf_gather(ctx, v, 3, cf_expand(ctx, g, 4, v->shape));
        } else {
            rolled = cf_roll(ctx, v, -tau[i], 3); /* out[t] = V[(t + tau) mod L] */
        }
        cf_tensor *w = cf_reshape(ctx, cf_slice(ctx, p, 1, i, i + 1, 1), CF_SHAPE(B, 1, 1, 1));
        cf_tensor *term = cf_mul(ctx, rolled, w);
        out = out ? cf_add(ctx, out, term) : term;
    }
    free(tau);
    free(host);
    return out;
}

cf_status cf_autocorr_init(cf_autocorr_layer *a, cf_params *ps, const char *name, int64_t dim, int64_t heads,
                           double factor)
{
    memset(a, 0, sizeof *a);
    if (heads < 1 || dim % heads != 0 || !(factor > 0))
        return cf_set_error(CF_ERR_ARG, "%s: dim %lld must be a multiple of heads %lld and factor > 0", name,
                            (long long)dim, (long long)heads);
    a->dim = dim, a->heads = heads, a->factor = factor;
    cf_params_push(ps, "%s", name);
    cf_status st = cf_linear_init(&a->q, ps, "query_projection", dim, dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&a->k, ps, "key_projection", dim, dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&a->v, ps, "value_projection", dim, dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&a->o, ps, "out_projection", dim, dim, true, 0);
    cf_params_pop(ps);
    return st;
}

/* [B, S, D] -> [B, H, E, L]: cut to L steps or zero-padded to L */
static cf_tensor *heads_time_last(cf_ctx *ctx, cf_tensor *x, int64_t H, int64_t L)
{
    if (!x) return NULL;
    int64_t B = x->shape[0], S = x->shape[1], D = x->shape[2];
    x = cf_reshape(ctx, x, CF_SHAPE(B, S, H, D / H));
    if (S > L) x = cf_slice(ctx, x, 1, 0, L, 1);
    if (S < L) x = cf_pad(ctx, x, 3, (int64_t[]){0, 0, 0, 0, 0, L - S}, 0.0);
    return cf_contiguous(ctx, cf_permute(ctx, x, (int[]){0, 2, 3, 1}));
}

cf_tensor *cf_autocorr_fwd(cf_ctx *ctx, const cf_autocorr_layer *a, cf_tensor *x, cf_tensor *mem)
{
    if (!x) return NULL;
    if (!mem) return NULL;
    int64_t B = x->shape[0], L = x->shape[1], H = a->heads;
    cf_tensor *q = heads_time_last(ctx, cf_linear_fwd(ctx, &a->q, x), H, L);
    cf_tensor *k = heads_time_last(ctx, cf_linear_fwd(ctx, &a->k, mem), H, L);
    cf_tensor *v = heads_time_last(ctx, cf_linear_fwd(ctx, &a->v, mem), H, L);
    int64_t ntop = (int64_t)floor(a->factor * log((double)L));
    ntop = ntop < 1 ? 1 : ntop > L ? L : ntop;
    int64_t *delays = a->hist ? malloc((size_t)(B * ntop) * sizeof *delays) : NULL;
    cf_tensor *agg = cf_time_delay_agg(ctx, v, cf_autocorr(ctx, q, k), ntop, !cf_is_training(ctx), delays);
    for (int64_t i = 0; agg && delays && i < B * ntop; i++)
        if (delays[i] < a->hist->len) a->hist->counts[delays[i]]++;
    free(delays);
    if (!agg) return NULL;
    cf_tensor *o = cf_reshape(ctx, cf_contiguous(ctx, cf_permute(ctx, agg, (int[]){0, 3, 1, 2})), CF_SHAPE(B, L, a->dim));
    return cf_linear_fwd(ctx, &a->o, o);
}
