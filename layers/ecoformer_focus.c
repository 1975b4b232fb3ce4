/* How concentrated an attention is (EcoFormer's evaluation, layers/ecoformer.h): per query, the mass of its
 * largest weights, the entropy of its weights and the log ratio of its largest to its median weight, for softmax (optionally with squashed logits) and for the
 * binary-code kernel alike, from the tensors one forward exposes (values only, no tape). */
#include "layers/ecoformer.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Adds the statistics of one row of N positive weights (not normalised; sorted in place) to acc. */
static void add_row(double *w, int64_t N, int64_t small, int64_t large, double acc[4])
{
    double total = 0, entropy = 0, top_small = 0, top_large = 0;
    for (int64_t j = 0; j < N; j++) total += w[j];
    qsort(w, (size_t)N, sizeof *w, desc);
    for (int64_t j = 0; j < N; j++) {
        double p = w[j] / total;
        if (j < small) top_small += p;
        if (j < large) top_large += p;
        if (p > 0) entropy -= p * log(p);
    }
    acc[0] += top_small, acc[1] += top_large, acc[2] += entropy, acc[3] += log(w[0] / fmax(w[N / 2], DBL_MIN));
}

static cf_attn_focus finish(const double acc[4], double rows, int64_t N)
{
    cf_attn_focus f = {NAN, NAN, NAN, NAN, log((double)N)};
    if (rows > 0) f.top_small = acc[0] / rows, f.top_large = acc[1] / rows, f.entropy = acc[2] / rows, f.peak = acc[3] / rows;
    return f;
}

cf_attn_focus cf_attn_focus_softmax(const cf_tensor *q, const cf_tensor *k, double logit_bound, int64_t small,
                                    int64_t large)
{
    cf_attn_focus bad = {NAN, NAN, NAN, NAN, NAN};
    if (!q || !k || q->ndim != 4 || k->ndim != 4 || small < 1 || large < 1 || q->shape[0] != k->shape[0] ||
        q->shape[1] != k->shape[1] || q->shape[3] != k->shape[3])
        return bad;
    int64_t B = q->shape[0], H = q->shape[1], Nq = q->shape[2], Nk = k->shape[2], C = q->shape[3];
    double *x = malloc(sizeof(double) * (size_t)(B * H * Nq * C)), *y = malloc(sizeof(double) * (size_t)(B * H * Nk * C));
    double *w = malloc(sizeof(double) * (size_t)Nk), acc[4] = {0}, rows = 0, scale = 1 / sqrt((double)C);
    if (x && y && w) {
        cf_to_f64_array(q, x);
        cf_to_f64_array(k, y);
        for (int64_t s = 0; s < B * H; s++)
            for (int64_t i = 0; i < Nq; i++) {
                const double *qi = x + (s * Nq + i) * C;
                double top = -INFINITY;
                for (int64_t j = 0; j < Nk; j++) {
                    const double *kj = y + (s * Nk + j) * C;
                    double d = 0;
                    for (int64_t c = 0; c < C; c++) d += qi[c] * kj[c];
                    d *= scale;
                    w[j] = logit_bound > 0 ? logit_bound / (1 + exp(-d)) : d;
                    top = w[j] > top ? w[j] : top;
                }
                for (int64_t j = 0; j < Nk; j++) w[j] = exp(w[j] - top);
                add_row(w, Nk, small, large, acc);
                rows++;
            }
    }
    cf_attn_focus f = x && y && w ? finish(acc, rows, Nk) : bad;
    free(x), free(y), free(w);
    return f;
}

cf_attn_focus cf_attn_focus_binary(const cf_tensor *h, int64_t small, int64_t large)
{
    cf_attn_focus bad = {NAN, NAN, NAN, NAN, NAN};
    if (!h || h->ndim != 4 || small < 1 || large < 1) return bad;
    int64_t B = h->shape[0], H = h->shape[1], N = h->shape[2], b = h->shape[3];
    double *code = malloc(sizeof(double) * (size_t)(B * H * N * b)), *w = malloc(sizeof(double) * (size_t)N);
    double acc[4] = {0}, rows = 0, c = (double)b + 1;
    if (code && w) {
        cf_to_f64_array(h, code);
        for (int64_t s = 0; s < B * H; s++)
            for (int64_t i = 0; i < N; i++) {
                const double *hi = code + (s * N + i) * b;
                for (int64_t j = 0; j < N; j++) {
                    const double *hj = code + (s * N + j) * b;
                    double d = 0;
                    for (int64_t r = 0; r < b; r++) d += hi[r] * hj[r];
                    w[j] = d + c;
                }
                add_row(w, N, small, large, acc);
                rows++;
            }
    }
    cf_attn_focus f = code && w ? finish(acc, rows, N) : bad;
    free(code), free(w);
    return f;
}
