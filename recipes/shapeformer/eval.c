/* ShapeFormer's evaluation of a split (Le et al., KDD 2024, Sec. 4: test accuracy), with each class's recall
 * and the balanced accuracy (their mean), which show what the imbalanced training set costs the rare classes. */
#include "recipes/shapeformer/model.h"

#include <stdio.h>
#include <stdlib.h>

cf_tensor *cf_shapeformer_batch_logits(cf_model *mb, cf_ctx *ctx, const cf_batch *b);

int64_t cf_shapeformer_correct(const cf_tensor *logits, const cf_tensor *label, int64_t *confusion, int64_t classes)
{
    int64_t right = 0, B = label->shape[0], K = logits->shape[1];
    for (int64_t i = 0; i < B; i++) {
        int64_t best = 0, truth = (int64_t)cf_get_flat(label, i);
        for (int64_t k = 1; k < K; k++)
            if (cf_get_flat(logits, i * K + k) > cf_get_flat(logits, i * K + best)) best = k;
        right += best == truth;
        if (confusion && truth >= 0 && truth < classes && best < classes) confusion[truth * classes + best]++;
    }
    return right;
}

cf_status cf_shapeformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_dataset *ds = in->split;
    int64_t K = cf_shapeformer_of(mb)->cfg.classes;
    int rows = (int)(in->batch_size < ds->len ? in->batch_size : ds->len);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    int64_t *conf = calloc((size_t)(K * K), sizeof *conf);
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    int64_t right = 0, seen = 0;
    cf_status st = conf ? CF_OK : cf_set_error(CF_ERR_OOM, "shapeformer eval: out of memory");
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st != CF_OK) break;
        cf_tensor *label = cf_batch_get(&b, "label");
        cf_tensor *logits = cf_shapeformer_batch_logits(mb, ctx, &b);
        if (!logits || !label) {
            st = cf_last_status();
            break;
        }
        right += cf_shapeformer_correct(logits, label, conf, K), seen += n;
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    if (st == CF_OK) {
        cf_metrics_set(out, "accuracy", (double)right / (double)seen);
        cf_metrics_set(out, "series", (double)seen);
        double balanced = 0, classes_seen = 0, min_recall = 1;
        for (int64_t k = 0; k < K; k++) {
            int64_t total = 0;
            for (int64_t j = 0; j < K; j++) total += conf[k * K + j];
            if (!total) continue;
            double rec = (double)conf[k * K + k] / (double)total;
            char name[32];
            snprintf(name, sizeof name, "recall_c%lld", (long long)k);
            cf_metrics_set(out, name, rec);
            balanced += rec, classes_seen++;
            if (rec < min_recall) min_recall = rec;
        }
        cf_metrics_set(out, "balanced_accuracy", balanced / classes_seen);
        cf_metrics_set(out, "min_recall", min_recall);
    }
    free(conf);
    return st;
}
