/* Autoformer's evaluation (`cformer eval`), the protocol of Wu et al., NeurIPS 2021, Sec. 4: every window of the
 * split (stride 1, no window dropped), MSE and MAE over windows, horizon steps and forecast variables on the
 * z-scored scale, and the same in original units (errors times each variable's training std). For each
 * eval.horizons h the metrics cover the first h forecast steps (mse_h24, ...); without a suffix, all O steps.
 * Beside the model: the seasonal-naive forecast (x[I - P + (j mod P)] for step j, P = eval.season) of the same
 * windows (naive_mse, ...). For Autoformer, the delays encoder layer 1 chose in inference mode: the four most
 * chosen (delay_top1..4), the share within one step of a multiple of P (delay_share_multiple, delay 0
 * included), and the residue r mod P within one step of which the most delays fall (delay_phase) with their
 * share (delay_share_phase: period-spaced delays r, r + P, ... give a share near 1, period-blind ones about
 * 3/P). With eval.plot_windows, a few windows of one variable in original units go to eval.json's "forecast"
 * object (cf_autoformer_write_eval), which `cformer plot forecast` draws. */
#include "autograd/json.h"
#include "data/series/csv_dataset.h"
#include "recipes/autoformer/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { SSE, SAE, SSE_ORIG, SAE_ORIG, NAIVE_SSE, NAIVE_SAE, NACC };

/* The k-th of the n plotted windows of a split of len windows: evenly spaced, first and last included. */
static int64_t plot_window(int k, int n, int64_t len) { return n > 1 ? (int64_t)k * (len - 1) / (n - 1) : 0; }

/* Saves row i of the batch (split window `index`) for the plot if it is one of the plotted windows: the input,
 * truth, forecast and seasonal-naive forecast of eval.plot_variable, in original units. */
static void save_plot_window(cf_autoformer_model_t *m, int64_t len, int64_t index, const float *xv, const float *yv,
                             const cf_tensor *pred, int64_t i, int64_t I, int64_t O, int64_t cin, double mean,
                             double sd)
{
    int64_t C = m->cout, c = m->plot_variable, P = m->season;
    int n = (int)(m->plot_windows < len ? m->plot_windows : len);
    for (int k = 0; k < n; k++) {
        if (plot_window(k, n, len) != index) continue; /* distinct for n <= len */
        double *v = m->plot_values + (size_t)m->plot_saved * (size_t)(I + 3 * O);
        for (int64_t t = 0; t < I; t++) v[t] = xv[(i * I + t) * cin + cin - C + c] * sd + mean;
        for (int64_t j = 0; j < O; j++) {
            v[I + j] = yv[(i * O + j) * C + c] * sd + mean;
            v[I + O + j] = cf_get_flat(pred, (i * O + j) * C + c) * sd + mean;
            v[I + 2 * O + j] = xv[(i * I + I - P + j % P) * cin + cin - C + c] * sd + mean;
        }
        m->plot_index[m->plot_saved++] = index;
        return;
    }
}

/* adds the errors of rows [0, n) of the batch (split windows at .. at + n - 1 of len) to acc[k * O + j] */
static cf_status accumulate(cf_ctx *ctx, cf_autoformer_model_t *m, const cf_batch *b, int n, const double *sd,
                            double *acc, int64_t at, int64_t len, double plot_mean)
{
    cf_tensor *pred = cf_autoformer_forecast(ctx, m, b), *y = cf_batch_get(b, "y"), *x = cf_batch_get(b, "x");
    if (!pred || !y || !x) return cf_last_status();
    pred = cf_contiguous(ctx, pred);
    if (!pred) return cf_last_status();
    int64_t O = y->shape[1], C = m->cout, I = x->shape[1], cin = x->shape[2], P = m->season;
    const float *yv = cf_data(y), *xv = cf_data(x);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < O; j++)
            for (int64_t c = 0; c < C; c++) {
                double truth = yv[(i * O + j) * C + c], e = cf_get_flat(pred, (i * O + j) * C + c) - truth;
                double naive = xv[(i * I + I - P + j % P) * cin + cin - C + c] - truth;
                acc[SSE * O + j] += e * e, acc[SAE * O + j] += fabs(e);
                acc[SSE_ORIG * O + j] += e * e * sd[c] * sd[c], acc[SAE_ORIG * O + j] += fabs(e) * sd[c];
                acc[NAIVE_SSE * O + j] += naive * naive, acc[NAIVE_SAE * O + j] += fabs(naive);
            }
    if (m->plot_values)
        for (int64_t i = 0; i < n; i++)
            save_plot_window(m, len, at + i, xv, yv, pred, i, I, O, cin, plot_mean, sd[m->plot_variable]);
    return CF_OK;
}

