/* Set decodings of the model for window F1: what a user who wants "which units fire in the next 50 ms" gets
 * from Neuroformer, beside the sampled windows the paper scores (Antoniades et al., ICLR 2024, Sec. 4: F1 of
 * generated spikes).
 *
 * The model is autoregressive over a window's spikes, so the probability that unit u fires somewhere in the
 * window is a marginal over every sequence: it is estimated by Monte Carlo, eval.f1_samples windows sampled from
 * the model's own distribution (temperature 1, no top-k / top-p) with the true previous window, per window w:
 *     P_w(u)  = the fraction of the samples in which u fires,   E_w(u) = u's mean spike count.
 * Metric names:
 *   f1_model_topk       the k units of largest P_w(u) (ties: larger E_w(u), then the lower unit), k as
 *                       f1_rate_topk and f1_glm_topk, so the three set decodings compare at one size
 *   f1_model_expected   the units with E_w(u) >= 1/2 (as f1_glm: a unit is predicted when the model expects it
 *                       to fire at least half a time)
 *   f1_sample           the recipe's own sampled windows (eval.temperature / top_k / top_p: the paper's F1)
 *   f1                  the decoding eval.f1_decoding names (sample, topk or expected) */
#include "data/spikes/spike_metrics.h"
#include "recipes/neuroformer/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Window F1 of the top-k and the expected-count sets from the per-window tallies. */
static void set_f1(const cf_nf_generation *ref, const double *P, const double *E, int N, int k, double *f_topk, double *f_exp)
{
    int32_t *order = malloc(sizeof(int32_t) * (size_t)N), *pred = malloc(sizeof(int32_t) * (size_t)N);
    double sk = 0, se = 0;
    for (int64_t w = 0; order && pred && w < ref->windows; w++) {
        const double *p = P + w * N, *e = E + w * N;
        int np = 0;
        for (int u = 0; u < N; u++) {
            order[u] = u;
            if (e[u] >= 0.5) pred[np++] = u;
        }
        for (int i = 0; i < k && i < N; i++) /* partial selection sort: the k largest (P, E) */
            for (int j = i + 1; j < N; j++) {
                int a = order[i], b = order[j];
                if (p[b] > p[a] || (p[b] == p[a] && (e[b] > e[a] || (e[b] == e[a] && b < a)))) order[i] = b, order[j] = a;
            }
        const int32_t *truth = ref->true_unit + ref->true_off[w];
        int64_t nt = ref->true_off[w + 1] - ref->true_off[w];
        cf_f1 f;
        if (cf_window_f1(truth, nt, order, k < N ? k : N, CF_F1_SET, &f) == CF_OK) sk += f.f1;
        if (cf_window_f1(truth, nt, pred, np, CF_F1_SET, &f) == CF_OK) se += f.f1;
    }
    *f_topk = ref->windows ? sk / (double)ref->windows : NAN;
    *f_exp = ref->windows ? se / (double)ref->windows : NAN;
    free(order), free(pred);
}

cf_status nf_model_set_f1(cf_model *mb, cf_ctx *ctx, cf_dataset *ds, const cf_nf_gen_options *base, const cf_nf_generation *ref,
                          int k, cf_metrics *out)
{
    nf_model *nm = (nf_model *)mb;
    int N = (int)nm->nf.cfg.n_units, S = (int)nm->ev.f1_samples;
    if (S < 1 || ref->windows < 1) return CF_OK;
    size_t cells = (size_t)ref->windows * (size_t)N;
    double *P = calloc(cells, sizeof(double)), *E = calloc(cells, sizeof(double));
    bool *seen = malloc(sizeof(bool) * (size_t)N);
    cf_status st = P && E && seen ? CF_OK : cf_set_error(CF_ERR_OOM, "eval: out of memory");
    cf_nf_gen_options go = *base;
    go.sample.temperature = 1, go.sample.top_k = 0, go.sample.top_p = 1, go.true_past = true;
    for (int s = 0; st == CF_OK && s < S; s++) {
        cf_nf_generation g = {0};
        go.sample.seed = base->sample.seed + 0x5e7f1 + (uint64_t)s;
        st = cf_neuroformer_generate_split(mb, ctx, ds, &go, &g);
        if (st == CF_OK && g.windows != ref->windows)
            st = cf_set_error(CF_ERR_STATE, "eval: the sampled windows (%lld) are not the scored ones (%lld)", (long long)g.windows,
                              (long long)ref->windows);
        for (int64_t w = 0; st == CF_OK && w < g.windows; w++) {
            memset(seen, 0, sizeof(bool) * (size_t)N);
            for (int64_t i = g.gen_off[w]; i < g.gen_off[w + 1]; i++) {
                int u = g.gen_unit[i];
                E[w * N + u] += 1.0 / S;
                if (!seen[u]) seen[u] = true, P[w * N + u] += 1.0 / S;
            }
        }
        cf_nf_generation_free(&g);
    }
    if (st == CF_OK) {
        double ft, fe;
        set_f1(ref, P, E, N, k, &ft, &fe);
        cf_metrics_set(out, "f1_model_topk", ft);
        cf_metrics_set(out, "f1_model_expected", fe);
        cf_metrics_set(out, "f1_samples", (double)S);
    }
    free(P), free(E), free(seen);
    return st;
}
