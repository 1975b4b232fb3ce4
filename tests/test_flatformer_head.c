/* FlatFormer's detection side against hand-computed cases:
 *  - the BEV IoU of rotated rectangles (data/pointcloud/detect.h): identical, shifted, swapped-and-turned,
 *    a square against itself turned 45 degrees (the octagon: IoU = 1 / sqrt 2), disjoint;
 *  - rotated NMS keeps per class; AP with the precision made monotone and APH's heading weight
 *    (1 - |dθ| / π, Waymo's metric) on a frame whose curve is worked out by hand;
 *  - CenterPoint's loss (layers/flatformer.h) on a 1 x 2 map: the Gaussian focal loss at p = 1/2 and the L1 term;
 *  - decoding (recipes/flatformer/eval.c): a peak's offsets, height, log sizes and (sin, cos) heading come back
 *    as the box they encode, for headings in all four quadrants (the rotation pitfall users hit). */
#include "recipes/flatformer/internal.h"

#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_box3d box(int cls, double x, double y, double l, double w, double yaw)
{
    return (cf_box3d){cls, (float)x, (float)y, 0, (float)l, (float)w, 1.5f, (float)yaw};
}

static void test_bev_iou(void)
{
    cf_box3d a = box(0, 0, 0, 2, 2, 0), b = box(0, 1, 0, 2, 2, 0);
    CHECK_NEAR(cf_bev_iou(&a, &a), 1.0, 1e-9);
    CHECK_NEAR(cf_bev_iou(&a, &b), 2.0 / 6.0, 1e-6); /* overlap 1 x 2, union 4 + 4 - 2 */
    cf_box3d c = box(0, 0.5, -0.5, 4, 2, 0), d = box(0, 0.5, -0.5, 2, 4, CF_PC_PI / 2);
    CHECK_NEAR(cf_bev_iou(&c, &d), 1.0, 1e-6);
    cf_box3d e = box(0, 0, 0, 2, 2, CF_PC_PI / 4);
    CHECK_NEAR(cf_bev_iou(&a, &e), 1.0 / sqrt(2.0), 1e-6); /* octagon 8 (sqrt 2 - 1) over 8 - that */
    cf_box3d f = box(0, 3, 0, 2, 2, 0.3);
    CHECK_NEAR(cf_bev_iou(&a, &f), 0.0, 0);
    CHECK_NEAR(cf_bev_iou(&a, &b), cf_bev_iou(&b, &a), 1e-12);
}

static void test_nms(void)
{
    cf_det d[4] = {
        {box(0, 0.2, 0, 4, 2, 0), 0.8f}, /* overlaps the best car: IoU 0.9 -> suppressed */
        {box(0, 0, 0, 4, 2, 0), 0.9f},
        {box(1, 0, 0, 4, 2, 0), 0.7f},   /* same place, other class: kept */
        {box(0, 10, 0, 4, 2, 0), 0.6f},  /* far: kept */
    };
    int k = cf_det_nms(d, 4, 0.5, 10);
    CHECK(k == 3, "kept %d", k);
    CHECK(d[0].score == 0.9f && d[1].score == 0.7f && d[2].score == 0.6f);
    cf_det e[2] = {{box(0, 0.2, 0, 4, 2, 0), 0.8f}, {box(0, 0, 0, 4, 2, 0), 0.9f}};
    CHECK(cf_det_nms(e, 2, 0.95, 10) == 2); /* IoU 0.9 is under a 0.95 threshold */
    CHECK(cf_det_nms(d, 3, 0.5, 1) == 1);   /* max_keep */
}

static void test_ap(void)
{
    cf_boxes gt = {0};
    cf_box3d g1 = box(0, 0, 0, 4, 2, 0), g2 = box(0, 10, 0, 4, 2, 0), p1 = box(1, 0, 5, 1, 1, 0);
    CHECK(cf_boxes_push(&gt, &g1) == CF_OK && cf_boxes_push(&gt, &g2) == CF_OK && cf_boxes_push(&gt, &p1) == CF_OK);
    cf_det d[4] = {
        {box(0, 0, 0, 4, 2, 0), 0.9f},                /* TP on g1, heading exact */
        {box(0, 0, 0, 4, 2, 0), 0.85f},               /* a duplicate of g1: FP */
        {box(0, 20, 0, 4, 2, 0), 0.8f},               /* nothing there: FP */
        {box(0, 10, 0, 4, 2, CF_PC_PI / 2 + 1e-3), 0.7f}, /* TP on g2 by IoU? a turned 4 x 2 box: IoU 1/3 */
    };
    cf_det_ap ap;
    cf_det_ap_init(&ap, 0.3);
    CHECK(cf_det_ap_add(&ap, d, 4, &gt) == CF_OK);
    CHECK(ap.ngt[0] == 2 && ap.ngt[1] == 1 && ap.ngt[2] == 0);
    /* ranks: TP FP FP TP -> precision 1, 1/2, 1/3, 1/2; recall 1/2, 1/2, 1/2, 1; monotone precision 1, 1/2, 1/2,
     * 1/2: AP = 1/2 x 1 + 1/2 x 1/2 = 0.75. APH: the last TP weighs 1 - (π/2) / π = 1/2: tp 1, 1, 1, 1.5,
     * precision 1, 1/2, 1/3, 3/8, recall 1/2 .. 3/4: APH = 1/2 + 1/4 x 3/8 */
    CHECK_NEAR(cf_det_ap_value(&ap, 0, false), 0.75, 1e-6);
    CHECK_NEAR(cf_det_ap_value(&ap, 0, true), 0.5 + 0.25 * 0.375, 1e-3);
    CHECK_NEAR(cf_det_ap_value(&ap, 1, false), 0.0, 0); /* a pedestrian never detected */
    CHECK(isnan(cf_det_ap_value(&ap, 2, false)));       /* no cyclist ground truth */
    cf_det_ap_free(&ap);
    /* at IoU 0.5 the turned box no longer matches: precision 1 at recall 1/2, nothing after -> 0.5 */
    cf_det_ap_init(&ap, 0.5);
    CHECK(cf_det_ap_add(&ap, d, 4, &gt) == CF_OK);
    CHECK_NEAR(cf_det_ap_value(&ap, 0, false), 0.5, 1e-6);
    cf_det_ap_free(&ap);
    cf_boxes_free(&gt);
}

