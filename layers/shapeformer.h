/* ShapeFormer (Le et al., "ShapeFormer: Shapelet Transformer for Multivariate Time Series Classification",
 * KDD 2024): a class-specific branch of shapelet tokens (Sec. 3.3, the Shapelet Filter) and a generic
 * convolutional branch (Sec. 3.4), each a one-layer post-norm transformer encoder, joined by a linear head.
 *
 * Input x [B, V, T] (float). Shapelets come from the offline discovery (layers/shapelet_discovery.h).
 *
 * Shapelet Filter, shapelet i of values s_i (length L_i <= Lmax, learnable), dimension d_i, origin [a_i, e_i):
 *     R = x[:, d_i, max(0, a_i - w) : min(T, e_i + w)]
 *     D(p) = min(3, max(CE_p, CE_s) / min(CE_p, CE_s)) * mean_t (R[p + t] - s_i[t])^2,
 *            CE_p = sum (R[t+1] - R[t])^2 + 1e-3 over the window, CE_s = sqrt(sum (s_i[t+1] - s_i[t])^2) + 1e-3
 *            of the discovered (initial) shapelet, a constant
 *     p* = argmin_p D(p)   (no gradient; the first index wins ties)
 *     u_i = (W1_i R[p* : p* + L_i] + b1_i) - (W2_i s_i + b2_i) + P_dim[d_i] + P_start[a_i] + P_end[e_i]
 * so s_i learns only through W2_i (the window itself is data). The one-hot position terms are embeddings
 * (Linear of a one-hot vector = a column of its weight plus the bias).
 * Class-specific encoder over U [B, M, Es] (token weights sw init softmax(20 IG) M):
 *     a = LN1((U + Attn(U)) * sw);  o = LN2(a + FFN(a)) * sw;  g = o[:, 0]
 * Generic encoder: Conv2d(1 -> El, [1, 8], 'same': left 3, right 4) -> BN -> GELU -> Conv2d(El -> El, [V, 1])
 *     -> BN -> GELU gives h [B, T, El];  a = LN(h + Attn(h + pe));  o = LN(a + FFN(a));  l = mean_t o
 * Attn: q, k, v = Linear(E, E, no bias), H heads, scale E^-1/2 (the full width, as the official code), then a
 * LayerNorm and no output projection. FFN: Linear -> ReLU -> Linear, dropout after it.
 * Head: Linear(Es + El -> classes)(concat(g, l)); an ablation drops one branch (generic-only: l alone).
 *
 * Shapelet parameters have fixed shapes ([M, Lmax] values, [M, Es, Lmax] W1 and W2, zero beyond L_i), so a
 * model is built before discovery; cf_shapeformer_set_shapelets fills them from the training data and sets the
 * saved flag `shapelets.found`, so a checkpoint carries them.
 *
 *     cf_shapeformer m;
 *     cf_shapeformer_init(&m, ps, &(cf_shapeformer_config){.dims = 3, .length = 100, .classes = 4, ...});
 *     cf_shapeformer_set_shapelets(&m, sh, x_train, N);     // once, before the first training step
 *     cf_tensor *logits = cf_shapeformer_logits(ctx, &m, x);   // [B, classes]
 */
#ifndef CF_LAYERS_SHAPEFORMER_H
#define CF_LAYERS_SHAPEFORMER_H

#include "layers/nn.h"
#include "layers/shapelet_discovery.h"

typedef struct cf_shapeformer_config {
    int64_t dims, length, classes; /* V, T, classes */
    int64_t per_class;             /* shapelets per class: M = classes * per_class */
    int64_t shapelet_max;          /* Lmax: the longest shapelet the parameters hold */
    int64_t search;                /* w: the filter's search radius around a shapelet's origin */
    int64_t es, el, heads, hidden; /* shapelet and generic widths, heads, FFN width */
    double dropout;
    bool shapelet_branch, generic_branch;
} cf_shapeformer_config;

typedef struct cf_sf_attention {
    cf_linear_layer q, k, v;
    cf_norm_layer ln;
    int64_t heads;
} cf_sf_attention;

typedef struct cf_sf_encoder {
    cf_sf_attention attn;
    cf_norm_layer ln1, ln2;
    cf_mlp ffn;
} cf_sf_encoder;

typedef struct cf_shapeformer {
    cf_shapeformer_config cfg;
    int64_t M;
    /* shapelet branch */
    cf_tensor *values;   /* [M, Lmax] learnable */
    cf_tensor *geometry; /* [M, 4] frozen: dim, start, end, length */
    cf_tensor *ce;       /* [M] frozen: CE_s of the discovered shapelet */
    cf_tensor *found;    /* [1] frozen: 1 once set_shapelets ran */
    cf_tensor *w1, *b1, *w2, *b2; /* [M, Es, Lmax], [M, Es] */
    cf_tensor *sw;       /* [M] token weights */
    cf_embedding_layer pos_dim, pos_start, pos_end;
    cf_tensor *pos_bias; /* [Es]: the three one-hot Linears' biases together */
    cf_sf_encoder senc;
    /* generic branch */
    cf_tensor *c1w, *c1b, *c2w, *c2b;       /* [El, 1, 1, 8], [El], [El, El, V, 1], [El] */
    cf_tensor *bn[2][4];                    /* weight, bias, running mean, running var (frozen) */
    cf_tensor *pe;                          /* [T, El] */
    cf_sf_encoder genc;
    cf_linear_layer head;
    uint64_t stream;
} cf_shapeformer;

cf_status cf_shapeformer_init(cf_shapeformer *m, cf_params *ps, const cf_shapeformer_config *c);
/* Fills the shapelet parameters from the discovery's sh[M] over the training data x [N, V, T]: values,
 * geometry, CE_s, sw = softmax(20 IG) M, and the flag. A shapelet longer than Lmax is an error. */
cf_status cf_shapeformer_set_shapelets(cf_shapeformer *m, const cf_shapelet *sh, const float *x, int64_t N);
bool cf_shapeformer_has_shapelets(const cf_shapeformer *m);
/* The filter's tokens U [B, M, Es] (without the position terms) of x [B, V, T]. */
cf_tensor *cf_shapelet_filter(cf_ctx *ctx, const cf_shapeformer *m, cf_tensor *x);
/* Logits [B, classes]. */
cf_tensor *cf_shapeformer_logits(cf_ctx *ctx, const cf_shapeformer *m, cf_tensor *x);

#endif
