/* GELU (exact, erf form) and its derivative, shared by the gelu op and the fused linear_gelu so that the
 * two give the same bits: gelu(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2)),
 * gelu'(x) = Phi(x) + x phi(x) = 1/2 (1 + erf(x / sqrt 2)) + x e^(-x^2/2) / sqrt(2 pi).
 * f32 uses the vectorisable erf and exp of fastmath.h. */
#ifndef CF_CPU_GELU_H
#define CF_CPU_GELU_H

#include "autograd/cpu/fastmath.h"

#include <math.h>

#define CF_INV_SQRT2 0.70710678118654752440
#define CF_INV_SQRT2PI 0.39894228040143267794

static inline float cf_gelu_f(float x) { return 0.5f * x * (1.0f + cf_fast_erff(x * (float)CF_INV_SQRT2)); }
static inline double cf_gelu_d(double x) { return 0.5 * x * (1.0 + erf(x * CF_INV_SQRT2)); }
static inline float cf_gelu_grad_f(float x)
{
    return 0.5f * (1.0f + cf_fast_erff(x * (float)CF_INV_SQRT2)) + x * (float)CF_INV_SQRT2PI * cf_fast_expf(-0.5f * x * x);
}
static inline double cf_gelu_grad_d(double x)
{
    return 0.5 * (1.0 + erf(x * CF_INV_SQRT2)) + x * CF_INV_SQRT2PI * exp(-0.5 * x * x);
}
#define CF_GELU(v) _Generic((v), float: cf_gelu_f, default: cf_gelu_d)(v)
#define CF_GELU_GRAD(v) _Generic((v), float: cf_gelu_grad_f, default: cf_gelu_grad_d)(v)

#endif
