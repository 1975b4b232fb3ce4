/* Step functions with surrogate gradients, for spiking neurons and binary hash codes.
 *
 * Forward (same dtype as x, so the result stays on the tape):
 *     heaviside(x) = 1 if x >= 0 else 0          (heaviside(0) = 1: a neuron at threshold fires)
 *     sign(x)      = +1 if x >= 0 else -1        (sign(0) = +1, so a hash bit is never 0)
 *     NaN stays NaN.
 * The true derivative is zero almost everywhere; backward uses a surrogate d(x) instead:
 *     gx = g * d(x).
 * The smooth surrogates are derivatives of a step that rises from 0 to 1 (each integrates to 1 over
 * the real line); alpha > 0 sets their sharpness (width ~ 1/alpha). sign = 2 heaviside - 1, so sign's
 * smooth surrogates are twice heaviside's. */
#ifndef CF_OPS_SPIKE_H
#define CF_OPS_SPIKE_H

#include "autograd/cf_tensor.h"

typedef enum cf_surrogate {
    /* straight-through: d = 1 for both ops (alpha ignored) */
    CF_SURROGATE_STE = 0,
    /* hardtanh straight-through: d = 1 where |x| <= 1, else 0, for both ops (alpha ignored) */
    CF_SURROGATE_STE_CLIP,
    /* heaviside: d = alpha s (1 - s), s = sigmoid(alpha x)              (the derivative of s) */
    CF_SURROGATE_SIGMOID,
    /* heaviside: d = alpha / 2 / (1 + (pi/2 alpha x)^2)  (of 1/2 + atan(pi/2 alpha x) / pi) */
    CF_SURROGATE_ATAN,
    /* heaviside: d = alpha max(0, 1 - alpha |x|)         (a triangle of area 1, half-width 1/alpha) */
    CF_SURROGATE_TRIANGLE,
    CF_SURROGATE_COUNT
} cf_surrogate;

cf_tensor *cf_heaviside(cf_ctx *ctx, cf_tensor *x, cf_surrogate kind, double alpha);
cf_tensor *cf_sign(cf_ctx *ctx, cf_tensor *x, cf_surrogate kind, double alpha);

/* "ste", "ste_clip", "sigmoid", "atan", "triangle" (for recipes); false when unknown. */
bool cf_surrogate_parse(const char *s, cf_surrogate *out);
const char *cf_surrogate_name(cf_surrogate kind); /* "?" when out of range */

#endif
