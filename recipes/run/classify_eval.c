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