static void report(cf_metrics *out, const double *acc, int64_t O, int64_t h, double per_step, bool suffix)
{
    static const char *const names[NACC] = {"mse", "mae", "mse_orig", "mae_orig", "naive_mse", "naive_mae"};
    for (int k = 0; k < NACC; k++) {
        double s = 0;
        for (int64_t j = 0; j < h; j++) s += acc[k * O + j];
        char name[32];
        if (suffix) snprintf(name, sizeof name, "%s_h%lld", names[k], (long long)h);
        else snprintf(name, sizeof name, "%s", names[k]);
        cf_metrics_set(out, name, s / (per_step * (double)h));
    }
}

static void report_delays(cf_metrics *out, const cf_delay_hist *h, int64_t P)
{
    int64_t total = 0, near = 0, phase = 0, best_phase = -1;
    for (int64_t t = 0; t < h->len; t++) {
        total += h->counts[t];
        int64_t r = t % P;
        if (r <= 1 || r >= P - 1) near += h->counts[t];
    }
    if (total == 0) return;
    /* the residue mod P (+-1, circularly) that holds the most delays: learned query and key projections may put
     * a constant phase between them, so period-spaced delays sit at r, r + P, r + 2P, ... */
    for (int64_t r = 0; r < P; r++) {
        int64_t n = 0;
        for (int64_t t = 0; t < h->len; t++) {
            int64_t d = ((t - r) % P + P) % P;
            if (d <= 1 || d >= P - 1) n += h->counts[t];
        }
        if (n > phase) phase = n, best_phase = r;
    }
    bool used[4096] = {false};
    for (int k = 0; k < 4 && k < h->len; k++) {
        int64_t best = -1;
        for (int64_t t = 0; t < h->len && t < 4096; t++)
            if (!used[t] && (best < 0 || h->counts[t] > h->counts[best])) best = t;
        if (best < 0) break;
        used[best] = true;
        char name[32];
        snprintf(name, sizeof name, "delay_top%d", k + 1);
        cf_metrics_set(out, name, (double)best);
    }
    cf_metrics_set(out, "delay_share_multiple", (double)near / (double)total);
    cf_metrics_set(out, "delay_phase", (double)best_phase);
    cf_metrics_set(out, "delay_share_phase", (double)phase / (double)total);
}

