/* EcoFormer's evaluation of a split (Liu et al., NeurIPS 2022): top-1 accuracy, the hash AUCs of every hashed
 * layer on the first eval.auc_rows rows (how often a query's top-k cosine neighbours at that layer get larger
 * code inner products than its other tokens, hash_auc, or than its bottom-k, hash_auc_bottom; 0.5 is chance;
 * and KSH's objective ||Y Y^T - b S0||^2 / (b N)^2 on those rows, hash_ksh; layers/ecoformer.h, cf_hash_auc),
 * how concentrated every layer's attention is on those rows, softmax or binary alike (attn_top5 / attn_top16: a
 * query's mean weight on its 5 / 16 largest; attn_entropy, with attn_entropy_uniform = ln N; attn_peak, the mean
 * ln(largest / median weight), 0 for uniform weights; attn_top5_cap /
 * attn_top16_cap: the most a bounded kernel allows, R k / (R k + N - k) with R its weights' ratio bound;
 * cf_attn_focus_*),
 * and the counted multiplications, additions and energy per image of Sec. 4's energy model (attention alone and
 * the whole network). */
#include "recipes/ecoformer/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int64_t cf_eco_correct(const cf_tensor *logits, const cf_tensor *label)
{
    int64_t right = 0, B = label->shape[0], K = logits->shape[1];
    for (int64_t i = 0; i < B; i++) {
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (cf_get_flat(logits, i * K + k) > cf_get_flat(logits, i * K + best)) best = k;
        right += best == (int64_t)cf_get_flat(label, i);
    }
    return right;
}

/* R k / (R k + N - k) with k <= N: the largest mass k of N weights can have when their ratio is at most R. */
static double top_cap(double R, double k, double N)
{
    k = k < N ? k : N;
    return R * k / (R * k + N - k);
}

/* K metrics summed per layer (sum[K * l + k], l < L) over weight: each layer's as NAME_layerL, their mean as NAME */
static void set_layer_metrics(cf_metrics *out, const char *const *names, int K, const double *sum, int64_t L,
                              double weight)
{
    for (int k = 0; k < K; k++) {
        double mean = 0;
        for (int64_t l = 0; l < L; l++) {
            char name[48];
            snprintf(name, sizeof name, "%s_layer%d", names[k], (int)l);
            cf_metrics_set(out, name, sum[K * l + k] / weight);
            mean += sum[K * l + k] / weight / (double)L;
        }
        cf_metrics_set(out, names[k], mean);
    }
}

cf_status cf_ecoformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_eco_classifier *m = cf_eco_classifier_of(mb);
    cf_dataset *ds = in->split;
    int64_t L = m->cfg.layers;
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    cf_eco_probe *probes = calloc((size_t)L, sizeof *probes);
    double *auc = calloc((size_t)(3 * L), sizeof *auc), auc_weight = 0; /* per layer: vs rest, vs bottom, ksh */
    double *focus = calloc((size_t)(4 * L), sizeof *focus), focus_weight = 0; /* per layer: top5, top16, entropy, peak */
    bool focused = !m->cfg.attn.hashed || !m->cfg.attn.code_compat; /* weights that are a distribution */
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    int64_t right = 0, seen = 0;
    cf_status st = probes && auc && focus ? CF_OK : cf_set_error(CF_ERR_OOM, "ecoformer eval: out of memory");
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st != CF_OK) break;
        cf_tensor *label = cf_batch_get(&b, "label");
        cf_tensor *logits = cf_eco_classifier_logits(ctx, m, cf_batch_get(&b, "pixels"), probes);
        if (!logits || !label) {
            st = cf_last_status();
            break;
        }
        right += cf_eco_correct(logits, label), seen += n;
        if (m->cfg.attn.hashed && at < m->cfg.auc_rows) {
            for (int64_t l = 0; l < L; l++) {
                cf_hash_auc_result a = cf_hash_auc(probes[l].qk, probes[l].codes, m->cfg.learn.topk);
                auc[3 * l] += n * a.vs_rest, auc[3 * l + 1] += n * a.vs_bottom, auc[3 * l + 2] += n * a.ksh;
            }
            auc_weight += n;
        }
        if (focused && at < m->cfg.auc_rows) {
            for (int64_t l = 0; l < L; l++) {
                cf_attn_focus f = m->cfg.attn.hashed ? cf_attn_focus_binary(probes[l].codes, 5, 16)
                                  : cf_attn_focus_softmax(probes[l].q, probes[l].k, m->cfg.attn.logit_bound, 5, 16);
                focus[4 * l] += n * f.top_small, focus[4 * l + 1] += n * f.top_large, focus[4 * l + 2] += n * f.entropy;
                focus[4 * l + 3] += n * f.peak;
            }
            focus_weight += n;
        }
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st == CF_OK) {
        cf_metrics_set(out, "accuracy", (double)right / (double)seen);
        cf_metrics_set(out, "images", (double)seen);
        static const char *const names[3] = {"hash_auc", "hash_auc_bottom", "hash_ksh"};
        if (auc_weight > 0) set_layer_metrics(out, names, 3, auc, L, auc_weight);
        static const char *const fnames[4] = {"attn_top5", "attn_top16", "attn_entropy", "attn_peak"};
        if (focus_weight > 0) set_layer_metrics(out, fnames, 4, focus, L, focus_weight);
        if (focus_weight > 0) {
            double N = (double)m->cfg.seq, R = m->cfg.attn.hashed ? 2.0 * (double)m->cfg.attn.bits + 1
                                                : m->cfg.attn.logit_bound > 0 ? exp(m->cfg.attn.logit_bound) : 0;
            cf_metrics_set(out, "attn_entropy_uniform", log(N));
            if (R > 0) {
                cf_metrics_set(out, "attn_top5_cap", top_cap(R, 5, N));
                cf_metrics_set(out, "attn_top16_cap", top_cap(R, 16, N));
            }
        }
        if (m->cfg.attn.hashed) cf_metrics_set(out, "hash_learned", cf_kernel_hash_learned(&m->attn[0].hash));
        cf_attn_cost a = cf_eco_classifier_cost(m, true), all = cf_eco_classifier_cost(m, false);
        cf_metrics_set(out, "attn_muls", a.muls);
        cf_metrics_set(out, "attn_adds", a.adds);
        cf_metrics_set(out, "attn_energy_pj", a.energy_pj);
        cf_metrics_set(out, "muls", all.muls);
        cf_metrics_set(out, "adds", all.adds);
        cf_metrics_set(out, "energy_pj", all.energy_pj);
    }
    free(probes), free(auc), free(focus);
    return st;
}
