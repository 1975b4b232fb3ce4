/* Spike baselines and metrics (definitions in spike_metrics.h). */
#include "data/spikes/spike_metrics.h"

#include "autograd/rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- unigram ---- */

cf_status cf_unigram_logprob(const int64_t *targets, int64_t n, int vocab, double alpha, double *logp)
{
    if ((n > 0 && !targets) || n < 0 || vocab < 1 || !logp || !(alpha >= 0) || !isfinite(alpha))
        return cf_set_error(CF_ERR_ARG, "cf_unigram_logprob: bad arguments (n %" PRId64 ", vocab %d, alpha %g)", n, vocab, alpha);
    int64_t *count = calloc((size_t)vocab, sizeof *count), total = 0;
    if (!count) return cf_set_error(CF_ERR_OOM, "cf_unigram_logprob: out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (targets[i] < 0) continue;
        if (targets[i] >= vocab) {
            free(count);
            return cf_set_error(CF_ERR_ARG, "cf_unigram_logprob: target %" PRId64 " at %" PRId64 " outside the vocabulary of %d",
                                targets[i], i, vocab);
        }
        count[targets[i]]++;
        total++;
    }
    double denom = (double)total + alpha * vocab;
    if (!(denom > 0)) {
        free(count);
        return cf_set_error(CF_ERR_ARG, "cf_unigram_logprob: no counted target and alpha 0");
    }
    for (int v = 0; v < vocab; v++) logp[v] = log(((double)count[v] + alpha) / denom);
    free(count);
    return CF_OK;
}

cf_status cf_unigram_ce(const double *logp, int vocab, const int64_t *targets, int64_t n, double *ce, int64_t *counted)
{
    if (!logp || vocab < 1 || (n > 0 && !targets) || n < 0 || !ce)
        return cf_set_error(CF_ERR_ARG, "cf_unigram_ce: bad arguments");
    double sum = 0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (targets[i] < 0) continue;
        if (targets[i] >= vocab)
            return cf_set_error(CF_ERR_ARG, "cf_unigram_ce: target %" PRId64 " at %" PRId64 " outside the vocabulary of %d",
                                targets[i], i, vocab);
        sum -= logp[targets[i]];
        m++;
    }
    if (counted) *counted = m;
    if (m == 0) return cf_set_error(CF_ERR_ARG, "cf_unigram_ce: no target to score");
    *ce = sum / (double)m;
    return CF_OK;
}

/* ---- Poisson baseline ---- */

cf_status cf_poisson_window_ids(const double *rates_hz, int n_units, double window_s, uint64_t seed, uint64_t window,
                                int32_t *ids, int64_t cap, int64_t *n_out)
{
    if (!rates_hz || n_units < 0 || !(window_s > 0) || !isfinite(window_s) || cap < 0 || (cap > 0 && !ids) || !n_out)
        return cf_set_error(CF_ERR_ARG, "cf_poisson_window_ids: bad arguments");
    cf_philox_key key = cf_rng_key(seed, 0x9015504EULL);
    uint64_t draw = 0;
    int64_t n = 0;
    for (int u = 0; u < n_units; u++) {
        double lam = rates_hz[u] * window_s;
        if (!(lam >= 0) || !isfinite(lam))
            return cf_set_error(CF_ERR_ARG, "cf_poisson_window_ids: rate %g of unit %d", rates_hz[u], u);
        int64_t k = 0;
        if (lam > 30) { /* normal approximation: Knuth's product would need ~lam draws */
            double z = cf_rng_normal(key, window, draw++);
            double x = floor(lam + sqrt(lam) * z + 0.5);
            k = x > 0 ? (int64_t)x : 0;
        } else if (lam > 0) { /* Knuth: count uniforms until their product drops below exp(-lam) */
            double L = exp(-lam), p = cf_rng_uniform(key, window, draw++);
            while (p > L) {
                k++;
                p *= cf_rng_uniform(key, window, draw++);
            }
        }
        for (; k > 0; k--, n++)
            if (n < cap) ids[n] = u;
    }
    *n_out = n;
    if (n > cap) return cf_set_error(CF_ERR_ARG, "cf_poisson_window_ids: %" PRId64 " spikes do not fit %" PRId64, n, cap);
    return CF_OK;
}

