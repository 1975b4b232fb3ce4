/* EcoFormer's attention (Liu et al., "EcoFormer: Energy-Saving Attention with Linear Complexity", NeurIPS 2022):
 * tokens are mapped to b-bit binary codes by a kernelized hash, learned once from the attention it replaces,
 * and attention is a linear-complexity product of those codes, so every product with a value is an addition
 * or a subtraction.
 *
 * Kernelized hash (Sec. 3.2, "kernelized hashing"), for qk [B, H, N, C] (unit-norm tokens, shared Q = K):
 *     d2[n,j] = ||x_n - a_j||^2                       anchors a [H, m, C]
 *     s2      = mean over (n, j) of d2                per (batch row, head): the current batch, not detached
 *     phi     = exp(-d2 / (2 s2)) - mu                mu [H, 1, m]: the kernel's mean on the learning batch
 *     y       = phi A^T                               A [H, b, m]
 *     h       = sign(y) in {-1, +1}^b                 sign(0) = +1, so h_i^T h_j = b - 2 Hamming(h_i, h_j)
 * Backward is the clipped straight-through estimator dh/dy = 1 where |y| <= 1, else 0 (cf_sign with
 * CF_SURROGATE_STE_CLIP). A, anchors and mu are frozen parameters (no gradient, never updated by the
 * optimizer, saved in checkpoints), so the task gradient reaches qk only through phi and s2.
 *
 * Self-supervised hash learning (Sec. 3.3, KSH-style, done once on the first training batch): the target
 * S0[i,j] = +1 on each query's topk most similar tokens (cosine, including itself), -1 on its topk least
 * similar, 0 elsewhere. With S = b S0, for bit r = 1..b: minimise l(a) = -(1/(N b)) y^T S y with
 * y = 2 sigmoid(phi a) - 1 (mean over batch rows and heads) by SGD with Nesterov momentum; keep the new a
 * only if the binarised loss improves; then S <- S - y y^T with the binary y. This is greedy descent on
 * ||Y Y^T - b S0||_F^2, one bit at a time.
 *
 * Binary-code linear attention (Sec. 3.4), with c = b + 1 so every weight h_i^T h_j + c >= 1 is positive:
 *     out_i = [h_i^T (sum_j h_j v_j^T) + c sum_j v_j] / [h_i^T (sum_j h_j) + N c]
 *           = sum_j (h_i^T h_j + c) v_j / sum_j (h_i^T h_j + c)
 * computed in O(N b C) without the N x N matrix. code_compat selects the official code's numerator, which
 * adds c v_i instead of c sum_j v_j (its denominator is the same).
 *
 * Usage:
 *     cf_kernel_hash kh;
 *     cf_kernel_hash_init(&kh, ps, "blocks.0.attn.hash", heads, head_dim, 16, 25);
 *     if (!cf_kernel_hash_learned(&kh)) cf_kernel_hash_learn(&kh, qk, &opts, NULL);   // first batch only
 *     cf_tensor *h = cf_kernel_hash_fwd(ctx, &kh, qk);                               // [B, H, N, b]
 *     cf_tensor *o = cf_binary_linear_attention(ctx, h, v, false);                   // [B, H, N, C] */
#ifndef CF_ECOFORMER_H
#define CF_ECOFORMER_H

#include "layers/nn.h"

typedef struct cf_kernel_hash {
    cf_tensor *anchors; /* [H, m, C]  frozen parameter "<name>.anchors" */
    cf_tensor *mu;      /* [H, 1, m]  frozen parameter "<name>.mu" */
    cf_tensor *proj;    /* [H, b, m]  frozen parameter "<name>.proj" (A), initialised N(0, 1) */
    cf_tensor *learned; /* [1]        frozen parameter "<name>.learned": 1 once anchors, mu (and A) are set */
    int64_t heads, head_dim, bits, anchors_n;
} cf_kernel_hash;

/* Adds the four frozen parameters under name; A ~ N(0, 1) from the parameters' seeded stream. */
cf_status cf_kernel_hash_init(cf_kernel_hash *kh, cf_params *ps, const char *name, int64_t heads, int64_t head_dim,
                              int64_t bits, int64_t anchors);
bool cf_kernel_hash_learned(const cf_kernel_hash *kh);
/* Clears the learned flag, so the next training forward that passes learn options learns the hash again
 * (starting from the current A, as the released code does): the released code's relearn-every-k schedule. */
