/* FlatFormer's dense part (layers/flatformer.h): a small BEV backbone, the CenterPoint head and its loss
 * (Yin et al., "Center-based 3D Object Detection and Tracking", CVPR 2021, section 3: heat-map with a
 * Gaussian focal loss, box regression with L1 at the centres), as FlatFormer's section 4 uses them. */
#include "layers/flatformer.h"

#include <math.h>
#include <string.h>

cf_status cf_ff_head_init(cf_ff_head *h, cf_params *ps, const char *name, int64_t in, int64_t mid, int64_t stride)
{
    memset(h, 0, sizeof *h);
    h->in = in, h->mid = mid, h->stride = stride;
    cf_params_push(ps, "%s", name);
    for (int i = 0; i < 3; i++) {
        char n[64];
        snprintf(n, sizeof n, "conv%d.weight", i);
        h->w[i] = cf_params_add(ps, n, CF_SHAPE(mid, i ? mid : in, 3, 3), true);
        snprintf(n, sizeof n, "bn%d.weight", i);
        h->bn_w[i] = cf_params_add(ps, n, CF_SHAPE(mid), false);
        snprintf(n, sizeof n, "bn%d.bias", i);
        h->bn_b[i] = cf_params_add(ps, n, CF_SHAPE(mid), false);
        if (!h->w[i] || !h->bn_w[i] || !h->bn_b[i]) {
            cf_params_pop(ps);
            return cf_last_status();
        }
    }
    h->out_w = cf_params_add(ps, "out.weight", CF_SHAPE(CF_FF_HEAD_OUT, mid, 3, 3), true);
    h->out_b = cf_params_add(ps, "out.bias", CF_SHAPE(CF_FF_HEAD_OUT), false);
    cf_params_pop(ps);
    if (!h->out_w || !h->out_b) return cf_last_status();
    for (int i = 0; i < 3; i++) {
        CF_TRY(cf_init_normal(ps, h->w[i], 0, sqrt(2.0 / (double)((i ? mid : in) * 9))));
        cf_fill_(h->bn_w[i], 1.0);
    }
    CF_TRY(cf_init_normal(ps, h->out_w, 0, 0.01));
    /* the heat-map bias -2.19 = logit(0.1): CenterPoint's prior */
    for (int k = 0; k < CF_FF_HEAD_OUT; k++) cf_set_flat(h->out_b, k, k < CF_FF_NCLASS ? -2.19 : 0.0);
    return CF_OK;
}

cf_tensor *cf_ff_head_fwd(cf_ctx *ctx, const cf_ff_head *h, cf_tensor *bev)
{
    cf_tensor *x = bev;
    for (int i = 0; i < 3; i++) {
        int64_t s = i == 0 ? h->stride : 1;
        x = cf_conv2d(ctx, x, h->w[i], NULL, &(cf_conv2d_opts){.stride = {s, s}, .padding = {1, 1}});
        x = cf_relu(ctx, cf_batch_norm(ctx, x, h->bn_w[i], h->bn_b[i], NULL, NULL, true, 0.01, 1e-3));
    }
    return cf_conv2d(ctx, x, h->out_w, h->out_b, &(cf_conv2d_opts){.padding = {1, 1}});
}

cf_tensor *cf_ff_center_loss(cf_ctx *ctx, cf_tensor *pred, cf_tensor *heat, cf_tensor *cells, cf_tensor *box,
                             double reg_weight, double *out_heat, double *out_box)
{
    if (!pred || !heat) return NULL;
    int64_t B = pred->shape[0], H = pred->shape[2], W = pred->shape[3];
    cf_dtype dt = pred->dtype;
    cf_tensor *logit = cf_narrow(ctx, pred, 1, 0, CF_FF_NCLASS);
    cf_tensor *p = cf_clamp(ctx, cf_sigmoid(ctx, logit), 1e-4, 1 - 1e-4);
    /* pos = (heat == 1); negative weight (1 - heat)^4 off the centres */
    cf_tensor *pos = cf_empty(ctx, dt, CF_SHAPE(B, CF_FF_NCLASS, H, W));
    cf_tensor *negw = cf_empty(ctx, dt, CF_SHAPE(B, CF_FF_NCLASS, H, W));
    if (!pos || !negw) return NULL;
    int64_t npos = 0;
    for (int64_t i = 0; i < cf_numel(heat); i++) {
        double t = cf_get_flat(heat, i);
        int is_pos = t >= 1.0 - 1e-6;
        npos += is_pos;
        cf_set_flat(pos, i, is_pos);
        cf_set_flat(negw, i, is_pos ? 0.0 : pow(1.0 - t, 4));
    }
    cf_tensor *one_m_p = cf_neg(ctx, cf_sub(ctx, p, cf_full(ctx, dt, 0, NULL, 1.0)));
    cf_tensor *lp = cf_mul(ctx, cf_mul(ctx, pos, cf_log(ctx, p)), cf_pow_scalar(ctx, one_m_p, 2));
    cf_tensor *ln = cf_mul(ctx, cf_mul(ctx, negw, cf_log(ctx, one_m_p)), cf_pow_scalar(ctx, p, 2));
    cf_tensor *lh = cf_mul(ctx, cf_sum(ctx, cf_add(ctx, lp, ln), 0, NULL, false),
                           cf_full(ctx, dt, 0, NULL, -1.0 / (double)(npos > 0 ? npos : 1)));
    if (out_heat && lh) *out_heat = cf_get_flat(lh, 0);
    cf_tensor *loss = lh;
    if (cells && cells->shape[0] > 0) {
        cf_tensor *reg = cf_narrow(ctx, pred, 1, CF_FF_NCLASS, 8);
        reg = cf_reshape(ctx, cf_permute(ctx, reg, (int[]){0, 2, 3, 1}), CF_SHAPE(B * H * W, 8));
        cf_tensor *lb = cf_l1_loss(ctx, cf_index_select(ctx, reg, 0, cells), box, CF_REDUCTION_MEAN);
        if (out_box && lb) *out_box = cf_get_flat(lb, 0);
        loss = cf_add(ctx, loss, cf_mul(ctx, lb, cf_full(ctx, dt, 0, NULL, reg_weight)));
    } else if (out_box) {
        *out_box = 0;
    }
    return loss;
}
