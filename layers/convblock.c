/* conv2d -> batch norm -> activation, the image models' basic block. */
#include "layers/nn.h"

#include <math.h>

cf_status cf_conv_block_init(cf_conv_block *b, cf_params *ps, const char *name, int64_t in, int64_t out, int64_t k,
                             int64_t stride, int64_t groups, cf_act_kind act)
{
    if (groups < 1 || in % groups || out % groups)
        return cf_set_error(CF_ERR_ARG, "%s: channels %lld -> %lld do not divide into %lld groups", name, (long long)in,
                            (long long)out, (long long)groups);
    b->stride = stride, b->padding = k / 2, b->groups = groups, b->act = act;
    cf_params_push(ps, "%s", name);
    b->weight = cf_params_add(ps, "conv.weight", CF_SHAPE(out, in / groups, k, k), true);
    b->bn_weight = cf_params_add(ps, "bn.weight", CF_SHAPE(out), false);
    b->bn_bias = cf_params_add(ps, "bn.bias", CF_SHAPE(out), false);
    cf_params_pop(ps);
    b->running_mean = cf_tensor_alloc(ps->dtype, CF_SHAPE(out));
    b->running_var = cf_tensor_alloc(ps->dtype, CF_SHAPE(out));
    if (!b->weight || !b->bn_weight || !b->bn_bias || !b->running_mean || !b->running_var) return cf_last_status();
    cf_fill_(b->running_var, 1.0);
    cf_fill_(b->bn_weight, 1.0);
    /* Kaiming normal for ReLU-family activations */
    return cf_init_normal(ps, b->weight, 0, sqrt(2.0 / (double)(in / groups * k * k)));
}

void cf_conv_block_free(cf_conv_block *b)
{
    cf_tensor_free(b->running_mean);
    cf_tensor_free(b->running_var);
    b->running_mean = b->running_var = NULL;
}

cf_tensor *cf_conv_block_fwd(cf_ctx *ctx, const cf_conv_block *b, cf_tensor *x)
{
    cf_conv2d_opts o = {.stride = {b->stride, b->stride}, .padding = {b->padding, b->padding}, .groups = b->groups};
    cf_tensor *y = cf_conv2d(ctx, x, b->weight, NULL, &o);
    y = cf_batch_norm(ctx, y, b->bn_weight, b->bn_bias, b->running_mean, b->running_var, cf_is_training(ctx), 0.1, 1e-5);
    switch (b->act) {
    case CF_ACT_RELU: return cf_relu(ctx, y);
    case CF_ACT_GELU: return cf_gelu(ctx, y);
    case CF_ACT_SILU: return cf_silu(ctx, y);
    default: return y;
    }
}
