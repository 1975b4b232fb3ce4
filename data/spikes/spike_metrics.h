/* Baselines and metrics for spike generation and connectivity recovery (Neuroformer, Antoniades et al., ICLR
 * 2024; the baselines are cformer's).
 * Pure functions over plain arrays (plus cf_spikes where noted), so evaluation code and tests can call them
 * without a model.
 *
 * Score matrices are SOURCE-major like the simulator's weights: score[i * n + j] says how strongly unit i
 * drives unit j, compared with w[i * n + j] != 0 (the edge i -> j). Neuroformer's attention matrix
 * A[target, source] (rows: the neuron predicted at a query, columns: the neuron of the attended past token)
 * is TARGET-major: pass target_major = true for it (then A[j * n + i] is the score of i -> j). */
#ifndef CF_SPIKE_METRICS_H
#define CF_SPIKE_METRICS_H

#include "data/spikes/spikes.h"

/* ---- next-token baselines ---- */

/* Unigram log-probabilities of the vocab tokens from training targets: logp[v] = log((count_v + alpha) /
 * (n_counted + alpha * vocab)). Negative targets (CF_SPIKE_IGNORE) are skipped; a target >= vocab is an
 * error. alpha >= 0 (alpha 0 leaves unseen tokens at -inf). */
cf_status cf_unigram_logprob(const int64_t *targets, int64_t n, int vocab, double alpha, double *logp);
/* Mean cross-entropy (nats) of targets under logp, skipping negative targets; *counted gets the number used
 * (may be NULL). No counted target is an error. */
cf_status cf_unigram_ce(const double *logp, int vocab, const int64_t *targets, int64_t n, double *ce, int64_t *counted);

/* A rate-matched Poisson window: unit u fires Poisson(rates_hz[u] * window_s) times, emitted in ascending
 * unit order (each unit count times). Deterministic in (seed, window). ids gets at most cap entries; *n_out
 * is the full count (when it exceeds cap, the first cap are written and CF_ERR_ARG is returned). */
cf_status cf_poisson_window_ids(const double *rates_hz, int n_units, double window_s, uint64_t seed, uint64_t window,
                                int32_t *ids, int64_t cap, int64_t *n_out);

/* ---- window F1 (the official code's spike-prediction score) ---- */

typedef enum cf_f1_mode {
    CF_F1_SET,      /* sets of IDs: P = TP/|pred|, R = TP/|true|; both empty: P = R = F1 = 1; one empty: 0 */
    CF_F1_MULTISET, /* the same over multisets: TP = sum_u min(true count, pred count) */
    CF_F1_OFFICIAL  /* Neuroformer's analysis.compute_scores on sets: TP = 0 gives P = R = 0; otherwise no FP or
                     * no FN gives P = R = 1 (even when the other is non-zero); otherwise as CF_F1_SET. The code
                     * averages only windows with true spikes: `scored` says whether this window counts. */
} cf_f1_mode;

typedef struct cf_f1 {
    double precision, recall, f1;
    int64_t tp, n_true, n_pred; /* after de-duplication for the set modes */
    bool scored;                /* false only for CF_F1_OFFICIAL with no true spike */
} cf_f1;

cf_status cf_window_f1(const int32_t *truth, int64_t n_true, const int32_t *pred, int64_t n_pred, cf_f1_mode mode,
                       cf_f1 *out);

/* ---- PSTH ---- */

/* Trial-averaged rates: psth[u * n_bins + b] = mean over trials of the spikes of unit u in
 * [trial_start + b bin_s, trial_start + (b+1) bin_s), in Hz, with n_bins = round(duration_s / bin_s) (bins past
 * a trial's stop count as zero). Needs trials. psth: [n_units * n_bins]. */
cf_status cf_spikes_psth(const cf_spikes *s, double bin_s, double duration_s, double *psth, int64_t *n_bins);
/* Pearson correlation of x and y; NaN when either is constant or n < 2. */
double cf_pearson(const double *x, const double *y, int64_t n);
/* Per-unit Pearson r between two PSTH matrices [n_units, n_bins] (r_unit may be NULL) and their mean over
 * the units where it is defined (NaN when none is). */
double cf_psth_corr(const double *a, const double *b, int n_units, int64_t n_bins, double *r_unit);

/* ---- connectivity ---- */

/* Lagged cross-correlation baseline over [t_from, t_to) at bin dt: with z_u(t) the standardised count of unit
 * u, score[i * N + j] = sum_{lag=1..max_lag} mean_t z_i(t) z_j(t + lag) (i drives j: j follows i). The
 * diagonal is 0; a silent unit's row and column are 0. score: [N * N], source-major. */
cf_status cf_xcorr_scores(const cf_spikes *s, double dt, int max_lag, double t_from, double t_to, double *score);
/* ROC-AUC of the scores of the off-diagonal pairs against the true edges (w != 0), ties counted half (the
 * Mann-Whitney statistic). Needs at least one edge and one non-edge. */
cf_status cf_edge_auc(const double *score, const double *w, int n, bool target_major, double *auc);
/* Direction accuracy: the fraction of true edges i -> j with score(i -> j) > score(j -> i). Pairs with edges
 * both ways have no direction and are skipped; with sources (n_sources > 0) only edges from those units
 * count (e.g. the hubs). *n_edges gets the number of edges scored (may be NULL); none is an error. */
cf_status cf_edge_direction_accuracy(const double *score, const double *w, int n, bool target_major, const int *sources,
                                     int n_sources, double *acc, int64_t *n_edges);
/* In place A[t * n + s] /= (n_target[t] * n_source[s]) (0 where the product is 0): cformer's occurrence
 * normalisation, so high-rate neurons do not dominate the attention matrix. */
cf_status cf_attention_normalize(double *A, const double *n_target, const double *n_source, int n);

#endif
