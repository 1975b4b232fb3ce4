/* Vectorisable f32 math for CPU kernels: libm's expf and erff are a call per element, which stops the
 * compiler from vectorising the loops they sit in. */
#ifndef CF_FASTMATH_H
#define CF_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* e^x for the f32 path in a form the compiler vectorises: libm's expf is a call per element, and was a
 * third of the tile time. Cephes' expf (x = n ln 2 + r, degree-6 polynomial in r; within 1e-7
 * relative; inputs above 88.7 saturate near 2^128 instead of giving inf), with two twists that keep the loop vectorisable under the default FP trapping semantics:
 * n is read from the bits of x/ln2 + 1.5*2^23 (no float-to-int conversion, which is undefined for
 * -inf) and clamped as an integer, and results below the smallest normal (including e^-inf from masks)
 * are zeroed by an integer AND rather than a conditional, since any conditional FP operation stops
 * GCC from vectorising the loop. */
static inline float cf_fast_expf(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer in the low bits */
    float t = x * 1.44269504088896341f + magic;
    uint32_t tb, mb;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&mb, &magic, sizeof mb);
    int32_t n = (int32_t)(tb - mb);
    n = n < -126 ? -126 : n;
    n = n > 127 ? 127 : n;
    float nf = (float)n;
    float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t sb = (n + 127) << 23;
    float sc;
    memcpy(&sc, &sb, sizeof sc);
    float v = p * sc;
    int32_t vb, keep = -(int32_t)(x >= -87.33654f);
    memcpy(&vb, &v, sizeof vb);
    vb &= keep;
    memcpy(&v, &vb, sizeof v);
    return v;
}

/* erf: Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7, under f32's resolution near 1. */
static inline float cf_fast_erff(float x)
{
    float ax = x < 0 ? -x : x, t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float r = 1.0f - p * cf_fast_expf(-ax * ax);
    return x < 0 ? -r : r;
}

#endif
