/* attention ops: declarations. */
#ifndef CF_OPS_ATTENTION_H
#define CF_OPS_ATTENTION_H

#include "autograd/cf_tensor.h"

/* Structural masks of cf_sdpa. Query i sits at absolute position p = i + (Tk - Tq): the queries are the
 * last Tq positions of the Tk keys, as in decoding with a KV cache (p = i when Tq == Tk). The kernels
 * skip key blocks that such a mask hides entirely, so their cost follows the visible area. */
typedef enum cf_sdpa_mask {
    CF_SDPA_NONE = 0, /* every key */
    CF_SDPA_CAUSAL,   /* keys j <= p */
    CF_SDPA_WINDOW,   /* causal sliding window: p - window < j <= p */
    CF_SDPA_BLOCK     /* block-local: floor(p / block) == floor(j / block), both directions */
} cf_sdpa_mask;

/* Options of cf_sdpa; a zero-initialised struct (or NULL) is plain softmax(q k^T / sqrt(D)) v. */
typedef struct cf_sdpa_opts {
    double scale;           /* multiplies q k^T; 0: 1 / sqrt(D) */
    cf_sdpa_mask mask;      /* structural mask */
    int64_t window;         /* CF_SDPA_WINDOW: keys seen per query, >= 1 */
    int64_t block;          /* CF_SDPA_BLOCK: block size, >= 1 */
    cf_tensor *attn_mask;   /* optional bool, broadcastable to [B, H, Tq, Tk] (e.g. [Tq, Tk]): true = keep;
                             * combined (and) with the structural mask */
    cf_tensor *key_padding; /* optional bool [B, Tk]: true = padding, never attended to */
    cf_tensor *bias;        /* optional additive scores, broadcastable to [B, H, Tq, Tk] (relative-position
                             * bias, ALiBi); same dtype as q; receives a gradient */
    double dropout;         /* probability of dropping an attention weight, in [0, 1); applied only in
                             * training mode (cf_set_training), survivors scaled by 1 / (1 - dropout) */
    uint64_t dropout_stream; /* RNG stream: give each attention call site of a step its own */
} cf_sdpa_opts;

/* Scaled dot-product attention, fused and tiled (the [Tq, Tk] score matrix is never stored):
 *     out = dropout(softmax(scale * q k^T + bias, masked)) v
 * q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv] with H a multiple of Hkv (grouped-query
 * attention: query head h reads key/value head h / (H / Hkv)); out [B, H, Tq, Dv]. Inputs may be strided
 * views (e.g. the transpose of a [B, T, H, D] projection). A query row that sees no key gives zeros and
 * passes no gradient.
 * Dropout is drawn from the counter-based RNG and regenerated in backward: element e = ((b*H + h)*Tq +
 * i)*Tk + j is dropped when u[e] < dropout, where u is what cf_rng_uniform_f32(cf_rng_key(seed,
 * dropout_stream), step, u, B*H*Tq*Tk) fills, with seed and step those of ctx at the forward call. */
cf_tensor *cf_sdpa(cf_ctx *ctx, cf_tensor *q, cf_tensor *k, cf_tensor *v, const cf_sdpa_opts *opts);

#endif
