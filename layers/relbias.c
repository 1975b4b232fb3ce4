/* T5-style learned relative-position bias for attention scores. */
#include "layers/nn.h"

#include <math.h>

int64_t cf_relative_bucket(int64_t rel, int64_t buckets, int64_t max_distance, bool bidirectional)
{
    int64_t bucket = 0, n = buckets;
    if (bidirectional) {
        n /= 2;
        if (rel > 0) bucket += n;
        rel = rel < 0 ? -rel : rel;
    } else {
        rel = rel < 0 ? -rel : 0; /* causal: only keys at or before the query */
    }
    int64_t exact = n / 2;
    if (rel < exact) return bucket + rel;
    /* logarithmic buckets from exact up to max_distance, the rest share the last */
    double v = (double)exact + log((double)rel / (double)exact) / log((double)max_distance / (double)exact) * (double)(n - exact);
    int64_t b = (int64_t)v;
    return bucket + (b < n - 1 ? b : n - 1);
}

cf_status cf_relative_bias_init(cf_relative_bias *rb, cf_params *ps, const char *name, int64_t buckets, int64_t heads,
                                int64_t max_distance, bool bidirectional)
{
    if (buckets < 2 || heads < 1 || max_distance < 2)
        return cf_set_error(CF_ERR_ARG, "%s: relative bias needs buckets >= 2, heads >= 1, max_distance >= 2", name);
    rb->buckets = buckets, rb->heads = heads, rb->max_distance = max_distance, rb->bidirectional = bidirectional;
    cf_params_push(ps, "%s", name);
    rb->weight = cf_params_add(ps, "weight", CF_SHAPE(buckets, heads), false);
    cf_params_pop(ps);
    if (!rb->weight) return cf_last_status();
    return cf_init_normal(ps, rb->weight, 0, 0.02);
}

cf_tensor *cf_relative_bias_fwd(cf_ctx *ctx, const cf_relative_bias *rb, int64_t Tq, int64_t Tk)
{
    cf_tensor *idx = cf_empty(ctx, CF_I64, CF_SHAPE(Tq, Tk));
    if (!idx) return NULL;
    int64_t *p = cf_data(idx);
    for (int64_t i = 0; i < Tq; i++)
        for (int64_t j = 0; j < Tk; j++)
            p[i * Tk + j] = cf_relative_bucket(j - (Tk - Tq + i), rb->buckets, rb->max_distance, rb->bidirectional);
    cf_tensor *b = cf_embedding(ctx, rb->weight, idx); /* [Tq, Tk, H] */
    b = cf_permute(ctx, b, (int[]){2, 0, 1});          /* [H, Tq, Tk] */
    return cf_unsqueeze(ctx, b, 0);
}
