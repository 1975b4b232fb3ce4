/* Reductions, scans and softmax. All return arena tensors, NULL with the error set on bad arguments.
 *
 * Reduced dims are given as a list: (ndims, dims), negative dims count from the end, each dim at most
 * once. CF_DIMS(0, -1) writes such a list inline; CF_ALL_DIMS (ndims 0) reduces every dim.
 * keepdim keeps reduced dims as size 1; otherwise they are removed (all dims: a 0-dim scalar).
 * f32 reductions accumulate in f64. */
#ifndef CF_OPS_REDUCE_H
#define CF_OPS_REDUCE_H

#include "autograd/cf_tensor.h"

#define CF_DIMS(...) (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}
#define CF_ALL_DIMS 0, (const int *)0

/* Turns a bitmask (bit d: dim d) into a dims list for the calls below; returns the count. */
int cf_dims_from_mask(uint32_t mask, int *dims);

cf_tensor *cf_sum(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim);
cf_tensor *cf_mean(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim);
/* sum((x - mean)^2) / max(0, n - correction), n the number of reduced elements (torch.var's
 * `correction`): 1 is the unbiased estimate (PyTorch's default), 0 the population variance. */
cf_tensor *cf_var(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, double correction, bool keepdim);
/* Largest / smallest value over the dims. When indices is not NULL it receives an i64 tensor of the
 * output's shape holding where each value came from: the row-major flat index within the reduced dims
 * (for one dim, the index along it, as torch.max(x, dim); for all dims, the flat index into x).
 * Ties pick the first such index, and a NaN wins (NaN propagates). The gradient goes to that element
 * alone. The indices record no gradient. Reducing an empty dim is an error. */
cf_tensor *cf_max(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim, cf_tensor **indices);
cf_tensor *cf_min(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim, cf_tensor **indices);
/* log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m the max. */
cf_tensor *cf_logsumexp(cf_ctx *ctx, cf_tensor *x, int ndims, const int *dims, bool keepdim);

/* Inclusive running sum along one dim; same shape as x. */
cf_tensor *cf_cumsum(cf_ctx *ctx, cf_tensor *x, int dim);

/* exp(x - max) / sum(exp(x - max)) along dim, and its log, x - max - log(sum(exp(x - max))).
 * A row that is all -inf gives NaN, as in PyTorch. */
cf_tensor *cf_softmax(cf_ctx *ctx, cf_tensor *x, int dim);
cf_tensor *cf_log_softmax(cf_ctx *ctx, cf_tensor *x, int dim);

#endif
