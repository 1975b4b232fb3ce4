/* The field's baselines for Neuroformer's evaluation: a Bernoulli GLM per neuron with spike-history and coupling
 * filters on raised-cosine bases (Pillow, Shlens, Paninski, Sher, Litke, Chichilnisky and Simoncelli,
 * "Spatio-temporal correlations and visual signalling in a complete neuronal population", Nature 2008, Methods:
 * "post-spike and coupling filters ... raised cosine bumps"), and ridge regression for behaviour decoding.
 *
 * ---- the model (discrete time, bins of dt) ----
 * With y_m(t) in {0, 1} the spike indicator of unit m in bin t (counts above 1 are clipped to 1) and the basis
 * B[k, l] (k < K filters, lags l = 1..L bins, stored B[k * L + (l - 1)]), the features are
 *     x_{m,k}(t) = sum_{l=1..L} B[k, l] y_m(t - l)                      (X[t, m * K + k])
 * and unit n fires in bin t with probability
 *     p_n(t) = sigmoid( b_n + sum_{m,k} W[m * K + k, n] x_{m,k}(t) ).
 * CF_GLM_COUPLED uses every m; CF_GLM_SELF only m = n (history filter, no coupling); CF_GLM_RATE no filter
 * (p_n constant: the rate-only GLM, fitted in closed form). Fitted by maximum likelihood with an L2 penalty
 * lambda / 2 * |W|^2 (mean over bins of the summed negative log-likelihood of the units, plus the penalty), by
 * full-batch Adam on the autograd engine (optim/optim.h).
 *
 * ---- the raised-cosine basis ----
 * Lags are log-stretched, x(l) = log(l + c); the K centres phi_k are evenly spaced from x(1) to x(L) with spacing
 * D = (x(L) - x(1)) / (K - 1), and
 *     B[k, l] = 0.5 + 0.5 cos( pi (x(l) - phi_k) / (2 D) )  when |x(l) - phi_k| <= 2 D, else 0
 * (a bump of width pi on each side in phase, centres pi / 2 apart, as in Pillow et al.). K >= 2, L >= K, c > 0.
 *
 * ---- usage ----
 *     cf_glm_config c = cf_glm_defaults();          // K 4, L 10 bins, c 1, lambda 1e-3, 300 Adam steps
 *     cf_glm g;
 *     cf_glm_fit(&c, CF_GLM_COUPLED, counts, N, n_bins, ranges, n_ranges, &g);   // counts[u * n_bins + t]
 *     double p = cf_glm_prob(&g, counts, n_bins, n, t, -1);  // p_n(t) with the true history
 *     cf_glm_coupling(&g, score);                    // score[i * N + j]: integrated filter i -> j
 *     cf_glm_free(&g);
 * Bins used for fitting are those t inside the given [from, to) bin ranges with t >= L (a full history). */
#ifndef CF_NF_GLM_H
#define CF_NF_GLM_H

#include "autograd/cformer.h"

#include <stdint.h>

typedef enum cf_glm_kind { CF_GLM_RATE, CF_GLM_SELF, CF_GLM_COUPLED } cf_glm_kind;

typedef struct cf_glm_config {
    int K;         /* basis functions (>= 2) */
    int L;         /* history length in bins (>= K) */
    double c;      /* log-stretch offset (> 0) */
    double lambda; /* L2 penalty on W (>= 0) */
    int steps;     /* Adam steps (>= 1) */
    double lr;     /* Adam learning rate (> 0) */
    int threads;   /* 0: OpenMP's default */
} cf_glm_config;

cf_glm_config cf_glm_defaults(void);

typedef struct cf_glm {
    cf_glm_kind kind;
    int N, K, L;
    double *basis; /* [K * L] */
    double *W;     /* [N * K * N]: W[(m * K + k) * N + n]; zero off the diagonal blocks for CF_GLM_SELF */
    double *b;     /* [N] */
    double train_nll; /* final mean penalised training loss */
} cf_glm;

/* B[k * L + (l - 1)] as above. An error (CF_ERR_ARG) for K < 2, L < K, c <= 0. */
cf_status cf_glm_raised_cosine(int K, int L, double c, double *B);

