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

/* A classifier's forward: images f32 [B, C, H, W] -> logits [B, classes] (on ctx's tape or not). */
typedef cf_tensor *(*cf_classify_logits_fn)(cf_model *m, cf_ctx *ctx, cf_tensor *images);
/* Runs fn over every item of ds (batches of `batch_size` rows of the `images` and `labels` fields, eval mode,
 * no gradient, the step arena reset after each batch) and adds the logits to e. */
cf_status cf_classify_eval_dataset(cf_classify_eval *e, cf_model *m, cf_ctx *ctx, cf_dataset *ds, int64_t batch_size,
                                   cf_classify_logits_fn fn);

/* The shared part of an image classifier model (data.type: images or a paper's image dataset): a paper's
 * model struct starts with it and sets logits and classes in create; its vtable uses the functions below.
 *   loss      soft-target cross entropy on the batch's `targets` (mixup, cutmix, smoothing), metric `acc`
 *             (top-1 against the items' own labels)
 *   evaluate  top1, top5, per-class accuracy and the confusion matrix of in->split (kept for write_eval)
 *
 *     typedef struct { cf_image_classifier clf; my_net net; } my_model;
 *     m->clf.base.vt = &my_vtable; m->clf.logits = my_logits; m->clf.classes = info->vocab;
 *     const cf_model_vtable my_vtable = {.loss = cf_image_classifier_loss, .items = cf_image_classifier_items,
 *         .evaluate = cf_image_classifier_evaluate, .write_eval = cf_image_classifier_write_eval, ...};
 *     free: cf_image_classifier_release(&m->clf), then the paper's own parts */
typedef struct cf_image_classifier {
    cf_model base;
    cf_classify_logits_fn logits;
    int classes;
    cf_classify_eval last; /* the last evaluation */
} cf_image_classifier;
cf_tensor *cf_image_classifier_loss(cf_model *m, cf_ctx *ctx, const cf_batch *b, cf_metrics *out);
int64_t cf_image_classifier_items(cf_model *m, const cf_batch *b);
cf_status cf_image_classifier_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
cf_status cf_image_classifier_write_eval(cf_model *m, const char *path, const cf_metrics *flat);
void cf_image_classifier_release(cf_image_classifier *c);

#endif
