/* EcoFormer's attention layer (Liu et al., NeurIPS 2022, Sec. 3.1): softmax or kernel-hash binary attention
 * on shared, unit-norm queries/keys, with the hash learned on the first training batch. */
#include "layers/ecoformer.h"

#include <math.h>
#include <string.h>

cf_status cf_eco_attention_init(cf_eco_attention *a, cf_params *ps, const char *name, const cf_eco_attention_config *c)
{
    memset(a, 0, sizeof *a);
    if (c->heads < 1 || c->dim % c->heads)
        return cf_set_error(CF_ERR_ARG, "%s: heads %lld do not divide dim %lld", name, (long long)c->heads,
                            (long long)c->dim);
    a->cfg = *c;
    a->head_dim = c->dim / c->heads;
    cf_params_push(ps, "%s", name);
    cf_status st = cf_linear_init(&a->q, ps, "q", c->dim, c->dim, true, 0);
    if (st == CF_OK && !c->hashed) st = cf_linear_init(&a->k, ps, "k", c->dim, c->dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&a->v, ps, "v", c->dim, c->dim, true, 0);
    if (st == CF_OK) st = cf_linear_init(&a->proj, ps, "proj", c->dim, c->dim, true, 0);
    if (st == CF_OK && c->hashed) st = cf_kernel_hash_init(&a->hash, ps, "hash", c->heads, a->head_dim, c->bits, c->anchors);
    cf_params_pop(ps);
    return st;
}

/* [B, N, H*C] -> [B, H, N, C] */
static cf_tensor *split_heads(cf_ctx *ctx, cf_tensor *x, int64_t heads)
{
    int64_t B = x->shape[0], N = x->shape[1], C = x->shape[2] / heads;
    return cf_transpose(ctx, cf_reshape(ctx, x, CF_SHAPE(B, N, heads, C)), 1, 2);
}

cf_tensor *cf_eco_attention_fwd(cf_ctx *ctx, cf_eco_attention *a, cf_tensor *x, const cf_hash_learn_opts *learn,
                                cf_eco_probe *probe)
{
    if (!x || x->ndim != 3 || x->shape[2] != a->cfg.dim) {
        cf_set_error(CF_ERR_SHAPE, "ecoformer attention: x must be [B, N, %lld]", (long long)a->cfg.dim);
        return NULL;
    }
    int64_t B = x->shape[0], N = x->shape[1], H = a->cfg.heads;
    cf_tensor *q = split_heads(ctx, cf_linear_fwd(ctx, &a->q, x), H);
    cf_tensor *v = split_heads(ctx, cf_linear_fwd(ctx, &a->v, x), H);
    cf_tensor *o;
    if (!a->cfg.hashed) {
        cf_tensor *k = split_heads(ctx, cf_linear_fwd(ctx, &a->k, x), H);
        if (probe) probe->q = cf_contiguous(ctx, q), probe->k = cf_contiguous(ctx, k);
        if (a->cfg.logit_bound > 0) { /* softmax(bound * sigmoid(q k^T / sqrt(C))) v */
            cf_tensor *s = cf_mul_scalar(ctx, cf_matmul(ctx, q, cf_transpose(ctx, k, 2, 3)), 1 / sqrt((double)a->head_dim));
            o = cf_matmul(ctx, cf_softmax(ctx, cf_mul_scalar(ctx, cf_sigmoid(ctx, s), a->cfg.logit_bound), 3), v);
        } else {
            o = cf_sdpa(ctx, q, k, v, NULL);
        }
    } else {
        static const int last[] = {3};
        cf_tensor *qk = cf_mul(ctx, q, cf_rsqrt(ctx, cf_add_scalar(ctx, cf_sum(ctx, cf_mul(ctx, q, q), 1, last, true), 1e-12)));
        if (!qk) return NULL;
        if (learn && cf_is_training(ctx) && !cf_kernel_hash_learned(&a->hash) &&
            cf_kernel_hash_learn(&a->hash, qk, learn, NULL) != CF_OK)
            return NULL;
        cf_tensor *h = cf_kernel_hash_fwd(ctx, &a->hash, qk);
        if (probe) probe->qk = qk, probe->codes = h;
        o = cf_binary_linear_attention(ctx, h, v, a->cfg.code_compat);
    }
    if (!o) return NULL;
    o = cf_reshape(ctx, cf_contiguous(ctx, cf_transpose(ctx, o, 1, 2)), CF_SHAPE(B, N, a->cfg.dim));
    return cf_linear_fwd(ctx, &a->proj, o);
}
