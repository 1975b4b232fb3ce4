/* ShapeFormer's layers (Le et al., KDD 2024, Sec. 3.3-3.5); the equations are in layers/shapeformer.h. */
#include "layers/shapeformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_tensor *param(cf_params *ps, const char *name, int ndim, const int64_t *shape, bool decay, bool frozen)
{
    cf_tensor *t = cf_params_add(ps, name, ndim, shape, decay);
    if (t && frozen) cf_requires_grad_(t, false);
    return t;
}

static cf_status attention_init(cf_sf_attention *a, cf_params *ps, const char *name, int64_t dim, int64_t heads)
{
    cf_params_push(ps, "%s", name);
    a->heads = heads;
    cf_status st = cf_linear_init(&a->q, ps, "q", dim, dim, false, 0);
    if (st == CF_OK) st = cf_linear_init(&a->k, ps, "k", dim, dim, false, 0);
    if (st == CF_OK) st = cf_linear_init(&a->v, ps, "v", dim, dim, false, 0);
    if (st == CF_OK) st = cf_norm_init(&a->ln, ps, "ln", CF_NORM_LAYER, dim, true, 1e-5);
    cf_params_pop(ps);
    return st;
}

/* Multi-head softmax attention with scale dim^-1/2 and a LayerNorm in place of an output projection. */
static cf_tensor *attention_fwd(cf_ctx *ctx, const cf_sf_attention *a, cf_tensor *x)
{
    int64_t B = x->shape[0], N = x->shape[1], D = x->shape[2], H = a->heads;
    static const int perm[] = {0, 2, 1, 3};
    cf_tensor *qkv[3];
    const cf_linear_layer *l[3] = {&a->q, &a->k, &a->v};
    for (int i = 0; i < 3; i++)
        qkv[i] = cf_permute(ctx, cf_reshape(ctx, cf_linear_fwd(ctx, l[i], x), CF_SHAPE(B, N, H, D / H)), perm);
    cf_tensor *o = cf_sdpa(ctx, qkv[0], qkv[1], qkv[2], &(cf_sdpa_opts){.scale = 1 / sqrt((double)D)});
    o = cf_reshape(ctx, cf_permute(ctx, o, perm), CF_SHAPE(B, N, D));
    return cf_norm_fwd(ctx, &a->ln, o);
}

static cf_status encoder_init(cf_sf_encoder *e, cf_params *ps, const char *name, int64_t dim, int64_t heads,
                              int64_t hidden)
{
    cf_params_push(ps, "%s", name);
    cf_status st = attention_init(&e->attn, ps, "attn", dim, heads);
    if (st == CF_OK) st = cf_norm_init(&e->ln1, ps, "ln1", CF_NORM_LAYER, dim, true, 1e-5);
    if (st == CF_OK) st = cf_norm_init(&e->ln2, ps, "ln2", CF_NORM_LAYER, dim, true, 1e-5);
    if (st == CF_OK) st = cf_mlp_init(&e->ffn, ps, "ffn", CF_MLP_RELU, dim, hidden, true, 0, 0);
    cf_params_pop(ps);
    return st;
}

static cf_status batch_norm_init(cf_tensor *bn[4], cf_params *ps, const char *name, int64_t ch)
{
    cf_params_push(ps, "%s", name);
    bn[0] = param(ps, "weight", CF_SHAPE(ch), false, false);
    bn[1] = param(ps, "bias", CF_SHAPE(ch), false, false);
    bn[2] = param(ps, "running_mean", CF_SHAPE(ch), false, true);
    bn[3] = param(ps, "running_var", CF_SHAPE(ch), false, true);
    cf_params_pop(ps);
    if (!bn[0] || !bn[1] || !bn[2] || !bn[3]) return cf_last_status();
    CF_TRY(cf_init_constant(bn[0], 1));
    return cf_init_constant(bn[3], 1);
}

