/* Building blocks: linear, embedding, norms, MLPs, positions, multi-head attention with a KV cache,
 * transformer blocks. Parameters are named as a PyTorch state_dict would name them; every block is a
 * plain struct initialised from a cf_params and run by a *_fwd function. */
#ifndef CF_NN_H
#define CF_NN_H

#include "layers/params.h"

/* ---- linear ---- */
typedef struct cf_linear_layer {
    cf_tensor *weight; /* [out, in] */
    cf_tensor *bias;   /* [out] or NULL */
    int64_t in, out;
} cf_linear_layer;

/* std > 0: weight ~ N(0, std), bias 0 (GPT-style); std == 0: PyTorch's default, weight and bias
 * ~ U(-1/sqrt(in), 1/sqrt(in)). */
cf_status cf_linear_init(cf_linear_layer *l, cf_params *ps, const char *name, int64_t in, int64_t out, bool bias,
                         double std);
cf_tensor *cf_linear_fwd(cf_ctx *ctx, const cf_linear_layer *l, cf_tensor *x);

/* ---- embedding ---- */
typedef struct cf_embedding_layer {
    cf_tensor *weight; /* [num, dim] */
    int64_t num, dim;
} cf_embedding_layer;
cf_status cf_embedding_init(cf_embedding_layer *e, cf_params *ps, const char *name, int64_t num, int64_t dim,
                            double std);
cf_tensor *cf_embedding_fwd(cf_ctx *ctx, const cf_embedding_layer *e, cf_tensor *ids);

/* ---- norms ---- */
typedef enum cf_norm_kind { CF_NORM_LAYER, CF_NORM_RMS } cf_norm_kind;
bool cf_norm_kind_parse(const char *s, cf_norm_kind *out); /* "layer", "rms" */
typedef struct cf_norm_layer {
    cf_norm_kind kind;
    cf_tensor *weight, *bias; /* bias: layer norm with bias only */
    double eps;
} cf_norm_layer;
cf_status cf_norm_init(cf_norm_layer *n, cf_params *ps, const char *name, cf_norm_kind kind, int64_t dim, bool bias,
                       double eps);
cf_tensor *cf_norm_fwd(cf_ctx *ctx, const cf_norm_layer *n, cf_tensor *x);
/* norm(x + r), fused into one op (cf_add_layer_norm / cf_add_rms_norm, autograd/ops/norm.h) when x and r have
 * one shape and are different tensors, else cf_add then the norm; *sum_out (may be NULL) receives x + r, the
 * residual stream of a pre-norm block. */
cf_tensor *cf_add_norm_fwd(cf_ctx *ctx, const cf_norm_layer *n, cf_tensor *x, cf_tensor *r, cf_tensor **sum_out);
/* Batch norm over dim 1 of [N, C, ...] (PyTorch BatchNorm1d/2d): weight 1, bias 0; the running mean (0) and
 * variance (1) are frozen parameters, so checkpoints carry them; momentum 0.1, eps 1e-5; batch statistics
 * when cf_is_training(ctx). Keys NAME.weight, NAME.bias, NAME.running_mean, NAME.running_var. */
typedef struct cf_batch_norm_layer {
    cf_tensor *w, *b, *rm, *rv;
} cf_batch_norm_layer;
cf_status cf_batch_norm_layer_init(cf_batch_norm_layer *n, cf_params *ps, const char *name, int64_t ch);
cf_tensor *cf_batch_norm_layer_fwd(cf_ctx *ctx, const cf_batch_norm_layer *n, cf_tensor *x);

/* ---- MLP ---- */
typedef enum cf_mlp_kind { CF_MLP_GELU, CF_MLP_GELU_TANH, CF_MLP_RELU, CF_MLP_SWIGLU } cf_mlp_kind;
bool cf_mlp_kind_parse(const char *s, cf_mlp_kind *out); /* "gelu", "gelu_tanh", "relu", "swiglu" */
typedef struct cf_mlp {
    cf_mlp_kind kind;
    cf_linear_layer fc1, fc2, gate; /* swiglu: fc2(silu(gate(x)) * fc1(x)) */
} cf_mlp;
/* out_std: init std of the output projection (0: same as std). */
cf_status cf_mlp_init(cf_mlp *m, cf_params *ps, const char *name, cf_mlp_kind kind, int64_t dim, int64_t hidden,
                      bool bias, double std, double out_std);
