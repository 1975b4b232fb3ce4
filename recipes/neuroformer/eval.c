/* Neuroformer's evaluation (Antoniades et al., ICLR 2024: spike-prediction F1, connectivity from attention;
 * baselines and ablation are cformer's) and generation over a split.
 *
 * evaluate() scores the split it is handed (eval.split, "test" by default), with metric names:
 *   <split>_ce_id, <split>_ce_dt   teacher-forced next-token cross-entropy (nats) of the ID and dt targets
 *   unigram_ce_id, unigram_ce_dt   the same under the unigram distribution of the training targets (Laplace)
 *   uniform_ce_dt                  log of the dt vocabulary
 *   f1_sample, f1_poisson          window F1 of the sets of neuron IDs: generated with the TRUE previous window
 *                                  (one step ahead) vs the truth, and a rate-matched Poisson window (rates of the
 *                                  training ranges) vs the truth; mean over the windows (both empty: 1)
 *   f1_model_topk, f1_model_expected   the model's set decodings (decoding.c); f1 is the one eval.f1_decoding
 *                                  names (topk by default, sample: f1_sample)
 *   f1_free                        the same for free-running generation (the model's own past) over the first
 *                                  eval.free_seconds of the split
 *   psth_r                         mean per-unit Pearson r of the true and the (true-past) generated PSTH: trial
 *                                  averaged when the data has trials, otherwise the single-trial time course in
 *                                  bins of eval.psth_bin seconds
 *   rate_r_free                    Pearson r across units of the free-running generated vs the true rates
 *   beh_r, beh_r2, <split>_mse_beh behaviour decoding on the split (with model.predict)
 *   conn_auc, conn_direction_acc   connectivity from the history cross-attention (averaged over heads and
 *                                  layers), accumulated A[target, source] over the split's windows and divided
 *                                  by the occurrence counts; ROC-AUC against w != 0 (off-diagonal pairs) and the
 *                                  direction accuracy of the hub units' edges (all edges: conn_direction_acc_all)
 *   conn_auc_raw                   the AUC without the occurrence normalisation
 *   conn_auc_xcorr, conn_direction_acc_xcorr   the lagged cross-correlation baseline on the training ranges
 *   f1_rate_topk                   a deterministic rate baseline: every window predicts the k highest-rate
 *                                  units (k = the mean number of distinct true units per window)
 *   conn_auc_uniform               the control: the same accumulation with UNIFORM attention over the past
 *                                  tokens, i.e. normalised lagged co-occurrence counts; what attention adds is
 *                                  conn_auc - conn_auc_uniform
 *   conn_auc_shuffled, conn_direction_acc_shuffled
 *                                  the connectivity ablation (with eval.ablation_checkpoint): the same
 *                                  model trained with data.shuffle_prev: true -- every window's past neuron IDs
 *                                  relabelled by a random permutation of the units -- scored the same way on the
 *                                  same (relabelled) windows. Nothing in its input ties a past token to the
 *                                  neuron that fired, so its AUC falls to about 0.5.
 *   conn_auc_relabelled            the relabelling at evaluation time only, on the model under evaluation, the
 *                                  attention credited to the labels it saw. The data's co-occurrences are gone;
 *                                  what is left is what the trained weights (the ID embeddings) encode about
 *                                  who drives whom, so it stays above 0.5 for a model that learned the circuit
 *                                  (which is why the ablation needs the retrained model).
 * Attention is always credited to the past tokens as the model saw them.
 * The conn_* keys need ground truth (/simulation/weights in the data file) and are skipped without it. */
#include "recipes/checkpoint/checkpoint.h"
#include "data/spikes/spike_metrics.h"
#include "recipes/neuroformer/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- generation over a split ---- */

void cf_nf_generation_free(cf_nf_generation *g)
{
    free(g->t_end);
    free(g->gen_off);
    free(g->true_off);
    free(g->gen_unit);
    free(g->true_unit);
    free(g->gen_time);
    free(g->true_time);
    memset(g, 0, sizeof *g);
}

cf_spikes *cf_nf_generation_spikes(const cf_nf_generation *g, int n_units, bool truth)
{
    int64_t n = truth ? g->true_off[g->windows] : g->gen_off[g->windows];
    const int32_t *u32 = truth ? g->true_unit : g->gen_unit;
    int64_t *units = malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!units) {
        cf_set_error(CF_ERR_OOM, "generation: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) units[i] = u32[i];
    cf_spikes *s = cf_spikes_from_events(truth ? g->true_time : g->gen_time, units, n, n_units, g->t_from, g->t_to,
                                         truth ? "true spikes" : "generated spikes");
    free(units);
    return s;
}

typedef struct {
    int64_t bin;
    int32_t unit;
} event;

static int by_bin_unit(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->bin != y->bin) return x->bin < y->bin ? -1 : 1;
    return (x->unit > y->unit) - (x->unit < y->unit);
}

static cf_status grow(event **buf, int64_t *cap, int64_t need)
{
    if (need <= *cap) return CF_OK;
    int64_t nc = *cap ? *cap * 2 : 1024;
    while (nc < need) nc *= 2;
    event *p = realloc(*buf, sizeof(event) * (size_t)nc);
    if (!p) return cf_set_error(CF_ERR_OOM, "generation: out of memory");
    *buf = p, *cap = nc;
    return CF_OK;
}

