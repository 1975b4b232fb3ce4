/* Point clouds and 3-D boxes: the readers of the formats LiDAR data comes in (KITTI velodyne .bin with its
 * label and calibration text files, PLY, PCD), the augmentation that moves points and boxes together, and
 * the synthetic LiDAR scenes of FlatFormer's small experiment (Liu et al., "FlatFormer: Flattened Window
 * Attention for Efficient Point Cloud Transformer", CVPR 2023; the scenes are cformer's offline stand-in for
 * Waymo, see recipes/flatformer/README.md).
 *
 * Frames and units: points are (x, y, z, intensity) in the sensor (LiDAR) frame, x forward, y left, z up, in
 * metres. A box is its centre, its size (l along its heading, w across, h up) and its yaw about +z measured
 * from +x, in the same frame. KITTI labels are in the rectified camera frame (x right, y down, z forward,
 * the box's bottom centre, rotation_y about the camera's y axis); the reader moves them into the LiDAR frame
 * through the frame's calibration file when one is given, or through the axis swap alone when not.
 *
 * Every reader takes bytes already in memory (`name` is the file name used in messages) and has a path
 * twin that reads the file; every error names the file and the element (point or vertex index, line, byte
 * offset) and what is wrong, never a crash (tests/test_pointcloud_files.c, tests/fuzz/fuzz_pointcloud.c).
 * Coordinates that are NaN or infinite are an error in KITTI and PLY files; PCD marks invalid points with
 * NaN by convention (PCL), so the PCD reader drops them and counts them in `dropped`.
 *
 *     cf_points p = {0};
 *     if (cf_pc_read("scan.pcd", &p) != CF_OK) puts(cf_last_error());   // by extension: .bin .ply .pcd
 *     for (int64_t i = 0; i < p.n; i++) use(p.xyzi[4*i], p.xyzi[4*i+1], p.xyzi[4*i+2], p.xyzi[4*i+3]);
 *     cf_points_free(&p);
 */
#ifndef CF_POINTCLOUD_H
#define CF_POINTCLOUD_H

#include "autograd/cf_base.h"

#include <stddef.h>
#include <stdint.h>

/* the largest point count a reader takes (bounds a header that claims more than memory holds) */
#define CF_PC_MAX_POINTS ((int64_t)1 << 28)
#define CF_PC_MAX_BOXES 4096
#define CF_PC_PI 3.14159265358979323846

typedef struct cf_points {
    int64_t n;      /* points */
    float *xyzi;    /* n x 4: x, y, z, intensity (0 when the file has none) */
    int64_t dropped; /* PCD: NaN points left out; 0 elsewhere */
    int has_intensity;
} cf_points;

/* classes of the detection task; KITTI's other types (Van, Truck, Tram, Misc, Person_sitting, DontCare)
 * are read and left out */
enum { CF_PC_CAR = 0, CF_PC_PEDESTRIAN = 1, CF_PC_CYCLIST = 2, CF_PC_NCLASS = 3 };
extern const char *const cf_pc_class_names[CF_PC_NCLASS];

typedef struct cf_box3d {
    int cls;
    float x, y, z;  /* centre */
    float l, w, h;  /* size: along the heading, across, up */
    float yaw;      /* about +z from +x, radians */
} cf_box3d;

typedef struct cf_boxes {
    int n, cap;
    cf_box3d *b; /* malloc'ed */
} cf_boxes;
/* Appends one box (growing the array); CF_ERR_FORMAT past CF_PC_MAX_BOXES. */
cf_status cf_boxes_push(cf_boxes *bs, const cf_box3d *b);
void cf_boxes_free(cf_boxes *bs); /* zeroes *bs */

/* KITTI calibration: cam = R0_rect * (Tr_velo_to_cam * [x y z 1]^T). */
typedef struct cf_kitti_calib {
    double r0[9];   /* R0_rect, row-major */
    double tr[12];  /* Tr_velo_to_cam, 3 x 4 row-major */
} cf_kitti_calib;

/* The calibration with R0 = I and Tr = the axis swap plus the KITTI camera offset; the generator writes it. */
void cf_kitti_calib_default(cf_kitti_calib *c);

void cf_points_free(cf_points *p); /* zeroes *p; safe on a zeroed one */

/* KITTI velodyne .bin: headerless little-endian float32 records of `cols` values (4 for KITTI, 5 for
 * nuScenes .pcd.bin, 6 for Waymo in mmdet3d's kitti format); x, y, z and the 4th column (intensity) are kept. */
cf_status cf_kitti_bin_parse(const uint8_t *buf, size_t n, int cols, const char *name, cf_points *out);
cf_status cf_kitti_bin_read(const char *path, int cols, cf_points *out);
cf_status cf_kitti_bin_write(const char *path, const cf_points *p);

/* calib .txt: lines "KEY: v v v ..."; R0_rect (9) and Tr_velo_to_cam (12) are required, others ignored. */
cf_status cf_kitti_calib_parse(const char *text, size_t n, const char *name, cf_kitti_calib *out);
cf_status cf_kitti_calib_read(const char *path, cf_kitti_calib *out);
cf_status cf_kitti_calib_write(const char *path, const cf_kitti_calib *c);