void cf_kernel_hash_forget(cf_kernel_hash *kh);

/* The hash codes h [B, H, N, b] (values +-1) of qk [B, H, N, C], with the straight-through backward. */
cf_tensor *cf_kernel_hash_fwd(cf_ctx *ctx, const cf_kernel_hash *kh, cf_tensor *qk);
/* The pre-sign projection y [B, H, N, b] (for tests and the AUC). */
cf_tensor *cf_kernel_hash_project(cf_ctx *ctx, const cf_kernel_hash *kh, cf_tensor *qk);

typedef struct cf_hash_learn_opts {
    int64_t topk;       /* S0's positives and negatives per query (paper: 10) */
    int64_t iters;      /* SGD iterations per bit (paper: 100) */
    double lr;          /* paper: 5e-4 */
    double momentum;    /* Nesterov (paper: 0.9) */
    int64_t max_rows;   /* batch rows used (<= B); 0: all */
    bool learn_proj;    /* false: anchors and mu only, A stays random (the random-hash ablation) */
    uint64_t seed;      /* the anchors' permutation */
} cf_hash_learn_opts;
#define CF_HASH_LEARN_DEFAULTS {.topk = 10, .iters = 100, .lr = 5e-4, .momentum = 0.9, .learn_proj = true, .seed = 1}

/* A trace of the learning step, for tests and logs: the smooth loss of each bit before and after its SGD
 * iterations, the binarised loss of the old and the kept projection, and ||Y Y^T - b S0||_F^2 / (rows N^2)
 * with the codes of bits 1..r (residual[0]: no bits). Arrays of kh->bits (+1) entries owned by the caller. */
typedef struct cf_hash_learn_trace {
    double *smooth_first, *smooth_last, *binary_old, *binary_kept, *residual;
} cf_hash_learn_trace;

/* Learns anchors, mu and (learn_proj) A from the values of qk [B, H, N, C] (no gradient; any float dtype)
 * and marks the hash learned. Memory O(rows H N^2). trace may be NULL. */
cf_status cf_kernel_hash_learn(cf_kernel_hash *kh, const cf_tensor *qk, const cf_hash_learn_opts *o,
                               cf_hash_learn_trace *trace);

/* Binary-code linear attention of h [B, H, N, b] and v [B, H, N, C]; c = b + 1 (see above). */
cf_tensor *cf_binary_linear_attention(cf_ctx *ctx, cf_tensor *h, cf_tensor *v, bool code_compat);
/* The same attention written with the explicit [N, N] weights (h_i^T h_j + c): for tests. */
cf_tensor *cf_binary_attention_explicit(cf_ctx *ctx, cf_tensor *h, cf_tensor *v, bool code_compat);

/* Hash AUCs of codes h [B, H, N, b] (values +-1) against the cosine affinity of qk [B, H, N, C], the attention
 * similarity the hash replaces (shared Q = K): for each query i, its positives are its topk most similar
 * OTHER tokens (i itself is left out: h_i^T h_i = b would win every comparison), and an AUC is the probability
 * that a positive gets a larger h_i^T h_j than a negative (ties count one half), pooled over queries.
 *     vs_rest    negatives: all N - 1 - topk other tokens (the ranking the attention needs)
 *     vs_bottom  negatives: the topk least similar (KSH's -1 targets, Sec. 3.3: an easier split)
 *     ksh        KSH's objective on these rows: ||Y Y^T - b S0||_F^2 / (b^2 N^2), mean over (row, head), with
 *                S0 the symmetrised targets of the learning step (top-k including i itself: +1, bottom-k: -1)
 * 0.5 is chance, i.e. codes independent of qk. NaN unless 1 <= topk <= 64 and 2 topk <= N - 1. */
typedef struct cf_hash_auc_result { double vs_rest, vs_bottom, ksh; } cf_hash_auc_result;
cf_hash_auc_result cf_hash_auc(const cf_tensor *qk, const cf_tensor *h, int64_t topk);

