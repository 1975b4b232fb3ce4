/* Convolution frontends: option defaults, shape rules and PyTorch's output-size formulas. */
#include "autograd/ops/conv.h"

#include "autograd/cf_node.h"
#include "autograd/ops/conv_attr.h"

#include <inttypes.h>

static cf_status check_params(const char *op, const struct conv_attr *a)
{
    if (a->groups < 1) return cf_set_error(CF_ERR_ARG, "%s: groups must be >= 1, got %" PRId64, op, a->groups);
    for (int i = 0; i < 2; i++) {
        if (a->stride[i] < 1 || a->dilation[i] < 1 || a->padding[i] < 0)
            return cf_set_error(CF_ERR_ARG,
                                "%s: stride and dilation must be >= 1 and padding >= 0, got stride %" PRId64
                                ", dilation %" PRId64 ", padding %" PRId64,
                                op, a->stride[i], a->dilation[i], a->padding[i]);
        if (a->output_padding[i] < 0)
            return cf_set_error(CF_ERR_ARG, "%s: output_padding must be >= 0, got %" PRId64, op, a->output_padding[i]);
    }
    return CF_OK;
}

static cf_status check_bias(const char *op, const cf_tensor *x, const cf_tensor *bias, int64_t cout)
{
    char b1[128];
    if (!bias) return CF_OK;
    CF_TRY(cf_check_same_dtype(op, x, bias));
    if (bias->ndim != 1 || bias->shape[0] != cout)
        return cf_set_error(CF_ERR_SHAPE, "%s: bias %s does not match %" PRId64 " output channels", op,
                            cf_shape_str(bias, b1, sizeof b1), cout);
    return CF_OK;
}

