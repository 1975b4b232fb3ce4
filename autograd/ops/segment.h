/* Segment reductions: the rows of x grouped by an id per row, as in the scatter-max of pillar and voxel
 * feature encoders (PointPillars' and DynamicVFE's pooling of a pillar's points; FlatFormer, Liu et al.
 * CVPR 2023, section 3 "pillar feature"). The mean is not an op of its own: index_add of the rows and of
 * ones gives sums and counts (layers/flatformer.h).
 *
 *     // x [N, C] point features, seg [N] the pillar of each point (values in [0, S))
 *     cf_tensor *p = cf_segment_max(ctx, x, seg, S);   // [S, C]
 *     // p[s, c] = max over rows i with seg[i] == s of x[i, c]; 0 when no row has seg s
 */
#ifndef CF_OPS_SEGMENT_H
#define CF_OPS_SEGMENT_H

#include "autograd/cf_tensor.h"

/* x [N, C] f32/f64, seg [N] i64 in [0, nseg) (any order, an id out of range is an error naming the row),
 * nseg >= 0; out [nseg, C]. Ties go to the lowest row, which alone receives the gradient: dx[i, c] =
 * dout[seg[i], c] when row i won (seg[i], c), else 0. An empty segment gives 0 and passes no gradient. */
cf_tensor *cf_segment_max(cf_ctx *ctx, cf_tensor *x, cf_tensor *seg, int64_t nseg);

#endif
