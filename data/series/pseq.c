/* Permuted sequential templates (data/series/pseq.h). */
#include "data/series/pseq.h"

#include "data/audio/kws.h"

#include <inttypes.h>
#include <stdlib.h>

cf_pseq_config cf_pseq_defaults(void) { return (cf_pseq_config){.classes = 10, .pixels = 64, .noise = 0.5}; }

cf_status cf_pseq_write(const char *dir, const char *split, const cf_pseq_config *c, int64_t count, uint64_t seed)
{
    if (c->classes < 2 || c->pixels < 2 || count < 1 || !(c->noise >= 0))
        return cf_set_error(CF_ERR_ARG, "pseq: classes %d, pixels %d, count %" PRId64 ", noise %g: want classes >= 2, "
                                        "pixels >= 2, count >= 1, noise >= 0", c->classes, c->pixels, count, c->noise);
    int64_t px = c->pixels;
    float *tpl = malloc((size_t)(c->classes * px) * sizeof *tpl), *x = malloc((size_t)(count * px) * sizeof *x);
    int64_t *perm = malloc((size_t)px * sizeof *perm), *label = malloc((size_t)count * sizeof *label);
    cf_status st = tpl && x && perm && label ? CF_OK : cf_set_error(CF_ERR_OOM, "pseq: out of memory");
    if (st == CF_OK) {
        uint64_t fixed = 0x7e3a1ull; /* the templates and the permutation: the same for every split and seed */
        for (int64_t i = 0; i < c->classes * px; i++) tpl[i] = (float)cf_kws_uniform(&fixed);
        for (int64_t i = 0; i < px; i++) perm[i] = i;
        for (int64_t i = px - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = (int64_t)(cf_kws_next(&fixed) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        uint64_t s = seed * 0x2545f4914f6cdd1dull + 7;
        for (int64_t i = 0; i < count; i++) {
            label[i] = (int64_t)(cf_kws_next(&s) % (uint64_t)c->classes);
            for (int64_t t = 0; t < px; t++)
                x[i * px + t] = (float)(tpl[label[i] * px + perm[t]] + c->noise * cf_kws_normal(&s));
        }
        st = cf_kws_save(dir, split, x, label, count, px, 1);
    }
    free(tpl), free(x), free(perm), free(label);
    return st;
}
