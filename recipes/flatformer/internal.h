/* What the files of recipes/flatformer/ share (not installed). */
#ifndef CF_FLATFORMER_INTERNAL_H
#define CF_FLATFORMER_INTERNAL_H

#include "data/pointcloud/detect.h"
#include "layers/flatformer.h"
#include "recipes/flatformer/model.h"

/* Batch fields of the `lidar` dataset, in order. */
enum { FF_POINTS = 0, FF_NPOINTS, FF_BOXES, FF_NBOXES };
/* Batch fields of the `pointcloud-cls` dataset: points and npoints as above, then the class of each cloud. */
enum { FF_CLS_LABELS = 2 };
#define FF_BOX_VALUES 8 /* cls x y z l w h yaw */

typedef struct ff_model {
    cf_model base;
    cf_ff_grid grid;
    cf_ff_vfe vfe;
    cf_ff_encoder enc;
    cf_ff_head head;
    int64_t max_points, max_boxes;
    double reg_weight;
    /* evaluation */
    double score_thr, nms_thr[CF_FF_NCLASS], iou;
    int64_t max_dets;
    /* the last evaluation, for eval.json */
    double ap[CF_FF_NCLASS], aph[CF_FF_NCLASS];
    int64_t gt[CF_FF_NCLASS];
} ff_model;

/* One forward of a batch up to the head: pillars, VFE, encoder (timed), BEV, head. enc_seconds and stats may
 * be NULL. pl receives the pillars. */
cf_tensor *ff_forward(ff_model *m, cf_ctx *ctx, const cf_batch *b, cf_ff_pillars *pl, cf_ff_stats *stats,
                      double *enc_seconds);

/* The encoder keys the detector and the classifier share -- model.mode, dim, heads, layers, group, window,
 * vfe_hidden, range (6 numbers; default dflt_range) and pillar (default dflt_pillar, at least min_pillar) --
 * read into ec, *vfe_hidden and grid and checked (a known mode, dim a multiple of 4 and of the heads, a valid
 * grid). CF_OK, or the recipe's error on the key at fault. */
cf_status ff_encoder_keys(cf_recipe *r, cf_ff_encoder_config *ec, int64_t *vfe_hidden, cf_ff_grid *grid,
                          const double dflt_range[6], double dflt_pillar, double min_pillar);

/* The peaks of a head output frame -> boxes (score >= thr), rotated NMS per class; returns the count. */
int ff_decode(const ff_model *m, const cf_tensor *pred, int frame, cf_det *out, int max);

/* The `lidar` dataset (data.type: lidar) and `cformer data lidar-scenes`, `cformer run pointcloud-bench`, `cformer run flatformer-encoder-bench`. */
cf_dataset *ff_lidar_factory(void *recipe_like, const char *split);
int ff_scenes_cmd(int argc, char **argv);
int ff_scenes_describe(const char *path);
int ff_bench_cmd(int argc, char **argv);
int ff_encoder_bench_cmd(int argc, char **argv);

/* The `pointcloud-cls` dataset (data.type: pointcloud-cls: the synthetic primitives or ModelNet40-layout HDF5
 * files) and `cformer data primitives`. */
cf_dataset *ff_cls_factory(void *recipe_like, const char *split);
int ff_primitives_cmd(int argc, char **argv);
int ff_primitives_describe(const char *path);
/* The classifier's logits [B, classes] of a pointcloud-cls batch (on ctx's tape when gradients are on). */
cf_tensor *ff_cls_logits(cf_model *m, cf_ctx *ctx, const cf_batch *b);

#endif