cf_status cf_neuroformer_generate_split(cf_model *mb, cf_ctx *ctx, cf_dataset *ds, const cf_nf_gen_options *o,
                                        cf_nf_generation *g)
{
    memset(g, 0, sizeof *g);
    if (!mb || mb->vt != &cf_neuroformer_model) return cf_set_error(CF_ERR_ARG, "generate: the model is not a neuroformer");
    nf_model *nm = (nf_model *)mb;
    const cf_neuroformer *m = &nm->nf;
    const cf_spike_vocab *v = cf_spike_dataset_vocab(ds);
    if (!v) return cf_last_status();
    if (v->n_units != m->cfg.n_units)
        return cf_set_error(CF_ERR_ARG, "generate: the data has %d units, the model %lld", v->n_units, (long long)m->cfg.n_units);
    int64_t T = m->cfg.block, Tp = m->cfg.prev_block, N = m->cfg.n_units, K = nm->n_in;
    /* the frame clip of a window, when the model has frame layers */
    int64_t FP = m->cfg.frame_layers > 0 ? m->cfg.frames * m->cfg.frame_h * m->cfg.frame_w : 0;
    double dt = v->dt, wc = v->curr_bins * dt, wp = v->prev_bins * dt;
    /* the windows to generate */
    int64_t W = 0;
    double first_end = 0;
    for (int64_t w = 0; w < ds->len; w++) {
        double te;
        CF_TRY(cf_spike_dataset_window(ds, w, &te, NULL, NULL, NULL));
        if (w == 0) first_end = te;
        if (o->seconds > 0 && te - (first_end - wc) > o->seconds + 1e-9) break;
        W = w + 1;
    }
    int64_t B = o->true_past ? (o->batch > 0 ? o->batch : 64) : 1;
    if (B > W) B = W;
    g->windows = W;
    g->t_end = malloc(sizeof(double) * (size_t)W);
    g->gen_off = calloc((size_t)W + 1, sizeof(int64_t));
    g->true_off = calloc((size_t)W + 1, sizeof(int64_t));
    g->gen_unit = malloc(sizeof(int32_t) * (size_t)(W * (T - 1) + 1));
    g->gen_time = malloc(sizeof(double) * (size_t)(W * (T - 1) + 1));
    g->true_unit = malloc(sizeof(int32_t) * (size_t)(W * T + 1));
    g->true_time = malloc(sizeof(double) * (size_t)(W * T + 1));
    int64_t *pid = malloc(sizeof(int64_t) * (size_t)(B * Tp)), *pdt = malloc(sizeof(int64_t) * (size_t)(B * Tp));
    bool *ppad = malloc(sizeof(bool) * (size_t)(B * Tp));
    float *beh = malloc(sizeof(float) * (size_t)(B * (K + 1))), *frames = malloc(sizeof(float) * (size_t)(B * FP + 1));
    uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)B);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(B * (T - 1))), *dts = malloc(sizeof(int64_t) * (size_t)(B * (T - 1)));
    int64_t *n = malloc(sizeof(int64_t) * (size_t)B);
    /* a previous window holds at most Tp - 2 true spikes plus the spikes generated in the windows it reaches */
    int64_t cap_ev = Tp + (v->prev_bins / v->curr_bins + 2) * T;
    int32_t *units = malloc(sizeof(int32_t) * (size_t)cap_ev);
    int64_t *bins = malloc(sizeof(int64_t) * (size_t)cap_ev);
    event *past = NULL, *gen = NULL; /* own past: this contiguous run's generated spikes */
    int64_t past_cap = 0, gen_cap = 0, n_gen = 0;
    cf_batch b = {0};
    cf_nf_cache cache = {0};
    cf_status st = CF_OK;
    if (!g->t_end || !g->gen_off || !g->true_off || !g->gen_unit || !g->gen_time || !g->true_unit || !g->true_time || !pid ||
        !pdt || !ppad || !beh || !frames || !keys || !ids || !dts || !n || !units || !bins)
        st = cf_set_error(CF_ERR_OOM, "generate: out of memory");
    if (st == CF_OK) st = cf_dataset_make_batch(ds, (int)B, &b);
    if (st == CF_OK && o->sample.use_cache) st = cf_nf_cache_init(&cache, m, B);
    cf_nf_sample_opts so = o->sample;
    so.dt_max = v->curr_bins - 1;
    double run_start = 0, last_end = -1e300; /* own past: where this contiguous run of windows started */
    int last_trial = -2;
    int64_t n_true = 0, n_out = 0;
    for (int64_t w0 = 0; st == CF_OK && w0 < W; w0 += B) {
        int64_t rows = W - w0 < B ? W - w0 : B;
        for (int64_t i = 0; i < rows && st == CF_OK; i++) {
            int64_t w = w0 + i;
            int trial;
            st = cf_dataset_get(ds, w, &b, (int)i);
            if (st == CF_OK) st = cf_spike_dataset_window(ds, w, &g->t_end[w], &trial, NULL, NULL);
            if (st != CF_OK) break;
            double te = g->t_end[w], cs = te - wc;
            const int64_t *idt = (const int64_t *)cf_data(cf_batch_get(&b, "id_target")) + i * T;
            const int64_t *ddt = (const int64_t *)cf_data(cf_batch_get(&b, "dt_target")) + i * T;
            g->true_off[w] = n_true;
            for (int64_t p = 0; p < T && idt[p] >= 0 && idt[p] < N; p++)
                g->true_unit[n_true] = (int32_t)idt[p], g->true_time[n_true++] = cs + (double)ddt[p] * dt;
            g->true_off[w + 1] = n_true;
            const int64_t *bp = (const int64_t *)cf_data(cf_batch_get(&b, "prev_id")) + i * Tp;
            const int64_t *bd = (const int64_t *)cf_data(cf_batch_get(&b, "prev_dt")) + i * Tp;
            const bool *bpad = (const bool *)cf_data(cf_batch_get(&b, "prev_pad")) + i * Tp;
            if (o->true_past) {
                memcpy(pid + i * Tp, bp, sizeof(int64_t) * (size_t)Tp);
                memcpy(pdt + i * Tp, bd, sizeof(int64_t) * (size_t)Tp);
                memcpy(ppad + i * Tp, bpad, sizeof(bool) * (size_t)Tp);
            } else {
                /* a new contiguous run restarts from the true past */
                if (fabs(te - (last_end + wc)) > 1e-6 || trial != last_trial) run_start = cs, n_gen = 0;
                last_end = te, last_trial = trial;
                int64_t p0 = llround((cs - wp) / dt), nev = 0;
                st = grow(&past, &past_cap, Tp + n_gen);
                for (int64_t p = 1; st == CF_OK && p < Tp && bp[p] < N; p++) /* true spikes before the run */
                    if ((double)(p0 + bd[p]) * dt < run_start - 1e-9) past[nev++] = (event){p0 + bd[p], (int32_t)bp[p]};
                for (int64_t e = 0; st == CF_OK && e < n_gen; e++)
                    if (gen[e].bin >= p0 && gen[e].bin < p0 + v->prev_bins) past[nev++] = gen[e];
                if (st != CF_OK) break;
                qsort(past, (size_t)nev, sizeof *past, by_bin_unit);
                for (int64_t e = 0; e < nev; e++) units[e] = past[e].unit, bins[e] = past[e].bin;
                st = cf_spike_tokens_prev(v, units, bins, p0, nev, (int)Tp, pid, pdt, ppad);
            }
            if (K > 0) {
                const float *bb = (const float *)cf_data(cf_batch_get(&b, "behavior")) + i * nm->beh_total;
                for (int j = 0; j < K; j++) beh[i * K + j] = bb[nm->in_cols[j]];
            }
            if (FP > 0) {
                cf_tensor *bf = cf_batch_get(&b, "frames");
                if (!bf || bf->ndim != 5 || bf->shape[0] <= i || bf->shape[2] * bf->shape[3] * bf->shape[4] != FP) {
                    st = bf ? cf_set_error(CF_ERR_SHAPE, "generate: the batch's frames do not match the model's clip") : cf_last_status();
                    break;
                }
                memcpy(frames + i * FP, (const float *)cf_data(bf) + i * FP, sizeof(float) * (size_t)FP);
            }
            keys[i] = (uint64_t)w;
        }
        if (st == CF_OK && nm->src.shuffle_prev) nf_shuffle_prev(pid, pdt, rows, Tp, (int)N, nm->src.opts.split_seed);
        if (st == CF_OK)
            st = cf_neuroformer_generate(ctx, m, rows, pid, pdt, ppad, K > 0 ? beh : NULL, FP > 0 ? frames : NULL, keys, &so,
                                         o->sample.use_cache ? &cache : NULL, ids, dts, n);
        for (int64_t i = 0; st == CF_OK && i < rows; i++) {
            int64_t w = w0 + i;
            double cs = g->t_end[w] - wc;
            g->gen_off[w] = n_out;
            for (int64_t j = 0; j < n[i]; j++)
                g->gen_unit[n_out] = (int32_t)ids[i * (T - 1) + j], g->gen_time[n_out++] = cs + (double)dts[i * (T - 1) + j] * dt;
            g->gen_off[w + 1] = n_out;
            if (!o->true_past) {
                /* keep only what a later previous window can reach */
                int64_t c0 = llround(cs / dt), keep = 0;
                for (int64_t e = 0; e < n_gen; e++)
                    if (gen[e].bin >= c0 + v->curr_bins - v->prev_bins) gen[keep++] = gen[e];
                n_gen = keep;
                st = grow(&gen, &gen_cap, n_gen + n[i]);
                for (int64_t j = 0; st == CF_OK && j < n[i]; j++)
                    gen[n_gen++] = (event){c0 + dts[i * (T - 1) + j], (int32_t)ids[i * (T - 1) + j]};
            }
        }
    }
    if (st == CF_OK && W > 0) g->t_from = g->t_end[0] - wc, g->t_to = g->t_end[W - 1];
    if (st == CF_OK && W == 0) st = cf_set_error(CF_ERR_ARG, "generate: no window to generate in %s", ds->name);
    cf_batch_free(&b);
    if (o->sample.use_cache) cf_nf_cache_free(&cache);
    free(pid);
    free(pdt);
    free(ppad);
    free(beh);
    free(frames);
    free(keys);
    free(ids);
    free(dts);
    free(n);
    free(units);
    free(bins);
    free(past);
    free(gen);
    if (st != CF_OK) cf_nf_generation_free(g);
    return st;
}

