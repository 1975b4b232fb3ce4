/* Drawing a token from logits: greedy, temperature, top-k and top-p (nucleus), for every model's
 * generation. */
#ifndef CF_SAMPLE_H
#define CF_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cf_sample_cand {
    double p;
    int64_t id;
} cf_sample_cand;

/* One class from logits[0..V) (allowed: NULL or a mask of the classes that may be drawn). temperature <= 0
 * is greedy; top_k 0 and top_p outside (0, 1) are off; u is a uniform in [0, 1) from the caller's RNG;
 * scratch holds V entries. Ties are broken towards the lower id. -1 when nothing is allowed. */
int64_t cf_sample_logits(const float *logits, const bool *allowed, int64_t V, double temperature, int64_t top_k,
                         double top_p, double u, cf_sample_cand *scratch);

#endif
