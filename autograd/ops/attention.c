/* The cf_sdpa frontend: shape, dtype and option checks, then one node with the optional masks and bias
 * as extra inputs. */
#include "autograd/ops/attention.h"

#include "autograd/cf_node.h"
#include "autograd/ops/attention_attr.h"

#include <math.h>

/* Whether t's shape broadcasts to the 4-D shape want (dims aligned from the right). */
static bool broadcasts_to(const cf_tensor *t, const int64_t want[4])
{
    if (t->ndim > 4) return false;
    for (int d = 0; d < t->ndim; d++) {
        int64_t s = t->shape[t->ndim - 1 - d], w = want[3 - d];
        if (s != w && s != 1) return false;
    }
    return true;
}

static cf_status check_qkv(const cf_tensor *q, const cf_tensor *k, const cf_tensor *v)
{
    char a[128], b[128], c[128];
    CF_TRY(cf_check_float("sdpa", q));
    CF_TRY(cf_check_same_dtype("sdpa", q, k));
    CF_TRY(cf_check_same_dtype("sdpa", q, v));
    bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && k->shape[0] == q->shape[0] &&
              v->shape[0] == q->shape[0] && k->shape[3] == q->shape[3] && v->shape[1] == k->shape[1] &&
              v->shape[2] == k->shape[2];
    if (!ok)
        return cf_set_error(CF_ERR_SHAPE,
                            "sdpa: q %s, k %s, v %s do not fit q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv]",
                            cf_shape_str(q, a, sizeof a), cf_shape_str(k, b, sizeof b), cf_shape_str(v, c, sizeof c));
    if (k->shape[1] == 0 || q->shape[1] % k->shape[1] != 0)
        return cf_set_error(CF_ERR_SHAPE, "sdpa: q's %lld heads are not a multiple of k's %lld heads (q %s, k %s)",
                            (long long)q->shape[1], (long long)k->shape[1], cf_shape_str(q, a, sizeof a),
                            cf_shape_str(k, b, sizeof b));
    return CF_OK;
}

static cf_status check_opts(const cf_sdpa_opts *o, const cf_tensor *q, const cf_tensor *k)
{
    char a[128], b[128];
    int64_t full[4] = {q->shape[0], q->shape[1], q->shape[2], k->shape[2]};
    if (!isfinite(o->scale)) return cf_set_error(CF_ERR_ARG, "sdpa: scale %g is not finite", o->scale);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return cf_set_error(CF_ERR_ARG, "sdpa: dropout %g is not in [0, 1)", o->dropout);
    switch (o->mask) {
    case CF_SDPA_NONE:
    case CF_SDPA_CAUSAL: break;
    case CF_SDPA_WINDOW:
        if (o->window < 1) return cf_set_error(CF_ERR_ARG, "sdpa: window %lld must be >= 1", (long long)o->window);
        break;
    case CF_SDPA_BLOCK:
        if (o->block < 1) return cf_set_error(CF_ERR_ARG, "sdpa: block %lld must be >= 1", (long long)o->block);
        break;
    default: return cf_set_error(CF_ERR_ARG, "sdpa: unknown mask kind %d", (int)o->mask);
    }
    if (o->attn_mask) {
        CF_TRY(cf_check_dtype("sdpa: attn_mask", o->attn_mask, CF_BOOL));
        if (!broadcasts_to(o->attn_mask, full))
            return cf_set_error(CF_ERR_SHAPE, "sdpa: attn_mask %s does not broadcast to [B, H, Tq, Tk] = [%lld, %lld, %lld, %lld]",
                                cf_shape_str(o->attn_mask, a, sizeof a), (long long)full[0], (long long)full[1],
                                (long long)full[2], (long long)full[3]);
    }
    if (o->key_padding) {
        CF_TRY(cf_check_dtype("sdpa: key_padding", o->key_padding, CF_BOOL));
        const cf_tensor *p = o->key_padding;
        if (p->ndim != 2 || p->shape[0] != full[0] || p->shape[1] != full[3])
            return cf_set_error(CF_ERR_SHAPE, "sdpa: key_padding %s is not [B, Tk] = [%lld, %lld] (k %s)",
                                cf_shape_str(p, a, sizeof a), (long long)full[0], (long long)full[3],
                                cf_shape_str(k, b, sizeof b));
    }
    if (o->bias) {
        CF_TRY(cf_check_same_dtype("sdpa: bias", q, o->bias));
        if (!broadcasts_to(o->bias, full))
            return cf_set_error(CF_ERR_SHAPE, "sdpa: bias %s does not broadcast to [B, H, Tq, Tk] = [%lld, %lld, %lld, %lld]",
                                cf_shape_str(o->bias, a, sizeof a), (long long)full[0], (long long)full[1],
                                (long long)full[2], (long long)full[3]);
    }
    return CF_OK;
}

cf_tensor *cf_sdpa(cf_ctx *ctx, cf_tensor *q, cf_tensor *k, cf_tensor *v, const cf_sdpa_opts *opts)
{
    CF_GUARD(q, k, v);
    cf_sdpa_opts o = opts ? *opts : (cf_sdpa_opts){0};
    CF_TRY_NULL(check_qkv(q, k, v));
    CF_TRY_NULL(check_opts(&o, q, k));

    cf_tensor *in[6] = {q, k, v};
    int n_in = 3, i_mask = -1, i_pad = -1, i_bias = -1;
    if (o.attn_mask) i_mask = n_in, in[n_in++] = o.attn_mask;
    if (o.key_padding) i_pad = n_in, in[n_in++] = o.key_padding;
    if (o.bias) i_bias = n_in, in[n_in++] = o.bias;

    cf_tensor *out = cf_empty(ctx, q->dtype, CF_SHAPE(q->shape[0], q->shape[1], q->shape[2], v->shape[3]));
    cf_node *n = cf_node_new(ctx, CF_OP_sdpa, n_in, in, out);
    if (!n) return NULL;
    struct sdpa_attr *a = CF_ATTR(n, struct sdpa_attr);
    a->scale = o.scale != 0 ? o.scale : (q->shape[3] > 0 ? 1.0 / sqrt((double)q->shape[3]) : 1.0);
    a->dropout = cf_is_training(ctx) ? o.dropout : 0.0;
    a->mask = (int)o.mask;
    a->window = o.window;
    a->block = o.block;
    a->i_mask = i_mask, a->i_pad = i_pad, a->i_bias = i_bias;
    a->seed = cf_ctx_seed(ctx);
    a->step = cf_ctx_step(ctx);
    a->stream = o.dropout_stream;
    /* backward reads every input (the bias and masks to rebuild the scores) and the output (for
     * rowsum(dO * O)): the default saves */
    return cf_node_finish(ctx, n);
}