/* ---- evaluation ---- */

static double mean_f1(const cf_nf_generation *g, bool poisson, const double *rates, int n_units, double wc, uint64_t seed)
{
    double sum = 0;
    int64_t counted = 0;
    int32_t ids[4096];
    for (int64_t w = 0; w < g->windows; w++) {
        const int32_t *truth = g->true_unit + g->true_off[w];
        int64_t nt = g->true_off[w + 1] - g->true_off[w], np = 0;
        const int32_t *pred = g->gen_unit + g->gen_off[w];
        np = g->gen_off[w + 1] - g->gen_off[w];
        if (poisson) {
            if (cf_poisson_window_ids(rates, n_units, wc, seed, (uint64_t)w, ids, 4096, &np) != CF_OK) {
                cf_clear_error();
                np = np < 4096 ? np : 4096;
            }
            pred = ids;
        }
        cf_f1 f;
        if (cf_window_f1(truth, nt, pred, np, CF_F1_SET, &f) == CF_OK) sum += f.f1, counted++;
    }
    return counted ? sum / (double)counted : NAN;
}

/* A deterministic rate baseline: every window predicts the k highest-rate units, k the mean number of distinct
 * true units per window (rounded). Sharper than the Poisson draw, as a low-temperature decoding is. */
static double topk_f1(const cf_nf_generation *g, const double *rates, int n_units, int *k_out)
{
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n_units);
    bool *seen = calloc((size_t)n_units, sizeof(bool));
    double distinct = 0, sum = 0;
    if (!order || !seen || g->windows == 0) {
        free(order);
        free(seen);
        return NAN;
    }
    for (int64_t w = 0; w < g->windows; w++) {
        memset(seen, 0, sizeof(bool) * (size_t)n_units);
        for (int64_t i = g->true_off[w]; i < g->true_off[w + 1]; i++)
            if (!seen[g->true_unit[i]]) seen[g->true_unit[i]] = true, distinct += 1;
    }
    int k = (int)llround(distinct / (double)g->windows);
    *k_out = k;
    for (int u = 0; u < n_units; u++) order[u] = u;
    for (int i = 0; i < n_units; i++) /* selection sort by rate, descending: n_units is small */
        for (int j = i + 1; j < n_units; j++)
            if (rates[order[j]] > rates[order[i]]) {
                int32_t t = order[i];
                order[i] = order[j], order[j] = t;
            }
    for (int64_t w = 0; w < g->windows; w++) {
        cf_f1 f;
        if (cf_window_f1(g->true_unit + g->true_off[w], g->true_off[w + 1] - g->true_off[w], order, k, CF_F1_SET, &f) == CF_OK)
            sum += f.f1;
    }
    free(order);
    free(seen);
    return sum / (double)g->windows;
}

