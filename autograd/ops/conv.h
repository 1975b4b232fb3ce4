/* conv ops: convolutions, pooling and bilinear resizing over NC(T)HW tensors, with PyTorch semantics.
 *
 * Options structs are zero-initialisable: a zero stride or dilation means 1, zero groups means 1, so
 *     cf_conv2d(ctx, x, w, b, &(cf_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}})
 * reads like PyTorch's keyword arguments, and a NULL opts pointer means every default. Pairs are (h, w). */
#ifndef CF_OPS_CONV_H
#define CF_OPS_CONV_H

#include "autograd/cf_tensor.h"

typedef struct cf_conv2d_opts {
    int64_t stride[2];   /* 0: 1 */
    int64_t padding[2];  /* zero padding on both sides */
    int64_t dilation[2]; /* 0: 1 */
    int64_t groups;      /* 0: 1; groups == in channels is a depthwise convolution */
} cf_conv2d_opts;

typedef struct cf_conv_transpose2d_opts {
    int64_t stride[2];         /* 0: 1 */
    int64_t padding[2];
    int64_t output_padding[2]; /* added to one side of the output; < max(stride, dilation) */
    int64_t dilation[2];       /* 0: 1 */
    int64_t groups;            /* 0: 1 */
} cf_conv_transpose2d_opts;

typedef struct cf_pool2d_opts {
    int64_t kernel[2];  /* required */
    int64_t stride[2];  /* 0: the kernel size, as in PyTorch */
    int64_t padding[2]; /* at most half the kernel */
    /* avg_pool2d only: divide by the in-bounds element count (PyTorch count_include_pad=False). The
     * zero default counts the padding, like PyTorch's default. */
    bool exclude_pad;
} cf_pool2d_opts;

/* x [N, Cin, L], w [Cout, Cin/groups, K], bias [Cout] or NULL -> [N, Cout, Lout]. stride 0 means 1,
 * dilation 0 means 1, groups 0 means 1. */
cf_tensor *cf_conv1d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias, int64_t stride, int64_t padding,
                     int64_t dilation, int64_t groups);
/* x [N, Cin, H, W], w [Cout, Cin/groups, KH, KW], bias [Cout] or NULL -> [N, Cout, OH, OW]. */
cf_tensor *cf_conv2d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias, const cf_conv2d_opts *opts);
/* Non-overlapping 3-D patches (video patch embedding): x [N, C, T, H, W], w [Cout, C, kt, kh, kw],
 * bias [Cout] or NULL -> [N, Cout, T/kt, H/kh, W/kw] (floored; trailing elements are dropped, as in
 * PyTorch). stride is NULL or must equal the kernel size, padding 0, dilation 1, groups 1. */
cf_tensor *cf_conv3d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias, const int64_t *stride);
/* x [N, Cin, H, W], w [Cin, Cout/groups, KH, KW], bias [Cout] or NULL -> [N, Cout, OH, OW] with
 * OH = (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1. */
cf_tensor *cf_conv_transpose2d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias,
                               const cf_conv_transpose2d_opts *opts);

/* x [N, C, L]; stride 0 means the kernel size; padding is -inf. Gradients go to the first maximum of
 * each window. The _with_indices forms also return the argmax (i64, the output's shape) as a flat
 * index into each input plane (L, or H*W), like PyTorch's return_indices. */
cf_tensor *cf_max_pool1d(cf_ctx *ctx, cf_tensor *x, int64_t kernel, int64_t stride, int64_t padding);
cf_tensor *cf_max_pool1d_with_indices(cf_ctx *ctx, cf_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                                      cf_tensor **indices);
/* x [N, C, H, W]. */
cf_tensor *cf_max_pool2d(cf_ctx *ctx, cf_tensor *x, const cf_pool2d_opts *opts);
cf_tensor *cf_max_pool2d_with_indices(cf_ctx *ctx, cf_tensor *x, const cf_pool2d_opts *opts, cf_tensor **indices);
/* x [N, C, L]; padding is zeros, counted in the divisor when count_include_pad (PyTorch's default). */
cf_tensor *cf_avg_pool1d(cf_ctx *ctx, cf_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                         bool count_include_pad);
cf_tensor *cf_avg_pool2d(cf_ctx *ctx, cf_tensor *x, const cf_pool2d_opts *opts);

/* x [N, C, H, W] -> [N, C, out_h, out_w]; output cell i pools input rows floor(i*H/out_h) up to
 * ceil((i+1)*H/out_h), likewise for columns. */
cf_tensor *cf_adaptive_avg_pool2d(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w);
cf_tensor *cf_adaptive_max_pool2d(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w);
cf_tensor *cf_adaptive_max_pool2d_with_indices(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w,
                                               cf_tensor **indices);

/* Bilinear resize of x [N, C, H, W] to [N, C, out_h, out_w], as F.interpolate(mode="bilinear") with a
 * given size: align_corners maps the corner pixels' centres onto each other, otherwise pixel areas are
 * aligned (source = (i + 0.5) * in / out - 0.5, clamped at 0). */
cf_tensor *cf_interpolate_bilinear(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w, bool align_corners);

#endif
