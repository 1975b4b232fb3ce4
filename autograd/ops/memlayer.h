/* The Memory Layer of "MemoryFormer: Minimize Transformer Computation by Removing Fully-Connected Layers"
 * (Ding et al., NeurIPS 2024, Section 3.1): a fully-connected layer replaced by sign hashing into K
 * lookup tables and a weighted sum of the K selected rows. Two ops, so that one hash can feed several
 * tables (the paper's Q, K and V share one code, Section 3.2):
 *
 *     cf_tensor *rows;
 *     cf_tensor *w = cf_memlayer_hash(ctx, z, tau, CF_MEMWEIGHT_CODE, 1.0, &rows); // z [N, K*tau] -> w [N, K]
 *     cf_tensor *q = cf_memlayer_lookup(ctx, table_q, rows, w);                     // [N, D]
 *     cf_tensor *k = cf_memlayer_lookup(ctx, table_k, rows, w);
 *
 * memlayer_hash, for every leading position and chunk k = 0..K-1 of z's last dim (z_k = z[k tau .. k tau + tau)):
 *     bit_j = [z_kj >= 0]                        (0 hashes to 1, the PyTorch path of the official code)
 *     h_k   = sum_j bit_j 2^(tau-1-j)            (most significant bit first)
 *     rows_k = k 2^tau + h_k                     (the row in a stacked [K 2^tau, D] table)
 *     with a_j = |z_kj|, s_j = sigmoid(2 a_j / t), P = prod_j s_j, S = sum_j a_j:
 *     CF_MEMWEIGHT_PAPER: w_k = P   = softmax over the 2^tau buckets of <z_k, code_i> / t, taken at
 *                                    the chosen bucket (the paper's Eq. 5-7; the softmax factorises)
 *     CF_MEMWEIGHT_CODE:  w_k = S P (the released code's weight, ||z_k||_1 times P; t = 1 there. The L1
 *                                    factor keeps the gradient alive when P saturates at 1.)
 *   Backward goes through the weight only (the code is discrete and gets no gradient):
 *     dw/dz_kj = sign(z_kj) dw/da_j, sign(0) = 0, with
 *     PAPER: dw/da_j = P (2/t) (1 - s_j);   CODE: dw/da_j = P (1 + S (2/t) (1 - s_j)).
 *   The forward is discontinuous where a z_kj crosses 0: a finite-difference check must perturb by less
 *   than min |z_kj|.
 *
 * memlayer_lookup: y[n] = sum_k w[n, k] table[rows[n, k]]   (out [N..., D] for table [R, D])
 *   dL/dtable[r] += w[n, k] G[n] for each (n, k) with rows[n, k] = r: a scatter-add into the rows used
 *   only. The table's gradient buffer is dense (the optimisers update dense parameters), but the kernel
 *   writes no other row and makes no [R, D] temporary; the sums run in a fixed order, so the result does
 *   not depend on the thread count.
 *   dL/dw[n, k] = <G[n], table[rows[n, k]]>;  rows get no gradient.
 *   A row outside [0, R) is an error naming the value and its position, never a read out of bounds.
 *
 * Cost per position: the hash O(K tau); the lookup 2 K D FLOPs (the paper counts it so, Section 3.3),
 * against 2 K tau D for the dense layer it replaces. Inputs f32 or f64 (table and w of one dtype). */
#ifndef CF_OPS_MEMLAYER_H
#define CF_OPS_MEMLAYER_H

#include "autograd/cf_tensor.h"

typedef enum cf_memweight {
    CF_MEMWEIGHT_CODE = 0, /* ||z_k||_1 prod sigmoid(2|z|/t): the official code's weight */
    CF_MEMWEIGHT_PAPER,    /* prod sigmoid(2|z|/t): the paper's bucket probability */
    CF_MEMWEIGHT_COUNT
} cf_memweight;

/* The largest tau (2^tau rows per table). */
#define CF_MEMLAYER_MAX_TAU 24

/* z [..., K*tau] (at least 1 dim; its last dim a multiple of tau, 1 <= tau <= CF_MEMLAYER_MAX_TAU),
 * temperature t > 0 finite. Returns w [..., K]; *rows_out (required) receives the i64 rows [..., K],
 * which the backward of memlayer_lookup reads, so do not write into it. */
cf_tensor *cf_memlayer_hash(cf_ctx *ctx, cf_tensor *z, int64_t tau, cf_memweight weight, double temperature,
                            cf_tensor **rows_out);

/* table [R, D]; rows i64 and w of one shape [..., K] (rows contiguous, values in [0, R)). Returns [..., D]. */
cf_tensor *cf_memlayer_lookup(cf_ctx *ctx, cf_tensor *table, cf_tensor *rows, cf_tensor *w);

/* "code", "paper" (for recipes); false when unknown. */
bool cf_memweight_parse(const char *s, cf_memweight *out);
const char *cf_memweight_name(cf_memweight kind); /* "?" when out of range */

#endif
