/* 3-D detection metrics on the bird's-eye view: the IoU of two rotated rectangles, rotated-box NMS, and
 * average precision per class with its heading-weighted twin APH (Waymo's metric, Sun et al., "Scalability in
 * Perception for Autonomous Driving: Waymo Open Dataset", CVPR 2020, section 5.1: each true positive weighted
 * by 1 - min(|dθ|, 2π - |dθ|) / π), as FlatFormer reports them (Liu et al., CVPR 2023, section 4).
 *
 *     cf_det_ap ap;  cf_det_ap_init(&ap, 0.5);
 *     for each frame: cf_det_ap_add(&ap, dets, ndet, &gt_boxes);   // dets carry class and score
 *     double a = cf_det_ap_value(&ap, CF_PC_CAR, false), aph = cf_det_ap_value(&ap, CF_PC_CAR, true);
 *     cf_det_ap_free(&ap);
 *
 * AP is the area under the interpolated precision-recall curve (precision made monotone from the right, the
 * all-points VOC / Waymo integral). A class with no ground truth has AP NaN (reported as null). */
#ifndef CF_PC_DETECT_H
#define CF_PC_DETECT_H

#include "data/pointcloud/pointcloud.h"

typedef struct cf_det {
    cf_box3d box; /* box.cls: the class */
    float score;
} cf_det;

/* BEV IoU of two boxes (their rotated footprints; heights ignored). */
double cf_bev_iou(const cf_box3d *a, const cf_box3d *b);
/* Rotated NMS per class: sorts dets by score (descending) and keeps a box unless it overlaps a kept box of
 * its class with BEV IoU > thr; at most max_keep kept. Returns the count kept (dets compacted in place). */
int cf_det_nms(cf_det *dets, int n, double thr, int max_keep);

typedef struct cf_det_ap {
    double iou;
    int64_t ngt[CF_PC_NCLASS];
    int64_t n, cap;
    struct cf_det_match { int cls; float score; float tp, heading; } *m; /* one per detection */
} cf_det_ap;
void cf_det_ap_init(cf_det_ap *ap, double iou);
/* Matches one frame's detections to its ground truth greedily by score (each ground truth at most once,
 * the unmatched one with the highest IoU >= iou). */
cf_status cf_det_ap_add(cf_det_ap *ap, const cf_det *dets, int n, const cf_boxes *gt);
double cf_det_ap_value(const cf_det_ap *ap, int cls, bool heading);
void cf_det_ap_free(cf_det_ap *ap);

#endif
