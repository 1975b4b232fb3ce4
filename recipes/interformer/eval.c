/* InterFormer's evaluation (Huang et al., ICCV 2023, Sec. 4.1): per image, the backbone once and then up to
 * eval.clicks simulated clicks (k = 1: the point of the largest error region farthest from its border), the neck and
 * head per click on the cached features; the IoU after every click, NoC@85 and NoC@90 (the first click reaching the
 * IoU, the cap when never), the success ratios, and the measured time of a click (neck + head) against a full
 * forward (backbone + neck + head), the paper's real-time argument. */
#include "autograd/clock.h"
#include "autograd/json.h"
#include "recipes/interformer/internal.h"

#include <stdio.h>
#include <stdlib.h>

cf_status cf_if_eval_image(cf_if_model *m, cf_ctx *ctx, cf_tensor *image, const cf_tensor *mask, int64_t clicks,
                           uint64_t item, double *iou, double *t_backbone, double *t_click)
{
    int S = (int)image->shape[2];
    int64_t px = (int64_t)S * S;
    CF_TRY(cf_if_scratch(m, 1, S));
    for (int64_t i = 0; i < px; i++) m->gt[i] = cf_get_flat(mask, i) > 0.5, m->pred[i] = 0;
    cf_if_ref_reset(m->ref, px);
    cf_if_features f;
    double t0 = cf_now();
    CF_TRY(cf_if_backbone(ctx, &m->net, image, &f));
    *t_backbone += cf_now() - t0;
    cf_philox_key key = cf_rng_key(0x1f0c11c7ull, item);
    for (int64_t t = 0; t < clicks; t++) {
        cf_if_click c;
        if (cf_if_next_click(m->clicker, m->gt, m->pred, m->ref, 1.0, key, (uint64_t)t, &c))
            cf_if_ref_click(m->ref, S, S, c, m->proto.radius);
        t0 = cf_now();
        cf_tensor *z = cf_if_decode(ctx, &m->net, &f, cf_if_ref_tensor(m, ctx, 1));
        if (!z) return cf_last_status();
        cf_if_predict(m, z, 1); /* reads the logits: the click's time includes finishing its work */
        *t_click += cf_now() - t0;
        iou[t] = cf_if_iou(m->gt, m->pred, px);
        cf_if_ref_update(m->ref, m->pred, px);
    }
    return CF_OK;
}

cf_status cf_interformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_if_model *m = (cf_if_model *)mb;
    cf_dataset *ds = in->split;
    int64_t T = m->proto.eval_clicks, n = ds->len;
    if (m->proto.eval_samples && m->proto.eval_samples < n) n = m->proto.eval_samples;
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, 1, &b));
    double *iou = calloc((size_t)T, sizeof *iou), tb = 0, tc = 0;
    int64_t noc85 = 0, noc90 = 0, ok85 = 0, ok90 = 0;
    for (int64_t t = 0; t < T; t++) m->miou[t] = 0;
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_status st = iou ? CF_OK : cf_set_error(CF_ERR_OOM, "interformer eval: out of memory");
    for (int64_t i = 0; i < n && st == CF_OK; i++) {
        st = cf_dataset_get(ds, i, &b, 0);
        if (st == CF_OK) {
            cf_tensor *image = cf_batch_get(&b, "image"), *mask = cf_batch_get(&b, "mask");
            st = image && mask ? cf_if_eval_image(m, ctx, image, mask, T, (uint64_t)i, iou, &tb, &tc) : cf_last_status();
        }
        cf_step_reset(ctx);
        if (st != CF_OK) break;
        for (int64_t t = 0; t < T; t++) m->miou[t] += iou[t];
        int a = cf_if_noc(iou, (int)T, 0.85), c = cf_if_noc(iou, (int)T, 0.90);
        noc85 += a, noc90 += c;
        ok85 += iou[a - 1] >= 0.85, ok90 += iou[c - 1] >= 0.90;
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    free(iou);
    if (st != CF_OK) return st;
    for (int64_t t = 0; t < T; t++) m->miou[t] /= (double)n;
    m->samples = n;
    m->noc85 = (double)noc85 / (double)n, m->noc90 = (double)noc90 / (double)n;
    m->success85 = (double)ok85 / (double)n, m->success90 = (double)ok90 / (double)n;
    m->backbone_ms = 1e3 * tb / (double)n, m->click_ms = 1e3 * tc / (double)(n * T);
    cf_metrics_set(out, "noc85", m->noc85);
    cf_metrics_set(out, "noc90", m->noc90);
    cf_metrics_set(out, "success85", m->success85);
    cf_metrics_set(out, "success90", m->success90);
    for (int64_t t = 0; t < T && t < 20; t++) {
        char name[32];
        snprintf(name, sizeof name, "miou_%lld", (long long)(t + 1));
        cf_metrics_set(out, name, m->miou[t]);
    }
    cf_metrics_set(out, "backbone_ms", m->backbone_ms);
    cf_metrics_set(out, "click_ms", m->click_ms);
    cf_metrics_set(out, "click_over_full", m->click_ms / (m->click_ms + m->backbone_ms));
    cf_metrics_set(out, "samples", (double)n);
    return CF_OK;
}

cf_status cf_interformer_write_eval(cf_model *mb, const char *path, const cf_metrics *flat)
{
    const cf_if_model *m = (const cf_if_model *)mb;
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    cf_json_kv_string(&j, "format", "cformer-interformer-eval");
    cf_json_kv_int(&j, "version", 1);
    for (int i = 0; flat && i < flat->n; i++) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    cf_json_kv_int(&j, "clicks", m->proto.eval_clicks);
    cf_json_key(&j, "miou_by_click");
    cf_json_array(&j);
    for (int64_t t = 0; t < m->proto.eval_clicks; t++) cf_json_number(&j, m->miou[t]);
    cf_json_end(&j);
    cf_json_end(&j);
    return cf_json_commit(&j);
}
