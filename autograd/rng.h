/* Counter-based RNG (Philox 4x32-10): the value for (key, counter) is the same on every backend and
 * thread count, so dropout masks are reproducible across restarts and devices. */
#ifndef CF_RNG_H
#define CF_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_philox_key {
    uint32_t k[2];
} cf_philox_key;

/* Four 32-bit random words for counter (c0..c3) under key. */
void cf_philox4x32(cf_philox_key key, const uint32_t ctr[4], uint32_t out[4]);
/* Key for a stream of random numbers: (seed, stream) fold into the key, step into the counter. */
cf_philox_key cf_rng_key(uint64_t seed, uint64_t stream);
/* Uniform in [0, 1) for element i of the draw at step. */
double cf_rng_uniform(cf_philox_key key, uint64_t step, uint64_t i);
/* Fills n uniforms in [0,1) for elements 0..n-1 at step (fast path, 4 per Philox call). */
void cf_rng_uniform_f32(cf_philox_key key, uint64_t step, float *out, int64_t n);
/* Standard normal for element i (Box-Muller on one Philox block). */
double cf_rng_normal(cf_philox_key key, uint64_t step, uint64_t i);

#ifdef __cplusplus
}
#endif

#endif