cf_tensor *cf_mlp_fwd(cf_ctx *ctx, const cf_mlp *m, cf_tensor *x);

/* ---- positions ---- */
/* Sinusoidal table [T, D] (Vaswani et al.), positions offset .. offset+T-1; an arena tensor. */
cf_tensor *cf_sinusoidal_positions(cf_ctx *ctx, cf_dtype dt, int64_t offset, int64_t T, int64_t D);
/* Rotary embedding on x [B, H, T, Dh] (Dh even) at positions offset..offset+T-1, rotate-half layout. */
cf_tensor *cf_rope(cf_ctx *ctx, cf_tensor *x, int64_t offset, double base);
/* The same with the Dh/2 frequencies given (inv_freq[i] serves columns i and i + Dh/2): scaled rotary
 * embeddings (Llama 3's, linear interpolation) compute their own. cf_rope is base^(-2i/Dh). */
cf_tensor *cf_rope_freqs(cf_ctx *ctx, cf_tensor *x, int64_t offset, const double *inv_freq);

/* Learned relative-position bias (T5): a [buckets, heads] table indexed by the bucketed distance j - i
 * (exact for small distances, logarithmic up to max_distance), added to the attention scores. */
typedef struct cf_relative_bias {
    cf_tensor *weight; /* [buckets, heads] */
    int64_t buckets, heads, max_distance;
    bool bidirectional;
} cf_relative_bias;
cf_status cf_relative_bias_init(cf_relative_bias *rb, cf_params *ps, const char *name, int64_t buckets, int64_t heads,
                                int64_t max_distance, bool bidirectional);
/* The bias [1, heads, Tq, Tk] for queries at positions Tk - Tq .. Tk - 1 against keys 0 .. Tk - 1. */
cf_tensor *cf_relative_bias_fwd(cf_ctx *ctx, const cf_relative_bias *rb, int64_t Tq, int64_t Tk);
/* The bucket of relative position rel = j - i (T5's scheme). */
int64_t cf_relative_bucket(int64_t rel, int64_t buckets, int64_t max_distance, bool bidirectional);

/* ---- convolution block: conv2d -> batch norm -> activation ---- */
typedef enum cf_act_kind { CF_ACT_RELU, CF_ACT_GELU, CF_ACT_SILU, CF_ACT_NONE } cf_act_kind;
typedef struct cf_conv_block {
    cf_tensor *weight;                      /* [out, in / groups, k, k] */
    cf_tensor *bn_weight, *bn_bias;         /* parameters */
    cf_tensor *running_mean, *running_var;  /* buffers, persistent, not trained */
    int64_t stride, padding, groups;
    cf_act_kind act;
} cf_conv_block;
cf_status cf_conv_block_init(cf_conv_block *b, cf_params *ps, const char *name, int64_t in, int64_t out, int64_t k,
                             int64_t stride, int64_t groups, cf_act_kind act);
void cf_conv_block_free(cf_conv_block *b);
cf_tensor *cf_conv_block_fwd(cf_ctx *ctx, const cf_conv_block *b, cf_tensor *x);

/* ---- multi-head attention ---- */
typedef struct cf_kv_cache cf_kv_cache;
/* An eviction policy's hook (layers/kvcache_policy.h): cf_attention_fwd calls after(hook, ctx, cache, q) once the
 * forward's queries q [B, H, T, Dh] (rotated) have attended to the cache; it may drop cached rows (compacting k and
 * v, lowering len and raising evicted by as much). NULL: the cache keeps every position.
 * attend (optional, NULL: never) lets the hook run the attention itself, so that a policy that scores the cached
 * keys reads the logits of the one attention pass: for a causal self-attention with no bias, key padding or
 * active dropout, and grad off, cf_attention_fwd calls attend(hook, ctx, cache, q, &y) once the new keys and values
 * are in rows [len - T, len); the hook either sets y to softmax(q k^T / sqrt(Dh), causal) v [B, H, T, Dh] (an
 * arena tensor, query i seeing rows [0, len - T + i]) or leaves it NULL (the sdpa op runs). after() follows
 * either way. */