/* label .txt: per line type, truncated, occluded, alpha, bbox (4), h w l, x y z (camera), rotation_y
 * [, score]. calib NULL: the default calibration. Car, Pedestrian and Cyclist are kept. */
cf_status cf_kitti_labels_parse(const char *text, size_t n, const char *name, const cf_kitti_calib *calib,
                                cf_boxes *out);
cf_status cf_kitti_labels_read(const char *path, const cf_kitti_calib *calib, cf_boxes *out);
cf_status cf_kitti_labels_write(const char *path, const cf_boxes *b, const cf_kitti_calib *calib);
/* one box from the LiDAR frame to KITTI's camera values (x, y, z of the bottom centre, rotation_y) and back */
void cf_kitti_box_to_camera(const cf_box3d *b, const cf_kitti_calib *c, double cam[3], double *rot_y);
void cf_kitti_box_from_camera(const double cam[3], double rot_y, double h, double w, double l,
                              const cf_kitti_calib *c, cf_box3d *b);

/* PLY: ascii, binary_little_endian, binary_big_endian 1.0; the `vertex` element's x, y, z (any numeric type,
 * any property order) and an intensity property named intensity, reflectance or scalar_intensity when present;
 * every other property and element is skipped by its declared type. */
cf_status cf_ply_parse(const uint8_t *buf, size_t n, const char *name, cf_points *out);
cf_status cf_ply_read(const char *path, cf_points *out);
typedef enum { CF_PLY_ASCII, CF_PLY_BINARY_LE, CF_PLY_BINARY_BE } cf_ply_format;
/* Writes x y z (float) and intensity (float), plus a `double extra` property first when with_extra (tests). */
cf_status cf_ply_write(const char *path, const cf_points *p, cf_ply_format fmt, int with_extra);

/* PCD (PCL's format), DATA ascii, binary and binary_compressed (LZF over the columns). */
cf_status cf_pcd_parse(const uint8_t *buf, size_t n, const char *name, cf_points *out);
cf_status cf_pcd_read(const char *path, cf_points *out);
typedef enum { CF_PCD_ASCII, CF_PCD_BINARY, CF_PCD_BINARY_COMPRESSED } cf_pcd_format;
cf_status cf_pcd_write(const char *path, const cf_points *p, cf_pcd_format fmt);
/* LZF (liblzf's format): decodes in into exactly out_n bytes of out; an error names `name` and the offset. */
cf_status cf_lzf_decode(const uint8_t *in, size_t in_n, uint8_t *out, size_t out_n, const char *name);
/* A valid LZF stream of literal runs only (size in_n + ceil(in_n / 32)); the writer uses it. */
size_t cf_lzf_encode_literal(const uint8_t *in, size_t in_n, uint8_t *out);

/* Reads by extension: .bin (KITTI, 4 columns), .ply, .pcd. */
cf_status cf_pc_read(const char *path, cf_points *out);

/* ---- augmentation (FlatFormer section 4 training: flip, global rotation, scaling; plus point drop) ---- */
typedef struct cf_pc_augment {
    float rot;        /* uniform yaw in [-rot, rot] radians */
    float scale_lo, scale_hi; /* uniform global scale (1, 1: none) */
    float flip_x, flip_y;     /* probabilities of mirroring across the x axis (y -> -y) and the y axis */
    float drop;       /* probability of dropping each point */
} cf_pc_augment;

/* Applies one draw of the augmentation (seeded by key, index) to the points (in place, n may shrink) and the
 * boxes, so that a point inside a box before is inside the moved box after. */
void cf_pc_augment_apply(const cf_pc_augment *a, uint64_t seed, uint64_t index, cf_points *p, cf_boxes *b);
/* Whether (x, y, z) lies inside box b (its edges widened by margin). */
int cf_box3d_contains(const cf_box3d *b, float x, float y, float z, float margin);

/* ---- synthetic LiDAR scenes (FlatFormer's small experiment) ---- */
typedef struct cf_lidar_scene_cfg {
    float half;       /* the scene is [-half, half]^2 metres (20) */
    int rings, azimuths; /* beams (32) x azimuth steps (512) */
    int min_boxes, max_boxes; /* 3, 10 */
    int clutter;      /* poles and walls per scene (6) */
    float sensor_z;   /* the sensor height above the ground (1.73) */
} cf_lidar_scene_cfg;
void cf_lidar_scene_cfg_default(cf_lidar_scene_cfg *c);
/* Ray-casts scene `index` of the seed: points (malloc'ed into out) and boxes. */
cf_status cf_lidar_scene(const cf_lidar_scene_cfg *c, uint64_t seed, uint64_t index, cf_points *out,
                         cf_boxes *boxes);
/* Writes scenes [0, n) as dir/velodyne/%06d.bin, dir/label_2/%06d.txt and dir/calib/%06d.txt. */
cf_status cf_lidar_scenes_write(const char *dir, const cf_lidar_scene_cfg *c, uint64_t seed, int n);

#endif
