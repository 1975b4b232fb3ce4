/* FlatFormer in the trainer (Liu et al., CVPR 2023): `model.type: flatformer` over `data.type: lidar` (KITTI-layout
 * scans and labels, or the synthetic LiDAR scenes). model.mode picks the encoder: flatformer (equal-size groups,
 * axes x / x-shift / y / y-shift), no-shift (the ablation: x only, never shifted) or window-padded (SST-style
 * windows padded to their bucket). Keys and results: recipes/flatformer/README.md.
 *
 * Keys read by create:
 *   model.mode, model.dim, model.heads, model.layers, model.group, model.window, model.vfe_hidden,
 *   model.head_dim, model.stride, model.range ([xmin, ymin, zmin, xmax, ymax, zmax] metres), model.pillar,
 *   model.reg_weight;
 *   eval.score_thr, eval.nms_iou ([car, pedestrian, cyclist]), eval.max_dets, eval.iou. */
#ifndef CF_RECIPES_FLATFORMER_MODEL_H
#define CF_RECIPES_FLATFORMER_MODEL_H

#include "recipes/run/model.h"

extern const cf_model_vtable cf_flatformer_model;
/* `model.type: flatformer-cls`: the same pillars, VFE and encoder (model.mode, dim, heads, layers, group, window,
 * vfe_hidden, range, pillar), a global max-pool over each cloud's pillars and a linear layer to the classes of
 * `data.type: pointcloud-cls` (recipes/flatformer/cls_model.c). */
extern const cf_model_vtable cf_flatformer_cls_model;

cf_status cf_flatformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
cf_status cf_flatformer_write_eval(cf_model *m, const char *path, const cf_metrics *flat);

#endif
