/* `model.type: memoryformer`: a decoder-only language model whose blocks are either MemoryFormer blocks
 * (layers/memoryformer.h; `model.block: memory`) or the dense pre-norm transformer blocks of layers/nn.h
 * (`model.block: dense`, the baseline), with the same embedding, final RMSNorm and LM head, so the two
 * differ only in how a block spends its non-attention compute. Batches hold "tokens" and "targets" i64
 * [B, T]; the loss is the mean next-token cross-entropy.
 *
 * The evaluation (eval.c) adds to eval.json: ce and perplexity of the split, flops_per_token_nonattn (the
 * blocks' non-attention FLOPs per token), flops_per_token_attn, and for a memory model the entropy in bits of
 * every table's bucket histogram over the split (bucket_entropy: one array per hashed site, "blocks.L.qkv",
 * ".ml1", ".ml2"; flat metrics bucket_entropy_min / _mean as a fraction of tau bits, 1 = uniform). */
#ifndef CF_MODEL_MEMORYFORMER_H
#define CF_MODEL_MEMORYFORMER_H

#include "layers/memoryformer.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_memoryformer_model;

typedef struct cf_mf_model {
    cf_model base;
    int64_t vocab, seq, dim, layers, heads, hidden; /* hidden: the dense blocks' MLP width */
    bool memory;                                    /* model.block: memory (else dense) */
    cf_memoryformer_config mcfg;
    cf_embedding_layer emb;
    cf_block *dense;               /* [layers] when !memory */
    cf_memoryformer_block *blocks; /* [layers] when memory */
    cf_norm_layer norm_f;
    cf_linear_layer head;
    int64_t eval_windows;  /* eval.windows: windows of the split scored (0: all), spread evenly over it */
    cf_memory_usage usage; /* the last evaluation's bucket counts: 3 sites per block */
} cf_mf_model;

/* Logits [B, T, vocab] of tokens [B, T]; usage (or NULL) counts the buckets each hash picks. */
cf_tensor *cf_mf_logits(cf_ctx *ctx, const cf_mf_model *m, cf_tensor *tokens, cf_memory_usage *usage);
/* The blocks' non-attention FLOPs per token (forward), and the attention's at sequence length T. */
double cf_mf_flops_nonattn(const cf_mf_model *m);
double cf_mf_flops_attn(const cf_mf_model *m, int64_t T);

/* eval.c: the vtable's evaluate and write_eval. */
cf_status cf_mf_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
cf_status cf_mf_write_eval(cf_model *m, const char *path, const cf_metrics *flat);

#endif