/* ---- window F1 ---- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted copy of v (and de-duplicated when unique); NULL on OOM. */
static int32_t *sorted_copy(const int32_t *v, int64_t n, bool unique, int64_t *m)
{
    int32_t *c = malloc((size_t)(n ? n : 1) * sizeof *c);
    if (!c) return NULL;
    if (n) memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_i32);
    int64_t k = n;
    if (unique) {
        k = 0;
        for (int64_t i = 0; i < n; i++)
            if (k == 0 || c[k - 1] != c[i]) c[k++] = c[i];
    }
    *m = k;
    return c;
}

cf_status cf_window_f1(const int32_t *truth, int64_t n_true, const int32_t *pred, int64_t n_pred, cf_f1_mode mode,
                       cf_f1 *out)
{
    if (!out || n_true < 0 || n_pred < 0 || (n_true && !truth) || (n_pred && !pred) ||
        (mode != CF_F1_SET && mode != CF_F1_MULTISET && mode != CF_F1_OFFICIAL))
        return cf_set_error(CF_ERR_ARG, "cf_window_f1: bad arguments");
    bool unique = mode != CF_F1_MULTISET;
    int64_t nt, np;
    int32_t *a = sorted_copy(truth, n_true, unique, &nt), *b = sorted_copy(pred, n_pred, unique, &np);
    if (!a || !b) {
        free(a);
        free(b);
        return cf_set_error(CF_ERR_OOM, "cf_window_f1: out of memory");
    }
    int64_t tp = 0;
    for (int64_t i = 0, j = 0; i < nt && j < np;) { /* each equal pair is one match: min of the counts */
        if (a[i] < b[j]) i++;
        else if (a[i] > b[j]) j++;
        else tp++, i++, j++;
    }
    free(a);
    free(b);
    cf_f1 r = {0, 0, 0, tp, nt, np, true};
    if (mode == CF_F1_OFFICIAL) {
        int64_t fp = np - tp, fn = nt - tp;
        r.scored = nt > 0;
        if (tp && fp && fn) r.precision = (double)tp / (double)(tp + fp), r.recall = (double)tp / (double)(tp + fn);
        else if (tp == 0) r.precision = r.recall = 0;
        else r.precision = r.recall = 1; /* no FP or no FN: the official code gives 1 to both */
    } else if (nt == 0 && np == 0) {
        r.precision = r.recall = 1;
    } else if (tp > 0) {
        r.precision = (double)tp / (double)np;
        r.recall = (double)tp / (double)nt;
    }
    r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0;
    *out = r;
    return CF_OK;
}

/* ---- PSTH ---- */

cf_status cf_spikes_psth(const cf_spikes *s, double bin_s, double duration_s, double *psth, int64_t *n_bins)
{
    if (!s || !psth || !(bin_s > 0) || !(duration_s > 0) || !isfinite(bin_s) || !isfinite(duration_s))
        return cf_set_error(CF_ERR_ARG, "cf_spikes_psth: bad arguments (bin %g s, duration %g s)", bin_s, duration_s);
    if (s->n_trials < 1) return cf_set_error(CF_ERR_ARG, "cf_spikes_psth: the spikes have no trials");
    int64_t nb = llround(duration_s / bin_s);
    if (nb < 1) return cf_set_error(CF_ERR_ARG, "cf_spikes_psth: duration %g s holds no bin of %g s", duration_s, bin_s);
    if (n_bins) *n_bins = nb;
    memset(psth, 0, (size_t)s->n_units * (size_t)nb * sizeof *psth);
    for (int u = 0; u < s->n_units; u++) {
        const double *t = s->times + s->offsets[u];
        int64_t m = s->offsets[u + 1] - s->offsets[u];
        for (int g = 0; g < s->n_trials; g++) {
            double a = s->trial_start[g], stop = s->trial_stop[g];
            int64_t lo = 0, hi = m;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (t[mid] < a) lo = mid + 1;
                else hi = mid;
            }
            for (int64_t i = lo; i < m && t[i] < stop; i++) {
                int64_t b = (int64_t)floor((t[i] - a) / bin_s + 1e-6);
                if (b >= nb) break;
                psth[(int64_t)u * nb + b] += 1;
            }
        }
    }
    double scale = 1.0 / ((double)s->n_trials * bin_s);
    for (int64_t i = 0; i < (int64_t)s->n_units * nb; i++) psth[i] *= scale;
    return CF_OK;
}

double cf_pearson(const double *x, const double *y, int64_t n)
{
    if (!x || !y || n < 2) return NAN;
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n, my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = x[i] - mx, b = y[i] - my;
        sxy += a * b, sxx += a * a, syy += b * b;
    }
    if (!(sxx > 0) || !(syy > 0)) return NAN;
    return sxy / sqrt(sxx * syy);
}

