/* The MBConv block with squeeze-excitation (Sandler et al., "MobileNetV2", sec. 3.3, the inverted residual;
 * Hu et al., "Squeeze-and-Excitation Networks", sec. 3; in the pre-norm form of CoAtNet / MaxViT that
 * Astroformer's C stages use), and a 2-D batch norm whose running statistics are frozen parameters (so
 * checkpoints carry them).
 *
 * x [B, in, H, W] -> [B, out, H/s, W/s] (s = stride 1 or 2; H, W even when s = 2):
 *     sc = s == 2 ? Conv1x1(AvgPool2x2(x)) (bias) : in != out ? Conv1x1(x) (bias) : x
 *     y  = BN0(x)
 *     y  = GELU(BN1(Conv1x1(y, mid)))                     mid = expand * out, no bias
 *     y  = GELU(BN2(DWConv3x3(y, stride s)))              no bias
 *     y  = y * sigmoid(Conv1x1(SiLU(Conv1x1(GAP(y), rd)), mid))     SE, rd = max(1, out / 4), biases
 *     out = sc + DropPath(Conv1x1(y, out) + bias)
 * Convolution weights ~ N(0, sqrt(2 / fan_out)), fan_out = k*k*out/groups (timm's MaxxViT init).
 *
 *     cf_mbconv b;
 *     cf_mbconv_init(&b, ps, "stages.0.0", 16, 24, 2, 4);
 *     cf_tensor *y = cf_mbconv_fwd(ctx, &b, x, 0.0);     // BN in train mode when cf_is_training(ctx)
 */
#ifndef CF_LAYERS_MBCONV_H
#define CF_LAYERS_MBCONV_H

#include "layers/nn.h"

typedef struct cf_mbconv {
    int64_t in, out, mid, rd, stride;
    cf_batch_norm_layer bn0, bn1, bn2;
    cf_tensor *w_exp, *w_dw, *se_w1, *se_b1, *se_w2, *se_b2, *w_proj, *b_proj;
    cf_tensor *sc_w, *sc_b; /* NULL when the shortcut is the identity */
    uint64_t stream;
} cf_mbconv;

cf_status cf_mbconv_init(cf_mbconv *b, cf_params *ps, const char *name, int64_t in, int64_t out, int64_t stride,
                         int64_t expand);
cf_tensor *cf_mbconv_fwd(cf_ctx *ctx, const cf_mbconv *b, cf_tensor *x, double drop_path);

#endif