static cf_status shapelet_init(cf_shapeformer *m, cf_params *ps)
{
    const cf_shapeformer_config *c = &m->cfg;
    int64_t M = m->M, L = c->shapelet_max, E = c->es;
    cf_params_push(ps, "shapelets");
    m->values = param(ps, "values", CF_SHAPE(M, L), false, false);
    m->geometry = param(ps, "geometry", CF_SHAPE(M, 4), false, true);
    m->ce = param(ps, "ce", CF_SHAPE(M), false, true);
    m->found = param(ps, "found", CF_SHAPE(1), false, true);
    m->w1 = param(ps, "l1.weight", CF_SHAPE(M, E, L), true, false);
    m->b1 = param(ps, "l1.bias", CF_SHAPE(M, E), false, false);
    m->w2 = param(ps, "l2.weight", CF_SHAPE(M, E, L), true, false);
    m->b2 = param(ps, "l2.bias", CF_SHAPE(M, E), false, false);
    m->sw = param(ps, "sw", CF_SHAPE(M), false, false);
    m->pos_bias = param(ps, "pos.bias", CF_SHAPE(E), false, false);
    cf_status st = m->values && m->geometry && m->ce && m->found && m->w1 && m->b1 && m->w2 && m->b2 && m->sw && m->pos_bias
                       ? CF_OK
                       : cf_last_status();
    double bound = 1 / sqrt((double)L); /* PyTorch's Linear default for fan-in L */
    if (st == CF_OK) st = cf_init_uniform(ps, m->w1, -bound, bound);
    if (st == CF_OK) st = cf_init_uniform(ps, m->b1, -bound, bound);
    if (st == CF_OK) st = cf_init_uniform(ps, m->w2, -bound, bound);
    if (st == CF_OK) st = cf_init_uniform(ps, m->b2, -bound, bound);
    if (st == CF_OK) st = cf_init_constant(m->sw, 1);
    if (st == CF_OK) st = cf_embedding_init(&m->pos_dim, ps, "pos.dim", c->dims, E, 0.02);
    if (st == CF_OK) st = cf_embedding_init(&m->pos_start, ps, "pos.start", c->length, E, 0.02);
    if (st == CF_OK) st = cf_embedding_init(&m->pos_end, ps, "pos.end", c->length + 1, E, 0.02);
    cf_params_pop(ps);
    if (st == CF_OK) st = encoder_init(&m->senc, ps, "shapelet_encoder", E, c->heads, c->hidden);
    return st;
}

static cf_status generic_init(cf_shapeformer *m, cf_params *ps)
{
    const cf_shapeformer_config *c = &m->cfg;
    int64_t El = c->el, V = c->dims;
    cf_params_push(ps, "generic");
    m->c1w = param(ps, "conv1.weight", CF_SHAPE(El, 1, 1, 8), true, false);
    m->c1b = param(ps, "conv1.bias", CF_SHAPE(El), false, false);
    m->c2w = param(ps, "conv2.weight", CF_SHAPE(El, El, V, 1), true, false);
    m->c2b = param(ps, "conv2.bias", CF_SHAPE(El), false, false);
    m->pe = param(ps, "pe", CF_SHAPE(c->length, El), false, false);
    cf_status st = m->c1w && m->c1b && m->c2w && m->c2b && m->pe ? CF_OK : cf_last_status();
    double b1 = 1 / sqrt(8.0), b2 = 1 / sqrt((double)(El * V));
    if (st == CF_OK) st = cf_init_uniform(ps, m->c1w, -b1, b1);
    if (st == CF_OK) st = cf_init_uniform(ps, m->c1b, -b1, b1);
    if (st == CF_OK) st = cf_init_uniform(ps, m->c2w, -b2, b2);
    if (st == CF_OK) st = cf_init_uniform(ps, m->c2b, -b2, b2);
    if (st == CF_OK) st = cf_init_uniform(ps, m->pe, -0.02, 0.02);
    if (st == CF_OK) st = batch_norm_init(m->bn[0], ps, "bn1", El);
    if (st == CF_OK) st = batch_norm_init(m->bn[1], ps, "bn2", El);
    cf_params_pop(ps);
    if (st == CF_OK) st = encoder_init(&m->genc, ps, "generic_encoder", El, c->heads, c->hidden);
    return st;
}

