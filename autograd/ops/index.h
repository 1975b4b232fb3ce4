/* index ops: declarations. Index tensors are CF_I64 (any strides); an index outside its valid range
 * is an error naming the op, the value, its position in the index tensor and the range, never a crash.
 * Scatters (the backward of a pick, scatter_add, index_add) add repeated indices together in a fixed
 * order, so results are the same whatever the thread count. Values are f32 or f64. */
#ifndef CF_OPS_INDEX_H
#define CF_OPS_INDEX_H

#include "autograd/cf_tensor.h"

/* Rows of weight [V, D] picked by ids (any shape, values in [0, V)): out [..ids.shape, D]
 * (torch.nn.functional.embedding). */
cf_tensor *cf_embedding(cf_ctx *ctx, cf_tensor *weight, cf_tensor *ids);

/* Slices of x along dim picked by the 1-D idx [K]: out has x's shape with dim of size K
 * (torch.index_select). */
cf_tensor *cf_index_select(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx);

/* out[i][j][k] = x[i][idx[i][j][k]][k] for dim 1, and likewise for any dim (torch.gather): idx has x's
 * number of dims and is no larger than x in every other dim; out has idx's shape. */
cf_tensor *cf_gather(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx);

/* out = x, then out[i][idx[i][j][k]][k] += src[i][j][k] for dim 1 (torch.scatter_add): idx, x and src
 * have the same number of dims; idx is no larger than src in every dim and no larger than x in every
 * dim but dim. Gradients flow to x and src. */
cf_tensor *cf_scatter_add(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx, cf_tensor *src);

/* out = x, then the slice idx[k] of out along dim += alpha * the slice k of src (torch.index_add):
 * idx is 1-D [K], src has x's shape with dim of size K. Gradients flow to x and src. */
cf_tensor *cf_index_add(cf_ctx *ctx, cf_tensor *x, int dim, cf_tensor *idx, cf_tensor *src, double alpha);

#endif