double cf_psth_corr(const double *a, const double *b, int n_units, int64_t n_bins, double *r_unit)
{
    double sum = 0;
    int m = 0;
    for (int u = 0; a && b && u < n_units; u++) {
        double r = cf_pearson(a + (int64_t)u * n_bins, b + (int64_t)u * n_bins, n_bins);
        if (r_unit) r_unit[u] = r;
        if (!isnan(r)) sum += r, m++;
    }
    return m ? sum / m : NAN;
}

/* ---- connectivity ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

cf_status cf_xcorr_scores(const cf_spikes *s, double dt, int max_lag, double t_from, double t_to, double *score)
{
    if (!s || !score || !(dt > 0) || !isfinite(dt) || max_lag < 1)
        return cf_set_error(CF_ERR_ARG, "cf_xcorr_scores: bad arguments (dt %g, max_lag %d)", dt, max_lag);
    const int N = s->n_units;
    if (N < 1 || N > (1 << 24)) return cf_set_error(CF_ERR_ARG, "cf_xcorr_scores: %d units", N);
    int64_t nb = cf_spikes_n_bins(s, dt);
    double fa = (t_from - s->t_start) / dt, fb = (t_to - s->t_start) / dt;
    int64_t b0 = fa <= 0 ? 0 : fa >= (double)nb ? nb : (int64_t)ceil(fa - 1e-6);
    int64_t b1 = fb <= 0 ? 0 : fb >= (double)nb ? nb : (int64_t)ceil(fb - 1e-6);
    int64_t n = b1 - b0;
    if (n <= max_lag)
        return cf_set_error(CF_ERR_ARG, "cf_xcorr_scores: [%g, %g) holds %" PRId64 " bins of %g s, need more than max_lag %d",
                            t_from, t_to, n, dt, max_lag);
    /* spikes in range as sorted keys (bin - b0) * N + unit: runs of equal keys are the counts */
    int64_t m = 0;
    for (int u = 0; u < N; u++)
        for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
            int64_t b = cf_spikes_bin_of(s, s->times[i], dt);
            m += b >= b0 && b < b1;
        }
    int64_t *key = malloc((size_t)(m ? m : 1) * sizeof *key);
    double *mean = calloc((size_t)N, sizeof *mean), *sq = calloc((size_t)N, sizeof *sq);
    if (!key || !mean || !sq) {
        free(key);
        free(mean);
        free(sq);
        return cf_set_error(CF_ERR_OOM, "cf_xcorr_scores: out of memory");
    }
    int64_t k = 0;
    for (int u = 0; u < N; u++)
        for (int64_t i = s->offsets[u]; i < s->offsets[u + 1]; i++) {
            int64_t b = cf_spikes_bin_of(s, s->times[i], dt);
            if (b >= b0 && b < b1) key[k++] = (b - b0) * N + u;
        }
    qsort(key, (size_t)m, sizeof *key, cmp_i64);
    /* compress runs in place: key[r] = bin * N + unit, cnt[r] = count */
    int64_t runs = 0;
    double *cnt = malloc((size_t)(m ? m : 1) * sizeof *cnt);
    if (!cnt) {
        free(key);
        free(mean);
        free(sq);
        return cf_set_error(CF_ERR_OOM, "cf_xcorr_scores: out of memory");
    }
    for (int64_t i = 0; i < m; i++) {
        if (runs > 0 && key[runs - 1] == key[i]) cnt[runs - 1] += 1;
        else key[runs] = key[i], cnt[runs] = 1, runs++;
    }
    for (int64_t r = 0; r < runs; r++) {
        int u = (int)(key[r] % N);
        mean[u] += cnt[r];
        sq[u] += cnt[r] * cnt[r];
    }
    for (int u = 0; u < N; u++) {
        mean[u] /= (double)n;
        double var = sq[u] / (double)n - mean[u] * mean[u];
        sq[u] = var > 1e-300 ? sqrt(var) : 0; /* now the standard deviation */
    }
    memset(score, 0, (size_t)N * (size_t)N * sizeof *score);
    /* sum_lag mean_t c_i(t) c_j(t+lag): only bins where i fired contribute */
    for (int64_t r = 0; r < runs; r++) {
        int64_t t = key[r] / N;
        int i = (int)(key[r] % N);
        for (int64_t q = r + 1; q < runs; q++) {
            int64_t t2 = key[q] / N, lag = t2 - t;
            if (lag > max_lag) break;
            if (lag == 0) continue;
            score[(int64_t)i * N + key[q] % N] += cnt[r] * cnt[q] / (double)(n - lag);
        }
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double *x = &score[(int64_t)i * N + j];
            *x = i != j && sq[i] > 0 && sq[j] > 0 ? (*x - max_lag * mean[i] * mean[j]) / (sq[i] * sq[j]) : 0;
        }
    free(key);
    free(cnt);
    free(mean);
    free(sq);
    return CF_OK;
}

