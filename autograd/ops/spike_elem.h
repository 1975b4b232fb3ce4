/* heaviside's surrogate derivative (ops/spike.h has the formulas), written once for every backend:
 * CF_SPIKE_SURROGATE(NAME, T, QUAL) defines
 *
 *     static inline QUAL T NAME(int kind, T a, T x)
 *
 * the derivative d(x) of surrogate `kind` (cf_surrogate) with sharpness a; sign's smooth surrogates are twice
 * this. The includer provides exp and fabs for T (C: <tgmath.h>; CUDA C++: the overloaded ones) and QUAL
 * (nothing in C, __device__ in a .cu file). */
#ifndef CF_SPIKE_ELEM_H
#define CF_SPIKE_ELEM_H

#include "autograd/ops/spike.h"

#define CF_SPIKE_HALF_PI 1.57079632679489661923

#define CF_SPIKE_SURROGATE(NAME, T, QUAL) \
    static inline QUAL T NAME(int kind, T a, T x) \
    { \
        switch (kind) { \
        case CF_SURROGATE_STE: return (T)1; \
        case CF_SURROGATE_STE_CLIP: return fabs(x) <= (T)1 ? (T)1 : (T)0; \
        case CF_SURROGATE_SIGMOID: { \
            T s = (T)1 / ((T)1 + exp(-a * x)); \
            return a * s * ((T)1 - s); \
        } \
        case CF_SURROGATE_ATAN: { \
            T u = (T)CF_SPIKE_HALF_PI * a * x; \
            return a / (T)2 / ((T)1 + u * u); \
        } \
        default: { /* triangle */ \
            T h = (T)1 - a * fabs(x); \
            return h > 0 ? a * h : (T)0; \
        } \
        } \
    }

#endif
