/* Sorting along a dim. Values are differentiable (the gradient goes back to the positions they came
 * from); indices are i64 tensors with no gradient.
 *
 * Order: ties keep the lower index first (a stable sort), in both directions. NaN counts as larger
 * than every number (first when descending / largest, last when ascending), as in PyTorch.
 * Inputs are f32 or f64 with at least one dim; dim may be negative. */
#ifndef CF_OPS_SORT_H
#define CF_OPS_SORT_H

#include "autograd/cf_tensor.h"

/* The k largest (largest = true) or smallest values along dim; dim's size becomes k (0 <= k <= size).
 * sorted: best first; otherwise the chosen k in their original (ascending index) order.
 * indices_out (may be NULL) receives the i64 positions along dim; backward reads that same tensor,
 * so do not write into it before backward. */
cf_tensor *cf_topk(cf_ctx *ctx, cf_tensor *x, int64_t k, int dim, bool largest, bool sorted,
                   cf_tensor **indices_out);
/* x sorted along dim (ascending unless descending); indices_out (may be NULL) as for topk. */
cf_tensor *cf_sort(cf_ctx *ctx, cf_tensor *x, int dim, bool descending, cf_tensor **indices_out);
/* The i64 indices that sort x along dim; records nothing. */
cf_tensor *cf_argsort(cf_ctx *ctx, cf_tensor *x, int dim, bool descending);

#endif
