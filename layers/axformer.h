/* The AxFormer encoder: a BERT-style post-LN transformer encoder whose layers, blocks and heads can be removed
 * and whose attention can be made hard (top-k) per layer, with the switches kept as model state.
 *
 * Nagarajan, Sen, Stevens, Raghunathan, "AxFormer: Accuracy-driven Approximation of Transformers" (arXiv
 * 2010.03688). The model is the post-LN encoder of BERT (Devlin et al., Sec. 3): per layer
 *     h1 = LN1(h + MHA(h)),   h2 = LN2(h1 + FFN(h1)).
 * Removal semantics (AxFormer Sec. "accuracy-driven pruning": layers, then the attention / feed-forward block,
 * then heads):
 *     layer removed:      h2 = h   (both sublayers and both LNs skipped)
 *     attention removed:  h1 = h   (MHA and LN1 skipped)          FFN removed: h2 = h1 (FFN and LN2 skipped)
 *     head j removed:     its context slice never enters W_O; its rows of W_QKV and columns of W_O are not
 *                         multiplied at all, so a removed head costs nothing (not a zeroed head)
 *     hard attention k:   softmax over each query's k best keys only (autograd/ops/hardattn.h), k = 0: soft.
 * The switches are frozen parameters (no gradient, never updated; saved in every checkpoint and loaded by
 * --init-from like the weights):
 *     axf.layer_mask [L], axf.attn_mask [L], axf.ffn_mask [L]   1 = kept, 0 = removed
 *     axf.head_mask [L, H]                                     1 = kept, 0 = removed
 *     axf.hard_k [L]                                           0 = softmax, k >= 1 = top-k attention
 * Embeddings: token + learned position, then LayerNorm (BERT). The forward counts the multiply-adds it issues
 * (2 FLOPs each: every projection, Q K^T, P V and the FFN), so the FLOPs of a pruned model are counted, not
 * estimated; the LNs, softmax and GELU are O(T d) and not counted.
 *
 *     cf_axf_config c = {.vocab = 203, .seq = 64, .dim = 128, .heads = 4, .hidden = 512, .layers = 6};
 *     cf_axformer m;
 *     cf_axf_init(&m, ps, &c);                      // parameters under "enc." and the switches under "axf."
 *     cf_axf_set(&m, CF_AXF_FFN, 5, 0, 0);          // remove the last layer's feed-forward block
 *     double flops = 0;
 *     cf_tensor *h = cf_axf_fwd(ctx, &m, ids, &flops);   // ids i64 [B, T], T <= seq -> h [B, T, dim]
 */
#ifndef CF_LAYERS_AXFORMER_H
#define CF_LAYERS_AXFORMER_H

#include "layers/nn.h"

#define CF_AXF_MAX_LAYERS 48

typedef struct cf_axf_config {
    int64_t vocab, seq, dim, heads, hidden, layers;
    double init_std; /* 0: 0.02 (BERT) */
} cf_axf_config;

typedef struct cf_axf_layer {
    cf_linear_layer qkv;  /* [3 dim, dim]: rows q (head-major), then k, then v */
    cf_linear_layer proj; /* [dim, dim] */
    cf_norm_layer ln1, ln2;
    cf_mlp ffn;           /* GELU, dim -> hidden -> dim */
} cf_axf_layer;

typedef struct cf_axformer {
    cf_axf_config cfg;
    int64_t head_dim;
    cf_embedding_layer tok, pos;
    cf_norm_layer ln_emb;
    cf_axf_layer layer[CF_AXF_MAX_LAYERS];
    cf_tensor *layer_mask, *attn_mask, *ffn_mask, *head_mask, *hard_k; /* frozen parameters, see above */
} cf_axformer;

/* What a switch addresses. */
typedef enum cf_axf_switch { CF_AXF_LAYER, CF_AXF_ATTN, CF_AXF_FFN, CF_AXF_HEAD, CF_AXF_HARD } cf_axf_switch;

/* Adds the parameters (dim % heads == 0, 1 <= layers <= CF_AXF_MAX_LAYERS); every switch starts at "kept" and
 * soft attention. */
cf_status cf_axf_init(cf_axformer *m, cf_params *ps, const cf_axf_config *cfg);
/* The switch of layer l (and head h for CF_AXF_HEAD): 1/0 for the masks, k for CF_AXF_HARD. */
double cf_axf_get(const cf_axformer *m, cf_axf_switch s, int64_t l, int64_t h);
/* Sets it (value 0 or 1 for the masks, k >= 0 for CF_AXF_HARD); CF_ERR_ARG on an index or value out of range. */
cf_status cf_axf_set(cf_axformer *m, cf_axf_switch s, int64_t l, int64_t h, double value);
/* ids i64 [B, T] (T <= seq, values in [0, vocab)) -> hidden states [B, T, dim]. flops (may be NULL) grows by
 * the forward's counted FLOPs. */
cf_tensor *cf_axf_fwd(cf_ctx *ctx, const cf_axformer *m, cf_tensor *ids, double *flops);
/* Parameters the forward actually multiplies (removed heads, blocks and layers excluded), embeddings included. */
int64_t cf_axf_active_params(const cf_axformer *m);

#endif
