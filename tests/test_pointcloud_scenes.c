/* Synthetic LiDAR scenes and augmentation (data/pointcloud/pointcloud.h): a scene has the stated size
 * (3-10 boxes, thousands of points, returns inside the labelled boxes), is the same for the same seed and
 * index, survives being written as KITTI files and read back; augmentation keeps every point that was inside
 * a box inside the moved box, and its point drop removes about the asked fraction. */
#define CHECK_SHOW_LAST_ERROR
#include "data/pointcloud/pointcloud.h"

#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <stdlib.h>

static int64_t inside(const cf_points *p, const cf_box3d *b, float margin)
{
    int64_t k = 0;
    for (int64_t i = 0; i < p->n; i++) k += cf_box3d_contains(b, p->xyzi[4 * i], p->xyzi[4 * i + 1], p->xyzi[4 * i + 2], margin);
    return k;
}

static void test_scene(void)
{
    cf_lidar_scene_cfg c;
    cf_lidar_scene_cfg_default(&c);
    int64_t total = 0, boxes_hit = 0, boxes = 0;
    for (int s = 0; s < 4; s++) {
        cf_points p;
        cf_boxes b;
        CHECK(cf_lidar_scene(&c, 7, (uint64_t)s, &p, &b) == CF_OK);
        CHECK(b.n >= 3 && b.n <= 10, "scene %d has %d boxes", s, b.n);
        CHECK(p.n > 5000 && p.n < 16384, "scene %d has %lld points", s, (long long)p.n);
        total += p.n;
        for (int i = 0; i < b.n; i++) {
            boxes++;
            boxes_hit += inside(&p, &b.b[i], 0.05f) > 0;
            CHECK(fabsf(b.b[i].x) <= c.half && fabsf(b.b[i].y) <= c.half);
        }
        for (int64_t i = 0; i < p.n; i++)
            if (fabsf(p.xyzi[4 * i]) > c.half || p.xyzi[4 * i + 3] < 0 || p.xyzi[4 * i + 3] > 1) {
                CHECK(0, "point %lld outside the scene or intensity out of [0, 1]", (long long)i);
                break;
            }
        cf_points p2;
        cf_boxes b2;
        CHECK(cf_lidar_scene(&c, 7, (uint64_t)s, &p2, &b2) == CF_OK);
        CHECK(p2.n == p.n && !memcmp(p2.xyzi, p.xyzi, (size_t)p.n * 16) && b2.n == b.n, "same seed, same scene");
        cf_points_free(&p2);
        cf_boxes_free(&b2);
        cf_points_free(&p);
        cf_boxes_free(&b);
    }
    /* most objects are seen (some hide behind others or clutter) */
    CHECK(boxes_hit * 10 >= boxes * 7, "%lld of %lld boxes have returns", (long long)boxes_hit, (long long)boxes);
    printf("4 scenes: %lld points, %lld of %lld boxes hit\n", (long long)total, (long long)boxes_hit, (long long)boxes);
}

static void test_written(void)
{
    cf_lidar_scene_cfg c;
    cf_lidar_scene_cfg_default(&c);
    CHECK(cf_lidar_scenes_write(test_dir, &c, 3, 2) == CF_OK);
    cf_points p, q;
    cf_boxes b, r;
    CHECK(cf_lidar_scene(&c, 3, 1, &p, &b) == CF_OK);
    cf_kitti_calib cal;
    CHECK(cf_kitti_calib_read(tmp_path("calib/000001.txt"), &cal) == CF_OK);
    CHECK(cf_kitti_bin_read(tmp_path("velodyne/000001.bin"), 4, &q) == CF_OK);
    CHECK(q.n == p.n && !memcmp(q.xyzi, p.xyzi, (size_t)p.n * 16));
    CHECK(cf_kitti_labels_read(tmp_path("label_2/000001.txt"), &cal, &r) == CF_OK && r.n == b.n);
    for (int i = 0; i < r.n && i < b.n; i++) {
        CHECK(r.b[i].cls == b.b[i].cls);
        CHECK_NEAR(r.b[i].x, b.b[i].x, 1e-3);
        CHECK_NEAR(r.b[i].y, b.b[i].y, 1e-3);
        CHECK_NEAR(r.b[i].z, b.b[i].z, 1e-3);
        CHECK_NEAR(cos(r.b[i].yaw - b.b[i].yaw), 1.0, 1e-8);
    }
    cf_points_free(&p);
    cf_points_free(&q);
    cf_boxes_free(&b);
    cf_boxes_free(&r);
}

static void test_augment(void)
{
    cf_lidar_scene_cfg c;
    cf_lidar_scene_cfg_default(&c);
    cf_pc_augment a = {.rot = (float)(CF_PC_PI / 4), .scale_lo = 0.95f, .scale_hi = 1.05f, .flip_x = 0.5f, .flip_y = 0.5f, .drop = 0};
    int moved = 0;
    for (uint64_t k = 0; k < 8; k++) {
        cf_points p;
        cf_boxes b;
        CHECK(cf_lidar_scene(&c, 11, k, &p, &b) == CF_OK);
        /* mark each point with the box it is in (-1 none) through the intensity channel's copy */
        int *owner = malloc((size_t)p.n * sizeof *owner);
        for (int64_t i = 0; i < p.n; i++) {
            owner[i] = -1;
            for (int j = 0; j < b.n; j++)
                if (cf_box3d_contains(&b.b[j], p.xyzi[4 * i], p.xyzi[4 * i + 1], p.xyzi[4 * i + 2], 0)) owner[i] = j;
        }
        float x0 = p.xyzi[0];
        cf_pc_augment_apply(&a, 5, k, &p, &b);
        moved += p.xyzi[0] != x0;
        int bad = 0;
        for (int64_t i = 0; i < p.n; i++)
            if (owner[i] >= 0 && !cf_box3d_contains(&b.b[owner[i]], p.xyzi[4 * i], p.xyzi[4 * i + 1], p.xyzi[4 * i + 2], 1e-3f)) bad++;
        CHECK(bad == 0, "scene %d: %d points left their box after augmentation", (int)k, bad);
        for (int j = 0; j < b.n; j++) CHECK(b.b[j].yaw > -CF_PC_PI - 1e-6 && b.b[j].yaw <= CF_PC_PI + 1e-6);
        free(owner);
        cf_points_free(&p);
        cf_boxes_free(&b);
    }
    CHECK(moved >= 6, "augmentation moved points in %d of 8 scenes", moved);
    cf_pc_augment d = {.scale_lo = 1, .scale_hi = 1, .drop = 0.25f};
    cf_points p;
    cf_boxes b;
    CHECK(cf_lidar_scene(&c, 11, 0, &p, &b) == CF_OK);
    int64_t n0 = p.n;
    cf_pc_augment_apply(&d, 5, 0, &p, &b);
    CHECK(fabs((double)p.n / (double)n0 - 0.75) < 0.03, "kept %lld of %lld", (long long)p.n, (long long)n0);
    cf_points_free(&p);
    cf_boxes_free(&b);
}

int main(void)
{
    if (!test_dir_make("pcscenes")) return 1;
    test_scene();
    test_written();
    test_augment();
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
