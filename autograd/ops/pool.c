/* Pooling and bilinear-resize frontends: option defaults, shape rules and PyTorch's output sizes. */
#include "autograd/ops/conv.h"

#include "autograd/cf_node.h"
#include "autograd/ops/conv_attr.h"

#include <inttypes.h>

/* Checks a max/avg pool with nsp spatial dims (the attr holds h at 0, w at 1) and builds its node. */
static cf_node *pool_node(cf_ctx *ctx, cf_op opc, int nsp, cf_tensor *x, const struct pool_attr *a)
{
    const char *op = cf_op_name(opc);
    char b1[128], k1[48], k2[48], k3[48];
    if (cf_check_float(op, x) != CF_OK || cf_check_ndim(op, x, 2 + nsp, 2 + nsp) != CF_OK) return NULL;
    int64_t in[2] = {1, x->shape[2 + nsp - 1]}, padded[2], shape[4] = {x->shape[0], x->shape[1], 1, 1};
    if (nsp == 2) in[0] = x->shape[2];
    for (int i = 0; i < 2; i++) {
        if (a->kernel[i] < 1 || a->stride[i] < 1 || a->padding[i] < 0) {
            cf_set_error(CF_ERR_ARG, "%s: kernel %s and stride %s must be >= 1 and padding %s >= 0", op,
                         conv_pair_str(a->kernel, nsp, k1, sizeof k1), conv_pair_str(a->stride, nsp, k2, sizeof k2),
                         conv_pair_str(a->padding, nsp, k3, sizeof k3));
            return NULL;
        }
        if (2 * a->padding[i] > a->kernel[i]) {
            cf_set_error(CF_ERR_ARG, "%s: padding %s must be at most half the kernel %s", op,
                         conv_pair_str(a->padding, nsp, k1, sizeof k1), conv_pair_str(a->kernel, nsp, k2, sizeof k2));
            return NULL;
        }
        padded[i] = in[i] + 2 * a->padding[i];
    }
    if (padded[0] < a->kernel[0] || padded[1] < a->kernel[1]) {
        cf_set_error(CF_ERR_SHAPE, "%s: kernel %s is larger than the padded input %s (x %s, padding %s)", op,
                     conv_pair_str(a->kernel, nsp, k1, sizeof k1), conv_pair_str(padded, nsp, k2, sizeof k2),
                     cf_shape_str(x, b1, sizeof b1), conv_pair_str(a->padding, nsp, k3, sizeof k3));
        return NULL;
    }
    for (int i = 0; i < 2; i++) shape[2 + i] = (padded[i] - a->kernel[i]) / a->stride[i] + 1;
    if (nsp == 1) shape[2] = shape[3];
    cf_tensor *out = cf_empty(ctx, x->dtype, 2 + nsp, shape);
    cf_node *n = cf_node_new(ctx, opc, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct pool_attr) = *a;
    n->saves = 0; /* backward reads only the shapes, and max pools their saved indices */
    return n;
}

/* Runs node n; hands back its saved argmax through *indices when asked. */
static cf_tensor *finish(cf_ctx *ctx, cf_node *n, cf_tensor **indices)
{
    if (!n) return NULL;
    cf_tensor *y = cf_node_finish(ctx, n);
    if (indices) *indices = y ? n->aux[0] : NULL;
    return y;
}

static struct pool_attr attr_1d(int64_t kernel, int64_t stride, int64_t padding)
{
    return (struct pool_attr){.kernel = {1, kernel}, .stride = {1, stride ? stride : kernel}, .padding = {0, padding}};
}

static struct pool_attr attr_2d(const char *op, const cf_pool2d_opts *o, bool *ok)
{
    struct pool_attr a = {.include_pad = true};
    *ok = o != NULL;
    if (!o) {
        cf_set_error(CF_ERR_ARG, "%s: options with a kernel size are required", op);
        return a;
    }
    for (int i = 0; i < 2; i++) {
        a.kernel[i] = o->kernel[i];
        a.stride[i] = o->stride[i] ? o->stride[i] : o->kernel[i];
        a.padding[i] = o->padding[i];
    }
    a.include_pad = !o->exclude_pad;
    return a;
}

