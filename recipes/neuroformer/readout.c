/* Connectivity read-outs of Neuroformer beyond the history attention averaged over heads and layers (the
 * paper's read-out, Antoniades et al., ICLR 2024, Sec. 4.1 "attention ... reveals the connectivity"), all on
 * the same windows and scored against the same ground truth:
 *   per head and per layer   the history cross-attention of head h of layer l alone (conn_auc_l<l>h<h>) and of
 *                            layer l averaged over its heads (conn_auc_layer<l>), accumulated A[target, source]
 *                            and occurrence-normalised as the averaged map is;
 *   head maximum             per pair, the largest of the heads' normalised maps (conn_auc_headmax): a unit pair
 *                            that one head specialises in is not averaged away by the others;
 *   gradient x input         for each target spike y at query q and each previous-window token k of unit x, the
 *                            gradient of log p(y) with respect to token k's embedding times that embedding
 *                            (summed over channels; cf_nf_inputs.prev_gate): how much the token raised the
 *                            target's probability, through every layer, not only one attention map. Accumulated
 *                            into G[y, x] and normalised by the occurrences like the attention (conn_auc_grad;
 *                            conn_auc_grad_abs the magnitude, excitation and inhibition alike).
 * A model trained with data.shuffle_prev is scored on its relabelled past, credited to the labels it saw. */
#include "data/spikes/spike_metrics.h"
#include "layers/params.h"
#include "recipes/neuroformer/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nf_readout_free(nf_readout *r)
{
    free(r->heads), free(r->grad), free(r->grad_abs), free(r->nt), free(r->ns);
    memset(r, 0, sizeof *r);
}

/* One batch's per-head maps (no gradients). */
static cf_status head_pass(nf_model *nm, cf_ctx *ctx, const cf_nf_inputs *in, const int64_t *ip, int64_t rows, nf_readout *r)
{
    const cf_neuroformer *m = &nm->nf;
    int64_t T = m->cfg.block, Tp = m->cfg.prev_block, N = r->N;
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_nf_attn_record rec = {.want_heads = true};
    cf_nf_outputs o;
    cf_status st = cf_neuroformer_forward(ctx, m, in, NULL, &rec, &o);
    const int64_t *pid = cf_data(in->prev_id);
    for (int l = 0; st == CF_OK && l < r->L; l++) {
        cf_tensor *hc = rec.heads[l] ? cf_contiguous(ctx, rec.heads[l]) : NULL; /* [rows, H, T, Tp] */
        if (!hc) {
            st = cf_last_status() != CF_OK ? cf_last_status() : cf_set_error(CF_ERR_STATE, "readout: no attention recorded");
            break;
        }
        const float *att = cf_data(hc);
        double *dummy_t = r->nt + N, *dummy_s = r->ns + N; /* the counts are taken once, from layer 0, head 0 */
        for (int h = 0; h < r->H; h++)
            for (int64_t i = 0; i < rows; i++) {
                bool count = l == 0 && h == 0;
                cf_nf_accumulate_attention(att + (i * r->H + h) * T * Tp, ip + i * T, T, pid + i * Tp, Tp, N,
                                           r->heads + (size_t)(l * r->H + h) * (size_t)(N * N), count ? r->nt : dummy_t,
                                           count ? r->ns : dummy_s);
            }
    }
    cf_set_grad_enabled(ctx, prev);
    return st;
}

/* One batch's gradient x input: a backward per query position of the summed log-probabilities of the rows'
 * targets there (rows do not interact, so each row's gate gradient is its own target's). */