/* Trial-averaged PSTH correlation of generated vs true spikes: the data's trials inside the span, or the span
 * as one trial. */
static double psth_corr(const cf_nf_generation *g, int n_units, const cf_spikes *data, double bin)
{
    cf_spikes *gen = cf_nf_generation_spikes(g, n_units, false), *tru = cf_nf_generation_spikes(g, n_units, true);
    double r = NAN, *ts = NULL, *te = NULL;
    int nt = 0;
    if (gen && tru) {
        ts = malloc(sizeof(double) * (size_t)(data->n_trials + 1));
        te = malloc(sizeof(double) * (size_t)(data->n_trials + 1));
        double dur = INFINITY;
        for (int k = 0; ts && te && k < data->n_trials; k++)
            if (data->trial_start[k] >= g->t_from - 1e-9 && data->trial_stop[k] <= g->t_to + 1e-9) {
                ts[nt] = data->trial_start[k], te[nt] = data->trial_stop[k];
                if (te[nt] - ts[nt] < dur) dur = te[nt] - ts[nt];
                nt++;
            }
        if (ts && te && nt == 0) ts[0] = g->t_from, te[0] = g->t_to, nt = 1, dur = g->t_to - g->t_from;
        int64_t nb = (int64_t)llround(dur / bin);
        double *a = nb > 0 ? malloc(sizeof(double) * (size_t)(n_units * nb)) : NULL;
        double *b = nb > 0 ? malloc(sizeof(double) * (size_t)(n_units * nb)) : NULL;
        int64_t na = 0, nb2 = 0;
        if (a && b && cf_spikes_set_trials(gen, nt, ts, te) == CF_OK && cf_spikes_set_trials(tru, nt, ts, te) == CF_OK &&
            cf_spikes_psth(tru, bin, (double)nb * bin, a, &na) == CF_OK && cf_spikes_psth(gen, bin, (double)nb * bin, b, &nb2) == CF_OK &&
            na == nb2)
            r = cf_psth_corr(a, b, n_units, na, NULL);
        free(a);
        free(b);
    }
    free(ts);
    free(te);
    cf_spikes_free(gen);
    cf_spikes_free(tru);
    cf_clear_error();
    return r;
}

static double rate_corr(const cf_nf_generation *g, int n_units)
{
    double *a = calloc((size_t)n_units, sizeof(double)), *b = calloc((size_t)n_units, sizeof(double));
    double r = NAN;
    if (a && b) {
        for (int64_t i = 0; i < g->true_off[g->windows]; i++) a[g->true_unit[i]] += 1;
        for (int64_t i = 0; i < g->gen_off[g->windows]; i++) b[g->gen_unit[i]] += 1;
        r = cf_pearson(a, b, n_units);
    }
    free(a);
    free(b);
    return r;
}

/* Relabels the unit tokens of a previous window by a random permutation of the units (the ablation). */
static void relabel(int64_t *prev_id, int64_t Tp, int n_units, cf_philox_key key, uint64_t window, int *perm)
{
    for (int u = 0; u < n_units; u++) perm[u] = u;
    for (int u = n_units - 1; u > 0; u--) {
        int j = (int)(cf_rng_uniform(key, window, (uint64_t)u) * (double)(u + 1));
        if (j > u) j = u;
        int t = perm[u];
        perm[u] = perm[j], perm[j] = t;
    }
    for (int64_t k = 0; k < Tp; k++)
        if (prev_id[k] >= 0 && prev_id[k] < n_units) prev_id[k] = perm[prev_id[k]];
}

typedef struct {
    double ce_id, ce_dt, n_id, n_dt;
    double *A, *A_shuf, *A_uni, *nt, *ns, *nt_s, *ns_s; /* [N*N], [N] */
    double *pred, *target; /* behaviour, [windows] */
    int64_t n_beh;
    int64_t *targets; /* the split's ID and dt targets, for the unigram CE */
    int64_t *dtargets;
    int64_t n_targets;
} tf_result;

static void tf_free(tf_result *r)
{
    free(r->A), free(r->A_shuf), free(r->A_uni), free(r->nt), free(r->ns), free(r->nt_s), free(r->ns_s);
    free(r->pred), free(r->target), free(r->targets), free(r->dtargets);
    memset(r, 0, sizeof *r);
}

