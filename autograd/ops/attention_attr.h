/* Attributes shared by the attention frontends and kernels. */
#ifndef CF_ATTENTION_ATTR_H
#define CF_ATTENTION_ATTR_H

#include <stdbool.h>
#include <stdint.h>

/* cf_sdpa: inputs are q, k, v, then attn_mask, key_padding and bias when given (index -1 when not).
 * The RNG coordinates are taken at the forward call so backward regenerates the same dropout mask even
 * if the ctx's step moves on before it runs. aux[0] keeps each query row's logsumexp [B, H, Tq]. */
struct sdpa_attr {
    double scale;
    double dropout; /* 0 when not training */
    int64_t window, block;
    int mask; /* cf_sdpa_mask */
    int i_mask, i_pad, i_bias;
    uint64_t seed, step, stream;
};

#endif