cf_tensor *cf_max_pool1d_with_indices(cf_ctx *ctx, cf_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                                      cf_tensor **indices)
{
    CF_GUARD(x);
    struct pool_attr a = attr_1d(kernel, stride, padding);
    return finish(ctx, pool_node(ctx, CF_OP_max_pool1d, 1, x, &a), indices);
}

cf_tensor *cf_max_pool1d(cf_ctx *ctx, cf_tensor *x, int64_t kernel, int64_t stride, int64_t padding)
{
    return cf_max_pool1d_with_indices(ctx, x, kernel, stride, padding, NULL);
}

cf_tensor *cf_max_pool2d_with_indices(cf_ctx *ctx, cf_tensor *x, const cf_pool2d_opts *opts, cf_tensor **indices)
{
    CF_GUARD(x);
    bool ok;
    struct pool_attr a = attr_2d("max_pool2d", opts, &ok);
    return ok ? finish(ctx, pool_node(ctx, CF_OP_max_pool2d, 2, x, &a), indices) : NULL;
}

cf_tensor *cf_max_pool2d(cf_ctx *ctx, cf_tensor *x, const cf_pool2d_opts *opts)
{
    return cf_max_pool2d_with_indices(ctx, x, opts, NULL);
}

cf_tensor *cf_avg_pool1d(cf_ctx *ctx, cf_tensor *x, int64_t kernel, int64_t stride, int64_t padding,
                         bool count_include_pad)
{
    CF_GUARD(x);
    struct pool_attr a = attr_1d(kernel, stride, padding);
    a.include_pad = count_include_pad;
    return finish(ctx, pool_node(ctx, CF_OP_avg_pool1d, 1, x, &a), NULL);
}

cf_tensor *cf_avg_pool2d(cf_ctx *ctx, cf_tensor *x, const cf_pool2d_opts *opts)
{
    CF_GUARD(x);
    bool ok;
    struct pool_attr a = attr_2d("avg_pool2d", opts, &ok);
    return ok ? finish(ctx, pool_node(ctx, CF_OP_avg_pool2d, 2, x, &a), NULL) : NULL;
}

/* A [N, C, out_h, out_w] node for the adaptive pools and interpolate. */
static cf_node *resize_node(cf_ctx *ctx, cf_op opc, cf_tensor *x, int64_t out_h, int64_t out_w)
{
    const char *op = cf_op_name(opc);
    char b1[128];
    if (cf_check_float(op, x) != CF_OK || cf_check_ndim(op, x, 4, 4) != CF_OK) return NULL;
    if (out_h < 1 || out_w < 1) {
        cf_set_error(CF_ERR_ARG, "%s: output size %" PRId64 "x%" PRId64 " must be positive (x %s)", op, out_h, out_w,
                     cf_shape_str(x, b1, sizeof b1));
        return NULL;
    }
    if (x->shape[2] < 1 || x->shape[3] < 1) {
        cf_set_error(CF_ERR_SHAPE, "%s: x %s has an empty spatial size", op, cf_shape_str(x, b1, sizeof b1));
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, CF_SHAPE(x->shape[0], x->shape[1], out_h, out_w));
    cf_node *n = cf_node_new(ctx, opc, 1, &x, out);
    if (!n) return NULL;
    n->saves = 0;
    return n;
}

cf_tensor *cf_adaptive_avg_pool2d(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w)
{
    CF_GUARD(x);
    return finish(ctx, resize_node(ctx, CF_OP_adaptive_avg_pool2d, x, out_h, out_w), NULL);
}

cf_tensor *cf_adaptive_max_pool2d_with_indices(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w,
                                               cf_tensor **indices)
{
    CF_GUARD(x);
    return finish(ctx, resize_node(ctx, CF_OP_adaptive_max_pool2d, x, out_h, out_w), indices);
}

cf_tensor *cf_adaptive_max_pool2d(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w)
{
    return cf_adaptive_max_pool2d_with_indices(ctx, x, out_h, out_w, NULL);
}

cf_tensor *cf_interpolate_bilinear(cf_ctx *ctx, cf_tensor *x, int64_t out_h, int64_t out_w, bool align_corners)
{
    CF_GUARD(x);
    cf_node *n = resize_node(ctx, CF_OP_interpolate_bilinear, x, out_h, out_w);
    if (!n) return NULL;
    CF_ATTR(n, struct interp_attr)->align_corners = align_corners;
    return finish(ctx, n, NULL);
}
