/* Linear, embedding, norms and MLPs. */
#include "layers/nn.h"

#include <math.h>
#include <string.h>

cf_status cf_linear_init(cf_linear_layer *l, cf_params *ps, const char *name, int64_t in, int64_t out, bool bias,
                         double std)
{
    memset(l, 0, sizeof *l);
    l->in = in, l->out = out;
    cf_params_push(ps, "%s", name);
    l->weight = cf_params_add(ps, "weight", CF_SHAPE(out, in), true);
    if (bias) l->bias = cf_params_add(ps, "bias", CF_SHAPE(out), false);
    cf_params_pop(ps);
    if (!l->weight || (bias && !l->bias)) return cf_last_status();
    double bound = 1.0 / sqrt((double)in);
    if (std > 0) {
        cf_init_normal(ps, l->weight, 0, std);
    } else {
        cf_init_uniform(ps, l->weight, -bound, bound);
        if (l->bias) cf_init_uniform(ps, l->bias, -bound, bound);
    }
    return CF_OK;
}

cf_tensor *cf_linear_fwd(cf_ctx *ctx, const cf_linear_layer *l, cf_tensor *x) { return cf_linear(ctx, x, l->weight, l->bias); }

cf_status cf_embedding_init(cf_embedding_layer *e, cf_params *ps, const char *name, int64_t num, int64_t dim, double std)
{
    e->num = num, e->dim = dim;
    cf_params_push(ps, "%s", name);
    e->weight = cf_params_add(ps, "weight", CF_SHAPE(num, dim), false);
    cf_params_pop(ps);
    if (!e->weight) return cf_last_status();
    return cf_init_normal(ps, e->weight, 0, std > 0 ? std : 1.0);
}

cf_tensor *cf_embedding_fwd(cf_ctx *ctx, const cf_embedding_layer *e, cf_tensor *ids) { return cf_embedding(ctx, e->weight, ids); }

bool cf_norm_kind_parse(const char *s, cf_norm_kind *out)
{
    if (strcmp(s, "layer") == 0) return *out = CF_NORM_LAYER, true;
    if (strcmp(s, "rms") == 0) return *out = CF_NORM_RMS, true;
    return false;
}

cf_status cf_norm_init(cf_norm_layer *n, cf_params *ps, const char *name, cf_norm_kind kind, int64_t dim, bool bias,
                       double eps)
{
    memset(n, 0, sizeof *n);
    n->kind = kind, n->eps = eps > 0 ? eps : 1e-5;
    cf_params_push(ps, "%s", name);
    n->weight = cf_params_add(ps, "weight", CF_SHAPE(dim), false);
    if (kind == CF_NORM_LAYER && bias) n->bias = cf_params_add(ps, "bias", CF_SHAPE(dim), false);
    cf_params_pop(ps);
    if (!n->weight || (kind == CF_NORM_LAYER && bias && !n->bias)) return cf_last_status();
    return cf_init_constant(n->weight, 1.0);
}

cf_tensor *cf_norm_fwd(cf_ctx *ctx, const cf_norm_layer *n, cf_tensor *x)
{
    if (n->kind == CF_NORM_RMS) return cf_rms_norm(ctx, x, n->weight, n->eps);
    return cf_layer_norm(ctx, x, 1, n->weight, n->bias, n->eps);
}

cf_tensor *cf_add_norm_fwd(cf_ctx *ctx, const cf_norm_layer *n, cf_tensor *x, cf_tensor *r, cf_tensor **sum_out)
{
    if (sum_out) *sum_out = NULL;
    if (x && r && x != r && cf_same_shape(x, r) && x->dtype == r->dtype) {
        if (n->kind == CF_NORM_RMS) return cf_add_rms_norm(ctx, x, r, n->weight, n->eps, sum_out);
        return cf_add_layer_norm(ctx, x, r, n->weight, n->bias, n->eps, sum_out);
    }
    cf_tensor *s = cf_add(ctx, x, r);
    if (sum_out) *sum_out = s;
    return cf_norm_fwd(ctx, n, s);
}

cf_status cf_batch_norm_layer_init(cf_batch_norm_layer *n, cf_params *ps, const char *name, int64_t ch)
{
    cf_params_push(ps, "%s", name);
    n->w = cf_params_add(ps, "weight", CF_SHAPE(ch), false);
    n->b = cf_params_add(ps, "bias", CF_SHAPE(ch), false);
    n->rm = cf_params_add(ps, "running_mean", CF_SHAPE(ch), false);
    n->rv = cf_params_add(ps, "running_var", CF_SHAPE(ch), false);
    cf_params_pop(ps);
    if (!n->w || !n->b || !n->rm || !n->rv) return cf_last_status();
    cf_requires_grad_(n->rm, false), cf_requires_grad_(n->rv, false);
    cf_fill_(n->w, 1), cf_fill_(n->b, 0), cf_fill_(n->rm, 0);
    return cf_fill_(n->rv, 1);
}

cf_tensor *cf_batch_norm_layer_fwd(cf_ctx *ctx, const cf_batch_norm_layer *n, cf_tensor *x)
{
    return cf_batch_norm(ctx, x, n->w, n->b, n->rm, n->rv, cf_is_training(ctx), 0.1, 1e-5);
}

bool cf_mlp_kind_parse(const char *s, cf_mlp_kind *out)
{
    static const struct {
        const char *name;
        cf_mlp_kind kind;
    } names[] = {{"gelu", CF_MLP_GELU}, {"gelu_tanh", CF_MLP_GELU_TANH}, {"relu", CF_MLP_RELU}, {"swiglu", CF_MLP_SWIGLU}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) return *out = names[i].kind, true;
    return false;
}

cf_status cf_mlp_init(cf_mlp *m, cf_params *ps, const char *name, cf_mlp_kind kind, int64_t dim, int64_t hidden,
                      bool bias, double std, double out_std)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    cf_params_push(ps, "%s", name);
    cf_status st = cf_linear_init(&m->fc1, ps, "fc1", dim, hidden, bias, std);
    if (st == CF_OK && kind == CF_MLP_SWIGLU) st = cf_linear_init(&m->gate, ps, "gate", dim, hidden, bias, std);
    if (st == CF_OK) st = cf_linear_init(&m->fc2, ps, "fc2", hidden, dim, bias, out_std > 0 ? out_std : std);
    cf_params_pop(ps);
    return st;
}

cf_tensor *cf_mlp_fwd(cf_ctx *ctx, const cf_mlp *m, cf_tensor *x)
{
    /* GELU: fc1, its bias and the activation as one op (one pass over the hidden activations each way) */
    if (m->kind == CF_MLP_GELU) return cf_linear_fwd(ctx, &m->fc2, cf_linear_gelu(ctx, x, m->fc1.weight, m->fc1.bias));
    cf_tensor *h = cf_linear_fwd(ctx, &m->fc1, x);
    switch (m->kind) {
    case CF_MLP_GELU: break; /* above */
    case CF_MLP_GELU_TANH: h = cf_gelu_tanh(ctx, h); break;
    case CF_MLP_RELU: h = cf_relu(ctx, h); break;
    case CF_MLP_SWIGLU: h = cf_mul(ctx, cf_silu(ctx, cf_linear_fwd(ctx, &m->gate, x)), h); break;
    }
    return cf_linear_fwd(ctx, &m->fc2, h);
}