static cf_status tf_alloc(tf_result *r, int N, int64_t W, int64_t T)
{
    size_t nn = (size_t)N * (size_t)N;
    memset(r, 0, sizeof *r);
    r->A = calloc(nn, sizeof(double)), r->A_shuf = calloc(nn, sizeof(double)), r->A_uni = calloc(nn, sizeof(double));
    r->nt = calloc((size_t)N, sizeof(double)), r->ns = calloc((size_t)N, sizeof(double));
    r->nt_s = calloc((size_t)N, sizeof(double)), r->ns_s = calloc((size_t)N, sizeof(double));
    r->pred = malloc(sizeof(double) * (size_t)W), r->target = malloc(sizeof(double) * (size_t)W);
    r->targets = malloc(sizeof(int64_t) * (size_t)(W * T)), r->dtargets = malloc(sizeof(int64_t) * (size_t)(W * T));
    if (r->A && r->A_shuf && r->A_uni && r->nt && r->ns && r->nt_s && r->ns_s && r->pred && r->target && r->targets && r->dtargets)
        return CF_OK;
    tf_free(r);
    return cf_set_error(CF_ERR_OOM, "eval: out of memory");
}

/* The teacher-forced pass: CE, attention maps (plain, and relabelled when asked), behaviour predictions. */
static cf_status teacher_forced(nf_model *nm, cf_ctx *ctx, cf_dataset *ds, int64_t W, bool relabelled, tf_result *res)
{
    const cf_neuroformer *m = &nm->nf;
    int64_t N = m->cfg.n_units, T = m->cfg.block, Tp = m->cfg.prev_block, B = nm->ev.batch < W ? nm->ev.batch : W;
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, (int)B, &b));
    int64_t *shuf = malloc(sizeof(int64_t) * (size_t)(B * Tp));
    int *perm = malloc(sizeof(int) * (size_t)N);
    float *att = NULL;
    double *nt_dummy = calloc((size_t)N, sizeof(double)), *ns_dummy = calloc((size_t)N, sizeof(double));
    float *uni = malloc(sizeof(float) * (size_t)(T * Tp));
    cf_status st = shuf && perm && nt_dummy && ns_dummy && uni ? CF_OK : cf_set_error(CF_ERR_OOM, "eval: out of memory");
    cf_philox_key key = cf_rng_key(nm->ev.seed, 0x5f0ff1e);
    for (int64_t w0 = 0; st == CF_OK && w0 < W; w0 += B) {
        int64_t rows = W - w0 < B ? W - w0 : B;
        for (int64_t i = 0; i < rows && st == CF_OK; i++) st = cf_dataset_get(ds, w0 + i, &b, (int)i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, (int)rows);
        cf_nf_inputs in;
        cf_tensor *beh_t = NULL, *id_t = cf_batch_get(&b, "id_target"), *dt_t = cf_batch_get(&b, "dt_target");
        if (st == CF_OK) st = nf_inputs_from_batch(nm, ctx, &b, &in, &beh_t);
        cf_nf_losses l;
        if (st == CF_OK) st = cf_neuroformer_loss(ctx, m, &in, id_t, dt_t, beh_t, &l);
        if (st != CF_OK) break;
        const int64_t *ip = cf_data(id_t), *dp = cf_data(dt_t);
        double cid = 0, cdt = 0;
        for (int64_t i = 0; i < rows * T; i++) {
            cid += ip[i] >= 0, cdt += dp[i] >= 0;
            if (ip[i] >= 0) res->targets[res->n_targets] = ip[i], res->dtargets[res->n_targets++] = dp[i] >= 0 ? dp[i] : -100;
        }
        res->ce_id += cf_item(l.id) * cid, res->n_id += cid;
        res->ce_dt += cf_item(l.dt) * cdt, res->n_dt += cdt;
        if (l.beh_pred && beh_t)
            for (int64_t i = 0; i < rows; i++)
                res->pred[res->n_beh] = cf_get_flat(l.beh_pred, i), res->target[res->n_beh++] = cf_get_flat(beh_t, i);
        /* attention of the true past, then of the relabelled past */
        for (int pass = 0; pass < (relabelled ? 2 : 1) && st == CF_OK; pass++) {
            cf_nf_inputs in2 = in;
            const int64_t *prev = cf_data(in.prev_id);
            if (pass == 1) {
                memcpy(shuf, prev, sizeof(int64_t) * (size_t)(rows * Tp));
                for (int64_t i = 0; i < rows; i++) relabel(shuf + i * Tp, Tp, (int)N, key, (uint64_t)(w0 + i), perm);
                in2.prev_id = cf_from_data(ctx, CF_I64, CF_SHAPE(rows, Tp), shuf);
                prev = shuf;
            }
            cf_nf_outputs o;
            cf_nf_attn_record rec = {0};
            st = cf_neuroformer_forward(ctx, m, &in2, NULL, &rec, &o);
            if (st != CF_OK || !rec.probs) break;
            cf_tensor *pc = cf_contiguous(ctx, rec.probs);
            if (!pc) {
                st = cf_last_status();
                break;
            }
            att = cf_data(pc);
            /* credited to the past tokens as the model saw them */
            for (int64_t i = 0; i < rows; i++)
                cf_nf_accumulate_attention(att + i * T * Tp, ip + i * T, T, prev + i * Tp, Tp, N, pass ? res->A_shuf : res->A,
                                           pass ? res->nt_s : res->nt, pass ? res->ns_s : res->ns);
            /* the control: uniform attention over the real (unpadded) past tokens, i.e. counting co-occurrences */
            for (int64_t i = 0; pass == 0 && i < rows; i++) {
                const bool *pad = (const bool *)cf_data(in.prev_pad) + i * Tp;
                int64_t real = 0;
                for (int64_t k = 0; k < Tp; k++) real += !pad[k];
                for (int64_t q = 0; q < T; q++)
                    for (int64_t k = 0; k < Tp; k++) uni[q * Tp + k] = pad[k] ? 0.0f : 1.0f / (float)real;
                cf_nf_accumulate_attention(uni, ip + i * T, T, prev + i * Tp, Tp, N, res->A_uni, nt_dummy, ns_dummy);
            }
        }
        cf_step_reset(ctx);
    }
    free(shuf);
    free(perm);
    free(nt_dummy);
    free(ns_dummy);
    free(uni);
    cf_batch_free(&b);
    return st;
}

