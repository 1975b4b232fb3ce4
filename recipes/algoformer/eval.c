/* AlgoFormer's evaluation (`cformer eval`): the normalised query MSE against the number of in-context
 * examples k = 0 .. n (Garg et al., NeurIPS 2022, Figure 2's axis; Gao et al., 2024, Section 4), the squared
 * error of the prediction at x_{k+1} divided by the zero predictor's expected error (d for the linear task), at
 * the trained loop count and at each eval.loops count (the looped models run past the loops they were trained
 * with: Yang et al., ICLR 2024, Section 5), beside least squares on the task's features (the ordinary least-
 * squares solution, minimum-norm for k < d: the reference a learned algorithm approaches). */
#include "data/icl/icl.h"
#include "recipes/algoformer/internal.h"

#include "autograd/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Solves (G + lambda I) w = b for symmetric positive semi-definite G [d, d] by Cholesky; a, scratch [d, d]. */
static void ridge_solve(int64_t d, const double *G, const double *b, double lambda, double *a, double *w)
{
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = G[i * d + j] + (i == j ? lambda : 0);
            for (int64_t k = 0; k < j; k++) s -= a[i * d + k] * a[j * d + k];
            a[i * d + j] = i == j ? sqrt(s > 0 ? s : lambda) : s / a[j * d + j];
        }
    for (int64_t i = 0; i < d; i++) { /* L u = b, then L^T w = u */
        double s = b[i];
        for (int64_t k = 0; k < i; k++) s -= a[i * d + k] * w[k];
        w[i] = s / a[i * d + i];
    }
    for (int64_t i = d - 1; i >= 0; i--) {
        double s = w[i];
        for (int64_t k = i + 1; k < d; k++) s -= a[k * d + i] * w[k];
        w[i] = s / a[i * d + i];
    }
}

/* Adds to se[k] the squared error of least squares on the features of the first k examples of every row. */
static cf_status least_squares(const cf_icl_config *c, const cf_batch *b, double *se)
{
    cf_tensor *z = cf_batch_get(b, "z"), *y = cf_batch_get(b, "y"), *n = cf_batch_get(b, "n");
    if (!z || !y || !n) return cf_last_status();
    int64_t d = c->dim, P = y->shape[1];
    double *buf = calloc((size_t)(3 * d * d + 3 * d), sizeof *buf);
    if (!buf) return cf_set_error(CF_ERR_OOM, "algoformer eval: out of memory");
    double *G = buf, *a = G + d * d, *bv = a + d * d, *w = bv + d, *phi = w + d;
    for (int64_t i = 0; i < b->rows; i++) {
        memset(G, 0, (size_t)(d * d) * sizeof *G);
        memset(bv, 0, (size_t)d * sizeof *bv);
        const float *zr = (const float *)cf_data(z) + i * (2 * P - 1) * d, *yr = (const float *)cf_data(y) + i * P;
        for (int64_t k = 0; k <= (int64_t)cf_get_flat(n, i); k++) {
            cf_icl_features(c, zr + 2 * k * d, phi);
            double trace = 0, pred = 0;
            for (int64_t j = 0; j < d; j++) trace += G[j * d + j];
            ridge_solve(d, G, bv, 1e-9 * (trace > 0 ? trace : 1), a, w);
            for (int64_t j = 0; j < d && k > 0; j++) pred += w[j] * phi[j];
            se[k] += (pred - yr[k]) * (pred - yr[k]);
            for (int64_t j = 0; j < d; j++) {
                bv[j] += phi[j] * yr[k];
                for (int64_t l = 0; l < d; l++) G[j * d + l] += phi[j] * phi[l];
            }
        }
    }
    free(buf);
    return CF_OK;
}

/* Adds the model's squared error at each query position to se (rows' masks honoured). */
static cf_status model_errors(cf_ctx *ctx, const cf_algoformer *m, const cf_batch *b, double *se)
{
    cf_tensor *z, *y, *mask, *ys[1];
    CF_TRY(cf_algof_inputs(ctx, m, b, &z, &y, &mask));
    if (cf_algoformer_forward(ctx, m, z, 1, ys) != 1) return cf_last_status();
    cf_tensor *pred = cf_algof_at_queries(ctx, ys[0]);
    if (!pred) return cf_last_status();
    int64_t P = y->shape[1];
    for (int64_t i = 0; i < y->shape[0]; i++)
        for (int64_t p = 0; p < P; p++) {
            double e = cf_get_flat(pred, i * P + p) - cf_get_flat(y, i * P + p);
            se[p] += cf_get_flat(mask, i * P + p) * e * e;
        }
    return CF_OK;
}

