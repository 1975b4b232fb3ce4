/* MBConv with squeeze-excitation and a 2-D batch norm (MobileNetV2 sec. 3.3, SE-Net sec. 3): layers/mbconv.h. */
#include "layers/mbconv.h"

#include <math.h>

static cf_tensor *conv_param(cf_params *ps, const char *name, int64_t out, int64_t in_per_group, int64_t k,
                             int64_t groups)
{
    cf_tensor *w = cf_params_add(ps, name, CF_SHAPE(out, in_per_group, k, k), true);
    if (w && cf_init_normal(ps, w, 0, sqrt(2.0 / (double)(k * k * out / groups))) != CF_OK) return NULL;
    return w;
}

cf_status cf_mbconv_init(cf_mbconv *b, cf_params *ps, const char *name, int64_t in, int64_t out, int64_t stride,
                         int64_t expand)
{
    if (in < 1 || out < 1 || expand < 1 || (stride != 1 && stride != 2))
        return cf_set_error(CF_ERR_ARG, "%s: MBConv needs channels >= 1, expand >= 1 and stride 1 or 2", name);
    *b = (cf_mbconv){.in = in, .out = out, .mid = expand * out, .rd = out / 4 > 0 ? out / 4 : 1, .stride = stride};
    cf_params_push(ps, "%s", name);
    b->stream = cf_name_hash(ps->scope);
    cf_status st = cf_batch_norm_layer_init(&b->bn0, ps, "pre_norm", in);
    if (st == CF_OK) st = cf_batch_norm_layer_init(&b->bn1, ps, "norm1", b->mid);
    if (st == CF_OK) st = cf_batch_norm_layer_init(&b->bn2, ps, "norm2", b->mid);
    b->w_exp = conv_param(ps, "conv1_1x1.weight", b->mid, in, 1, 1);
    b->w_dw = conv_param(ps, "conv2_kxk.weight", b->mid, 1, 3, b->mid);
    b->se_w1 = conv_param(ps, "se.fc1.weight", b->rd, b->mid, 1, 1);
    b->se_b1 = cf_params_add(ps, "se.fc1.bias", CF_SHAPE(b->rd), false);
    b->se_w2 = conv_param(ps, "se.fc2.weight", b->mid, b->rd, 1, 1);
    b->se_b2 = cf_params_add(ps, "se.fc2.bias", CF_SHAPE(b->mid), false);
    b->w_proj = conv_param(ps, "conv3_1x1.weight", out, b->mid, 1, 1);
    b->b_proj = cf_params_add(ps, "conv3_1x1.bias", CF_SHAPE(out), false);
    bool sc = stride == 2 || in != out;
    if (sc) {
        b->sc_w = conv_param(ps, "shortcut.weight", out, in, 1, 1);
        b->sc_b = cf_params_add(ps, "shortcut.bias", CF_SHAPE(out), false);
    }
    cf_params_pop(ps);
    if (st == CF_OK && (!b->w_exp || !b->w_dw || !b->se_w1 || !b->se_b1 || !b->se_w2 || !b->se_b2 || !b->w_proj ||
                        !b->b_proj || (sc && (!b->sc_w || !b->sc_b))))
        st = cf_last_status();
    return st;
}

cf_tensor *cf_mbconv_fwd(cf_ctx *ctx, const cf_mbconv *b, cf_tensor *x, double drop_path)
{
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[1] != b->in || (b->stride == 2 && (x->shape[2] % 2 || x->shape[3] % 2))) {
        cf_set_error(CF_ERR_SHAPE, "MBConv: expected [B, %lld, H, W]%s, got a %d-dim input", (long long)b->in,
                     b->stride == 2 ? " with H and W even" : "", x->ndim);
        return NULL;
    }
    cf_tensor *sc = x;
    if (b->stride == 2) {
        cf_pool2d_opts p = {.kernel = {2, 2}};
        sc = cf_avg_pool2d(ctx, x, &p);
    }
    if (b->sc_w) sc = cf_conv2d(ctx, sc, b->sc_w, b->sc_b, NULL);
    cf_tensor *y = cf_batch_norm_layer_fwd(ctx, &b->bn0, x);
    y = cf_gelu(ctx, cf_batch_norm_layer_fwd(ctx, &b->bn1, cf_conv2d(ctx, y, b->w_exp, NULL, NULL)));
    cf_conv2d_opts dw = {.stride = {b->stride, b->stride}, .padding = {1, 1}, .groups = b->mid};
    y = cf_gelu(ctx, cf_batch_norm_layer_fwd(ctx, &b->bn2, cf_conv2d(ctx, y, b->w_dw, NULL, &dw)));
    cf_tensor *s = cf_mean(ctx, y, 2, (int[]){2, 3}, true); /* [B, mid, 1, 1] */
    s = cf_silu(ctx, cf_conv2d(ctx, s, b->se_w1, b->se_b1, NULL));
    s = cf_sigmoid(ctx, cf_conv2d(ctx, s, b->se_w2, b->se_b2, NULL));
    y = cf_conv2d(ctx, cf_mul(ctx, y, s), b->w_proj, b->b_proj, NULL);
    if (drop_path > 0) y = cf_drop_path(ctx, y, drop_path, b->stream);
    return cf_add(ctx, sc, y);
}