/* The connectivity ablation: a second instance of the model with the weights of eval.ablation_checkpoint (the
 * same model trained with data.shuffle_prev) runs the teacher-forced pass on relabelled past windows, as that
 * model was trained. The evaluated model's parameters are not touched. */
static cf_status ablation(nf_model *nm, cf_ctx *ctx, const cf_eval_input *in, cf_dataset *ds, int64_t W, tf_result *abl,
                          nf_readout *ro)
{
    cf_params *ps = cf_params_new(CF_F32, 0);
    cf_model *other = ps ? cf_neuroformer_model.create(in->recipe, ps, in->info) : NULL;
    cf_status st = other ? tf_alloc(abl, (int)nm->nf.cfg.n_units, W, nm->nf.cfg.block) : cf_last_status();
    if (st == CF_OK && (st = cf_checkpoint_load(nm->ev.ablation, ps, 0, NULL, NULL, NULL)) != CF_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", cf_last_error());
        st = cf_set_error(st, "eval.ablation_checkpoint: %s (it must be a checkpoint of this same model, trained "
                          "with data.shuffle_prev: true)", why);
    }
    if (st == CF_OK) {
        nf_model *am = (nf_model *)other;
        am->src.shuffle_prev = true;
        am->ps = ps;
        st = teacher_forced(am, ctx, ds, W, false, abl);
        if (st == CF_OK && ro) st = nf_readout_compute(am, ctx, ds, W, nm->ev.grad_windows, ro);
    }
    if (other) other->vt->free(other);
    cf_params_free(ps);
    return st;
}

/* Every ID / dt target of a dataset's windows (for the unigram baseline). */
static cf_status collect_targets(cf_dataset *ds, int64_t **ids, int64_t **dts, int64_t *n)
{
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, 1, &b));
    cf_tensor *it = cf_batch_get(&b, "id_target"), *dtt = cf_batch_get(&b, "dt_target");
    int64_t T = it->shape[1];
    *ids = malloc(sizeof(int64_t) * (size_t)(ds->len * T));
    *dts = malloc(sizeof(int64_t) * (size_t)(ds->len * T));
    *n = 0;
    cf_status st = *ids && *dts ? CF_OK : cf_set_error(CF_ERR_OOM, "eval: out of memory");
    for (int64_t w = 0; st == CF_OK && w < ds->len; w++) {
        st = cf_dataset_get(ds, w, &b, 0);
        const int64_t *ip = cf_data(it), *dp = cf_data(dtt);
        for (int64_t t = 0; st == CF_OK && t < T; t++)
            if (ip[t] >= 0) (*ids)[*n] = ip[t], (*dts)[(*n)++] = dp[t] >= 0 ? dp[t] : -100;
    }
    cf_batch_free(&b);
    return st;
}

/* Connectivity metrics against the simulation's ground truth (skipped when the file has none). */
/* conn_auc and conn_direction_acc (<prefix> and <dir_prefix>) from the read-out eval.conn_readout names. */
static void pick_readout(const nf_model *nm, const char *prefix, const char *dir_prefix, cf_metrics *out)
{
    static const char *names[] = {"attention", "headmax", "grad"};
    const char *name = names[nm->ev.conn_readout];
    char key[96];
    double v;
    snprintf(key, sizeof key, "%s_%s", prefix, name);
    if (cf_metrics_get(out, key, &v)) cf_metrics_set(out, prefix, v);
    snprintf(key, sizeof key, "%s_%s", dir_prefix, name);
    if (cf_metrics_get(out, key, &v)) cf_metrics_set(out, dir_prefix, v);
}