static void test_center_loss(cf_ctx *c)
{
    /* logits 0 (p = 1/2) on [1, 11, 1, 2]; one car centre at cell 0. Focal terms: the centre -(1/2)^2 log(1/2),
     * the 5 other cells (target 0, weight 1) -(1/2)^2 log(1/2) each: 6 x ln 2 / 4 over 1 object. Box: the
     * predicted 0 against targets 1: mean L1 = 1, weighted 2. */
    cf_tensor *pred = cf_zeros(c, CF_F64, CF_SHAPE(1, CF_FF_HEAD_OUT, 1, 2));
    cf_tensor *heat = cf_zeros(c, CF_F64, CF_SHAPE(1, CF_FF_NCLASS, 1, 2));
    cf_set_flat(heat, 0, 1.0);
    int64_t cell = 0;
    cf_tensor *cells = cf_from_data(c, CF_I64, CF_SHAPE(1), &cell);
    cf_tensor *bx = cf_full(c, CF_F64, CF_SHAPE(1, 8), 1.0);
    double lh = -1, lb = -1;
    cf_tensor *l = cf_ff_center_loss(c, pred, heat, cells, bx, 2.0, &lh, &lb);
    CHECK(l != NULL);
    CHECK_NEAR(lh, 1.5 * log(2.0), 1e-9);
    CHECK_NEAR(lb, 1.0, 1e-12);
    CHECK_NEAR(l ? cf_get_flat(l, 0) : 0, 1.5 * log(2.0) + 2.0, 1e-9);
    /* a Gaussian target 0.5 off the centre weighs its negative term by (1 - 0.5)^4 */
    cf_set_flat(heat, 1, 0.5);
    cf_ff_center_loss(c, pred, heat, cells, bx, 2.0, &lh, &lb);
    CHECK_NEAR(lh, (5 + 0.0625) * 0.25 * log(2.0), 1e-9);
    cf_step_reset(c);
}

static void test_decode(cf_ctx *c)
{
    ff_model m;
    memset(&m, 0, sizeof m);
    cf_ff_grid_init(&m.grid, -4, -4, -3, 4, 4, 1, 0.5f); /* 16 x 16 pillars */
    m.head.stride = 2;                                   /* 8 x 8 cells of 1 m */
    m.score_thr = 0.3, m.max_dets = 10;
    m.nms_thr[0] = m.nms_thr[1] = m.nms_thr[2] = 0.5;
    const double yaws[4] = {0.3, 2.0, -2.5, -0.7};
    for (int q = 0; q < 4; q++) {
        cf_tensor *pred = cf_full(c, CF_F32, CF_SHAPE(1, CF_FF_HEAD_OUT, 8, 8), -5.0);
        int64_t HW = 64, at = 3 * 8 + 5; /* y 3, x 5 */
        const int cls = q % 3;
        cf_set_flat(pred, cls * HW + at, 2.0);
        const double r[8] = {0.25, 0.75, -1.2, log(4.2), log(1.8), log(1.5), sin(yaws[q]), cos(yaws[q])};
        for (int k = 0; k < 8; k++) cf_set_flat(pred, (CF_FF_NCLASS + k) * HW + at, r[k]);
        cf_det d[16];
        int n = ff_decode(&m, pred, 0, d, 16);
        CHECK(n == 1, "heading %g: %d boxes", yaws[q], n);
        if (n != 1) continue;
        CHECK(d[0].box.cls == cls);
        CHECK_NEAR(d[0].score, 1 / (1 + exp(-2.0)), 1e-6);
        CHECK_NEAR(d[0].box.x, -4 + 5.25, 1e-5);
        CHECK_NEAR(d[0].box.y, -4 + 3.75, 1e-5);
        CHECK_NEAR(d[0].box.z, -1.2, 1e-6);
        CHECK_NEAR(d[0].box.l, 4.2, 1e-5);
        CHECK_NEAR(d[0].box.w, 1.8, 1e-5);
        CHECK_NEAR(d[0].box.h, 1.5, 1e-5);
        CHECK_NEAR(d[0].box.yaw, yaws[q], 1e-5);
        cf_step_reset(c);
    }
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    if (!c) return 1;
    RUN(test_bev_iou);
    RUN(test_nms);
    RUN(test_ap);
    test_center_loss(c);
    test_decode(c);
    cf_ctx_free(c);
    TEST_MAIN_END();
}
