/* MASFormer: a decoder-only LM in which a few layers attend over the whole causal context and the others
 * only within a short span (Zhang, Ram, Hawkins, Zha, Zhao, "Efficient Long-Range Transformers: You Need to
 * Attend More, but Not Necessarily at Every Layer", EMNLP 2023 Findings, Sec. 3 and Fig. 1).
 *
 * The stack is the GPT of layers/gpt.h (same parameters, same names: a GPT checkpoint loads into it and
 * back); only the attention mask of each layer differs. Layer l (1-based, 1 = next to the embedding) is
 * full causal when l is in full_layers, else local with span b = local_span, per head (Sec. 3, with
 * S = Q K^T / sqrt(d_h), P = softmax(S + mask), out = P V):
 *
 *     full        M_ij = [j <= i]                                          4 n^2 d FLOPs per layer
 *     block       M_ij = [j <= i and floor(i/b) == floor(j/b)]   (Fig. 1a) 4 n b d
 *     block_prev  M_ij = [j <= i and floor(j/b) >= floor(i/b) - 1]         8 n b d
 *                 (own block and the previous one: no token sees fewer than b - 1 others except in block 0)
 *     window      M_ij = [i - b < j <= i]                        (Fig. 1b) 4 n b d
 *
 * (FLOPs of QK^T and PV at 2 per multiply-add, causal halving not counted, as the paper counts cost.)
 * block and block_prev never form an n x n score matrix: x [B, T, d] is cut into T/b blocks, the blocks
 * become the batch of the fused attention op ([B T/b, H, b, d_h] queries against b or 2b keys, causal
 * with the queries the last b keys), and the masked blocks are never computed; window is the op's causal
 * sliding-window mask, which skips the tiles outside the band. RoPE is applied inside each block with the
 * block's own offsets, which gives the same scores as absolute positions (RoPE depends on i - j only).
 *
 *     cf_masformer_config c = {.gpt = cf_gpt_defaults(), .local = CF_MAS_BLOCK_PREV, .local_span = 16};
 *     c.gpt.pos = CF_POS_ROPE, c.gpt.layers = 6;
 *     c.full[1] = c.full[4] = true;                    // layers 2 and 5 full (0-based index here)
 *     cf_masformer m; cf_masformer_init(&m, ps, &c);
 *     cf_tensor *logits = cf_masformer_logits(ctx, &m, tokens);   // tokens i64 [B, T], T % span == 0
 *     double frac = cf_masformer_attn_flops(&c, T) / cf_masformer_attn_flops_full(&c, T); */
#ifndef CF_MASFORMER_H
#define CF_MASFORMER_H

#include "layers/gpt.h"

#define CF_MAS_MAX_LAYERS 256

typedef enum cf_mas_local { CF_MAS_BLOCK, CF_MAS_BLOCK_PREV, CF_MAS_WINDOW } cf_mas_local;
bool cf_mas_local_parse(const char *s, cf_mas_local *out); /* "block", "block_prev", "window" */
const char *cf_mas_local_name(cf_mas_local k);

typedef struct cf_masformer_config {
    cf_gpt_config gpt;              /* the stack; gpt.layers <= CF_MAS_MAX_LAYERS, pre-LN */
    bool full[CF_MAS_MAX_LAYERS];   /* full[l]: layer l (0-based) attends over the whole context */
    cf_mas_local local;             /* the other layers' mask */
    int64_t local_span;             /* b >= 1; block kinds need T % b == 0 */
} cf_masformer_config;

typedef struct cf_masformer {
    cf_masformer_config cfg;
    cf_gpt gpt; /* parameters; blocks[l].attn is read by the local path too */
} cf_masformer;

cf_status cf_masformer_init(cf_masformer *m, cf_params *ps, const cf_masformer_config *cfg);
void cf_masformer_free(cf_masformer *m);
/* tokens i64 [B, T] -> logits [B, T, vocab]; T a multiple of local_span for the block kinds. */
cf_tensor *cf_masformer_logits(cf_ctx *ctx, const cf_masformer *m, cf_tensor *tokens);

/* One local self-attention of a block's attention weights: x [B, T, dim] -> [B, T, dim] (the attention
 * sublayer, projections included). Exposed for tests. */
cf_tensor *cf_mas_local_attention(cf_ctx *ctx, const cf_attention *a, cf_tensor *x, cf_mas_local kind, int64_t span);

/* Attention FLOPs of one forward over a row of n tokens (the table above, summed over layers), and of the
 * same stack with every layer full. */
double cf_masformer_attn_flops(const cf_masformer_config *c, int64_t n);
double cf_masformer_attn_flops_full(const cf_masformer_config *c, int64_t n);

#endif