static void connectivity(nf_model *nm, const cf_spikes *s, const tf_result *res, const tf_result *abl, const nf_readout *ro,
                         const nf_readout *abl_ro, cf_metrics *out)
{
    int n = 0, n_hubs = 0, *hubs = NULL;
    double *w = NULL;
    int N = (int)nm->nf.cfg.n_units;
    if (cf_spikes_read_weights(nm->src.path, &n, &w) != CF_OK || n != N) {
        cf_clear_error();
        free(w);
        return;
    }
    if (cf_spikes_read_hubs(nm->src.path, &n_hubs, &hubs) != CF_OK) cf_clear_error(), n_hubs = 0;
    size_t nn = (size_t)N * (size_t)N;
    double *A = malloc(sizeof(double) * nn), *S = malloc(sizeof(double) * nn), *X = malloc(sizeof(double) * nn);
    double v;
    if (A && S && X) {
        memcpy(A, res->A, sizeof(double) * nn);
        if (cf_edge_auc(A, w, N, true, &v) == CF_OK) cf_metrics_set(out, "conn_auc_raw", v);
        cf_attention_normalize(A, res->nt, res->ns, N);
        if (cf_edge_auc(A, w, N, true, &v) == CF_OK) cf_metrics_set(out, "conn_auc_attention", v);
        if (n_hubs > 0 && cf_edge_direction_accuracy(A, w, N, true, hubs, n_hubs, &v, NULL) == CF_OK)
            cf_metrics_set(out, "conn_direction_acc_attention", v);
        if (ro) nf_readout_metrics(ro, w, hubs, n_hubs, "conn_auc", "conn_direction_acc", out);
        pick_readout(nm, "conn_auc", "conn_direction_acc", out);
        if (cf_edge_direction_accuracy(A, w, N, true, NULL, 0, &v, NULL) == CF_OK) cf_metrics_set(out, "conn_direction_acc_all", v);
        memcpy(S, res->A_shuf, sizeof(double) * nn);
        cf_attention_normalize(S, res->nt_s, res->ns_s, N);
        if (cf_edge_auc(S, w, N, true, &v) == CF_OK) cf_metrics_set(out, "conn_auc_relabelled", v);
        if (abl) {
            memcpy(S, abl->A, sizeof(double) * nn);
            cf_attention_normalize(S, abl->nt, abl->ns, N);
            if (cf_edge_auc(S, w, N, true, &v) == CF_OK) cf_metrics_set(out, "conn_auc_shuffled_attention", v);
            if (n_hubs > 0 && cf_edge_direction_accuracy(S, w, N, true, hubs, n_hubs, &v, NULL) == CF_OK)
                cf_metrics_set(out, "conn_direction_acc_shuffled_attention", v);
            if (abl_ro) nf_readout_metrics(abl_ro, w, hubs, n_hubs, "conn_auc_shuffled", "conn_direction_acc_shuffled", out);
            pick_readout(nm, "conn_auc_shuffled", "conn_direction_acc_shuffled", out);
        }
        memcpy(S, res->A_uni, sizeof(double) * nn);
        cf_attention_normalize(S, res->nt, res->ns, N);
        if (cf_edge_auc(S, w, N, true, &v) == CF_OK) cf_metrics_set(out, "conn_auc_uniform", v);
        /* the cross-correlation baseline on the training ranges (duration-weighted) */
        cf_time_ranges r[3];
        const cf_spike_options *o = &nm->src.opts;
        memset(X, 0, sizeof(double) * nn);
        if (cf_spikes_split_blocks(s, o->train_frac, o->val_frac, o->block_s, o->split_seed, &r[0], &r[1], &r[2]) == CF_OK) {
            for (int k = 0; k < r[0].n; k++)
                if (cf_xcorr_scores(s, o->tokens.dt, (int)nm->ev.xcorr_lag, r[0].from[k], r[0].to[k], S) == CF_OK)
                    for (size_t i = 0; i < nn; i++) X[i] += S[i] * (r[0].to[k] - r[0].from[k]);
            for (int k = 0; k < 3; k++) cf_time_ranges_free(&r[k]);
            if (cf_edge_auc(X, w, N, false, &v) == CF_OK) cf_metrics_set(out, "conn_auc_xcorr", v);
            if (n_hubs > 0 && cf_edge_direction_accuracy(X, w, N, false, hubs, n_hubs, &v, NULL) == CF_OK)
                cf_metrics_set(out, "conn_direction_acc_xcorr", v);
        }
    }
    cf_clear_error();
    free(A);
    free(S);
    free(X);
    free(w);
    free(hubs);
}