static double score_of(const double *A, int n, bool target_major, int i, int j)
{
    return target_major ? A[(int64_t)j * n + i] : A[(int64_t)i * n + j];
}

typedef struct {
    double s;
    bool pos;
} scored_pair;

static int cmp_pair(const void *a, const void *b)
{
    double x = ((const scored_pair *)a)->s, y = ((const scored_pair *)b)->s;
    return (x > y) - (x < y);
}

cf_status cf_edge_auc(const double *score, const double *w, int n, bool target_major, double *auc)
{
    if (!score || !w || n < 2 || !auc) return cf_set_error(CF_ERR_ARG, "cf_edge_auc: bad arguments (n %d)", n);
    int64_t m = (int64_t)n * (n - 1), P = 0, k = 0;
    scored_pair *p = malloc((size_t)m * sizeof *p);
    if (!p) return cf_set_error(CF_ERR_OOM, "cf_edge_auc: out of memory");
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double s = score_of(score, n, target_major, i, j);
            if (isnan(s)) {
                free(p);
                return cf_set_error(CF_ERR_ARG, "cf_edge_auc: score of %d -> %d is NaN", i, j);
            }
            p[k].s = s;
            p[k].pos = w[(int64_t)i * n + j] != 0;
            P += p[k].pos;
            k++;
        }
    if (P == 0 || P == m) {
        free(p);
        return cf_set_error(CF_ERR_ARG, "cf_edge_auc: %" PRId64 " edges among %" PRId64 " pairs (need both edges and non-edges)",
                            P, m);
    }
    qsort(p, (size_t)m, sizeof *p, cmp_pair);
    double rank_sum = 0; /* ranks 1..m, ties get their average rank */
    for (int64_t a = 0; a < m;) {
        int64_t b = a;
        while (b < m && p[b].s == p[a].s) b++;
        double r = 0.5 * (double)(a + 1 + b);
        for (int64_t i = a; i < b; i++)
            if (p[i].pos) rank_sum += r;
        a = b;
    }
    free(p);
    double Nn = (double)(m - P);
    *auc = (rank_sum - (double)P * (double)(P + 1) / 2) / ((double)P * Nn);
    return CF_OK;
}

cf_status cf_edge_direction_accuracy(const double *score, const double *w, int n, bool target_major, const int *sources,
                                     int n_sources, double *acc, int64_t *n_edges)
{
    if (!score || !w || n < 2 || !acc || n_sources < 0 || (n_sources > 0 && !sources))
        return cf_set_error(CF_ERR_ARG, "cf_edge_direction_accuracy: bad arguments");
    int64_t total = 0, right = 0;
    for (int i = 0; i < n; i++) {
        if (n_sources > 0) {
            bool in = false;
            for (int k = 0; k < n_sources; k++) in |= sources[k] == i;
            if (!in) continue;
        }
        for (int j = 0; j < n; j++) {
            if (i == j || w[(int64_t)i * n + j] == 0 || w[(int64_t)j * n + i] != 0) continue;
            total++;
            right += score_of(score, n, target_major, i, j) > score_of(score, n, target_major, j, i);
        }
    }
    if (n_edges) *n_edges = total;
    if (total == 0) return cf_set_error(CF_ERR_ARG, "cf_edge_direction_accuracy: no one-way edge to score");
    *acc = (double)right / (double)total;
    return CF_OK;
}

cf_status cf_attention_normalize(double *A, const double *n_target, const double *n_source, int n)
{
    if (!A || !n_target || !n_source || n < 1) return cf_set_error(CF_ERR_ARG, "cf_attention_normalize: bad arguments");
    for (int t = 0; t < n; t++)
        for (int s = 0; s < n; s++) {
            double d = n_target[t] * n_source[s];
            A[(int64_t)t * n + s] = d != 0 ? A[(int64_t)t * n + s] / d : 0;
        }
    return CF_OK;
}