cf_status cf_shapeformer_init(cf_shapeformer *m, cf_params *ps, const cf_shapeformer_config *c)
{
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    m->M = c->classes * c->per_class;
    if (!c->shapelet_branch && !c->generic_branch)
        return cf_set_error(CF_ERR_ARG, "shapeformer: at least one branch (shapelet, generic) is needed");
    if (c->es % c->heads || c->el % c->heads)
        return cf_set_error(CF_ERR_ARG, "shapeformer: heads (%lld) must divide both widths (%lld, %lld)",
                            (long long)c->heads, (long long)c->es, (long long)c->el);
    m->stream = cf_name_hash("shapeformer");
    if (c->shapelet_branch) CF_TRY(shapelet_init(m, ps));
    if (c->generic_branch) CF_TRY(generic_init(m, ps));
    int64_t in = (c->shapelet_branch ? c->es : 0) + (c->generic_branch ? c->el : 0);
    return cf_linear_init(&m->head, ps, "head", in, c->classes, true, 0);
}

bool cf_shapeformer_has_shapelets(const cf_shapeformer *m)
{
    return !m->cfg.shapelet_branch || cf_get_flat(m->found, 0) > 0.5;
}

cf_status cf_shapeformer_set_shapelets(cf_shapeformer *m, const cf_shapelet *sh, const float *x, int64_t N)
{
    const cf_shapeformer_config *c = &m->cfg;
    int64_t M = m->M, Lmax = c->shapelet_max, V = c->dims, T = c->length;
    double zmax = -INFINITY, zsum = 0;
    for (int64_t i = 0; i < M; i++) {
        int64_t L = sh[i].end - sh[i].start;
        if (L > Lmax)
            return cf_set_error(CF_ERR_ARG, "shapeformer: shapelet %lld is %lld long, more than model.shapelet_max (%lld)",
                                (long long)i, (long long)L, (long long)Lmax);
        if (sh[i].series < 0 || sh[i].series >= N || sh[i].dim >= V || sh[i].end > T || L < 2)
            return cf_set_error(CF_ERR_ARG, "shapeformer: shapelet %lld lies outside the training data", (long long)i);
        zmax = fmax(zmax, 20 * sh[i].gain);
    }
    for (int64_t i = 0; i < M; i++) zsum += exp(20 * sh[i].gain - zmax);
    for (int64_t i = 0; i < M; i++) {
        int64_t L = sh[i].end - sh[i].start;
        const float *s = x + (sh[i].series * V + sh[i].dim) * T + sh[i].start;
        for (int64_t t = 0; t < Lmax; t++) cf_set_flat(m->values, i * Lmax + t, t < L ? s[t] : 0);
        double g[4] = {(double)sh[i].dim, (double)sh[i].start, (double)sh[i].end, (double)L};
        for (int k = 0; k < 4; k++) cf_set_flat(m->geometry, i * 4 + k, g[k]);
        double ce = 0;
        for (int64_t t = 0; t + 1 < L; t++) ce += ((double)s[t + 1] - s[t]) * ((double)s[t + 1] - s[t]);
        cf_set_flat(m->ce, i, sqrt(ce) + 1e-3);
        cf_set_flat(m->sw, i, exp(20 * sh[i].gain - zmax) / zsum * (double)M);
    }
    cf_set_flat(m->found, 0, 1);
    cf_tensor *touched[] = {m->values, m->geometry, m->ce, m->sw, m->found};
    for (int k = 0; k < 5; k++) cf_bump_version(touched[k]);
    return CF_OK;
}

/* Hard argmin of D(p) for shapelet i on row b; x is the batch on the host [B, V, T]. */
static int64_t best_offset(const cf_shapeformer *m, const double *x, int64_t b, int64_t i, const double *s)
{
    const cf_shapeformer_config *c = &m->cfg;
    int64_t T = c->length, d = (int64_t)cf_get_flat(m->geometry, i * 4), a = (int64_t)cf_get_flat(m->geometry, i * 4 + 1);
    int64_t e = (int64_t)cf_get_flat(m->geometry, i * 4 + 2), L = (int64_t)cf_get_flat(m->geometry, i * 4 + 3);
    int64_t lo = a - c->search < 0 ? 0 : a - c->search, hi = e + c->search > T ? T : e + c->search;
    const double *r = x + (b * c->dims + d) * T;
    double ces = cf_get_flat(m->ce, i), best = INFINITY;
    int64_t at = lo;
    for (int64_t p = lo; p + L <= hi; p++) {
        double cep = 1e-3, ed = 0;
        for (int64_t t = 0; t + 1 < L; t++) cep += (r[p + t + 1] - r[p + t]) * (r[p + t + 1] - r[p + t]);
        for (int64_t t = 0; t < L; t++) ed += (r[p + t] - s[t]) * (r[p + t] - s[t]);
        double dist = fmin(3, fmax(cep, ces) / fmin(cep, ces)) * ed / (double)L;
        if (dist < best) best = dist, at = p;
    }
    return at;
}

