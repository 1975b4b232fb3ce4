/* A GPT-style decoder-only language model: token (+ learned or sinusoidal) positions, a stack of causal
 * transformer blocks, a final norm and an LM head (tied to the token embedding or not). */
#ifndef CF_GPT_H
#define CF_GPT_H

#include "layers/generate.h"
#include "layers/nn.h"

typedef enum cf_pos_kind { CF_POS_LEARNED, CF_POS_SINUSOIDAL, CF_POS_ROPE, CF_POS_NONE } cf_pos_kind;
bool cf_pos_kind_parse(const char *s, cf_pos_kind *out); /* "learned", "sinusoidal", "rope", "none" */

typedef struct cf_gpt_config {
    int64_t vocab, seq, dim, layers, heads, kv_heads, hidden;
    cf_pos_kind pos;
    cf_norm_kind norm;
    cf_mlp_kind mlp;
    bool prenorm, bias, tie;
    double dropout, init_std;
} cf_gpt_config;

/* The GPT-2 small shape scaled down: vocab 256, seq 128, dim 256, 4 layers, 4 heads, pre-LN, GELU 4x. */
cf_gpt_config cf_gpt_defaults(void);

typedef struct cf_gpt {
    cf_gpt_config cfg;
    cf_embedding_layer wte, wpe;
    cf_block *blocks;
    cf_norm_layer ln_f;
    cf_linear_layer head;
} cf_gpt;

cf_status cf_gpt_init(cf_gpt *m, cf_params *ps, const cf_gpt_config *cfg);
void cf_gpt_free(cf_gpt *m);
/* tokens i64 [B, T] at positions offset..offset+T-1 -> logits [B, T, vocab]. caches: one per layer for
 * incremental decoding (NULL when training). */
cf_tensor *cf_gpt_logits(cf_ctx *ctx, const cf_gpt *m, cf_tensor *tokens, cf_kv_cache *caches);
/* The GPT as a cf_lm for cf_lm_generate: cached logits are cf_gpt_logits; learned positions bound the context. */
cf_lm cf_gpt_lm(const cf_gpt *m);
/* Mean next-token cross-entropy of logits(tokens) against targets i64 [B, T]. */
cf_tensor *cf_gpt_loss(cf_ctx *ctx, const cf_gpt *m, cf_tensor *tokens, cf_tensor *targets);
/* Model FLOPs per token for training (6N + 6 L T d, with N the non-embedding parameters). */
double cf_gpt_flops_per_token(const cf_gpt *m, int64_t seq);

#endif
