/* The field's baselines beside Neuroformer in `cformer eval`: Bernoulli GLMs fitted on the training ranges
 * (coupled, self-history only, rate only; recipes/neuroformer/glm.h, after Pillow et al., Nature 2008), scored
 * on the evaluated split's windows. Metric names:
 *   <split>_ce_id_glm, <split>_ce_dt_glm (and _glm_self, _glm_rate)   the GLM's next-token cross-entropy in the
 *                                  model's own units (cf_glm_token_nll: nats per target, EOS included, the ID and
 *                                  the offset each by its marginal), directly comparable with <split>_ce_id and
 *                                  <split>_ce_dt; windows the tokenizer truncated (more than T - 2 spikes) or with
 *                                  two spikes of one unit in one bin are left out (glm_ce_windows_skipped)
 *   <split>_nll_bin_glm, _glm_self, _glm_rate   mean Bernoulli negative log-likelihood (nats per unit per bin of
 *                                  dt) of the spikes in the split's current windows, the true history given
 *   f1_glm, f1_glm_rate            window F1 of the units whose expected spike count in the window is at least
 *                                  1/2 (the history known up to the window's start, as the model's true-past
 *                                  generation has it; later bins of the window see a silent history)
 *   f1_glm_topk                    the same GLM's k most likely units per window (k as f1_rate_topk)
 *   conn_auc_glm, conn_direction_acc_glm   the coupled GLM's integrated coupling filters as connectivity scores
 *                                  (needs the simulation's ground truth)
 * and, for behaviour decoding (model.predict), nf_ridge_baseline:
 *   beh_r_ridge, beh_r2_ridge      ridge regression of the decoded variable on the window's binned counts (each
 *                                  unit's spikes in the current and in the previous window: what the model sees),
 *                                  fitted on the windows the model was trained on (a few-shot subset stays one),
 *                                  the penalty chosen by 5-fold cross-validation on them; scored on the split
 *   beh_r_ridge_full, beh_r2_ridge_full   the same fitted on the whole training split (when the model's
 *                                  training windows are a subset of it) */
#include "data/spikes/spike_metrics.h"
#include "recipes/neuroformer/glm.h"
#include "recipes/neuroformer/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The GLM's mean next-token CE (ID, offset) over the generation's true windows; *skipped: windows left out. */
static cf_status glm_token_ce(const cf_glm *g, const int32_t *counts, int64_t n_bins, const cf_nf_generation *gen, double t0,
                              double dt, int64_t curr_bins, double *ce_id, double *ce_dt, int64_t *skipped)
{
    int64_t *bins = malloc(sizeof(int64_t) * (size_t)(gen->true_off[gen->windows] + 1)), targets = 0;
    double si = 0, sd = 0;
    *skipped = 0;
    if (!bins) return cf_set_error(CF_ERR_OOM, "eval: out of memory");
    for (int64_t i = 0; i < gen->true_off[gen->windows]; i++) bins[i] = llround((gen->true_time[i] - t0) / dt);
    for (int64_t w = 0; w < gen->windows; w++) {
        int64_t o = gen->true_off[w], n = gen->true_off[w + 1] - o, b1 = llround((gen->t_end[w] - t0) / dt), all = 0;
        for (int u = 0; u < g->N; u++)
            for (int64_t t = b1 - curr_bins; t < b1; t++) all += t >= 0 && t < n_bins ? counts[(int64_t)u * n_bins + t] : 0;
        double ni, nd;
        if (all != n || cf_glm_token_nll(g, counts, n_bins, b1 - curr_bins, (int)curr_bins, gen->true_unit + o, bins + o, n,
                                         &ni, &nd) != CF_OK) {
            cf_clear_error();
            ++*skipped;
            continue;
        }
        si += ni, sd += nd, targets += n + 1;
    }
    free(bins);
    *ce_id = targets ? si / (double)targets : NAN;
    *ce_dt = targets ? sd / (double)targets : NAN;
    return CF_OK;
}

