/* Offline shapelet discovery (ShapeFormer, Le et al., KDD 2024, Sec. 3.2); the steps are in the header. */
#include "layers/shapelet_discovery.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Perpendicular distance of (px, py) from the line through (ax, ay) and (bx, by). */
static double perp(double ax, double ay, double bx, double by, double px, double py)
{
    double dx = bx - ax, dy = by - ay;
    return fabs(dy * (px - ax) - dx * (py - ay)) / sqrt(dx * dx + dy * dy);
}

static bool add_span(int64_t (*spans)[2], int64_t *n, int64_t cap, int64_t s, int64_t e)
{
    if (e - s < 2) return false;
    for (int64_t k = 0; k < *n; k++)
        if (spans[k][0] == s && spans[k][1] == e) return false;
    if (*n < cap) spans[*n][0] = s, spans[*n][1] = e, ++*n;
    return true;
}

int64_t cf_pip_spans(const float *x, int64_t T, int64_t npip, int64_t (*spans)[2], int64_t cap)
{
    if (T < 3) return 0;
    if (npip > T) npip = T;
    double mean = (double)(T - 1) / 2, sd = sqrt(((double)T * T - 1) / 12); /* of the indices 0..T-1 */
    int64_t *pip = malloc((size_t)npip * sizeof *pip);
    if (!pip) return 0;
    int64_t n = 2, found = 0;
    pip[0] = 0, pip[1] = T - 1;
    while (n < npip) {
        int64_t best = -1, at = 0;
        double bestd = -1;
        for (int64_t k = 0; k + 1 < n; k++) { /* the points between consecutive PIPs k and k+1 */
            double ax = (pip[k] - mean) / sd, bx = (pip[k + 1] - mean) / sd;
            for (int64_t t = pip[k] + 1; t < pip[k + 1]; t++) {
                double d = perp(ax, x[pip[k]], bx, x[pip[k + 1]], (t - mean) / sd, x[t]);
                if (d > bestd) bestd = d, best = t, at = k + 1;
            }
        }
        if (best < 0) break;
        memmove(pip + at + 1, pip + at, (size_t)(n - at) * sizeof *pip);
        pip[at] = best, n++;
        add_span(spans, &found, cap, pip[at - 1], pip[at + 1]);
        if (at >= 2) add_span(spans, &found, cap, pip[at - 2], pip[at]);
        if (at + 2 < n) add_span(spans, &found, cap, pip[at], pip[at + 2]);
    }
    free(pip);
    return found;
}

double cf_cid_complexity(const float *z, int64_t L)
{
    double s = 0;
    for (int64_t t = 0; t + 1 < L; t++) s += ((double)z[t + 1] - z[t]) * ((double)z[t + 1] - z[t]);
    return sqrt(s + 0.001);
}

double cf_shapelet_distance(const float *s, int64_t L, int64_t a, const float *x, int64_t T, int64_t w)
{
    double ces = cf_cid_complexity(s, L), best = INFINITY;
    int64_t lo = a - w < 0 ? 0 : a - w, hi = a + w > T - L ? T - L : a + w;
    for (int64_t q = lo; q <= hi; q++) {
        double ed = 0;
        for (int64_t t = 0; t < L; t++) ed += ((double)s[t] - x[q + t]) * ((double)s[t] - x[q + t]);
        double ceq = cf_cid_complexity(x + q, L);
        double d = sqrt(ed) * fmax(ces, ceq) / fmin(ces, ceq);
        if (d < best) best = d;
    }
    return best;
}

static double entropy2(double pos, double n)
{
    if (n <= 0 || pos <= 0 || pos >= n) return 0;
    double p = pos / n;
    return -p * log2(p) - (1 - p) * log2(1 - p);
}

typedef struct {
    double d;
    int64_t i;
} dist_row;