/* Fits the GLM on the bins t of counts ([N * n_bins], unit-major) with from[r] <= t < to[r] for some r and
 * t >= L. Errors: bad config, no bin to fit, OOM. Free with cf_glm_free. */
cf_status cf_glm_fit(const cf_glm_config *c, cf_glm_kind kind, const int32_t *counts, int N, int64_t n_bins,
                     const int64_t *from, const int64_t *to, int n_ranges, cf_glm *out);
void cf_glm_free(cf_glm *g);

/* p_n(t) from counts' history; spikes at bins >= cutoff are treated as unknown (0) -- cutoff < 0: none (the
 * true history). Bins before 0 count as silent. */
double cf_glm_prob(const cf_glm *g, const int32_t *counts, int64_t n_bins, int n, int64_t t, int64_t cutoff);

/* p[n] = p_n(t) for every unit n ([N]), counting only the history spikes (s, m) <= (cut_bin, cut_unit) in
 * (bin, unit) token order (cut_bin INT64_MAX: all of them): the GLM's view after a window's first tokens. */
cf_status cf_glm_probs(const cf_glm *g, const int32_t *counts, int64_t n_bins, int64_t t, int64_t cut_bin, int cut_unit,
                       double *p);

/* The GLM's next-token cross-entropy on one window in Neuroformer's token units (spikes listed bin by bin, by
 * ascending unit inside a bin, then EOS; each target's ID and time offset scored by their own marginals, as the
 * model's two heads are). The window is the bins [b0, b0 + C), its n spikes units[j] at bins[j] in token order
 * (at most one per unit and bin: the Bernoulli GLM's events). Before target j the known history is the true
 * past plus tokens 0..j-1; the next event is the first (bin, unit) after token j-1 at which the GLM fires:
 *     P(next = (m, t)) = p_m(t) prod_{(m', t') between} (1 - p_m'(t')),   P(EOS) = prod of all (1 - p)
 * with every p computed from that known history (later bins see silence). *nll_id, *nll_dt get the sums over
 * the n + 1 targets of -log P(ID) and -log P(offset) (EOS: -log P(EOS) in both). Errors: tokens out of the
 * window or out of order (a repeated unit in a bin included), C < 1. */
cf_status cf_glm_token_nll(const cf_glm *g, const int32_t *counts, int64_t n_bins, int64_t b0, int C, const int32_t *units,
                           const int64_t *bins, int64_t n, double *nll_id, double *nll_dt);

/* Mean Bernoulli negative log-likelihood (nats per unit per bin) over the bins [from[r], to[r]) (all history
 * true). *n_bins_scored gets the count (may be NULL). */
double cf_glm_nll(const cf_glm *g, const int32_t *counts, int64_t n_bins, const int64_t *from, const int64_t *to,
                  int n_ranges, int64_t *n_bins_scored);

/* score[i * N + j] = sum_k W[(i * K + k) * N + j] * sum_l B[k, l]: the integrated coupling filter from i to j
 * (source-major, as cf_edge_auc's target_major = false); the diagonal (self-history) is 0. */
void cf_glm_coupling(const cf_glm *g, double *score);

/* Ridge regression with an unpenalised intercept: minimises |y - X beta - beta0|^2 + lambda |beta|^2 over
 * rows X [n, p] (row-major), through the Cholesky factor of the centred normal equations (p x p, small).
 * beta: [p]; *beta0 the intercept. Errors: n < 1, p < 1, lambda < 0, a singular system (lambda 0). */
cf_status cf_ridge_fit(const double *X, const double *y, int64_t n, int p, double lambda, double *beta, double *beta0);

/* The penalty of the n_lambdas candidates with the smallest held-out squared error of cf_ridge_fit under
 * `folds`-fold cross-validation on contiguous blocks of rows (rows are windows in time order: contiguous folds
 * keep neighbouring windows out of each other's folds). Ties go to the larger penalty. Errors: folds < 2,
 * n < 2 folds, no candidate, or every candidate singular. */
cf_status cf_ridge_select(const double *X, const double *y, int64_t n, int p, const double *lambdas, int n_lambdas, int folds,
                          double *best);

#endif