static cf_status grad_pass(nf_model *nm, cf_ctx *ctx, cf_nf_inputs in, cf_tensor *id_t, int64_t rows, nf_readout *r)
{
    const cf_neuroformer *m = &nm->nf;
    int64_t T = m->cfg.block, Tp = m->cfg.prev_block, N = r->N;
    const int64_t *ip = cf_data(id_t), *pid = cf_data(in.prev_id);
    const bool *pad = cf_data(in.prev_pad);
    int64_t qmax = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t q = 0; q < T; q++)
            if (ip[i * T + q] >= 0 && ip[i * T + q] < N && q + 1 > qmax) qmax = q + 1;
    if (qmax == 0) return CF_OK;
    bool prev = cf_set_grad_enabled(ctx, true);
    cf_tensor *gate = cf_full(ctx, CF_F32, CF_SHAPE(rows, Tp), 1.0);
    cf_status st = gate ? CF_OK : cf_last_status();
    cf_nf_outputs o;
    if (st == CF_OK) {
        gate->requires_grad = true;
        in.prev_gate = gate;
        st = cf_neuroformer_forward(ctx, m, &in, NULL, NULL, &o);
    }
    cf_ce_opts ce = CF_CE_DEFAULTS;
    ce.reduction = CF_REDUCTION_SUM;
    int64_t *tq = malloc(sizeof(int64_t) * (size_t)rows);
    if (st == CF_OK && !tq) st = cf_set_error(CF_ERR_OOM, "readout: out of memory");
    for (int64_t q = 0; st == CF_OK && q < qmax; q++) {
        bool any = false;
        for (int64_t i = 0; i < rows; i++) {
            int64_t y = ip[i * T + q];
            tq[i] = y >= 0 && y < N ? y : -100, any |= tq[i] >= 0;
        }
        if (!any) continue;
        cf_tensor *lq = cf_reshape(ctx, cf_slice(ctx, o.id_logits, 1, q, q + 1, 1), CF_SHAPE(rows, o.id_logits->shape[2]));
        cf_tensor *nll = cf_cross_entropy(ctx, lq, cf_from_data(ctx, CF_I64, CF_SHAPE(rows), tq), &ce);
        if (gate->grad) memset(cf_data(gate->grad), 0, sizeof(float) * (size_t)(rows * Tp));
        if ((st = nll ? cf_backward(ctx, nll, NULL) : cf_last_status()) != CF_OK) break;
        const float *g = gate->grad ? cf_data(gate->grad) : NULL;
        for (int64_t i = 0; g && i < rows; i++)
            for (int64_t k = 0; tq[i] >= 0 && k < Tp; k++)
                if (!pad[i * Tp + k] && pid[i * Tp + k] >= 0 && pid[i * Tp + k] < N) {
                    double a = -(double)g[i * Tp + k]; /* d log p = -d nll */
                    size_t cell = (size_t)(tq[i] * N + pid[i * Tp + k]);
                    r->grad[cell] += a, r->grad_abs[cell] += fabs(a);
                }
    }
    free(tq);
    cf_set_grad_enabled(ctx, prev);
    if (nm->ps) cf_params_zero_grad(nm->ps); /* the parameters' gradients of these passes are not a training step's */
    return st;
}

cf_status nf_readout_compute(nf_model *nm, cf_ctx *ctx, cf_dataset *ds, int64_t W, int64_t grad_windows, nf_readout *r)
{
    const cf_neuroformer *m = &nm->nf;
    memset(r, 0, sizeof *r);
    r->N = (int)m->cfg.n_units, r->L = (int)(m->cfg.hist_layers < CF_NF_REC_LAYERS ? m->cfg.hist_layers : CF_NF_REC_LAYERS);
    r->H = (int)m->cfg.heads;
    if (r->L < 1) return CF_OK;
    size_t nn = (size_t)r->N * (size_t)r->N;
    int64_t B = nm->ev.batch < W ? nm->ev.batch : W, Wg = grad_windows < W ? grad_windows : W;
    r->heads = calloc(nn * (size_t)(r->L * r->H), sizeof(double));
    r->grad = calloc(nn, sizeof(double)), r->grad_abs = calloc(nn, sizeof(double));
    r->nt = calloc(2 * (size_t)r->N, sizeof(double)), r->ns = calloc(2 * (size_t)r->N, sizeof(double));
    cf_batch b = {0};
    cf_status st = r->heads && r->grad && r->grad_abs && r->nt && r->ns ? cf_dataset_make_batch(ds, (int)B, &b)
                                                                        : cf_set_error(CF_ERR_OOM, "readout: out of memory");
    bool train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    for (int64_t w0 = 0; st == CF_OK && w0 < W; w0 += B) {
        int64_t rows = W - w0 < B ? W - w0 : B;
        for (int64_t i = 0; i < rows && st == CF_OK; i++) st = cf_dataset_get(ds, w0 + i, &b, (int)i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, (int)rows);
        cf_nf_inputs in;
        cf_tensor *beh_t = NULL, *id_t = cf_batch_get(&b, "id_target");
        if (st == CF_OK) st = id_t ? nf_inputs_from_batch(nm, ctx, &b, &in, &beh_t) : cf_last_status();
        if (st == CF_OK) st = head_pass(nm, ctx, &in, cf_data(id_t), rows, r);
        if (st == CF_OK && w0 < Wg) {
            r->grad_windows += rows;
            st = grad_pass(nm, ctx, in, id_t, rows, r);
        }
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, train);
    cf_batch_free(&b);
    if (st != CF_OK) nf_readout_free(r);
    return st;
}

