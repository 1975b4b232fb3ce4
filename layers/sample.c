#include "layers/sample.h"

#include <math.h>
#include <stdlib.h>

static int by_prob_desc(const void *a, const void *b)
{
    const cf_sample_cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

int64_t cf_sample_logits(const float *logits, const bool *allowed, int64_t V, double temperature, int64_t top_k,
                         double top_p, double u, cf_sample_cand *cands)
{
    double mx = -INFINITY;
    int64_t best = -1, n = 0;
    for (int64_t v = 0; v < V; v++)
        if ((!allowed || allowed[v]) && (best < 0 || logits[v] > mx)) mx = logits[v], best = v;
    if (temperature <= 0 || best < 0) return best;
    double sum = 0;
    for (int64_t v = 0; v < V; v++) {
        if (allowed && !allowed[v]) continue;
        cands[n].id = v;
        cands[n].p = exp(((double)logits[v] - mx) / temperature);
        sum += cands[n++].p;
    }
    qsort(cands, (size_t)n, sizeof *cands, by_prob_desc);
    int64_t keep = n;
    if (top_k > 0 && top_k < keep) keep = top_k;
    if (top_p > 0 && top_p < 1) {
        double acc = 0;
        for (int64_t i = 0; i < keep; i++) {
            acc += cands[i].p / sum;
            if (acc >= top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double kept = 0;
    for (int64_t i = 0; i < keep; i++) kept += cands[i].p;
    double target = u * kept, acc = 0;
    for (int64_t i = 0; i < keep; i++) {
        acc += cands[i].p;
        if (acc >= target) return cands[i].id;
    }
    return cands[keep - 1].id;
}