/* Window F1 of each GLM decoding over the generation's windows: P(unit fires) per window from the GLM. */
static void glm_f1(const cf_glm *g, const int32_t *counts, int64_t n_bins, const cf_nf_generation *gen, double t0,
                   double dt, int64_t curr_bins, int k, double *f1_exp, double *f1_topk)
{
    int N = g->N;
    double *ex = malloc(sizeof(double) * (size_t)N);
    int32_t *pred = malloc(sizeof(int32_t) * (size_t)N), *order = malloc(sizeof(int32_t) * (size_t)N);
    double se = 0, sk = 0;
    int64_t cnt = 0;
    for (int64_t w = 0; ex && pred && order && w < gen->windows; w++) {
        int64_t b1 = llround((gen->t_end[w] - t0) / dt), b0 = b1 - curr_bins;
        int64_t np = 0;
        for (int n = 0; n < N; n++) {
            ex[n] = 0;
            for (int64_t t = b0 > 0 ? b0 : 0; t < b1 && t < n_bins; t++) ex[n] += cf_glm_prob(g, counts, n_bins, n, t, b0);
            if (ex[n] >= 0.5) pred[np++] = n;
            order[n] = n;
        }
        const int32_t *truth = gen->true_unit + gen->true_off[w];
        int64_t nt = gen->true_off[w + 1] - gen->true_off[w];
        cf_f1 f;
        if (cf_window_f1(truth, nt, pred, np, CF_F1_SET, &f) == CF_OK) se += f.f1;
        for (int i = 0; i < k && i < N; i++) /* partial selection sort: the k largest expected counts */
            for (int j = i + 1; j < N; j++)
                if (ex[order[j]] > ex[order[i]]) {
                    int32_t tmp = order[i];
                    order[i] = order[j], order[j] = tmp;
                }
        if (cf_window_f1(truth, nt, order, k < N ? k : N, CF_F1_SET, &f) == CF_OK) sk += f.f1;
        cnt++;
    }
    *f1_exp = cnt ? se / (double)cnt : NAN;
    if (f1_topk) *f1_topk = cnt ? sk / (double)cnt : NAN;
    free(ex), free(pred), free(order);
}

