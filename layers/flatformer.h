/* FlatFormer (Liu, Tang, Han et al., "FlatFormer: Flattened Window Attention for Efficient Point Cloud
 * Transformer", CVPR 2023): a pillar detector whose encoder sorts the non-empty pillars along a window-based
 * space-filling order, cuts the sorted sequence into groups of EQUAL SIZE (no padding but for the last group)
 * and runs full attention inside each group (section 3.1, "Flattened Window Attention"), alternating the
 * sorting axis (x, y) and shifting the windows between layers (section 3.2). The dense part is a small
 * SECOND-style BEV backbone and a CenterPoint head (section 4). Beside it: the SST-style baseline that groups
 * pillars by window and pads every window to its bucket's size (the comparison of the paper's Figure 2 and
 * Table 3), which pays for the padding FlatFormer avoids.
 *
 * The pipeline on a batch of B frames (points [B, Nmax, 4] and counts):
 *
 *     cf_ff_pillars pl;  cf_ff_pillarize(ctx, &grid, CF_F32, pts, counts, B, Nmax, &pl); // dynamic voxelisation
 *     cf_tensor *f = cf_ff_vfe_fwd(ctx, &vfe, pl.point_feat, pl.point_pillar, pl.npillars); // [P, C]
 *     f = cf_ff_encoder_fwd(ctx, &enc, f, &pl, grid.nx, grid.ny, &stats);        // [P, C]
 *     cf_tensor *bev = cf_ff_bev_scatter(ctx, f, &pl, grid.nx, grid.ny);          // [B, C, ny, nx]
 *     cf_tensor *out = cf_ff_head_fwd(ctx, &head, bev);                           // [B, 11, ny/s, nx/s]
 *     cf_tensor *loss = cf_ff_center_loss(ctx, out, heat, cells, box, 2.0, NULL, NULL);
 *
 * Index tensors and mappings live in the step arena (no malloc after the first step). Pillars are numbered
 * in (frame, y, x) order. Points outside the grid's range are dropped and COUNTED (pl.dropped), never lost
 * silently; there is no cap on points per pillar (dynamic voxelisation, max_num_points = -1 in the paper's
 * configuration). */
#ifndef CF_FLATFORMER_H
#define CF_FLATFORMER_H

#include "layers/nn.h"

/* ---- grid and pillars ---- */

typedef struct cf_ff_grid {
    float xmin, ymin, zmin, xmax, ymax, zmax;
    float pillar;    /* pillar side in metres */
    int64_t nx, ny;  /* = (xmax - xmin) / pillar, (ymax - ymin) / pillar */
} cf_ff_grid;
/* Fills nx, ny; an error when the range or pillar size is not positive or the grid is over 4096 per side. */
cf_status cf_ff_grid_init(cf_ff_grid *g, float xmin, float ymin, float zmin, float xmax, float ymax, float zmax,
                          float pillar);

#define CF_FF_POINT_FEATURES 10 /* x y z i, offsets to the pillar's point mean (3), to its centre (3) */

typedef struct cf_ff_pillars {
    int B;
    int64_t npoints;      /* points kept */
    int64_t dropped;      /* points outside the range (and NaN), counted */
    int64_t npillars;
    cf_tensor *point_pillar; /* i64 [npoints]: the pillar of each kept point */
    cf_tensor *point_feat;   /* [npoints, 10] (dtype of the request) */
    int32_t *coords;         /* [npillars, 3]: frame, y, x (arena) */
    int64_t *frame_start;    /* [B + 1]: pillars of frame b are [frame_start[b], frame_start[b+1]) (arena) */
} cf_ff_pillars;
/* points: f32 [B, Nmax, 4] (x y z intensity), counts: the valid rows of each frame (<= Nmax). */
cf_status cf_ff_pillarize(cf_ctx *ctx, const cf_ff_grid *g, cf_dtype dt, const float *points, const int64_t *counts,
                          int B, int64_t Nmax, cf_ff_pillars *out);

/* ---- window sorting and grouping (no gradient: index maps) ---- */

typedef enum { CF_FF_SORT_X = 0, CF_FF_SORT_Y = 1 } cf_ff_axis;

/* The window-based sort key of FlatFormer's released code (mmdet3d/models/middle_encoders/flatformer.py):
 * windows visited in a snake order along rows (axis x) or columns (axis y), pillars inside a window snaked
 * too, the in-window order reversed on odd window rows so that consecutive windows join. (x, y) integer
 * pillar coordinates, already shifted for the shifted variants; X, Y the grid size (after the shift). */
