/* Hard (top-k) attention: the softmax of a row restricted to its k largest entries.
 *
 * "Selective hard attention" of AxFormer (Nagarajan et al., "AxFormer: Accuracy-driven Approximation of
 * Transformers", arXiv 2010.03688, Sec. "selective hard attention"): in a chosen layer each query attends only
 * to its k highest-scoring keys,
 *     Sel_i = the k largest S_ij over j (ties: the lower index first, as cf_topk),
 *     P_ij  = exp(S_ij) / sum_{j' in Sel_i} exp(S_ij')   for j in Sel_i,   P_ij = 0 otherwise.
 * Backward treats Sel as a constant mask: dS_ij = P_ij (dP_ij - sum_j' dP_ij' P_ij'), which is zero outside Sel
 * (the gradient flows only through the kept entries).
 *
 *     cf_tensor *s = cf_mul_scalar(ctx, cf_matmul(ctx, q, cf_transpose(ctx, k, -2, -1)), 1 / sqrt(D));
 *     cf_tensor *p = cf_topk_softmax(ctx, s, 4);     // [B, H, T, T], 4 non-zeros per row
 *     cf_tensor *o = cf_matmul(ctx, p, v);
 */
#ifndef CF_OPS_HARDATTN_H
#define CF_OPS_HARDATTN_H

#include "autograd/cf_tensor.h"

/* x: f32 or f64, at least one dim; the rows are along the last dim (length len). k >= 1; k >= len is the plain
 * softmax. A row holding NaN gives NaN where the NaN is kept. Out has x's shape. */
cf_tensor *cf_topk_softmax(cf_ctx *ctx, cf_tensor *x, int64_t k);

#endif
