/* Point-cloud readers (data/pointcloud/pointcloud.h) from memory: any bytes, read as PLY, PCD, a KITTI .bin, a
 * KITTI label file and a calibration file, give an error or points whose count fits the input. */
#include "data/pointcloud/pointcloud.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static void check_points(const cf_points *p, cf_status st)
{
    if (st != CF_OK) return;
    if (p->n < 0 || (p->n && !p->xyzi)) abort();
    for (int64_t i = 0; i < 4 * p->n; i++)
        if (!isfinite(p->xyzi[i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_points p;
    cf_status st = cf_ply_parse(data, size, "fuzz.ply", &p);
    check_points(&p, st);
    cf_points_free(&p);
    st = cf_pcd_parse(data, size, "fuzz.pcd", &p);
    check_points(&p, st);
    cf_points_free(&p);
    st = cf_kitti_bin_parse(data, size, 4, "fuzz.bin", &p);
    if (st == CF_OK && (size_t)p.n * 16 != size) abort();
    cf_points_free(&p);
    cf_boxes b;
    st = cf_kitti_labels_parse((const char *)data, size, "fuzz.txt", NULL, &b);
    if (st == CF_OK && b.n > 0 && !b.b) abort();
    cf_boxes_free(&b);
    cf_kitti_calib c;
    (void)cf_kitti_calib_parse((const char *)data, size, "calib.txt", &c);
    return 0;
}
