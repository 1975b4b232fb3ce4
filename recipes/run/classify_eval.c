/* Classification metrics (contract in classify_eval.h). */
#include "recipes/run/classify_eval.h"

#include "autograd/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_status cf_classify_eval_init(cf_classify_eval *e, int classes)
{
    memset(e, 0, sizeof *e);
    if (classes < 1 || classes > 100000) return cf_set_error(CF_ERR_ARG, "classification eval: %d classes, expected 1..100000", classes);
    e->confusion = calloc((size_t)classes * classes, sizeof *e->confusion);
    if (!e->confusion) return cf_set_error(CF_ERR_OOM, "classification eval: out of memory for a %d x %d confusion matrix", classes, classes);
    e->classes = classes;
    return CF_OK;
}

cf_status cf_classify_eval_add(cf_classify_eval *e, const float *logits, const int64_t *labels, int64_t rows)
{
    int K = e->classes;
    for (int64_t r = 0; r < rows; r++)
        if (labels[r] < 0 || labels[r] >= K)
            return cf_set_error(CF_ERR_ARG, "classification eval: row %lld has label %lld, outside [0, %d)", (long long)r,
                                (long long)labels[r], K);
    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * K;
        int t = (int)labels[r], pred = 0, rank = 0;
        for (int k = 0; k < K; k++) {
            if (z[k] > z[t] || (z[k] == z[t] && k < t)) rank++;
            if (z[k] > z[pred]) pred = k;
        }
        e->n++;
        e->top1 += rank < 1, e->top5 += rank < 5;
        e->confusion[(size_t)t * K + pred]++;
    }
    return CF_OK;
}

double cf_classify_eval_class_accuracy(const cf_classify_eval *e, int cls)
{
    int64_t total = 0;
    for (int p = 0; p < e->classes; p++) total += e->confusion[(size_t)cls * e->classes + p];
    return total ? (double)e->confusion[(size_t)cls * e->classes + cls] / (double)total : NAN;
}

void cf_classify_eval_metrics(const cf_classify_eval *e, cf_metrics *out)
{
    cf_metrics_set(out, "top1", e->n ? (double)e->top1 / (double)e->n : NAN);
    cf_metrics_set(out, "top5", e->n ? (double)e->top5 / (double)e->n : NAN);
}

cf_status cf_classify_eval_write(const cf_classify_eval *e, const char *path, const cf_metrics *flat)
{
    cf_json j;
    CF_TRY(cf_json_open(&j, path));
    cf_json_object(&j);
    for (int i = 0; flat && i < flat->n; i++)
        if (strcmp(flat->name[i], "top1") != 0 && strcmp(flat->name[i], "top5") != 0) cf_json_kv_number(&j, flat->name[i], flat->value[i]);
    cf_json_kv_number(&j, "top1", e->n ? (double)e->top1 / (double)e->n : NAN);
    cf_json_kv_number(&j, "top5", e->n ? (double)e->top5 / (double)e->n : NAN);
    cf_json_kv_int(&j, "count", e->n);
    cf_json_key(&j, "per_class_accuracy");
    cf_json_array(&j);
    for (int k = 0; k < e->classes; k++) cf_json_number(&j, cf_classify_eval_class_accuracy(e, k));
    cf_json_end(&j);
    cf_json_key(&j, "confusion");
    cf_json_array(&j);
    for (int t = 0; t < e->classes; t++) {
        cf_json_array(&j);
        for (int p = 0; p < e->classes; p++) cf_json_int(&j, e->confusion[(size_t)t * e->classes + p]);
        cf_json_end(&j);
    }
    cf_json_end(&j);
    cf_json_end(&j);
    return cf_json_commit(&j);
}

void cf_classify_eval_free(cf_classify_eval *e)
{
    free(e->confusion);
    memset(e, 0, sizeof *e);
}

cf_status cf_classify_eval_dataset(cf_classify_eval *e, cf_model *m, cf_ctx *ctx, cf_dataset *ds, int64_t batch_size,
                                   cf_classify_logits_fn fn)
{
    int rows = (int)(batch_size < ds->len ? batch_size : ds->len);
    if (rows < 1) return cf_set_error(CF_ERR_ARG, "classification eval: %s is empty", ds->name);
    cf_batch b = {0};
    CF_TRY(cf_dataset_make_batch(ds, rows, &b));
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    cf_status st = CF_OK;
    for (int64_t at = 0; at < ds->len && st == CF_OK; at += rows) {
        int n = (int)(ds->len - at < rows ? ds->len - at : rows);
        for (int i = 0; i < n && st == CF_OK; i++) st = cf_dataset_get(ds, at + i, &b, i);
        if (st == CF_OK) st = cf_batch_set_rows(&b, n);
        if (st != CF_OK) break;
        cf_tensor *img = cf_batch_get(&b, "images"), *lab = cf_batch_get(&b, "labels");
        if (!img || !lab) {
            st = cf_set_error(CF_ERR_ARG, "classification eval: %s gives no images and labels (use an image dataset)", ds->name);
            break;
        }
        cf_tensor *lg = fn(m, ctx, img);
        if (lg) lg = cf_contiguous(ctx, cf_cast(ctx, lg, CF_F32));
        if (!lg) st = cf_last_status();
        else if (lg->ndim != 2 || lg->shape[0] != n || lg->shape[1] != e->classes)
            st = cf_set_error(CF_ERR_SHAPE, "classification eval: logits are not [%d, %d]", n, e->classes);
        else st = cf_classify_eval_add(e, cf_data(lg), cf_data(lab), n);
        cf_step_reset(ctx);
    }
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
    cf_batch_free(&b);
    return st;
}

cf_tensor *cf_image_classifier_loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_image_classifier *m = (cf_image_classifier *)mb;
    cf_tensor *img = cf_batch_get(b, "images"), *tgt = cf_batch_get(b, "targets"), *lab = cf_batch_get(b, "labels");
    if (!img || !tgt || !lab) {
        cf_set_error(CF_ERR_ARG, "%s: the batch has no images, targets and labels (use data.type: images)", mb->vt->name);
        return NULL;
    }
    cf_tensor *lg = m->logits(mb, ctx, img);
    if (!lg) return NULL;
    if (out) {
        int64_t right = 0, B = lg->shape[0], K = lg->shape[1];
        for (int64_t i = 0; i < B; i++) {
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                if (cf_get_flat(lg, i * K + k) > cf_get_flat(lg, i * K + best)) best = k;
            right += best == (int64_t)cf_get_flat(lab, i);
        }
        cf_metrics_set(out, "acc", (double)right / (double)B);
    }
    return cf_cross_entropy(ctx, lg, cf_cast(ctx, tgt, lg->dtype), NULL);
}

int64_t cf_image_classifier_items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "labels");
    return t ? t->shape[0] : 0;
}

cf_status cf_image_classifier_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out)
{
    cf_image_classifier *m = (cf_image_classifier *)mb;
    cf_classify_eval_free(&m->last);
    CF_TRY(cf_classify_eval_init(&m->last, m->classes));
    CF_TRY(cf_classify_eval_dataset(&m->last, mb, ctx, in->split, in->batch_size, m->logits));
    cf_classify_eval_metrics(&m->last, out);
    return CF_OK;
}

cf_status cf_image_classifier_write_eval(cf_model *mb, const char *path, const cf_metrics *flat)
{
    return cf_classify_eval_write(&((cf_image_classifier *)mb)->last, path, flat);
}

void cf_image_classifier_release(cf_image_classifier *c) { cf_classify_eval_free(&c->last); }
