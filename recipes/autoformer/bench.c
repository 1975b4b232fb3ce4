/* The cost of Auto-Correlation against full attention as the length grows (Wu et al., NeurIPS 2021, Sec. 3.2:
 * "O(L log L) complexity" against self-attention's O(L^2)): one self-correlation layer (cf_autocorr_fwd) and
 * one full softmax attention layer (cf_attention_fwd) of the same width, forward and backward of the sum of the
 * output, batch 1, f32, timed at each length in the same run (the fastest of 9 passes: the least disturbed by
 * other jobs on the cores). `cformer eval` runs it when eval.bench_lengths is given
 * (recipes/autoformer/bench-autocorr.sh prints the table). */
#include "recipes/autoformer/model.h"

#include "autograd/clock.h"

#include <stdio.h>
#include <stdlib.h>

/* ms per forward+backward of layer `which` (0: Auto-Correlation, 1: attention) at length L */
static double time_one(cf_ctx *ctx, const cf_autocorr_layer *ac, const cf_attention *at, int which, int64_t L,
                       int64_t D, cf_status *st)
{
    double best = 1e300;
    for (int r = 0; r < 9 && *st == CF_OK; r++) {
        cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(1, L, D), 1, (uint64_t)r);
        cf_requires_grad_(x, true);
        double t0 = cf_now();
        cf_tensor *y = which == 0 ? cf_autocorr_fwd(ctx, ac, x, x) : cf_attention_fwd(ctx, at, x, NULL, NULL, NULL, NULL);
        cf_tensor *s = y ? cf_sum(ctx, y, 0, NULL, false) : NULL;
        if (!s || cf_backward(ctx, s, NULL) != CF_OK) *st = cf_last_status();
        double ms = 1e3 * (cf_now() - t0);
        best = ms < best ? ms : best;
        cf_step_reset(ctx);
    }
    return best;
}

cf_status cf_autoformer_bench(cf_ctx *ctx, int64_t D, int64_t H, double factor, const int64_t *lengths, int n,
                              cf_metrics *out)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    if (!ps) return cf_last_status();
    cf_autocorr_layer ac;
    cf_attention at;
    cf_attention_config c = {.dim = D, .heads = H, .bias = true, .mask = CF_ATTN_FULL};
    cf_status st = cf_autocorr_init(&ac, ps, "ac", D, H, factor);
    if (st == CF_OK) st = cf_attention_init(&at, ps, "attn", &c);
    if (st == CF_OK) st = cf_params_grads(ps);
    bool prev = cf_set_grad_enabled(ctx, true);
    for (int i = 0; i < n && st == CF_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "ac_ms_L%lld", (long long)lengths[i]);
        cf_metrics_set(out, name, time_one(ctx, &ac, &at, 0, lengths[i], D, &st));
        snprintf(name, sizeof name, "attn_ms_L%lld", (long long)lengths[i]);
        cf_metrics_set(out, name, time_one(ctx, &ac, &at, 1, lengths[i], D, &st));
    }
    cf_set_grad_enabled(ctx, prev);
    cf_params_free(ps);
    return st;
}