cf_tensor *cf_shapelet_filter(cf_ctx *ctx, const cf_shapeformer *m, cf_tensor *x)
{
    const cf_shapeformer_config *c = &m->cfg;
    int64_t B = x->shape[0], V = c->dims, T = c->length, M = m->M, L = c->shapelet_max;
    cf_dtype dt = m->values->dtype;
    double *hx = malloc((size_t)(B * V * T) * sizeof *hx), *hs = malloc((size_t)(M * L) * sizeof *hs);
    cf_tensor *sub = cf_zeros(ctx, dt, CF_SHAPE(B, M, 1, L)), *mask = cf_zeros(ctx, dt, CF_SHAPE(M, 1, L));
    if (!hx || !hs || !sub || !mask) {
        free(hx), free(hs);
        if (!sub || !mask) return NULL;
        cf_set_error(CF_ERR_OOM, "shapeformer: out of memory");
        return NULL;
    }
    for (int64_t k = 0; k < B * V * T; k++) hx[k] = cf_get_flat(x, k);
    for (int64_t k = 0; k < M * L; k++) hs[k] = cf_get_flat(m->values, k);
    for (int64_t i = 0; i < M; i++) {
        int64_t d = (int64_t)cf_get_flat(m->geometry, i * 4), len = (int64_t)cf_get_flat(m->geometry, i * 4 + 3);
        for (int64_t t = 0; t < len; t++) cf_set_flat(mask, i * L + t, 1);
        for (int64_t b = 0; b < B; b++) {
            int64_t p = best_offset(m, hx, b, i, hs + i * L);
            for (int64_t t = 0; t < len; t++) cf_set_flat(sub, (b * M + i) * L + t, hx[(b * V + d) * T + p + t]);
        }
    }
    free(hx), free(hs);
    /* u = W1 sub + b1 - (W2 (s * mask) + b2): per-shapelet Linear layers as one batched matmul */
    cf_tensor *w1t = cf_transpose(ctx, m->w1, 1, 2), *w2t = cf_transpose(ctx, m->w2, 1, 2);
    cf_tensor *u1 = cf_add(ctx, cf_reshape(ctx, cf_matmul(ctx, sub, w1t), CF_SHAPE(B, M, c->es)), m->b1);
    cf_tensor *s = cf_mul(ctx, cf_reshape(ctx, m->values, CF_SHAPE(M, 1, L)), mask);
    cf_tensor *u2 = cf_add(ctx, cf_reshape(ctx, cf_matmul(ctx, s, w2t), CF_SHAPE(M, c->es)), m->b2);
    return cf_sub(ctx, u1, u2);
}

/* One post-norm encoder layer: a = LN1(x + Attn(x + pos)), o = LN2(a + FFN(a)), with the optional token
 * weights sw applied before each norm (the class-specific encoder) and after the second. */
static cf_tensor *encoder_fwd(cf_ctx *ctx, const cf_sf_encoder *e, cf_tensor *x, cf_tensor *pos, cf_tensor *sw,
                              double dropout, uint64_t stream)
{
    cf_tensor *z = pos ? cf_dropout(ctx, cf_add(ctx, x, pos), dropout, stream) : x;
    cf_tensor *a = cf_add(ctx, pos ? x : z, attention_fwd(ctx, &e->attn, z));
    if (sw) a = cf_mul(ctx, a, sw);
    a = cf_norm_fwd(ctx, &e->ln1, a);
    cf_tensor *o = cf_norm_fwd(ctx, &e->ln2, cf_add(ctx, a, cf_dropout(ctx, cf_mlp_fwd(ctx, &e->ffn, a), dropout, stream + 1)));
    return sw ? cf_mul(ctx, o, sw) : o;
}

