/* MemoryFormer ("MemoryFormer: Minimize Transformer Computation by Removing Fully-Connected Layers", Ding et
 * al., NeurIPS 2024): every fully-connected layer of a transformer block replaced by a Memory Layer, a
 * hash of the input into K lookup tables and a weighted sum of the rows it selects (autograd/ops/memlayer.h
 * has the op math; Section 3.1).
 *
 * Memory Layer, in -> out with tau bits per chunk: K = in / tau tables of 2^tau rows, stacked into
 *     table [K 2^tau, out],  bias [out];   y = sum_k w_k(x) table[rows_k(x)] + bias
 * (the official code's `remove_projection`: the input is hashed as it is, so in must be a multiple of tau).
 *
 * MemoryFormer block (Section 3.2 and the official tiny configuration), x [B, T, d]:
 *     a = RMSNorm(x);  one hash of a shared by three Memory Layers for Q, K and V (d -> d each)
 *     u = x + causal multi-head softmax attention(Q, K, V), RoPE on the first rotary_pct of each head,
 *         and no output projection (the official `del_dense`)
 *     v = RMSNorm(u);  h = LayerNorm(ML1(v))   ML1: d -> (tau + extra_bits) K
 *     out = u + ML2(h)                          ML2: (tau + extra_bits) K -> d, K tables of 2^(tau+extra) rows
 * No activation anywhere: the hashing is the nonlinearity. Requires d % tau == 0 and d % heads == 0.
 *
 * Cost per token (2 FLOPs per multiply-add; the lookup counted as 2 K d_out and each hash as 2 d_in, as the
 * paper's Section 3.3 counts it): cf_memoryformer_block_flops; the attention's 4 T d per token is the same as
 * a dense block's and is not included.
 *
 *     cf_memoryformer_block b;
 *     cf_memoryformer_block_init(&b, ps, "blocks.0", &(cf_memoryformer_config){.dim = 128, .heads = 4, .tau = 8,
 *                                .extra_bits = 2, .rotary_pct = 0.25, .rope_base = 10000, .temperature = 1,
 *                                .eps = 1e-5});
 *     cf_tensor *y = cf_memoryformer_block_fwd(ctx, &b, x, &usage);   // [B, T, d]; usage may be NULL
 */
#ifndef CF_LAYERS_MEMORYFORMER_H
#define CF_LAYERS_MEMORYFORMER_H

#include "autograd/ops/memlayer.h"
#include "layers/nn.h"

/* ---- Memory Layer ---- */
typedef struct cf_memory_layer {
    cf_tensor *table; /* [K 2^tau, out] */
    cf_tensor *bias;  /* [out] */
    int64_t in, out, tau, tables;
} cf_memory_layer;

/* Tables ~ N(0, std), bias ~ 0.001 N(0, 1) (the official init). in must be a multiple of tau. */
cf_status cf_memory_layer_init(cf_memory_layer *l, cf_params *ps, const char *name, int64_t in, int64_t out,
                               int64_t tau, double std);
/* y [..., out] from a hash of the layer's input (w, rows [..., K] of cf_memlayer_hash with the layer's tau). */
cf_tensor *cf_memory_layer_apply(cf_ctx *ctx, const cf_memory_layer *l, cf_tensor *w, cf_tensor *rows);

/* ---- bucket usage ---- */
/* Counts of rows selected, per table: counts[t * 2^tau + h] for table t, one array per hashed site. */
typedef struct cf_memory_usage {
    int64_t *counts; /* [sites][K 2^tau], owned */
    int64_t sites, rows_per_site;
} cf_memory_usage;
/* Adds rows (i64 [..., K], values in [0, rows_per_site)) into site s. */
void cf_memory_usage_add(cf_memory_usage *u, int64_t site, const cf_tensor *rows);
/* Entropy in bits of table t's histogram in site s, over its 2^tau rows (tau bits = uniform; 0 = collapsed). */
double cf_memory_usage_entropy(const cf_memory_usage *u, int64_t site, int64_t table, int64_t tau);

/* ---- MemoryFormer block ---- */
typedef struct cf_memoryformer_config {
    int64_t dim, heads;
    int64_t tau;        /* bits per chunk of the QKV layers and ML1; K = dim / tau */
    int64_t extra_bits; /* ML1's output (tau + extra_bits) K, hashed by ML2 in chunks of tau + extra_bits */
    cf_memweight weight;
    double temperature; /* of the bucket weight (1 in the official code) */
    double rotary_pct;  /* fraction of each head's dims that RoPE rotates (rounded down to even) */
    double rope_base;
    double eps;         /* of the norms */
    double std;         /* table init; 0: sqrt(2 / (5 d)), the official small_init */
} cf_memoryformer_config;

typedef struct cf_memoryformer_block {
    cf_memoryformer_config cfg;
    cf_norm_layer norm_attn, norm_ffn, norm_mid; /* RMSNorm, RMSNorm, LayerNorm((tau + extra) K) */
    cf_memory_layer q, k, v, ml1, ml2;
} cf_memoryformer_block;

cf_status cf_memoryformer_block_init(cf_memoryformer_block *b, cf_params *ps, const char *name,
                                     const cf_memoryformer_config *cfg);
/* x [B, T, d] -> [B, T, d]. usage (or NULL): the block's three hashes are counted into sites
 * site0 (QKV), site0 + 1 (ML1) and site0 + 2 (ML2); a usage made by cf_memory_usage_new for the model. */
cf_tensor *cf_memoryformer_block_fwd(cf_ctx *ctx, const cf_memoryformer_block *b, cf_tensor *x, cf_memory_usage *usage,
                                     int64_t site0);
/* Non-attention FLOPs per token of one block (the hashes and lookups). */
double cf_memoryformer_block_flops(const cf_memoryformer_config *cfg);
/* Non-attention FLOPs per token of a dense pre-norm block with the same width and an MLP of `hidden`:
 * QKV, output projection and the two MLP matrices, 2 (4 d^2 + 2 d hidden). */
double cf_dense_block_flops(int64_t dim, int64_t hidden);

/* A usage of `sites` hashed sites, each with rows_per_site rows; CF_ERR_OOM on failure. */
cf_status cf_memory_usage_new(cf_memory_usage *u, int64_t sites, int64_t rows_per_site);
void cf_memory_usage_free(cf_memory_usage *u);

#endif