typedef struct cf_kv_hook {
    cf_status (*after)(struct cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q);
    cf_status (*attend)(struct cf_kv_hook *h, cf_ctx *ctx, cf_kv_cache *c, cf_tensor *q, cf_tensor **y);
} cf_kv_hook;
struct cf_kv_cache {
    cf_tensor *k, *v; /* persistent [B, Hkv, cap, Dh] */
    int64_t len, cap;
    int64_t evicted;  /* positions dropped by the hook: the next token's position is len + evicted */
    cf_kv_hook *hook; /* NULL: keep everything */
};
cf_status cf_kv_cache_init(cf_kv_cache *c, cf_dtype dt, int64_t batch, int64_t heads, int64_t cap, int64_t head_dim);
void cf_kv_cache_free(cf_kv_cache *c);
static inline void cf_kv_cache_clear(cf_kv_cache *c) { c->len = c->evicted = 0; }
static inline int64_t cf_kv_cache_pos(const cf_kv_cache *c) { return c->len + c->evicted; }

typedef enum cf_attn_mask { CF_ATTN_FULL, CF_ATTN_CAUSAL, CF_ATTN_WINDOW, CF_ATTN_BLOCK } cf_attn_mask;
bool cf_attn_mask_parse(const char *s, cf_attn_mask *out); /* "full", "causal", "window", "block" */

typedef struct cf_attention_config {
    int64_t dim, heads, kv_heads; /* kv_heads 0: = heads */
    bool cross;                    /* keys and values from a memory sequence */
    bool bias;
    cf_attn_mask mask;
    int64_t window, block;
    bool rope;
    double rope_base;
    double dropout;
    double std, out_std; /* init (0: PyTorch default) */
} cf_attention_config;

typedef struct cf_attention {
    cf_attention_config cfg;
    int64_t head_dim;
    cf_linear_layer qkv;  /* self-attention: fused [(H + 2 Hkv) Dh, dim] */
    cf_linear_layer q, kv; /* cross-attention */
    cf_linear_layer proj;
    uint64_t stream;      /* dropout stream, from the parameter name */
} cf_attention;

cf_status cf_attention_init(cf_attention *a, cf_params *ps, const char *name, const cf_attention_config *cfg);
/* x [B, T, dim]; mem [B, S, dim] for cross-attention (else NULL); key_padding bool [B, S or T] (true =
 * padding) or NULL; bias broadcastable to [B, H, T, S] or NULL; cache: incremental decoding (self-attention
 * only): the new keys/values are appended and the queries attend to everything cached. */
cf_tensor *cf_attention_fwd(cf_ctx *ctx, const cf_attention *a, cf_tensor *x, cf_tensor *mem, cf_tensor *key_padding,
                            cf_tensor *bias, cf_kv_cache *cache);

/* ---- transformer blocks ---- */
typedef struct cf_block_config {
    int64_t dim, heads, kv_heads, hidden;
    cf_mlp_kind mlp;
    cf_norm_kind norm;
    bool prenorm; /* x + f(norm(x)); else norm(x + f(x)) */
    bool bias;
    bool cross;   /* decoder block: self-attention, cross-attention, MLP */
    cf_attn_mask mask;
    int64_t window, block;
    bool rope;
    double rope_base;
    double dropout, eps;
    double std, out_std;
} cf_block_config;

typedef struct cf_block {
    cf_block_config cfg;
    cf_norm_layer ln1, ln2, ln3;
    cf_attention attn, cross;
    cf_mlp mlp;
    uint64_t stream;
} cf_block;

cf_status cf_block_init(cf_block *b, cf_params *ps, const char *name, const cf_block_config *cfg);
/* Recomputation (training only: grad mode on, no KV cache) follows cf_recompute_mode_of(ctx): ATTENTION makes
 * each attention sub-block (norm, attention, residual) a recomputed segment; BLOCK makes the whole block one,
 * whose recomputation in backward runs the sub-blocks as segments of their own. Values and gradients are the
 * same bit for bit in every mode. */
cf_tensor *cf_block_fwd(cf_ctx *ctx, const cf_block *b, cf_tensor *x, cf_tensor *self_padding, cf_tensor *mem,
                        cf_tensor *mem_padding, cf_kv_cache *cache);
/* A stack of n blocks named prefix.0 .. prefix.<n-1>, all of config bc: *blocks is a calloc'ed array the caller
 * frees (NULL when n is 0). */
cf_status cf_block_stack_init(cf_block **blocks, cf_params *ps, const char *prefix, int64_t n,
                              const cf_block_config *bc);

#endif