/* Checks a (transposed) convolution of x by w with nsp spatial dims and builds its node. */
static cf_tensor *conv_node(cf_ctx *ctx, cf_op opc, int nsp, cf_tensor *x, cf_tensor *w, cf_tensor *bias,
                            const struct conv_attr *a)
{
    const char *op = cf_op_name(opc);
    bool transpose = opc == CF_OP_conv_transpose2d;
    char b1[128], b2[128], k1[48], k2[48], k3[48];
    CF_TRY_NULL(cf_check_float(op, x));
    CF_TRY_NULL(cf_check_same_dtype(op, x, w));
    CF_TRY_NULL(cf_check_ndim(op, x, 2 + nsp, 2 + nsp));
    if (w->ndim != 2 + nsp) {
        cf_set_error(CF_ERR_SHAPE, "%s: weight %s must have %d dims (%s)", op, cf_shape_str(w, b1, sizeof b1), 2 + nsp,
                     transpose ? "[Cin, Cout/groups, KH, KW]"
                               : (nsp == 1 ? "[Cout, Cin/groups, K]" : "[Cout, Cin/groups, KH, KW]"));
        return NULL;
    }
    CF_TRY_NULL(check_params(op, a));
    for (int i = 2; i < w->ndim; i++)
        if (w->shape[i] < 1) {
            cf_set_error(CF_ERR_SHAPE, "%s: weight %s has an empty kernel", op, cf_shape_str(w, b1, sizeof b1));
            return NULL;
        }
    int64_t cin = x->shape[1], G = a->groups;
    if (cin % G != 0) {
        cf_set_error(CF_ERR_SHAPE, "%s: input channels %" PRId64 " of x %s are not divisible by groups %" PRId64, op,
                     cin, cf_shape_str(x, b1, sizeof b1), G);
        return NULL;
    }
    int64_t cout;
    if (transpose) {
        if (w->shape[0] != cin) {
            cf_set_error(CF_ERR_SHAPE,
                         "%s: weight %s ([Cin, Cout/groups, KH, KW]) wants %" PRId64
                         " input channels, x %s has %" PRId64,
                         op, cf_shape_str(w, b1, sizeof b1), w->shape[0], cf_shape_str(x, b2, sizeof b2), cin);
            return NULL;
        }
        cout = w->shape[1] * G;
    } else {
        cout = w->shape[0];
        if (cout % G != 0) {
            cf_set_error(CF_ERR_SHAPE,
                         "%s: output channels %" PRId64 " of weight %s are not divisible by groups %" PRId64, op, cout,
                         cf_shape_str(w, b1, sizeof b1), G);
            return NULL;
        }
        if (w->shape[1] * G != cin) {
            cf_set_error(CF_ERR_SHAPE,
                         "%s: weight %s wants %" PRId64 " input channels (%" PRId64 " per group x %" PRId64
                         " groups), x %s has %" PRId64,
                         op, cf_shape_str(w, b1, sizeof b1), w->shape[1] * G, w->shape[1], G,
                         cf_shape_str(x, b2, sizeof b2), cin);
            return NULL;
        }
    }
    CF_TRY_NULL(check_bias(op, x, bias, cout));

    int64_t shape[4] = {x->shape[0], cout, 1, 1}, in[2] = {1, 1}, k[2] = {1, 1}, eff[2], padded[2];
    for (int i = 0; i < nsp; i++) {
        in[2 - nsp + i] = x->shape[2 + i];
        k[2 - nsp + i] = w->shape[2 + i];
    }
    for (int i = 0; i < 2; i++) {
        eff[i] = a->dilation[i] * (k[i] - 1) + 1;
        padded[i] = in[i] + 2 * a->padding[i];
    }
    if (transpose) {
        for (int i = 0; i < 2; i++) {
            int64_t lim = a->stride[i] > a->dilation[i] ? a->stride[i] : a->dilation[i];
            if (a->output_padding[i] >= lim) {
                cf_set_error(CF_ERR_ARG,
                             "%s: output_padding %" PRId64 " must be smaller than stride %" PRId64
                             " or dilation %" PRId64,
                             op, a->output_padding[i], a->stride[i], a->dilation[i]);
                return NULL;
            }
            shape[2 + i] = (in[i] - 1) * a->stride[i] - 2 * a->padding[i] + eff[i] + a->output_padding[i];
        }
        if (shape[2] < 1 || shape[3] < 1) {
            cf_set_error(CF_ERR_SHAPE, "%s: x %s with weight %s, stride %s and padding %s gives an empty output %s", op,
                         cf_shape_str(x, b1, sizeof b1), cf_shape_str(w, b2, sizeof b2),
                         conv_pair_str(a->stride, nsp, k1, sizeof k1), conv_pair_str(a->padding, nsp, k2, sizeof k2),
                         conv_pair_str(shape + 2, nsp, k3, sizeof k3));
            return NULL;
        }
    } else {
        if (padded[0] < eff[0] || padded[1] < eff[1]) {
            cf_set_error(CF_ERR_SHAPE,
                         "%s: kernel %s (dilated %s) is larger than the padded input %s (x %s, padding %s)", op,
                         conv_pair_str(k, nsp, k1, sizeof k1), conv_pair_str(eff, nsp, k2, sizeof k2),
                         conv_pair_str(padded, nsp, k3, sizeof k3), cf_shape_str(x, b1, sizeof b1),
                         conv_pair_str(a->padding, nsp, b2, sizeof b2));
            return NULL;
        }
        for (int i = 0; i < 2; i++) shape[2 + i] = (padded[i] - eff[i]) / a->stride[i] + 1;
    }
    int nd = 2 + nsp;
    if (nsp == 1) shape[2] = shape[3];
    cf_tensor *out = cf_empty(ctx, x->dtype, nd, shape);
    cf_tensor *ins[3] = {x, w, bias};
    cf_node *n = cf_node_new(ctx, opc, bias ? 3 : 2, ins, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct conv_attr) = *a;
    /* backward reads x only for the weight's gradient and w only for the input's; never the bias */
    n->saves = (w->requires_grad ? 1u : 0u) | (x->requires_grad ? 2u : 0u);
    return cf_node_finish(ctx, n);
}

static int64_t or1(int64_t v) { return v == 0 ? 1 : v; }

