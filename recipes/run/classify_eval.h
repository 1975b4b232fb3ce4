/* Classification evaluation for image (or any) classifiers: top-1 and top-5 accuracy, per-class accuracy and
 * the confusion matrix, accumulated batch by batch and written into eval.json. A paper's evaluate() feeds
 * it logits; its write_eval() writes it.
 *
 * Ranking: the rank of the true class is the number of classes whose logit is strictly greater, plus
 * those equal to it with a smaller index (ties broken by index, so a constant output predicts class 0).
 * Top-k is rank < k (k >= classes: every item counts). The prediction is the rank-0 class.
 * confusion[t * classes + p] counts items of true class t predicted as p. A class with no items has
 * per-class accuracy null in the JSON (NaN in memory).
 *
 *     cf_classify_eval e;
 *     cf_classify_eval_init(&e, 10);
 *     for each batch: cf_classify_eval_add(&e, logits, labels, rows);   // logits [rows, 10]
 *     cf_classify_eval_metrics(&e, out);                               // top1, top5 into cf_metrics
 *     cf_classify_eval_write(&e, "eval.json", flat);                   // + per_class_accuracy, confusion
 *     cf_classify_eval_free(&e);
 */
#ifndef CF_CLASSIFY_EVAL_H
#define CF_CLASSIFY_EVAL_H

#include "recipes/run/model.h"

typedef struct cf_classify_eval {
    int classes;
    int64_t n, top1, top5;
    int64_t *confusion; /* classes x classes */
} cf_classify_eval;

cf_status cf_classify_eval_init(cf_classify_eval *e, int classes); /* classes in [1, 100000] */
/* Adds rows items; a label outside [0, classes) is an error naming the row. */
cf_status cf_classify_eval_add(cf_classify_eval *e, const float *logits, const int64_t *labels, int64_t rows);
double cf_classify_eval_class_accuracy(const cf_classify_eval *e, int cls); /* NaN when the class has no items */
/* top1 and top5 (fractions in [0, 1]; NaN with no items) into out. */
void cf_classify_eval_metrics(const cf_classify_eval *e, cf_metrics *out);
/* eval.json: the flat metrics, then top1, top5, count, per_class_accuracy [classes] and confusion
 * [classes][classes]; written atomically. */
cf_status cf_classify_eval_write(const cf_classify_eval *e, const char *path, const cf_metrics *flat);
void cf_classify_eval_free(cf_classify_eval *e);

#endif
