/* Position encodings: the sinusoidal table and rotary embeddings. Learned positions are an embedding,
 * relative-position biases an additive attention bias (see the papers' layers). */
#include "layers/nn.h"

#include <math.h>
#include <stdlib.h>

cf_tensor *cf_sinusoidal_positions(cf_ctx *ctx, cf_dtype dt, int64_t offset, int64_t T, int64_t D)
{
    cf_tensor *pe = cf_empty(ctx, dt, CF_SHAPE(T, D));
    if (!pe) return NULL;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < D; i += 2) {
            double freq = exp(-log(10000.0) * (double)i / (double)D), a = (double)(t + offset) * freq;
            cf_set_flat(pe, t * D + i, sin(a));
            if (i + 1 < D) cf_set_flat(pe, t * D + i + 1, cos(a));
        }
    return pe;
}

/* cos and sin tables [T, Dh] in the rotate-half layout: frequency i serves columns i and i + Dh/2. */
static void rope_tables(cf_ctx *ctx, cf_dtype dt, int64_t offset, int64_t T, int64_t Dh, const double *inv_freq,
                        cf_tensor **cos_t, cf_tensor **sin_t)
{
    *cos_t = cf_empty(ctx, dt, CF_SHAPE(T, Dh));
    *sin_t = cf_empty(ctx, dt, CF_SHAPE(T, Dh));
    if (!*cos_t || !*sin_t) return;
    int64_t half = Dh / 2;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double a = (double)(t + offset) * inv_freq[i];
            cf_set_flat(*cos_t, t * Dh + i, cos(a));
            cf_set_flat(*cos_t, t * Dh + i + half, cos(a));
            cf_set_flat(*sin_t, t * Dh + i, sin(a));
            cf_set_flat(*sin_t, t * Dh + i + half, sin(a));
        }
}

cf_tensor *cf_rope_freqs(cf_ctx *ctx, cf_tensor *x, int64_t offset, const double *inv_freq)
{
    if (!x) return NULL;
    int64_t T = x->shape[x->ndim - 2], Dh = x->shape[x->ndim - 1];
    if (Dh % 2) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "rope: head dim must be even, got %s", cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    cf_tensor *c, *s;
    rope_tables(ctx, x->dtype, offset, T, Dh, inv_freq, &c, &s);
    cf_tensor *x1 = cf_slice(ctx, x, -1, 0, Dh / 2, 1), *x2 = cf_slice(ctx, x, -1, Dh / 2, Dh, 1);
    cf_tensor *rot = cf_concat(ctx, 2, (cf_tensor *[]){cf_neg(ctx, x2), x1}, -1);
    return cf_add(ctx, cf_mul(ctx, x, c), cf_mul(ctx, rot, s));
}

cf_tensor *cf_rope(cf_ctx *ctx, cf_tensor *x, int64_t offset, double base)
{
    if (!x) return NULL;
    int64_t Dh = x->shape[x->ndim - 1];
    double *inv_freq = malloc((size_t)(Dh / 2 + 1) * sizeof *inv_freq);
    if (!inv_freq) {
        cf_set_error(CF_ERR_OOM, "rope: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < Dh / 2; i++) inv_freq[i] = pow(base > 0 ? base : 10000.0, -2.0 * (double)i / (double)Dh);
    cf_tensor *y = cf_rope_freqs(ctx, x, offset, inv_freq);
    free(inv_freq);
    return y;
}
