/* InterFormer in the trainer (Huang et al., ICCV 2023): `model.type: interformer` over `data.type: scenes`.
 * Keys: recipes/interformer/README.md. */
#ifndef CF_RECIPES_INTERFORMER_INTERNAL_H
#define CF_RECIPES_INTERFORMER_INTERNAL_H

#include "data/scenes/scenes.h"
#include "layers/interformer.h"
#include "layers/interformer_clicks.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_interformer_model;

/* `data.type: scenes` (data/scenes/scenes.h): item i gives
 *     image f32 [rows, 3, S, S]  normalised with the paper's ImageNet statistics (mean 123.675, 116.28, 103.53;
 *                                std 58.395, 57.12, 57.375 on 0..255)
 *     mask  f32 [rows, 1, S, S]  one object's mask (0/1), the object drawn from (seed, index, epoch) on the
 *                                training split and from (seed, index) on the others
 * info: frame_h = frame_w = S, channels = 3, vocab = 2. */
cf_dataset *cf_scenes_factory(void *recipe_like, const char *split);
int cf_interformer_scenes_cmd(int argc, char **argv);

/* The click protocol of one run (model.* and eval.* keys). */
typedef struct cf_if_protocol {
    int radius;              /* click disk radius in pixels */
    int64_t train_clicks;    /* most clicks a training sample gets (first + iterative rounds) */
    double decay;            /* P(n rounds) ~ decay^n */
    double inner_ratio;      /* k of the training clicks after the first */
    bool iterative;          /* false: the ablation without iterative rounds (n = 0 always) */
    int64_t eval_clicks;     /* clicks per evaluated sample (the NoC cap) */
    int64_t eval_samples;    /* 0: the whole split */
    double alpha, gamma;     /* NFL */
} cf_if_protocol;

typedef struct cf_if_model {
    cf_model base;
    cf_interformer net;
    cf_if_protocol proto;
    /* scratch of the click simulation, allocated at the first batch and reused */
    int rows, side;
    uint8_t *ref, *pred, *gt;
    int64_t *ref_ids;
    cf_if_clicker *clicker;
    /* the last evaluation (for write_eval) */
    double *miou;            /* [eval_clicks] */
    double noc85, noc90, success85, success90, click_ms, backbone_ms;
    int64_t samples;
} cf_if_model;

cf_status cf_if_scratch(cf_if_model *m, int rows, int side);
/* Thresholds the logits z [rows, 1, S, S] into m->pred (z > 0). */
void cf_if_predict(cf_if_model *m, const cf_tensor *z, int rows);
/* The reference maps m->ref as the i64 tensor the network reads. */
cf_tensor *cf_if_ref_tensor(cf_if_model *m, cf_ctx *ctx, int rows);

/* The paper's evaluation protocol on one image (Sec. 4.1): backbone once, then `clicks` rounds of click (k = 1) ->
 * neck + head -> IoU -> reference-map drift; iou[t] is the IoU after click t + 1. The times of the backbone and of
 * the per-click decode (seconds) are added to *t_backbone and *t_click. */
cf_status cf_if_eval_image(cf_if_model *m, cf_ctx *ctx, cf_tensor *image, const cf_tensor *mask, int64_t clicks,
                           uint64_t item, double *iou, double *t_backbone, double *t_click);
cf_status cf_interformer_evaluate(cf_model *mb, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
cf_status cf_interformer_write_eval(cf_model *mb, const char *path, const cf_metrics *flat);

#endif