cf_status nf_glm_baselines(nf_model *nm, const cf_spikes *s, const cf_nf_generation *gen, int k, const char *split,
                           cf_metrics *out)
{
    const cf_spike_options *o = &nm->src.opts;
    double dt = o->tokens.dt;
    int N = s->n_units;
    int64_t n_bins = cf_spikes_n_bins(s, dt), curr_bins = nm->vocab.curr_bins;
    int32_t *counts = malloc(sizeof(int32_t) * (size_t)(n_bins * N + 1));
    int64_t *from = NULL, *to = NULL, *wf = malloc(sizeof(int64_t) * (size_t)(gen->windows + 1)),
            *wt = malloc(sizeof(int64_t) * (size_t)(gen->windows + 1));
    cf_time_ranges r[3] = {{0}};
    cf_glm g[3] = {{0}};
    cf_status st = counts && wf && wt ? cf_spikes_bin(s, dt, n_bins, counts) : cf_set_error(CF_ERR_OOM, "eval: out of memory");
    if (st == CF_OK) st = cf_spikes_split_blocks(s, o->train_frac, o->val_frac, o->block_s, o->split_seed, &r[0], &r[1], &r[2]);
    if (st == CF_OK && !((from = malloc(sizeof(int64_t) * (size_t)(r[0].n + 1))) && (to = malloc(sizeof(int64_t) * (size_t)(r[0].n + 1)))))
        st = cf_set_error(CF_ERR_OOM, "eval: out of memory");
    for (int i = 0; st == CF_OK && i < r[0].n; i++)
        from[i] = llround((r[0].from[i] - s->t_start) / dt), to[i] = llround((r[0].to[i] - s->t_start) / dt);
    for (int64_t w = 0; st == CF_OK && w < gen->windows; w++)
        wt[w] = llround((gen->t_end[w] - s->t_start) / dt), wf[w] = wt[w] - curr_bins;
    static const cf_glm_kind kinds[3] = {CF_GLM_COUPLED, CF_GLM_SELF, CF_GLM_RATE};
    static const char *names[3] = {"glm", "glm_self", "glm_rate"};
    cf_glm_config c = nm->ev.glm_cfg;
    char key[96];
    for (int i = 0; st == CF_OK && i < 3; i++) {
        st = cf_glm_fit(&c, kinds[i], counts, N, n_bins, from, to, r[0].n, &g[i]);
        if (st != CF_OK) break;
        snprintf(key, sizeof key, "%s_nll_bin_%s", split, names[i]);
        cf_metrics_set(out, key, cf_glm_nll(&g[i], counts, n_bins, wf, wt, (int)gen->windows, NULL));
        double ci = NAN, cd = NAN;
        int64_t skipped;
        st = glm_token_ce(&g[i], counts, n_bins, gen, s->t_start, dt, curr_bins, &ci, &cd, &skipped);
        snprintf(key, sizeof key, "%s_ce_id_%s", split, names[i]);
        cf_metrics_set(out, key, ci);
        snprintf(key, sizeof key, "%s_ce_dt_%s", split, names[i]);
        cf_metrics_set(out, key, cd);
        if (i == 0) cf_metrics_set(out, "glm_ce_windows_skipped", (double)skipped);
    }
    if (st == CF_OK) {
        double f, fk;
        glm_f1(&g[0], counts, n_bins, gen, s->t_start, dt, curr_bins, k, &f, &fk);
        cf_metrics_set(out, "f1_glm", f);
        cf_metrics_set(out, "f1_glm_topk", fk);
        glm_f1(&g[2], counts, n_bins, gen, s->t_start, dt, curr_bins, k, &f, NULL);
        cf_metrics_set(out, "f1_glm_rate", f);
    }
    /* connectivity from the coupling filters, against the simulation's ground truth when the file has it */
    int nw = 0, n_hubs = 0, *hubs = NULL;
    double *w = NULL, *score = st == CF_OK ? malloc(sizeof(double) * (size_t)N * (size_t)N) : NULL, v;
    if (score && cf_spikes_read_weights(nm->src.path, &nw, &w) == CF_OK && nw == N) {
        cf_glm_coupling(&g[0], score);
        if (cf_edge_auc(score, w, N, false, &v) == CF_OK) cf_metrics_set(out, "conn_auc_glm", v);
        if (cf_spikes_read_hubs(nm->src.path, &n_hubs, &hubs) == CF_OK && n_hubs > 0 &&
            cf_edge_direction_accuracy(score, w, N, false, hubs, n_hubs, &v, NULL) == CF_OK)
            cf_metrics_set(out, "conn_direction_acc_glm", v);
    }
    if (st == CF_OK) cf_clear_error();
    for (int i = 0; i < 3; i++) cf_glm_free(&g[i]), cf_time_ranges_free(&r[i]);
    free(counts), free(from), free(to), free(wf), free(wt), free(w), free(hubs), free(score);
    return st;
}

/* ---- ridge regression on binned counts (behaviour decoding) ---- */

/* Rows X [ds->len * 2N] (the current window's and the previous window's spike counts per unit) and y [ds->len]
 * (the decoded variable) of every window of ds. */