int64_t cf_ff_window_key(int64_t x, int64_t y, int64_t wx, int64_t wy, int64_t X, int64_t Y, cf_ff_axis axis);

/* A layout: the pillars gathered into `nparts` batches of fixed-size sets (FlatFormer: one part of equal
 * groups; the padded window baseline: one part per bucket size). Row P of the gathered tensor is a dummy
 * (zeros), masked as a key. inv maps each pillar to the slot (in the concatenation of the parts) whose
 * output is its own. */
#define CF_FF_MAX_PARTS 8
typedef struct cf_ff_part {
    int64_t n, size;     /* n sets of `size` slots */
    cf_tensor *idx;      /* i64 [n * size]: the row (pillar id, or P for the dummy) in each slot */
    cf_tensor *pad;      /* bool [n, size]: true = dummy slot; NULL when the part has none */
} cf_ff_part;
typedef struct cf_ff_layout {
    int nparts;
    cf_ff_part part[CF_FF_MAX_PARTS];
    cf_tensor *inv;      /* i64 [P] */
    int64_t slots;       /* sum of n * size */
    int64_t real;        /* P */
} cf_ff_layout;
/* padded slots / real tokens: (slots - P) / P (duplicated and dummy slots) */
double cf_ff_padding_ratio(const cf_ff_layout *l);

/* FlatFormer's equal-size grouping (section 3.1): per frame, sort by the window key (axis, shift), cut into
 * groups of G; the last group is the final G tokens of the sorted frame (its first slots repeat the previous
 * group's tail, as extra keys whose outputs are discarded); a frame with fewer than G pillars is padded with
 * masked dummy slots. perm_out (optional, arena, [P]) receives the sorted order of pillar ids. */
cf_status cf_ff_group_layout(cf_ctx *ctx, const cf_ff_pillars *pl, int64_t G, int64_t wx, int64_t wy, cf_ff_axis axis,
                             bool shift, int64_t nx, int64_t ny, cf_ff_layout *out, int64_t **perm_out);
/* The SST-style baseline: the pillars of each window (shifted by half a window when shift) form one set,
 * padded with dummy slots to its bucket size (the smallest power of two >= its count, at least 8, at most
 * wx * wy rounded up to a power of two); sets of one bucket size form one part. */
cf_status cf_ff_window_layout(cf_ctx *ctx, const cf_ff_pillars *pl, int64_t wx, int64_t wy, bool shift, int64_t nx,
                              int64_t ny, cf_ff_layout *out);

/* Sinusoidal position encoding of the integer pillar coordinates (section 3.3; the released code's
 * PositionEmbeddingLearned-free variant): C/2 channels for x then C/2 for y, each pairs (sin, cos) of
 * coord / 10000^(2k / (C/2)). [P, C], no gradient. */
cf_tensor *cf_ff_position_encoding(cf_ctx *ctx, cf_dtype dt, const cf_ff_pillars *pl, int64_t C);

/* ---- layers ---- */

/* VFE (DynamicVFE, section 4): per point Linear(10, c1) + BN + ReLU, scatter-max per pillar, the pillar's
 * maximum concatenated back to its points, Linear(2 c1, c2) + BN + ReLU, scatter-max: [P, c2]. BN uses the
 * batch's statistics in training and evaluation (cformer checkpoints hold parameters, not running
 * statistics). */
typedef struct cf_ff_vfe {
    cf_linear_layer fc1, fc2;
    cf_tensor *bn1_w, *bn1_b, *bn2_w, *bn2_b;
    int64_t c1, c2;
} cf_ff_vfe;
cf_status cf_ff_vfe_init(cf_ff_vfe *v, cf_params *ps, const char *name, int64_t c1, int64_t c2);
cf_tensor *cf_ff_vfe_fwd(cf_ctx *ctx, const cf_ff_vfe *v, cf_tensor *point_feat, cf_tensor *point_pillar,
                         int64_t npillars);

/* One set-attention layer (section 3.3, post-norm): q = k = x + pe, v = x, attention inside each set of the
 * layout, x = LN1(x + Wo attn), x = LN2(x + W2 GELU(W1 x)), hidden = 2 C. */
typedef struct cf_ff_layer {
    cf_linear_layer qk, v, out;
    cf_norm_layer ln1, ln2;
    cf_mlp mlp;
    int64_t dim, heads;
} cf_ff_layer;
cf_status cf_ff_layer_init(cf_ff_layer *l, cf_params *ps, const char *name, int64_t dim, int64_t heads);
cf_tensor *cf_ff_layer_fwd(cf_ctx *ctx, const cf_ff_layer *l, cf_tensor *x, cf_tensor *pe, const cf_ff_layout *lay);

