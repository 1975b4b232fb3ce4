/* The Searchformer encoder-decoder (Lehnert et al., "Beyond A*: Better Planning with Transformers via Search
 * Dynamics Bootstrapping", 2024; Dualformer, Su et al., ICLR 2025, trains the same model on randomized
 * traces), as the official code builds it (github.com/facebookresearch/searchformer).
 *
 *   encoder  Embedding(V, d_enc) -> L x [h = x + Attn(RMS(x)); y = h + SwiGLU(RMS(h))] -> RMS -> Linear(d_enc -> d_dec)
 *            non-causal self-attention with RoPE on q and k
 *   decoder  Embedding(V, d_dec) -> L x [h = x + CausalAttn_RoPE(RMS(x)); h = h + CrossAttn(RMS(h), enc, key pad);
 *            y = h + SwiGLU(RMS(h))] -> RMS -> Linear(d_dec -> V)
 *   no biases; RMSNorm eps 1e-5; SwiGLU hidden = round-down-to-256 of (floor(8d/3) + 255); RoPE base 10000.
 *
 * Deviations from the official code, on purpose:
 *   - RoPE layout: the official code rotates interleaved channel pairs (2i, 2i+1); cf_rope rotates
 *     (i, i + Dh/2) ("rotate half"). Both use frequency base^(-2i/Dh) for pair i, so the two are the same
 *     function up to one fixed permutation of each head's q and k channels, which the learned q/k
 *     projections absorb: a model trained here is exactly as expressive, and official weights load after
 *     permuting the q and k rows of each head (row 2i -> i, 2i+1 -> i + Dh/2).
 *     tests/test_dualformer_model.c checks this equivalence numerically.
 *   - encoder_padding_mask (the recipes' default): the official encoder runs WITHOUT a padding mask, so its
 *     padding tokens take part in self-attention and a prompt's encoding depends on its batch's padding;
 *     with the mask the encoder sees only the prompt (false reproduces the official code). Cross-attention
 *     masks the padding keys either way.
 *
 * Parameter names (checkpoint keys): encoder.embed.weight, encoder.blocks.<l>.{ln1,attn.qkv,attn.proj,
 * ln2,mlp.fc1,mlp.gate,mlp.fc2}.weight, encoder.norm.weight, encoder.proj.weight, decoder.embed.weight,
 * decoder.blocks.<l>.{ln1,attn.qkv,attn.proj,ln_cross,cross.q,cross.kv,cross.proj,ln2,mlp.*}.weight,
 * decoder.norm.weight, decoder.head.weight. */
#ifndef CF_DUALFORMER_LAYERS_H
#define CF_DUALFORMER_LAYERS_H

#include "layers/nn.h"

typedef struct cf_dualformer_config {
    int64_t vocab;
    int64_t enc_dim, enc_layers, enc_heads, enc_hidden; /* hidden 0: cf_dualformer_ffn_hidden(dim) */
    int64_t dec_dim, dec_layers, dec_heads, dec_hidden;
    double rope_base;          /* 10000 */
    double eps;                /* RMSNorm epsilon, 1e-5 */
    double init_std;           /* 0 (default): PyTorch's defaults as the official code -- Linear U(+-1/sqrt(in)),
                                  Embedding N(0, 1); > 0: N(0, init_std) with the residual projections scaled
                                  by 1/sqrt(2 L) (GPT-2). At the CPU scale the GPT-2 init (0.02) left the
                                  encoder path so weak that a model never learned to read the prompt. */
    double dropout;            /* residual and attention dropout, 0 */
    bool encoder_padding_mask; /* false: as the official code (the presets); the recipes default to true */
} cf_dualformer_config;

/* The official SwiGLU hidden size: round-down-to-multiple-of-256 of (floor(8 d / 3) + 255). */
int64_t cf_dualformer_ffn_hidden(int64_t dim);
/* Presets (HyperParams.from_name), encoder and decoder alike:
 *   "s"   d 192, 6 layers, 3 heads (enc/dec-s)       "m-s" d 384, 8 layers, 4 heads (enc/dec-m-s)
 *   "l"   d 768, 9 layers, 4 heads (enc/dec-l)       "cpu" d 96, 2 layers, 4 heads (cformer's small CPU size)
 * CF_ERR_ARG naming the known presets for another name. */
cf_status cf_dualformer_preset(const char *name, int64_t vocab, cf_dualformer_config *out);

typedef struct cf_dualformer {
    cf_dualformer_config cfg;
    cf_embedding_layer enc_embed, dec_embed;
    cf_block *enc_blocks, *dec_blocks;
    cf_norm_layer enc_norm, dec_norm;
    cf_linear_layer enc_proj, head;
} cf_dualformer;

cf_status cf_dualformer_init(cf_dualformer *m, cf_params *ps, const cf_dualformer_config *cfg);
void cf_dualformer_free(cf_dualformer *m);
/* Encoder: src i64 [B, S], src_pad bool [B, S] (true = padding; used only with encoder_padding_mask) ->
 * memory [B, S, dec_dim]. */
