/* Shape ops. reshape/transpose/permute/expand/slice/unfold return views sharing storage (reshape
 * copies first when the input's strides do not allow a view); the others copy. */
#ifndef CF_OPS_SHAPE_H
#define CF_OPS_SHAPE_H

#include "autograd/cf_tensor.h"

/* One -1 in shape is inferred. */
cf_tensor *cf_reshape(cf_ctx *ctx, cf_tensor *x, int ndim, const int64_t *shape);
cf_tensor *cf_flatten(cf_ctx *ctx, cf_tensor *x, int start_dim, int end_dim);
cf_tensor *cf_unsqueeze(cf_ctx *ctx, cf_tensor *x, int dim);
cf_tensor *cf_squeeze(cf_ctx *ctx, cf_tensor *x, int dim);
cf_tensor *cf_transpose(cf_ctx *ctx, cf_tensor *x, int dim0, int dim1);
cf_tensor *cf_permute(cf_ctx *ctx, cf_tensor *x, const int *perm); /* perm has x->ndim entries */
/* Broadcasts size-1 dims (and adds leading dims) to shape; -1 keeps a dim. */
cf_tensor *cf_expand(cf_ctx *ctx, cf_tensor *x, int ndim, const int64_t *shape);
/* Elements start, start+step, ... < end along dim (negative start/end count from the end; step > 0). */
cf_tensor *cf_slice(cf_ctx *ctx, cf_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
cf_tensor *cf_narrow(cf_ctx *ctx, cf_tensor *x, int dim, int64_t start, int64_t length);
/* Sliding windows along dim: dim becomes (len - size) / step + 1 and a new last dim of size `size`
 * is added (PyTorch's Tensor.unfold). */
cf_tensor *cf_unfold(cf_ctx *ctx, cf_tensor *x, int dim, int64_t size, int64_t step);
cf_tensor *cf_contiguous(cf_ctx *ctx, cf_tensor *x);
cf_tensor *cf_concat(cf_ctx *ctx, int n, cf_tensor *const *xs, int dim);
/* Splits along dim into pieces of `sizes` (n entries summing to the dim); views into x. */
cf_status cf_split(cf_ctx *ctx, cf_tensor *x, int dim, int n, const int64_t *sizes, cf_tensor **out);
/* Splits into n equal chunks. */
cf_status cf_chunk(cf_ctx *ctx, cf_tensor *x, int dim, int n, cf_tensor **out);
/* Constant padding; pads = (before, after) pairs starting from the LAST dim, as torch.nn.functional.pad. */
cf_tensor *cf_pad(cf_ctx *ctx, cf_tensor *x, int npairs, const int64_t *pads, double value);
/* out[i] = x[(i - shift) mod n] along dim. */
cf_tensor *cf_roll(cf_ctx *ctx, cf_tensor *x, int64_t shift, int dim);
/* Tiles x reps[i] times along each dim (torch.Tensor.repeat); nreps >= x->ndim. */
cf_tensor *cf_repeat(cf_ctx *ctx, cf_tensor *x, int nreps, const int64_t *reps);

#endif
