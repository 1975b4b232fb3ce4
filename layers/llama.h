/* The Llama / Mistral decoder family: "Llama 2: Open Foundation and Fine-Tuned Chat Models" (Touvron et al.,
 * 2023, Section 2.2: pre-normalization with RMSNorm, SwiGLU, rotary embeddings, grouped-query attention) and
 * "Mistral 7B" (Jiang et al., 2023, Section 2: sliding-window attention, W keys per query).
 *
 *   h     = embed[tokens]                                        [B, T, dim]
 *   per layer:
 *     a   = RMSNorm(h) (weight attn_norm, eps norm_eps)
 *     q   = RoPE(a Wq^T)  [B, heads, T, head_dim];  k = RoPE(a Wk^T), v = a Wv^T  [B, kv_heads, T, head_dim]
 *     h  += softmax(q k^T / sqrt(head_dim), causal or sliding window) v  Wo^T   (query head i reads kv head
 *           i / (heads / kv_heads))
 *     h  += W2 (silu(Wgate m) * W1 m),  m = RMSNorm(h) (weight mlp_norm)
 *   logits = RMSNorm(h) (weight norm) head^T      (head = embed when tied)  [B, T, vocab]
 *
 * RoPE uses the rotate-half layout (pairs (i, i + head_dim/2)), which is how Hugging Face checkpoints store
 * the q/k projections (their conversion permuted the rows of Meta's interleaved-pair layout), so imported
 * q/k weights are used as stored. Frequencies: inv_freq[i] = theta^(-2i/head_dim), then rescaled by the
 * checkpoint's rope scaling: "linear" divides every frequency by factor (positions interpolated); "llama3"
 * (Llama 3.1) divides the low frequencies (wavelength > original_max_pos / low_freq_factor) by factor, keeps
 * the high ones (wavelength < original_max_pos / high_freq_factor) and blends in between.
 *
 * Parameter names (what checkpoints hold):
 *   embed.weight [vocab, dim]; layers.<i>.attn_norm.weight [dim]; layers.<i>.attn.{q,k,v,o}.weight
 *   ([heads*head_dim, dim], [kv_heads*head_dim, dim] twice, [dim, heads*head_dim]); layers.<i>.mlp_norm.weight;
 *   layers.<i>.mlp.{gate,fc1}.weight [hidden, dim], layers.<i>.mlp.fc2.weight [dim, hidden]; norm.weight;
 *   head.weight [vocab, dim] (absent when tied).
 *
 *     cf_llama_config c = cf_llama_defaults();
 *     c.vocab = 256, c.dim = 64, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.hidden = 172;
 *     cf_llama m;
 *     if (cf_llama_init(&m, ps, &c) != CF_OK) ...;
 *     cf_tensor *logits = cf_llama_logits(ctx, &m, tokens, NULL);   // tokens i64 [B, T]
 *     cf_llama_free(&m);
 */
#ifndef CF_LLAMA_H
#define CF_LLAMA_H

#include "layers/generate.h"
#include "layers/nn.h"

typedef enum cf_rope_scaling_kind { CF_ROPE_SCALE_NONE, CF_ROPE_SCALE_LINEAR, CF_ROPE_SCALE_LLAMA3 } cf_rope_scaling_kind;
/* "none" (Hugging Face's "default" too), "linear", "llama3"; false for any other name. */
bool cf_rope_scaling_parse(const char *s, cf_rope_scaling_kind *out);
const char *cf_rope_scaling_name(cf_rope_scaling_kind k);

typedef struct cf_rope_scaling {
    cf_rope_scaling_kind kind;
    double factor;                        /* linear and llama3: > 0 */
    double low_freq_factor, high_freq_factor; /* llama3: 0 < low < high */
    int64_t original_max_pos;             /* llama3: the pre-training context length, > 0 */
} cf_rope_scaling;

/* The head_dim / 2 rotary frequencies for base theta under scaling s into out. CF_ERR_ARG for an odd
 * head_dim or scaling parameters outside the ranges above. */
cf_status cf_rope_inv_freq(double theta, int64_t head_dim, const cf_rope_scaling *s, double *out);

typedef struct cf_llama_config {
    int64_t vocab, dim, layers, heads, kv_heads, head_dim, hidden;
    int64_t max_seq;        /* positions the model is used for (max_position_embeddings) */
    int64_t sliding_window; /* 0: full causal attention; W > 0: each query sees its W most recent keys */
    double norm_eps, rope_theta;
    cf_rope_scaling rope_scaling;
    bool tie;               /* head = embed */
    double init_std;        /* N(0, init_std) for every matrix (training from scratch) */
} cf_llama_config;

/* A small Llama: vocab 256, dim 256, 4 layers, 4 heads, 4 kv heads, hidden 688, theta 10000, eps 1e-5. */
cf_llama_config cf_llama_defaults(void);
/* Fills the derived defaults (kv_heads 0 -> heads, head_dim 0 -> dim / heads) and checks the shape:
 * CF_ERR_ARG naming the field. */
cf_status cf_llama_config_check(cf_llama_config *c);

typedef struct cf_llama_layer {
    cf_norm_layer attn_norm, mlp_norm;
    cf_linear_layer q, k, v, o;
    cf_mlp mlp; /* swiglu: fc2(silu(gate(x)) * fc1(x)); Hugging Face: down(silu(gate(x)) * up(x)) */
} cf_llama_layer;

typedef struct cf_llama {
    cf_llama_config cfg;
    cf_embedding_layer embed;
    cf_llama_layer *layers;
    cf_norm_layer norm;
    cf_linear_layer head; /* weight NULL when tied */
    double *inv_freq;     /* head_dim / 2 */
} cf_llama;

cf_status cf_llama_init(cf_llama *m, cf_params *ps, const cf_llama_config *cfg);
void cf_llama_free(cf_llama *m);
/* tokens i64 [B, T] (ids in [0, vocab)) -> logits [B, T, vocab]. caches NULL (training): positions 0 .. T-1.
 * caches (one per layer, incremental decoding): the tokens sit at positions p .. p+T-1 after the p =
 * cf_kv_cache_pos(&caches[0]) already fed; RoPE rotates q and k at those absolute positions, the new keys and
 * values are appended, and the queries attend causally (or within the sliding window) to every cached key.
 * A cache may have dropped its oldest rows (evicted > 0) as long as it keeps the sliding_window - 1 before
 * the new tokens (cf_lm_generate's rolling buffer). */
cf_tensor *cf_llama_logits(cf_ctx *ctx, const cf_llama *m, cf_tensor *tokens, cf_kv_cache *caches);
/* One layer on h [B, T, dim] (cache: as cf_llama_logits; NULL: positions 0 .. T-1). */
cf_tensor *cf_llama_layer_fwd(cf_ctx *ctx, const cf_llama *m, const cf_llama_layer *l, cf_tensor *h, cf_kv_cache *cache);
/* The model as a cf_lm for cf_lm_generate (layers/generate.h): cached logits, GQA caches of kv_heads heads,
 * the sliding window as a rolling cache; no context limit (RoPE). */
cf_lm cf_llama_lm(const cf_llama *m);
/* Parameters of the shape c (after cf_llama_config_check), counted without building it: the memory arithmetic of
 * full-size recipes. */
int64_t cf_llama_param_count(const cf_llama_config *c);
/* Training FLOPs per token: 6 N (matrices, head included) + 6 L T_eff dim_attn, T_eff = min(seq, window). */
double cf_llama_flops_per_token(const cf_llama *m, int64_t seq);

#endif