static cf_status ridge_rows(const nf_model *nm, cf_dataset *ds, int64_t W, double **X, double **y)
{
    int N = (int)nm->nf.cfg.n_units, p = 2 * N;
    cf_batch b = {0};
    *X = calloc((size_t)(W * p + 1), sizeof(double)), *y = malloc(sizeof(double) * (size_t)(W + 1));
    cf_status st = *X && *y ? cf_dataset_make_batch(ds, 1, &b) : cf_set_error(CF_ERR_OOM, "eval: out of memory");
    for (int64_t w = 0; st == CF_OK && w < W; w++) {
        if ((st = cf_dataset_get(ds, w, &b, 0)) != CF_OK) break;
        cf_tensor *it = cf_batch_get(&b, "id_target"), *pt = cf_batch_get(&b, "prev_id"), *bt = cf_batch_get(&b, "behavior");
        if (!it || !pt || !bt) {
            st = cf_last_status();
            break;
        }
        const int64_t *ip = cf_data(it), *pp = cf_data(pt);
        for (int64_t t = 0; t < it->shape[1]; t++)
            if (ip[t] >= 0 && ip[t] < N) (*X)[w * p + ip[t]] += 1;
        for (int64_t t = 0; t < pt->shape[1]; t++)
            if (pp[t] >= 0 && pp[t] < N) (*X)[w * p + N + pp[t]] += 1;
        (*y)[w] = ((const float *)cf_data(bt))[nm->predict_col];
    }
    cf_batch_free(&b);
    return st;
}

/* Fits ridge on fit's windows (penalty by cross-validation) and scores it on the split's first W windows. */
static cf_status ridge_score(const nf_model *nm, cf_dataset *fit, const double *Xs, const double *ys, int64_t W,
                             const char *suffix, cf_metrics *out)
{
    static const double lambdas[] = {1e-2, 1e-1, 1, 10, 100, 1e3, 1e4};
    int p = 2 * (int)nm->nf.cfg.n_units;
    double *X = NULL, *y = NULL, *beta = malloc(sizeof(double) * (size_t)p), *pred = malloc(sizeof(double) * (size_t)(W + 1));
    double lambda = 1, b0 = 0;
    cf_status st = beta && pred ? ridge_rows(nm, fit, fit->len, &X, &y) : cf_set_error(CF_ERR_OOM, "eval: out of memory");
    if (st == CF_OK) st = cf_ridge_select(X, y, fit->len, p, lambdas, (int)(sizeof lambdas / sizeof *lambdas), 5, &lambda);
    if (st == CF_OK) st = cf_ridge_fit(X, y, fit->len, p, lambda, beta, &b0);
    if (st == CF_OK) {
        double mean = 0, sse = 0, sst = 0;
        for (int64_t i = 0; i < W; i++) {
            pred[i] = b0;
            for (int a = 0; a < p; a++) pred[i] += beta[a] * Xs[i * p + a];
            mean += ys[i] / (double)W;
        }
        for (int64_t i = 0; i < W; i++) sse += (pred[i] - ys[i]) * (pred[i] - ys[i]), sst += (ys[i] - mean) * (ys[i] - mean);
        char key[64];
        snprintf(key, sizeof key, "beh_r_ridge%s", suffix);
        cf_metrics_set(out, key, cf_pearson(pred, ys, W));
        snprintf(key, sizeof key, "beh_r2_ridge%s", suffix);
        cf_metrics_set(out, key, sst > 0 ? 1 - sse / sst : NAN);
        snprintf(key, sizeof key, "ridge_lambda%s", suffix);
        cf_metrics_set(out, key, lambda);
    }
    free(X), free(y), free(beta), free(pred);
    return st;
}

cf_status nf_ridge_baseline(nf_model *nm, cf_dataset *train, cf_dataset *split, int64_t W, cf_metrics *out)
{
    if (nm->predict_col < 0 || W < 2) return CF_OK;
    double *Xs = NULL, *ys = NULL;
    cf_dataset *full = cf_spike_source_full(train);
    cf_status st = ridge_rows(nm, split, W, &Xs, &ys);
    if (st == CF_OK) st = ridge_score(nm, train, Xs, ys, W, "", out);
    if (st == CF_OK && full && full != train && full->len != train->len) st = ridge_score(nm, full, Xs, ys, W, "_full", out);
    free(Xs), free(ys);
    return st;
}