/* One pass over the split: the model at `loops` loops into se_model, least squares into se_ls (NULL: skip). */
static cf_status pass(cf_ctx *ctx, cf_algoformer *m, int64_t loops, cf_dataset *ds, int rows, const cf_icl_config *c,
                      double *se_model, double *se_ls)
{
    cf_algoformer_config saved = m->cfg;
    if (m->cfg.loop > 0 && saved.loops > 0) {
        m->cfg.loops = loops;
        if (m->cfg.window > loops) m->cfg.window = loops;
    }
    cf_batch b = {0};
    cf_status st = cf_dataset_make_batch(ds, rows, &b);
    for (int64_t at = 0; st == CF_OK && at < ds->len; at += rows) {
        int nrows = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < nrows && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, nrows);
        if (st == CF_OK) st = model_errors(ctx, m, &b, se_model);
        if (st == CF_OK && se_ls) st = least_squares(c, &b, se_ls);
        cf_step_reset(ctx);
    }
    cf_batch_free(&b);
    m->cfg = saved;
    return st;
}

cf_status cf_algoformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_algof_model *mm = (cf_algof_model *)mb;
    const cf_icl_config *c = cf_icl_dataset_config(in->split);
    if (!c) return cf_last_status();
    if (c->n_max > CF_ALGOF_MAX_N)
        return cf_set_error(CF_ERR_ARG, "algoformer eval: data.n %lld is more than the %d examples the report holds",
                            (long long)c->n_max, CF_ALGOF_MAX_N);
    cf_algof_report *rep = &mm->report;
    memset(rep, 0, sizeof *rep);
    rep->n = c->n_max, rep->items = in->split->len, rep->loops = mm->net.cfg.loops;
    rep->signal_power = cf_icl_signal_power(c);
    int rows = (int)(in->batch_size < in->split->len ? in->batch_size : in->split->len);
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_status st = pass(ctx, &mm->net, rep->loops, in->split, rows, c, rep->mse, rep->mse_ls);
    for (int e = 0; st == CF_OK && e < mm->n_eval_loops; e++) {
        rep->extra_loops[e] = mm->eval_loops[e];
        st = pass(ctx, &mm->net, mm->eval_loops[e], in->split, rows, c, rep->extra_mse[e], NULL);
        rep->extra = e + 1;
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    if (st != CF_OK) return st;
    double norm = rep->signal_power * (double)rep->items, mean = 0;
    for (int64_t k = 0; k <= rep->n; k++) {
        rep->mse[k] /= norm, rep->mse_ls[k] /= norm, mean += rep->mse[k] / (double)(rep->n + 1);
        for (int e = 0; e < rep->extra; e++) rep->extra_mse[e][k] /= norm;
    }
    int64_t n = rep->n, half = n / 2;
    cf_metrics_set(out, "mse_at_n", rep->mse[n]);
    cf_metrics_set(out, "mse_at_half_n", rep->mse[half]);
    cf_metrics_set(out, "mse_at_0", rep->mse[0]);
    cf_metrics_set(out, "mse_mean", mean);
    cf_metrics_set(out, "ls_mse_at_n", rep->mse_ls[n]);
    cf_metrics_set(out, "ls_mse_at_half_n", rep->mse_ls[half]);
    cf_metrics_set(out, "n", (double)n);
    cf_metrics_set(out, "loops", (double)rep->loops);
    for (int e = 0; e < rep->extra; e++) {
        char name[32];
        snprintf(name, sizeof name, "mse_at_n_loops%d", (int)rep->extra_loops[e]); /* loops <= 64 */
        cf_metrics_set(out, name, rep->extra_mse[e][n]);
    }
    return CF_OK;
}

static void curve(cf_json *j, const char *key, const double *v, int64_t n)
{
    cf_json_key(j, key);
    cf_json_array(j);
    for (int64_t k = 0; k <= n; k++) cf_json_number(j, v[k]);
    cf_json_end(j);
}

cf_status cf_algoformer_write_eval(cf_model *mb, const char *path, const cf_metrics *flat)
{
    const cf_algof_report *rep = &((const cf_algof_model *)mb)->report;
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    cf_json_kv_string(&j, "format", "cformer-algoformer-eval");
    cf_json_kv_int(&j, "version", 1);
    /* the flat metrics first (step, loss, mse_at_n, ...), for tools that read eval.json's numbers */
    for (int i = 0; flat && i < flat->n; i++) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    cf_json_kv_int(&j, "items", rep->items);
    cf_json_kv_number(&j, "normaliser", rep->signal_power);
    curve(&j, "mse_by_n", rep->mse, rep->n);
    curve(&j, "ls_mse_by_n", rep->mse_ls, rep->n);
    cf_json_key(&j, "mse_by_n_at_loops");
    cf_json_object(&j);
    for (int e = 0; e < rep->extra; e++) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)rep->extra_loops[e]);
        curve(&j, key, rep->extra_mse[e], rep->n);
    }
    cf_json_end(&j);
    cf_json_end(&j);
    return cf_json_commit(&j);
}
