/* ShapeFormer's offline shapelet discovery (Le et al., "ShapeFormer: Shapelet Transformer for Multivariate
 * Time Series Classification", KDD 2024, Sec. 3.2): plain C on the training split, no autograd, run once
 * before training.
 *
 * 1. Candidates: for each training series n and dimension d, the perceptually important points (PIPs) of
 *    the points (z-scored index, value): start from {0, T-1} and add the point farthest (perpendicular
 *    distance) from the line through its two neighbouring PIPs until there are max(5, floor(num_pip T)).
 *    Each added PIP at sorted position k records the spans [P(k-1), P(k+1)), and [P(k-2), P(k)) and
 *    [P(k), P(k+2)) where they exist: each a half-open slice of three consecutive PIPs.
 * 2. Distance of a candidate s (length L, from series n at start a) to series p: the minimum over starts
 *    q in [a - w, a + w] of the CID distance ED(s, x_p[q:q+L]) * max(CE_s, CE_q) / min(CE_s, CE_q) with
 *    CE(z) = sqrt(sum (z_{t+1} - z_t)^2 + 0.001) (Batista et al.'s complexity-invariant distance); its own
 *    series gets 0.
 * 3. Quality: the largest binary information gain (the candidate's class against the rest, log2 entropy)
 *    over the split points of the sorted distances where the near side's share of that class, rounded to
 *    one decimal, first reaches 0.2, 0.4, ..., 1.0.
 *    Ties in gain (the coarse split points make them common) go to the larger separation gap, mean far
 *    minus mean near distance in distance units (Ye and Keogh, "Time series shapelets: a new primitive for
 *    data mining", KDD 2009): unnormalised, it grows with the number of points that tell the class apart,
 *    so a candidate spanning a whole motif beats a short piece of it with the same gain.
 * 4. Selection, per class: by gain, then gap (then series, dimension, start), greedily keeping `per_class`
 *    candidates that overlap no kept one on the same dimension, then filling from the next best if short;
 *    within a class ordered by start; the classes in label order (out[c * per_class + j]).
 *
 *     cf_shapelet sh[4 * 3];
 *     cf_shapelet_config c = {.per_class = 3, .window = 10, .num_pip = 0.2};
 *     cf_shapelets_discover(x, y, N, V, T, 4, &c, sh);   // x [N, V, T] float32, y [N] in [0, 4)
 *     // shapelet j: x[sh[j].series, sh[j].dim, sh[j].start : sh[j].end], quality sh[j].gain
 */
#ifndef CF_SHAPELET_DISCOVERY_H
#define CF_SHAPELET_DISCOVERY_H

#include "autograd/cf_base.h"

#include <stdint.h>

typedef struct cf_shapelet {
    int64_t series, dim, start, end; /* x[series, dim, start:end] of the training set, end - start >= 2 */
    int64_t label;                   /* the class of its series */
    double gain;                     /* information gain (bits) */
    double gap;                      /* separation gap at that split, relative to the mean distance */
} cf_shapelet;

typedef struct cf_shapelet_config {
    int64_t per_class; /* shapelets kept per class (the paper's num_shapelet) */
    int64_t window;    /* alignment search radius w around the candidate's own start */
    double num_pip;    /* PIPs per series as a fraction of T (at least 5) */
    int64_t max_len;   /* candidates longer than this are skipped (0: no limit) */
} cf_shapelet_config;

/* The candidate spans of one series x[0..T) (T >= 3): writes up to cap (start, end) pairs (duplicates
 * removed, in order of discovery) and returns how many there are. */
int64_t cf_pip_spans(const float *x, int64_t T, int64_t npip, int64_t (*spans)[2], int64_t cap);
/* Complexity estimate CE(z) of step 2, with sqrt. */
double cf_cid_complexity(const float *z, int64_t L);
/* Distance of step 2 from s[0..L) at start a to series x[0..T). */
double cf_shapelet_distance(const float *s, int64_t L, int64_t a, const float *x, int64_t T, int64_t w);
/* Steps 1-4 on x [N, V, T] (float32) with labels y [N] in [0, classes); out has classes * per_class
 * entries. Every class needs at least one series. Deterministic; OpenMP threads split the candidates. */
cf_status cf_shapelets_discover(const float *x, const int64_t *y, int64_t N, int64_t V, int64_t T, int64_t classes,
                                const cf_shapelet_config *c, cf_shapelet *out);

#endif
