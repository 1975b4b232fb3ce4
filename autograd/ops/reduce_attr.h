/* Attributes of the reduction ops, and the vectorised exp that the softmax, log-sum-exp and
 * cross-entropy kernels share. */
#ifndef CF_REDUCE_ATTR_H
#define CF_REDUCE_ATTR_H

#include "autograd/cf_node.h"

#include <math.h>
#include <string.h>

struct reduce_attr {
    uint32_t mask;     /* sum/mean/var/max/min/logsumexp: bit d set when dim d of the input is reduced */
    bool keepdim;
    int dim;           /* cumsum, softmax, log_softmax: the (normalised) dim */
    double correction; /* var */
};

/* exp of a max-shifted value (x <= 0, as x - max in softmax, log-sum-exp and cross entropy) for the f32
 * kernels: inlined, branch-free and vectorised by `#pragma omp simd`; 2^k times Cephes' degree-6
 * polynomial on [-ln2/2, ln2/2], about 2 ulp. libmvec's expf made the f32 softmax compute-bound; this
 * is ~1.7x faster. Below -87 it gives 0 (the true value is at most subnormal); NaN stays NaN. It is
 * only valid up to x = 88: there is no overflow handling, which costs as much again. */
#ifdef __FMA__
#define CF_FMAF(a, b, c) fmaf(a, b, c)
#else
#define CF_FMAF(a, b, c) ((a) * (b) + (c))
#endif
static inline float expf_shifted(float x)
{
    float t = CF_FMAF(x, 1.44269504088896341f, 12582912.0f); /* 1.5 * 2^23: t's low bits hold round(x/ln2) */
    float k = t - 12582912.0f;
    float r = CF_FMAF(k, -0.693359375f, x); /* x - k ln2, ln2 in two parts */
    r = CF_FMAF(k, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = CF_FMAF(p, r, 1.3981999507e-3f);
    p = CF_FMAF(p, r, 8.3334519073e-3f);
    p = CF_FMAF(p, r, 4.1665795894e-2f);
    p = CF_FMAF(p, r, 1.6666665459e-1f);
    p = CF_FMAF(p, r, 5.0000001201e-1f);
    p = CF_FMAF(p, r * r, r + 1.0f);
    uint32_t tb, sb;
    float scale;
    memcpy(&tb, &t, sizeof tb);
    sb = (tb - 0x4B400000u + 127u) << 23; /* 2^k; unsigned, so the bits from a NaN or -inf stay defined */
    memcpy(&scale, &sb, sizeof scale);
    return x < -87.0f ? 0.0f : p * scale;
}

/* t (contiguous, a reduction's output or its gradient) seen with x's rank: the dims of mask as size 1, so
 * cf_iter broadcasts it over x. */
static inline cf_tensor cf_reduce_keep_view(const cf_tensor *t, const cf_tensor *x, uint32_t mask)
{
    cf_tensor v = *t;
    v.ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) v.shape[d] = (mask & (1u << d)) ? 1 : x->shape[d];
    cf_contiguous_strides(v.ndim, v.shape, v.stride);
    return v;
}

/* [outer, len, inner] around dim d (a 0-dim tensor is [1, 1, 1]): the layout of cumsum and softmax. */
static inline void cf_split_dim(const cf_tensor *x, int d, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = *len = *inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < d) *outer *= x->shape[i];
        else if (i == d) *len = x->shape[i];
        else *inner *= x->shape[i];
    }
}

/* With this declaration GCC turns exp inside `#pragma omp simd` loops (the f64 kernels) into glibc's
 * libmvec vector calls, which glibc's math.h only declares under -ffast-math; libm.so pulls libmvec in
 * as needed. Elsewhere those loops stay scalar but correct. (C only: C++ kernel files include this header for
 * the attributes.) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__cplusplus)
extern double exp(double) __attribute__((__simd__("notinbranch")));
#endif

#endif