cf_tensor *cf_conv1d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias, int64_t stride, int64_t padding,
                     int64_t dilation, int64_t groups)
{
    CF_GUARD(x, w);
    struct conv_attr a = {
        .stride = {1, or1(stride)}, .padding = {0, padding}, .dilation = {1, or1(dilation)}, .groups = or1(groups)};
    return conv_node(ctx, CF_OP_conv1d, 1, x, w, bias, &a);
}

cf_tensor *cf_conv2d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias, const cf_conv2d_opts *opts)
{
    CF_GUARD(x, w);
    cf_conv2d_opts o = opts ? *opts : (cf_conv2d_opts){0};
    struct conv_attr a = {.groups = or1(o.groups)};
    for (int i = 0; i < 2; i++) {
        a.stride[i] = or1(o.stride[i]);
        a.padding[i] = o.padding[i];
        a.dilation[i] = or1(o.dilation[i]);
    }
    return conv_node(ctx, CF_OP_conv2d, 2, x, w, bias, &a);
}

cf_tensor *cf_conv_transpose2d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias,
                               const cf_conv_transpose2d_opts *opts)
{
    CF_GUARD(x, w);
    cf_conv_transpose2d_opts o = opts ? *opts : (cf_conv_transpose2d_opts){0};
    struct conv_attr a = {.groups = or1(o.groups)};
    for (int i = 0; i < 2; i++) {
        a.stride[i] = or1(o.stride[i]);
        a.padding[i] = o.padding[i];
        a.output_padding[i] = o.output_padding[i];
        a.dilation[i] = or1(o.dilation[i]);
    }
    return conv_node(ctx, CF_OP_conv_transpose2d, 2, x, w, bias, &a);
}

cf_tensor *cf_conv3d(cf_ctx *ctx, cf_tensor *x, cf_tensor *w, cf_tensor *bias, const int64_t *stride)
{
    CF_GUARD(x, w);
    const char *op = "conv3d";
    char b1[128], b2[128];
    CF_TRY_NULL(cf_check_float(op, x));
    CF_TRY_NULL(cf_check_same_dtype(op, x, w));
    CF_TRY_NULL(cf_check_ndim(op, x, 5, 5));
    if (w->ndim != 5 || w->shape[1] != x->shape[1]) {
        cf_set_error(CF_ERR_SHAPE, "%s: weight %s ([Cout, C, kt, kh, kw]) does not fit x %s", op,
                     cf_shape_str(w, b1, sizeof b1), cf_shape_str(x, b2, sizeof b2));
        return NULL;
    }
    if (stride && (stride[0] != w->shape[2] || stride[1] != w->shape[3] || stride[2] != w->shape[4])) {
        cf_set_error(CF_ERR_UNSUPPORTED,
                     "%s: only non-overlapping patches are supported: stride %" PRId64 "x%" PRId64 "x%" PRId64
                     " must equal the kernel size of weight %s",
                     op, stride[0], stride[1], stride[2], cf_shape_str(w, b1, sizeof b1));
        return NULL;
    }
    int64_t cout = w->shape[0];
    CF_TRY_NULL(check_bias(op, x, bias, cout));
    int64_t shape[5] = {x->shape[0], cout, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (w->shape[2 + i] < 1 || x->shape[2 + i] < w->shape[2 + i]) {
            cf_set_error(CF_ERR_SHAPE, "%s: kernel of weight %s is larger than the input x %s", op,
                         cf_shape_str(w, b1, sizeof b1), cf_shape_str(x, b2, sizeof b2));
            return NULL;
        }
        shape[2 + i] = x->shape[2 + i] / w->shape[2 + i];
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, 5, shape);
    cf_tensor *ins[3] = {x, w, bias};
    cf_node *n = cf_node_new(ctx, CF_OP_conv3d, bias ? 3 : 2, ins, out);
    if (!n) return NULL;
    /* backward reads x only for the weight's gradient and w only for the input's; never the bias */
    n->saves = (w->requires_grad ? 1u : 0u) | (x->requires_grad ? 2u : 0u);
    return cf_node_finish(ctx, n);
}
