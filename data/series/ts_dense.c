/* A .ts set as one dense [cases, dims, T] array: the padding and missing-value policies of data/series/ts.h. */
#include "autograd/rng.h"
#include "data/series/ts.h"

#include <math.h>
#include <string.h>

bool cf_ts_pad_parse(const char *s, cf_ts_pad *out)
{
    static const char *const names[] = {"zero", "edge", "refuse"};
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) return *out = (cf_ts_pad)i, true;
    return false;
}

bool cf_ts_missing_parse(const char *s, cf_ts_missing *out)
{
    static const char *const names[] = {"noise", "zero", "refuse"};
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, names[i]) == 0) return *out = (cf_ts_missing)i, true;
    return false;
}

cf_status cf_ts_dense(const cf_ts_set *s, int64_t T, cf_ts_pad pad, cf_ts_missing missing, uint64_t seed, float *out)
{
    if (T < 1) return cf_set_error(CF_ERR_ARG, "ts: dense length %lld < 1", (long long)T);
    if (missing == CF_TS_MISSING_REFUSE && s->missing_count)
        return cf_set_error(CF_ERR_FORMAT, "%s: %lld missing values ('?') and the missing-value policy is refuse",
                            s->problem[0] ? s->problem : "ts", (long long)s->missing_count);
    cf_philox_key key = cf_rng_key(seed, 0x75);
    for (int64_t i = 0; i < s->cases; i++)
        for (int64_t d = 0; d < s->dims; d++) {
            int64_t k = i * s->dims + d, n = s->len[k];
            if (n > T)
                return cf_set_error(CF_ERR_ARG, "ts: case %lld, dimension %lld has %lld points, more than the length %lld "
                                    "(nothing is truncated: raise the length)", (long long)(i + 1), (long long)(d + 1),
                                    (long long)n, (long long)T);
            if (n < T && pad == CF_TS_PAD_REFUSE)
                return cf_set_error(CF_ERR_ARG, "ts: case %lld, dimension %lld has %lld points, not %lld, and the padding "
                                    "policy is refuse (use zero or edge)", (long long)(i + 1), (long long)(d + 1),
                                    (long long)n, (long long)T);
            const double *v = s->values + s->off[k];
            float *o = out + k * T;
            for (int64_t t = 0; t < n; t++) {
                double x = v[t];
                if (isnan(x)) x = missing == CF_TS_MISSING_NOISE ? 1e-3 * cf_rng_uniform(key, (uint64_t)k, (uint64_t)t) : 0;
                o[t] = (float)x;
            }
            for (int64_t t = n; t < T; t++) o[t] = pad == CF_TS_PAD_EDGE ? o[n - 1] : 0.0f;
        }
    return CF_OK;
}