cf_status cf_neuroformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    if (!mb || mb->vt != &cf_neuroformer_model) return cf_set_error(CF_ERR_ARG, "eval: the model is not a neuroformer");
    nf_model *nm = (nf_model *)mb;
    const cf_neuroformer *m = &nm->nf;
    const char *split = in->split_name;
    int N = (int)m->cfg.n_units;
    int64_t T = m->cfg.block;
    /* the split as handed; the baselines from the whole training split (not a few-shot subset of it) */
    cf_dataset *ds = in->split, *train = cf_spike_source_full(in->train);
    const cf_spikes *s = cf_spike_dataset_recording(cf_spike_source_full(ds));
    if (!s || !train) return cf_last_status();
    int64_t W = nm->ev.max_windows > 0 && nm->ev.max_windows < ds->len ? nm->ev.max_windows : ds->len;
    tf_result res = {0};
    int64_t *tr_ids = NULL, *tr_dts = NULL, n_tr = 0;
    double *logp = NULL, *rates = calloc((size_t)N, sizeof(double));
    cf_nf_generation g = {0}, gf = {0};
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_status st = CF_OK;
    if (!rates || tf_alloc(&res, N, W, T) != CF_OK) st = cf_set_error(CF_ERR_OOM, "eval: out of memory");
    if (st == CF_OK) st = teacher_forced(nm, ctx, ds, W, true, &res);
    char key[64];
    if (st == CF_OK) {
        snprintf(key, sizeof key, "%s_ce_id", split);
        cf_metrics_set(out, key, res.ce_id / res.n_id);
        snprintf(key, sizeof key, "%s_ce_dt", split);
        cf_metrics_set(out, key, res.ce_dt / res.n_dt);
        cf_metrics_set(out, "uniform_ce_dt", log((double)m->dt_vocab));
        cf_metrics_set(out, "windows", (double)W);
    }
    /* the unigram baseline and the Poisson rates, from the training split */
    if (st == CF_OK) st = collect_targets(train, &tr_ids, &tr_dts, &n_tr);
    if (st == CF_OK) {
        int64_t V = m->id_vocab > m->dt_vocab ? m->id_vocab : m->dt_vocab;
        double ce;
        if (!(logp = malloc(sizeof(double) * (size_t)V))) st = cf_set_error(CF_ERR_OOM, "eval: out of memory");
        if (st == CF_OK && cf_unigram_logprob(tr_ids, n_tr, (int)m->id_vocab, 1.0, logp) == CF_OK &&
            cf_unigram_ce(logp, (int)m->id_vocab, res.targets, res.n_targets, &ce, NULL) == CF_OK)
            cf_metrics_set(out, "unigram_ce_id", ce);
        if (st == CF_OK && cf_unigram_logprob(tr_dts, n_tr, (int)m->dt_vocab, 1.0, logp) == CF_OK &&
            cf_unigram_ce(logp, (int)m->dt_vocab, res.dtargets, res.n_targets, &ce, NULL) == CF_OK)
            cf_metrics_set(out, "unigram_ce_dt", ce);
        cf_clear_error();
    }
    if (st == CF_OK) {
        cf_time_ranges rr[3];
        const cf_spike_options *o = &nm->src.opts;
        st = cf_spikes_split_blocks(s, o->train_frac, o->val_frac, o->block_s, o->split_seed, &rr[0], &rr[1], &rr[2]);
        if (st == CF_OK) {
            double *part = malloc(sizeof(double) * (size_t)N), total = cf_time_ranges_total(&rr[0]);
            if (!part) st = cf_set_error(CF_ERR_OOM, "eval: out of memory");
            for (int k = 0; st == CF_OK && k < rr[0].n; k++)
                if ((st = cf_spikes_rates(s, rr[0].from[k], rr[0].to[k], part)) == CF_OK)
                    for (int u = 0; u < N; u++) rates[u] += part[u] * (rr[0].to[k] - rr[0].from[k]) / total;
            free(part);
            for (int k = 0; k < 3; k++) cf_time_ranges_free(&rr[k]);
        }
    }
    /* generation: one step ahead (true past) over the split, then free-running */
    cf_nf_gen_options go = {.sample = {.temperature = nm->ev.temperature, .top_k = nm->ev.top_k, .top_p = nm->ev.top_p,
                                       .seed = nm->ev.seed, .use_cache = true},
                            .true_past = true, .batch = nm->ev.batch};
    double wc = nm->vocab.curr_bins * nm->vocab.dt;
    if (st == CF_OK && W < ds->len) go.seconds = (double)W * wc; /* max_windows (contiguous splits) */
    if (st == CF_OK) st = cf_neuroformer_generate_split(mb, ctx, ds, &go, &g);
    if (st == CF_OK) {
        double f1s = mean_f1(&g, false, rates, N, wc, 0), f1d = f1s;
        cf_metrics_set(out, "f1_sample", f1s);
        cf_metrics_set(out, "f1_poisson", mean_f1(&g, true, rates, N, wc, nm->ev.seed + 0x9015));
        int k = 0;
        cf_metrics_set(out, "f1_rate_topk", topk_f1(&g, rates, N, &k));
        st = nf_model_set_f1(mb, ctx, ds, &go, &g, k, out);
        if (st == CF_OK && nm->ev.f1_decoding != NF_F1_SAMPLE)
            cf_metrics_get(out, nm->ev.f1_decoding == NF_F1_TOPK ? "f1_model_topk" : "f1_model_expected", &f1d);
        cf_metrics_set(out, "f1", f1d);
        if (st == CF_OK && nm->ev.glm) st = nf_glm_baselines(nm, s, &g, k, split, out);
        cf_metrics_set(out, "psth_r", psth_corr(&g, N, s, nm->ev.psth_bin));
        go.true_past = false, go.seconds = nm->ev.free_seconds;
        if (st == CF_OK && go.seconds > 0) {
            st = cf_neuroformer_generate_split(mb, ctx, ds, &go, &gf);
            if (st == CF_OK) {
                cf_metrics_set(out, "f1_free", mean_f1(&gf, false, rates, N, wc, 0));
                cf_metrics_set(out, "rate_r_free", rate_corr(&gf, N));
            }
        }
    }
    if (st == CF_OK && res.n_beh > 1) {
        double sse = 0, mean = 0, sst = 0;
        for (int64_t i = 0; i < res.n_beh; i++) mean += res.target[i] / (double)res.n_beh;
        for (int64_t i = 0; i < res.n_beh; i++) {
            sse += (res.pred[i] - res.target[i]) * (res.pred[i] - res.target[i]);
            sst += (res.target[i] - mean) * (res.target[i] - mean);
        }
        cf_metrics_set(out, "beh_r", cf_pearson(res.pred, res.target, res.n_beh));
        cf_metrics_set(out, "beh_r2", sst > 0 ? 1 - sse / sst : NAN);
        snprintf(key, sizeof key, "%s_mse_beh", split);
        cf_metrics_set(out, key, sse / (double)res.n_beh);
        if (nm->ev.glm) st = nf_ridge_baseline(nm, in->train, ds, res.n_beh, out);
    }
    tf_result abl = {0};
    nf_readout ro = {0}, abl_ro = {0};
    int nw = 0;
    double *wtrue = NULL;
    bool truth = cf_spikes_read_weights(nm->src.path, &nw, &wtrue) == CF_OK && nw == N; /* the read-outs need it */
    free(wtrue);
    cf_clear_error();
    if (st == CF_OK && nm->ev.ablation[0]) st = ablation(nm, ctx, in, ds, W, &abl, truth ? &abl_ro : NULL);
    if (st == CF_OK && truth) st = nf_readout_compute(nm, ctx, ds, W, nm->ev.grad_windows, &ro);
    if (st == CF_OK) connectivity(nm, s, &res, nm->ev.ablation[0] ? &abl : NULL, truth ? &ro : NULL,
                                  truth && nm->ev.ablation[0] ? &abl_ro : NULL, out);
    tf_free(&abl);
    nf_readout_free(&ro), nf_readout_free(&abl_ro);
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_nf_generation_free(&g);
    cf_nf_generation_free(&gf);
    tf_free(&res);
    free(tr_ids), free(tr_dts), free(logp), free(rates);
    return st;
}
