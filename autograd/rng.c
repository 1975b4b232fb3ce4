#include "autograd/rng.h"

#include <math.h>

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void cf_philox4x32(cf_philox_key key, const uint32_t ctr[4], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

cf_philox_key cf_rng_key(uint64_t seed, uint64_t stream)
{
    uint64_t h = splitmix64(seed ^ splitmix64(stream + 0x5851F42D4C957F2Dull));
    return (cf_philox_key){{(uint32_t)h, (uint32_t)(h >> 32)}};
}

static inline void block(cf_philox_key key, uint64_t step, uint64_t blk, uint32_t out[4])
{
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)step, (uint32_t)(step >> 32)};
    cf_philox4x32(key, ctr, out);
}

static inline double u32_to_unit(uint32_t a, uint32_t b)
{
    /* 53 random bits -> [0, 1) */
    uint64_t v = ((uint64_t)a << 21) ^ (uint64_t)(b >> 11);
    return (double)(v & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double cf_rng_uniform(cf_philox_key key, uint64_t step, uint64_t i)
{
    uint32_t w[4];
    block(key, step, i / 2, w);
    return (i & 1) ? u32_to_unit(w[2], w[3]) : u32_to_unit(w[0], w[1]);
}

void cf_rng_uniform_f32(cf_philox_key key, uint64_t step, float *out, int64_t n)
{
    #pragma omp parallel for if (n > 65536)
    for (int64_t b = 0; b < (n + 3) / 4; b++) {
        uint32_t w[4];
        block(key, step, (uint64_t)b | (1ull << 62), w);
        for (int j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = (float)(w[j] >> 8) * (1.0f / 16777216.0f);
    }
}

double cf_rng_normal(cf_philox_key key, uint64_t step, uint64_t i)
{
    uint32_t w[4];
    block(key, step, i | (1ull << 63), w);
    double u1 = u32_to_unit(w[0], w[1]), u2 = u32_to_unit(w[2], w[3]);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