typedef enum {
    CF_FF_FLAT = 0,       /* FlatFormer: equal-size groups, axes x / x-shift / y / y-shift */
    CF_FF_FLAT_NO_SHIFT,  /* the ablation: equal-size groups along x only, never shifted */
    CF_FF_WINDOW_PADDED   /* SST-style: windows padded to their bucket, shift alternating */
} cf_ff_mode;
bool cf_ff_mode_parse(const char *s, cf_ff_mode *out); /* "flatformer", "no-shift", "window-padded" */

typedef struct cf_ff_encoder_config {
    int64_t dim, heads, layers; /* layers: a multiple of 4 for the full cycle x, x-shift, y, y-shift */
    int64_t group;              /* G */
    int64_t wx, wy;             /* window in pillars */
    cf_ff_mode mode;
} cf_ff_encoder_config;
typedef struct cf_ff_encoder {
    cf_ff_encoder_config cfg;
    cf_ff_layer *layer; /* cfg.layers */
} cf_ff_encoder;
/* What a forward measured: padded slots over real tokens, averaged over the layers. */
typedef struct cf_ff_stats {
    double padding_ratio;
    int64_t slots, real;
} cf_ff_stats;
cf_status cf_ff_encoder_init(cf_ff_encoder *e, cf_params *ps, const char *name, const cf_ff_encoder_config *cfg);
void cf_ff_encoder_free(cf_ff_encoder *e);
/* The layout of layer i of the encoder (its axis and shift follow the mode). */
cf_status cf_ff_encoder_layout(cf_ctx *ctx, const cf_ff_encoder *e, int i, const cf_ff_pillars *pl, int64_t nx,
                               int64_t ny, cf_ff_layout *out);
cf_tensor *cf_ff_encoder_fwd(cf_ctx *ctx, const cf_ff_encoder *e, cf_tensor *x, const cf_ff_pillars *pl, int64_t nx,
                             int64_t ny, cf_ff_stats *stats);

/* Pillar features [P, C] into a zero canvas [B, C, ny, nx] at their (y, x) (index_add; backward gathers). */
cf_tensor *cf_ff_bev_scatter(cf_ctx *ctx, cf_tensor *f, const cf_ff_pillars *pl, int64_t nx, int64_t ny);

/* ---- dense part: BEV backbone and CenterPoint head (section 4; the small configuration) ---- */

/* Two 3x3 conv + BN + ReLU (the first with stride `stride`), a shared 3x3 conv + BN + ReLU, and a 3x3 conv
 * to CF_FF_HEAD_OUT maps: heat-map (3 classes, bias -2.19), centre offset (2), height (1), log size (3),
 * rotation (sin, cos). BN on batch statistics, as in the VFE. */
#define CF_FF_NCLASS 3
#define CF_FF_HEAD_OUT (CF_FF_NCLASS + 8)
typedef struct cf_ff_head {
    cf_tensor *w[3], *bn_w[3], *bn_b[3];
    cf_tensor *out_w, *out_b;
    int64_t in, mid, stride;
} cf_ff_head;
cf_status cf_ff_head_init(cf_ff_head *h, cf_params *ps, const char *name, int64_t in, int64_t mid, int64_t stride);
/* bev [B, in, ny, nx] -> [B, CF_FF_HEAD_OUT, ny / stride, nx / stride] (heat-map logits first) */
cf_tensor *cf_ff_head_fwd(cf_ctx *ctx, const cf_ff_head *h, cf_tensor *bev);

/* CenterPoint's loss: Gaussian focal loss (alpha 2, beta 4) on the heat-map, normalised by the number of
 * objects, plus reg_weight x L1 on the 8 box values at each object's centre cell.
 * heat [B, 3, H, W] the Gaussian targets (1 at each centre); cells i64 [M] the centre cells (flat index
 * b*H*W + y*W + x) and box [M, 8] their targets (offset 2, z, log l w h, sin, cos); M may be 0.
 * out_heat / out_box (may be NULL) receive the two terms' values. */
cf_tensor *cf_ff_center_loss(cf_ctx *ctx, cf_tensor *pred, cf_tensor *heat, cf_tensor *cells, cf_tensor *box,
                             double reg_weight, double *out_heat, double *out_box);

#endif