static int cmp_dist(const void *a, const void *b)
{
    const dist_row *x = a, *y = b;
    return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* Step 3 for one candidate, its distances to every series in rows (sorted here); *gap gets the separation
 * gap at the best split (mean far distance - mean near distance, in distance units), the tie-break. */
static double info_gain(dist_row *rows, const int64_t *y, int64_t N, int64_t cls, double *gap)
{
    qsort(rows, (size_t)N, sizeof *rows, cmp_dist);
    int64_t total = 0;
    for (int64_t i = 0; i < N; i++) total += y[i] == cls;
    double h = entropy2((double)total, (double)N), best = 0, all = 0, near_sum = 0;
    for (int64_t i = 0; i < N; i++) all += rows[i].d;
    *gap = 0;
    int64_t near_c = 0, next = 2; /* the next share to reach, in tenths */
    for (int64_t k = 1; k < N && next <= 10; k++) { /* split after k rows */
        near_c += y[rows[k - 1].i] == cls;
        near_sum += rows[k - 1].d;
        int64_t tenths = (int64_t)floor(10.0 * (double)near_c / (double)total + 0.5);
        if (tenths < next) continue;
        while (next <= tenths) next += 2;
        double n1 = (double)k, n2 = (double)(N - k);
        double g = h - (n1 / N) * entropy2((double)near_c, n1) - (n2 / N) * entropy2((double)(total - near_c), n2);
        double sep = (all - near_sum) / n2 - near_sum / n1;
        if (g > best || (g == best && sep > *gap)) best = g, *gap = sep;
    }
    return best;
}

static int cmp_gain(const void *a, const void *b)
{
    const cf_shapelet *x = a, *y = b;
    if (x->gain != y->gain) return x->gain > y->gain ? -1 : 1;
    if (x->gap != y->gap) return x->gap > y->gap ? -1 : 1;
    if (x->series != y->series) return x->series < y->series ? -1 : 1;
    if (x->dim != y->dim) return x->dim < y->dim ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

static int cmp_start(const void *a, const void *b)
{
    const cf_shapelet *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Step 4 for one class: cand (sorted by gain) -> out[0..k). */
static void select_class(const cf_shapelet *cand, int64_t n, int64_t k, cf_shapelet *out)
{
    int64_t kept = 0;
    bool *used = calloc((size_t)n, sizeof *used);
    for (int64_t i = 0; i < n && kept < k; i++) {
        bool overlap = false;
        for (int64_t j = 0; j < kept && !overlap; j++)
            overlap = out[j].dim == cand[i].dim && cand[i].start < out[j].end && out[j].start < cand[i].end;
        if (!overlap) out[kept++] = cand[i], used[i] = true;
    }
    for (int64_t i = 0; i < n && kept < k; i++)
        if (!used[i]) out[kept++] = cand[i];
    free(used);
    qsort(out, (size_t)kept, sizeof *out, cmp_start);
}

cf_status cf_shapelets_discover(const float *x, const int64_t *y, int64_t N, int64_t V, int64_t T, int64_t classes,
                                const cf_shapelet_config *c, cf_shapelet *out)
{
    if (N < 2 || V < 1 || T < 3 || classes < 2 || c->per_class < 1 || c->window < 0 || !(c->num_pip > 0))
        return cf_set_error(CF_ERR_ARG, "shapelet discovery: bad sizes (N %lld, V %lld, T %lld, classes %lld)",
                            (long long)N, (long long)V, (long long)T, (long long)classes);
    int64_t *count = calloc((size_t)classes, sizeof *count);
    if (!count) return cf_set_error(CF_ERR_OOM, "shapelet discovery: out of memory");
    for (int64_t i = 0; i < N; i++) {
        if (y[i] < 0 || y[i] >= classes) {
            free(count);
            return cf_set_error(CF_ERR_ARG, "shapelet discovery: label %lld of series %lld is outside [0, %lld)",
                                (long long)y[i], (long long)i, (long long)classes);
        }
        count[y[i]]++;
    }
    for (int64_t k = 0; k < classes; k++)
        if (!count[k]) {
            free(count);
            return cf_set_error(CF_ERR_ARG, "shapelet discovery: class %lld has no training series", (long long)k);
        }
    int64_t pips = (int64_t)floor(c->num_pip * (double)T), per = 0;
    if (pips < 5) pips = 5;
    int64_t cap = 3 * pips; /* each added PIP records at most 3 spans */
    cf_shapelet *cand = malloc((size_t)(N * V * cap) * sizeof *cand);
    int64_t (*spans)[2] = malloc((size_t)cap * sizeof *spans);
    if (!cand || !spans) {
        free(count), free(cand), free(spans);
        return cf_set_error(CF_ERR_OOM, "shapelet discovery: out of memory");
    }
    int64_t n = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t d = 0; d < V; d++) {
            per = cf_pip_spans(x + (i * V + d) * T, T, pips, spans, cap);
            for (int64_t k = 0; k < per; k++)
                if (!c->max_len || spans[k][1] - spans[k][0] <= c->max_len) cand[n++] = (cf_shapelet){i, d, spans[k][0], spans[k][1], y[i], 0, 0};
        }
    free(spans);
    cf_status st = CF_OK;
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t k = 0; k < n; k++) {
        dist_row *rows = malloc((size_t)N * sizeof *rows);
        if (!rows) {
#pragma omp critical
            st = CF_ERR_OOM;
            continue;
        }
        cf_shapelet *s = &cand[k];
        const float *sv = x + (s->series * V + s->dim) * T + s->start;
        int64_t L = s->end - s->start;
        for (int64_t p = 0; p < N; p++)
            rows[p] = (dist_row){p == s->series ? 0 : cf_shapelet_distance(sv, L, s->start, x + (p * V + s->dim) * T, T, c->window), p};
        s->gain = info_gain(rows, y, N, s->label, &s->gap);
        free(rows);
    }
    if (st != CF_OK) {
        free(count), free(cand);
        return cf_set_error(CF_ERR_OOM, "shapelet discovery: out of memory");
    }
    qsort(cand, (size_t)n, sizeof *cand, cmp_gain);
    cf_shapelet *mine = malloc((size_t)n * sizeof *mine);
    for (int64_t k = 0; mine && k < classes; k++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (cand[i].label == k) mine[m++] = cand[i];
        if (m < c->per_class) {
            st = cf_set_error(CF_ERR_ARG, "shapelet discovery: class %lld has %lld candidates, fewer than %lld",
                              (long long)k, (long long)m, (long long)c->per_class);
            break;
        }
        select_class(mine, m, c->per_class, out + k * c->per_class);
    }
    if (!mine) st = cf_set_error(CF_ERR_OOM, "shapelet discovery: out of memory");
    free(mine), free(cand), free(count);
    return st;
}