/* AUC (and hub direction accuracy, when dir_key) of a target-major map, normalised by the occurrences. */
static void score(const nf_readout *r, const double *map, const double *w, const int *hubs, int n_hubs, const char *auc_key,
                  const char *dir_key, double *A, cf_metrics *out)
{
    int N = r->N;
    double v;
    memcpy(A, map, sizeof(double) * (size_t)N * (size_t)N);
    cf_attention_normalize(A, r->nt, r->ns, N);
    if (cf_edge_auc(A, w, N, true, &v) == CF_OK) cf_metrics_set(out, auc_key, v);
    if (dir_key && n_hubs > 0 && cf_edge_direction_accuracy(A, w, N, true, hubs, n_hubs, &v, NULL) == CF_OK)
        cf_metrics_set(out, dir_key, v);
    cf_clear_error();
}

void nf_readout_metrics(const nf_readout *r, const double *w, const int *hubs, int n_hubs, const char *prefix,
                        const char *dir_prefix, cf_metrics *out)
{
    int N = r->N;
    size_t nn = (size_t)N * (size_t)N;
    double *A = malloc(sizeof(double) * nn), *M = calloc(nn, sizeof(double)), *X = malloc(sizeof(double) * nn);
    char k1[96], k2[96];
    for (int l = 0; A && M && X && l < r->L; l++) {
        memset(M, 0, sizeof(double) * nn);
        for (int h = 0; h < r->H; h++) {
            const double *map = r->heads + (size_t)(l * r->H + h) * nn;
            snprintf(k1, sizeof k1, "%s_l%dh%d", prefix, l, h);
            score(r, map, w, hubs, n_hubs, k1, NULL, A, out);
            for (size_t i = 0; i < nn; i++) M[i] += map[i] / r->H;
        }
        snprintf(k1, sizeof k1, "%s_layer%d", prefix, l);
        score(r, M, w, hubs, n_hubs, k1, NULL, A, out);
    }
    /* the elementwise maximum of the heads' normalised maps, over every layer */
    for (int lh = 0; A && M && X && lh < r->L * r->H; lh++) {
        memcpy(X, r->heads + (size_t)lh * nn, sizeof(double) * nn);
        cf_attention_normalize(X, r->nt, r->ns, N);
        for (size_t i = 0; i < nn; i++) M[i] = lh == 0 || X[i] > M[i] ? X[i] : M[i];
    }
    if (A && M && X && r->L > 0) {
        /* already normalised: score through a copy with unit counts */
        double v;
        snprintf(k1, sizeof k1, "%s_headmax", prefix);
        if (cf_edge_auc(M, w, N, true, &v) == CF_OK) cf_metrics_set(out, k1, v);
        snprintf(k2, sizeof k2, "%s_headmax", dir_prefix);
        if (n_hubs > 0 && cf_edge_direction_accuracy(M, w, N, true, hubs, n_hubs, &v, NULL) == CF_OK) cf_metrics_set(out, k2, v);
        snprintf(k1, sizeof k1, "%s_grad", prefix);
        snprintf(k2, sizeof k2, "%s_grad", dir_prefix);
        if (r->grad_windows > 0) {
            score(r, r->grad, w, hubs, n_hubs, k1, k2, A, out);
            snprintf(k1, sizeof k1, "%s_grad_abs", prefix);
            score(r, r->grad_abs, w, hubs, n_hubs, k1, NULL, A, out);
        }
        cf_clear_error();
    }
    free(A), free(M), free(X);
}
