/* Non-overlapping window partition of a 2-D token map and its inverse (Liu et al., "Swin Transformer", ICCV
 * 2021, sec. 3.2), the local-attention building block of MAFormer's window branch.
 *
 *     x [B, H, W, C] (channels last), window M dividing H and W
 *     cf_window_partition(ctx, x, M)           -> [B * (H/M) * (W/M), M*M, C]   windows in row-major order,
 *                                                 tokens row-major inside each window
 *     cf_window_reverse(ctx, w, B, H, W, M)    -> [B, H, W, C]                  the exact inverse
 *
 * Both are reshape + permute (views and one contiguous copy), so their gradients are the inverse
 * permutation. H or W not a multiple of M is an error naming the sizes (build models so that they divide:
 * cf_window_check). */
#ifndef CF_LAYERS_WINDOW_H
#define CF_LAYERS_WINDOW_H

#include "autograd/cformer.h"

/* CF_OK when M >= 1 divides h and w; else an error naming `what` and the sizes. */
cf_status cf_window_check(const char *what, int64_t h, int64_t w, int64_t M);
cf_tensor *cf_window_partition(cf_ctx *ctx, cf_tensor *x, int64_t M);
cf_tensor *cf_window_reverse(cf_ctx *ctx, cf_tensor *windows, int64_t B, int64_t H, int64_t W, int64_t M);

#endif