/* How concentrated an attention is, averaged over its queries (every batch row, head and query): top_small /
 * top_large, the mean mass of a query's `small` / `large` largest weights (min(k, N) of them); entropy, the mean
 * of -sum_j p_ij ln p_ij over its normalised weights p_ij; peak, the mean of ln(max_j p_ij / median_j p_ij) (the
 * median: the (N/2 + 1)-th largest; 0 for uniform weights); uniform = ln N (Nk keys), the entropy of uniform weights.
 *     softmax  p_ij = softmax_j(s_ij), s = q k^T / sqrt(C), or with logit_bound > 0 the squashed logits
 *              logit_bound * sigmoid(s) (cf_eco_attention's bounded softmax); q [B, H, Nq, C], k [B, H, Nk, C]
 *     binary   p_ij = (h_i^T h_j + c) / sum_j (h_i^T h_j + c), c = b + 1 (the normalised binary attention
 *              above, code_compat false); h [B, H, N, b] (+-1)
 * A weight ratio bounded by R (binary: R = 2b + 1; bounded softmax: e^logit_bound) caps top-k mass at
 * R k / (R k + N - k) and peak at ln R. Binary weights of codes orthogonal to h_i are b + 1, so against a median
 * of such codes peak is below ln((2b + 1) / (b + 1)) < ln 2. All fields NaN on bad shapes or k < 1. Values only: O(B H N^2 (C or b)) time. */
typedef struct cf_attn_focus { double top_small, top_large, entropy, peak, uniform; } cf_attn_focus;
cf_attn_focus cf_attn_focus_softmax(const cf_tensor *q, const cf_tensor *k, double logit_bound, int64_t small,
                                    int64_t large);
cf_attn_focus cf_attn_focus_binary(const cf_tensor *h, int64_t small, int64_t large);

/* Counted multiplications and additions of one attention layer's core (EcoFormer, Sec. 4 energy model),
 * H heads, N tokens, head size C, b bits, m anchors; energy in pJ = 3.7 muls + 0.9 adds (FP32, 45 nm). */
typedef struct cf_attn_cost { double muls, adds, energy_pj; } cf_attn_cost;
cf_attn_cost cf_ecoformer_attn_cost(int64_t H, int64_t N, int64_t C, int64_t b, int64_t m);
cf_attn_cost cf_softmax_attn_cost(int64_t H, int64_t N, int64_t C);

/* ---- the attention layer (EcoformerSelfAttention, Sec. 3.1) ----
 * x [B, N, dim] -> [B, N, dim]. Softmax mode (the baseline that is fine-tuned from): separate q, k, v
 * Linear(dim, dim) and softmax(q k^T / sqrt(C)) v; with logit_bound > 0, softmax(logit_bound sigmoid(q k^T /
 * sqrt(C))) v, whose weights' ratio within a row is below e^logit_bound (an ablation: with logit_bound =
 * ln(2b + 1) the same bound as b-bit binary attention's weights in [1, 2b + 1]; built from existing ops). Hash mode: the shared qk = q(x) (the baseline's q, so a
 * softmax checkpoint's "q" and "v" initialise it and its "k" is unused), unit-normalised per token and head,
 * hashed by the kernel hash, and the binary-code linear attention of the codes and v(x). Both end in proj. */
typedef struct cf_eco_attention_config {
    int64_t dim, heads;
    bool hashed;         /* false: softmax attention */
    int64_t bits, anchors;
    bool code_compat;    /* the official code's numerator (see above) */
    double logit_bound;  /* softmax mode: > 0 squashes the logits into (0, logit_bound); 0: plain softmax */
} cf_eco_attention_config;

typedef struct cf_eco_attention {
    cf_eco_attention_config cfg;
    int64_t head_dim;
    cf_linear_layer q, k, v, proj; /* k: softmax mode only */
    cf_kernel_hash hash;           /* hash mode only: "<name>.hash.*" */
} cf_eco_attention;

/* What one forward exposes for evaluation (arena tensors of the step): hash mode, the unit-norm qk [B, H, N, C]
 * and the codes [B, H, N, b]; softmax mode, q and k [B, H, N, C] (contiguous, before the 1/sqrt(C) scale). */
typedef struct cf_eco_probe { cf_tensor *qk, *codes, *q, *k; } cf_eco_probe;

cf_status cf_eco_attention_init(cf_eco_attention *a, cf_params *ps, const char *name, const cf_eco_attention_config *c);
/* learn: when not NULL, in training mode and while the hash is not learned, learns it from this call's qk
 * first (Sec. 3.3: the first batch of fine-tuning). probe may be NULL. */
cf_tensor *cf_eco_attention_fwd(cf_ctx *ctx, cf_eco_attention *a, cf_tensor *x, const cf_hash_learn_opts *learn,
                                cf_eco_probe *probe);

#endif