cf_tensor *cf_dualformer_encode(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *src, cf_tensor *src_pad);
/* Decoder over a whole sequence (training, teacher forcing): tgt_in i64 [B, T] -> logits [B, T, vocab]. */
cf_tensor *cf_dualformer_decode(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *tgt_in, cf_tensor *mem,
                                  cf_tensor *mem_pad);
/* The training loss: cross-entropy of tgt_out (the ignore value -100 skipped) given src i64 [B, S],
 * src_pad bool [B, S], tgt_in i64 [B, T]. sequence_mean (the official code's reduction): each row
 * averaged over its non-ignored tokens, then the rows averaged (rows with no target are left out);
 * otherwise the mean over all non-ignored tokens. groups > 1 sorts the rows by target length and runs
 * that many groups, each cut to its own longest target: the same loss and gradient (to rounding) at the
 * cost of the real tokens instead of B x T (traces vary 3x in length). */
cf_tensor *cf_dualformer_loss(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *src, cf_tensor *src_pad,
                                cf_tensor *tgt_in, cf_tensor *tgt_out, bool sequence_mean, int groups);
/* Training FLOPs per decoder target token for a source of S and a target of T tokens (6 N plus attention). */
double cf_dualformer_flops_per_token(const cf_dualformer *m, int64_t S, int64_t T);

/* ---- incremental decoding ----
 * Holds, for `batch` rows: the decoder self-attention KV cache of every layer (cap positions) and the
 * cross-attention keys and values of every layer, computed once from the encoder memory. Persistent
 * tensors, allocated once; nothing in cf_dualformer_step allocates outside the step arena. */
typedef struct cf_dualformer_cache {
    int64_t batch, src_len, cap, layers;
    cf_kv_cache *self;              /* [layers] */
    cf_tensor **cross_k, **cross_v; /* [layers] persistent [batch, heads, src_len, head_dim] */
    cf_tensor *mem_pad;             /* persistent bool [batch, src_len] */
} cf_dualformer_cache;

cf_status cf_dualformer_cache_init(cf_dualformer_cache *c, const cf_dualformer *m, int64_t batch,
                                     int64_t src_len, int64_t cap);
void cf_dualformer_cache_free(cf_dualformer_cache *c); /* zeroed or freed is fine */
/* Empties the self-attention caches and fills the cross-attention keys/values from mem [batch, src_len,
 * dec_dim] and its padding mask mem_pad bool [batch, src_len] (NULL: none). */
cf_status cf_dualformer_cache_start(cf_ctx *ctx, const cf_dualformer *m, cf_dualformer_cache *c, cf_tensor *mem,
                                      cf_tensor *mem_pad);
/* Feeds tokens i64 [batch, T] at the next T positions and returns their logits [batch, T, vocab]; equal
 * (to rounding) to the matching positions of cf_dualformer_decode over the whole sequence. */
cf_tensor *cf_dualformer_step(cf_ctx *ctx, const cf_dualformer *m, cf_dualformer_cache *c, cf_tensor *tokens);

/* ---- batched sampling ---- */
typedef struct cf_dualformer_sample_opts {
    double temperature;     /* softmax(logits / temperature); <= 0: greedy. (The official sample_probability
                               MULTIPLIES the logits by its argument, an inverse temperature; 1 is 1 in both.) */
    int64_t max_len;        /* at most this many tokens after bos (the rollout cap), >= 1 */
    int first_token;        /* forced first token after bos (cf_maze_mode_token: create = slow, plan = fast);
                               < 0: none (auto, the model chooses) */
    int64_t ban_after;      /* when >= 0: once a row has produced this token, the tokens ban[0..n_ban) get
                               probability 0 (e.g. after `plan`, never `create`/`close`); -1: off */
    int ban[4];
    int n_ban;
    int64_t stop_token;     /* a row ends after emitting it (eos) */
    int64_t pad_token;      /* written after a row's end */
    uint64_t seed;          /* sample j of task t draws cf_rng_uniform(cf_rng_key(seed, task_id[t]), j, position) */
    int64_t max_rows;       /* rows decoded together (0: all tasks * k at once); the caches hold this many */
} cf_dualformer_sample_opts;
cf_dualformer_sample_opts cf_dualformer_sample_defaults(void);

/* Samples k outputs for each of the B tasks in src i64 [B, S] / src_pad bool [B, S]: row t*k + j of out
 * ([B * k, max_len], i64, caller's memory) gets sample j of task t WITHOUT the leading bos (the forced first
 * token included), ending with stop_token when the model emitted it within max_len and padded with
 * pad_token after; lens[row] (may be NULL) is the number of tokens before the padding (the stop included).
 * task_ids (may be NULL: 0..B-1) key the random draws, so a sample does not depend on the batching.
 * The encoder runs once per task; the decoder uses the KV cache. */
cf_status cf_dualformer_sample(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *src, cf_tensor *src_pad, int k,
                                 const int64_t *task_ids, const cf_dualformer_sample_opts *o, int64_t *out,
                                 int64_t *lens);

#endif