cf_status cf_autoformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_autoformer_model_t *m = (cf_autoformer_model_t *)mb;
    cf_dataset *ds = in->split;
    if (!cf_series_dataset_is(ds)) return cf_set_error(CF_ERR_ARG, "autoformer: %s is not a series_csv dataset", ds->name);
    int64_t O = ds->info.frames, I = ds->info.seq;
    if (ds->len < 1) return cf_set_error(CF_ERR_ARG, "autoformer: %s has no window", ds->name);
    if (m->season > I)
        return cf_set_error(CF_ERR_ARG, "autoformer: eval.season %lld is longer than the input (%lld steps)",
                            (long long)m->season, (long long)I);
    double sd[CF_SERIES_MAX_COLUMNS], mean, plot_mean = 0;
    for (int c = 0; c < m->cout; c++) {
        CF_TRY(cf_series_dataset_scaler(ds, c, &mean, &sd[c]));
        if (c == m->plot_variable) plot_mean = mean;
    }
    free(m->plot_index), free(m->plot_values);
    m->plot_index = NULL, m->plot_values = NULL, m->plot_saved = 0, m->plot_I = I, m->plot_O = O;
    if (m->plot_windows > 0) {
        m->plot_index = calloc((size_t)m->plot_windows, sizeof *m->plot_index);
        m->plot_values = calloc((size_t)m->plot_windows * (size_t)(I + 3 * O), sizeof *m->plot_values);
        if (!m->plot_index || !m->plot_values) return cf_set_error(CF_ERR_OOM, "autoformer: out of memory for the plot");
    }
    double *acc = calloc((size_t)(NACC * O), sizeof *acc);
    cf_delay_hist hist = {calloc((size_t)I, sizeof *hist.counts), I};
    if (!acc || !hist.counts) {
        free(acc);
        free(hist.counts);
        return cf_set_error(CF_ERR_OOM, "autoformer: out of memory");
    }
    if (!m->vanilla) m->net.enc[0].self.hist = &hist;
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    cf_status st = cf_dataset_make_batch(ds, rows, &b);
    for (int64_t at = 0; st == CF_OK && at < ds->len; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; st == CF_OK && i < n; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st == CF_OK) st = accumulate(ctx, m, &b, n, sd, acc, at, ds->len, plot_mean);
        cf_step_reset(ctx);
    }
    if (!m->vanilla) m->net.enc[0].self.hist = NULL;
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    if (st == CF_OK) {
        double per_step = (double)ds->len * (double)m->cout;
        cf_metrics_set(out, "windows", (double)ds->len);
        report(out, acc, O, O, per_step, false);
        for (int i = 0; i < m->nhorizons; i++)
            if (m->horizons[i] <= O) report(out, acc, O, m->horizons[i], per_step, true);
        if (!m->vanilla) report_delays(out, &hist, m->season);
        const cf_forecast_config *c = m->vanilla ? &m->tf.cfg : &m->net.cfg;
        if (m->nbench > 0) st = cf_autoformer_bench(ctx, c->dim, c->heads, c->factor, m->bench_lengths, m->nbench, out);
    }
    cf_batch_free(&b);
    free(acc);
    free(hist.counts);
    return st;
}

cf_status cf_autoformer_write_eval(cf_model *mb, const char *path, const cf_metrics *flat)
{
    cf_autoformer_model_t *m = (cf_autoformer_model_t *)mb;
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    for (int i = 0; flat && i < flat->n; i++) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    if (m->plot_saved > 0) {
        int64_t I = m->plot_I, O = m->plot_O;
        static const char *const parts[] = {"truth", "forecast", "naive"};
        cf_json_key(&j, "forecast");
        cf_json_object(&j);
        cf_json_kv_int(&j, "variable", m->plot_variable);
        cf_json_kv_int(&j, "season", m->season);
        cf_json_key(&j, "windows");
        cf_json_array(&j);
        for (int w = 0; w < m->plot_saved; w++) {
            const double *v = m->plot_values + (size_t)w * (size_t)(I + 3 * O);
            cf_json_object(&j);
            cf_json_kv_int(&j, "index", m->plot_index[w]);
            cf_json_key(&j, "input");
            cf_json_array(&j);
            for (int64_t t = 0; t < I; t++) cf_json_number(&j, v[t]);
            cf_json_end(&j);
            for (int k = 0; k < 3; k++) {
                cf_json_key(&j, parts[k]);
                cf_json_array(&j);
                for (int64_t t = 0; t < O; t++) cf_json_number(&j, v[I + k * O + t]);
                cf_json_end(&j);
            }
            cf_json_end(&j);
        }
        cf_json_end(&j);
        cf_json_end(&j);
    }
    cf_json_end(&j);
    return cf_json_commit(&j);
}
