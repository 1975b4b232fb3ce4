/* Point-cloud classification sets: the synthetic primitive shapes of FlatFormer's smallest experiment (Liu et
 * al., "FlatFormer: Flattened Window Attention for Efficient Point Cloud Transformer", CVPR 2023; cube, sphere,
 * cylinder, cone, torus, pyramid, points on the surface, random pose and scale), and the HDF5 layout the
 * point-cloud classification community ships its sets in (ModelNet40's modelnet40_ply_hdf5_2048: dataset
 * `data` float [N, P, 3], dataset `label` integer [N, 1] or [N]; other datasets such as `normal` and `faceId`
 * are left alone).
 *
 * Every cloud is centred and fits the unit sphere (as ModelNet's clouds do), so a grid over [-1, 1]^3 holds
 * every point.
 *
 *     cf_pc_cls_set s = {0};
 *     cf_primitives_make(&s, 600, 1024, 7);                   // 600 clouds of 1024 points, seed 7
 *     cf_pc_cls_h5_write("prim.h5", &s);
 *     cf_pc_cls_set_free(&s);
 *     if (cf_pc_cls_h5_read("ply_data_train0.h5", 40, &s) != CF_OK) puts(cf_last_error());
 *     // s.xyz[(i * s.P + j) * 3 + k]: coordinate k of point j of cloud i; s.label[i] in [0, 40)
 */
#ifndef CF_PC_PRIMITIVES_H
#define CF_PC_PRIMITIVES_H

#include "autograd/cf_base.h"

#include <stdint.h>

enum { CF_PRIM_CUBE = 0, CF_PRIM_SPHERE, CF_PRIM_CYLINDER, CF_PRIM_CONE, CF_PRIM_TORUS, CF_PRIM_PYRAMID, CF_PRIM_NCLASS };
extern const char *const cf_prim_class_names[CF_PRIM_NCLASS]; /* "cube", "sphere", ... */

/* the largest sets a reader takes (bounds a file that claims more than memory holds) */
#define CF_PC_CLS_MAX_POINTS ((int64_t)1 << 20) /* points per cloud */
#define CF_PC_CLS_MAX_ITEMS ((int64_t)1 << 24)

/* A classification set: n clouds of P points each. */
typedef struct cf_pc_cls_set {
    int64_t n, P;
    float *xyz;     /* [n, P, 3], malloc'ed */
    int32_t *label; /* [n], malloc'ed */
} cf_pc_cls_set;
void cf_pc_cls_set_free(cf_pc_cls_set *s); /* zeroes *s; safe on a zeroed one */

/* Cloud `index` of the seed: class index % CF_PRIM_NCLASS (so any n consecutive clouds are balanced to within
 * one), P points drawn uniformly (by area) on the primitive's surface, a uniform random rotation, a scale in
 * [0.6, 0.95] of the unit-sphere fit and a Gaussian jitter of 0.01. Deterministic in (seed, index). xyz: [P, 3]. */
void cf_primitive_cloud(uint64_t seed, uint64_t index, int64_t P, float *xyz, int *label);
/* n clouds [0, n) of the seed into *out (allocated); CF_ERR_ARG when n or P is out of range. */
cf_status cf_primitives_make(cf_pc_cls_set *out, int64_t n, int64_t P, uint64_t seed);

/* Reads `data` and `label` from an HDF5 file. data: any float (or integer) type, rank 3 with last dimension 3,
 * any P >= 1; label: any integer type, [N] or [N, 1]. Every label must lie in [0, nclass) and every coordinate
 * be finite: an error names the file, the dataset and the item (and point). CF_ERR_UNSUPPORTED in a build
 * without HDF5. */
cf_status cf_pc_cls_h5_read(const char *path, int nclass, cf_pc_cls_set *out);
/* Whether path is an HDF5 file holding both 'data' and 'label' (false without HDF5, or for any other file). */
bool cf_pc_cls_h5_probe(const char *path);
/* Writes s as `data` float32 [n, P, 3] and `label` uint8 [n, 1] (labels must lie in [0, 255]), atomically. */
cf_status cf_pc_cls_h5_write(const char *path, const cf_pc_cls_set *s);

#endif
