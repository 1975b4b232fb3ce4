/* Attributes of the random ops: everything the kernels need to regenerate the mask, so backward
 * recomputes it instead of keeping one (Philox is cheaper than the memory traffic of a saved mask). */
#ifndef CF_RANDOM_ATTR_H
#define CF_RANDOM_ATTR_H

#include "autograd/cf_node.h"

struct random_attr {
    cf_philox_key key;
    uint64_t step;      /* the step at forward time, so a step counter changed before backward is harmless */
    uint32_t threshold; /* keep iff the random word >= threshold */
    bool drop_all;      /* p == 1 */
    double scale;       /* 1 / (1 - p) */
};

/* The four random words of mask block b (elements or samples 4b .. 4b+3). */
static inline void cf_random_block(const struct random_attr *a, uint64_t b, uint32_t w[4])
{
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)a->step, (uint32_t)(a->step >> 32)};
    cf_philox4x32(a->key, ctr, w);
}

#endif