static cf_tensor *shapelet_branch(cf_ctx *ctx, const cf_shapeformer *m, cf_tensor *x)
{
    int64_t M = m->M;
    cf_tensor *u = cf_shapelet_filter(ctx, m, x);
    if (!u) return NULL;
    int64_t ids[3][4096];
    int64_t *dim = M <= 4096 ? ids[0] : NULL;
    if (!dim) {
        cf_set_error(CF_ERR_ARG, "shapeformer: at most 4096 shapelets");
        return NULL;
    }
    for (int64_t i = 0; i < M; i++)
        for (int k = 0; k < 3; k++) ids[k][i] = (int64_t)cf_get_flat(m->geometry, i * 4 + k);
    const cf_embedding_layer *tab[3] = {&m->pos_dim, &m->pos_start, &m->pos_end};
    cf_tensor *pos = m->pos_bias;
    for (int k = 0; k < 3; k++)
        pos = cf_add(ctx, pos, cf_embedding_fwd(ctx, tab[k], cf_from_data(ctx, CF_I64, CF_SHAPE(M), ids[k])));
    u = cf_add(ctx, u, pos);
    cf_tensor *sw = cf_reshape(ctx, m->sw, CF_SHAPE(M, 1));
    cf_tensor *o = encoder_fwd(ctx, &m->senc, u, NULL, sw, m->cfg.dropout, m->stream);
    return cf_reshape(ctx, cf_narrow(ctx, o, 1, 0, 1), CF_SHAPE(x->shape[0], m->cfg.es)); /* the first token */
}

static cf_tensor *generic_branch(cf_ctx *ctx, const cf_shapeformer *m, cf_tensor *x)
{
    const cf_shapeformer_config *c = &m->cfg;
    int64_t B = x->shape[0], V = c->dims, T = c->length, El = c->el;
    cf_tensor *h = cf_reshape(ctx, cf_cast(ctx, x, m->c1w->dtype), CF_SHAPE(B, 1, V, T));
    static const int64_t same8[] = {3, 4}; /* 'same' for an even kernel: 3 left, 4 right */
    h = cf_conv2d(ctx, cf_pad(ctx, h, 1, same8, 0), m->c1w, m->c1b, NULL);
    for (int k = 0; k < 2; k++) {
        if (k == 1) h = cf_conv2d(ctx, h, m->c2w, m->c2b, NULL);
        const cf_tensor *const *bn = (const cf_tensor *const *)m->bn[k];
        h = cf_gelu(ctx, cf_batch_norm(ctx, h, (cf_tensor *)bn[0], (cf_tensor *)bn[1], (cf_tensor *)bn[2], (cf_tensor *)bn[3],
                                       cf_is_training(ctx), 0.1, 1e-5));
    }
    h = cf_transpose(ctx, cf_reshape(ctx, h, CF_SHAPE(B, El, T)), 1, 2); /* [B, T, El] */
    cf_tensor *o = encoder_fwd(ctx, &m->genc, h, m->pe, NULL, c->dropout, m->stream + 2);
    static const int time[] = {1};
    return cf_mean(ctx, o, 1, time, false);
}

cf_tensor *cf_shapeformer_logits(cf_ctx *ctx, const cf_shapeformer *m, cf_tensor *x)
{
    const cf_shapeformer_config *c = &m->cfg;
    if (!x || x->ndim != 3 || x->shape[1] != c->dims || x->shape[2] != c->length) {
        cf_set_error(CF_ERR_SHAPE, "shapeformer: series must be [B, %lld, %lld]", (long long)c->dims, (long long)c->length);
        return NULL;
    }
    if (!cf_shapeformer_has_shapelets(m)) {
        cf_set_error(CF_ERR_STATE, "shapeformer: the shapelets were never discovered (train first, or load a checkpoint "
                     "that has them)");
        return NULL;
    }
    cf_tensor *parts[2];
    int n = 0;
    if (c->shapelet_branch) parts[n++] = shapelet_branch(ctx, m, x);
    if (c->generic_branch) parts[n++] = generic_branch(ctx, m, x);
    for (int k = 0; k < n; k++)
        if (!parts[k]) return NULL;
    return cf_linear_fwd(ctx, &m->head, n == 2 ? cf_concat(ctx, 2, parts, 1) : parts[0]);
}
