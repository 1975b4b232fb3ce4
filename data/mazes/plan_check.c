/* Evaluation (Dualformer's metrics, Su et al., ICLR 2025): the checker of one sampled decoder output, and
 * the per-mode metrics over k samples per task with 95% confidence intervals. Pure functions. */
#include "data/mazes/maze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *cf_plan_verdict_name(cf_plan_verdict v)
{
    static const char *names[CF_PLAN_VERDICT_COUNT] = {"ok", "no_plan", "syntax", "out_of_bounds", "bad_start",
                                                       "bad_goal", "wall", "bad_step"};
    return v >= 0 && v < CF_PLAN_VERDICT_COUNT ? names[v] : "unknown";
}

cf_plan_check cf_maze_check_plan(const cf_maze *m, int optimal_nodes, const int64_t *tok, int64_t n)
{
    cf_plan_check r;
    memset(&r, 0, sizeof r);
    r.verdict = CF_PLAN_NO_PLAN;
    r.mode = CF_MAZE_MODE_AUTO;
    r.bad_node = -1;
    if (!m || !tok || n <= 0) return r;
    int64_t i = tok[0] == CF_MAZE_TOK_BOS ? 1 : 0, end = i;
    while (end < n && tok[end] != CF_MAZE_TOK_EOS && tok[end] != CF_MAZE_TOK_PAD) end++;
    r.has_eos = end < n && tok[end] == CF_MAZE_TOK_EOS;
    if (i < end) r.mode = tok[i] == CF_MAZE_TOK_CREATE ? CF_MAZE_MODE_SLOW
                        : tok[i] == CF_MAZE_TOK_PLAN   ? CF_MAZE_MODE_FAST
                                                       : CF_MAZE_MODE_AUTO;
    int64_t p = i;
    while (p < end && tok[p] != CF_MAZE_TOK_PLAN) p++;
    r.trace_tokens = (int)(p - i);
    if (p == end) return r; /* NO_PLAN */

    /* syntax: whole `plan x y` triples up to the end */
    r.verdict = CF_PLAN_SYNTAX;
    if ((end - p) % 3 != 0) return r;
    for (int64_t k = p; k < end; k += 3)
        if (tok[k] != CF_MAZE_TOK_PLAN || cf_maze_tok_coord(tok[k + 1]) < 0 || cf_maze_tok_coord(tok[k + 2]) < 0)
            return r;
    int nodes = (int)((end - p) / 3);
    r.plan_nodes = nodes;
    uint64_t hash = 1469598103934665603ull; /* FNV-1a over the node coordinates */
    for (int j = 0; j < nodes; j++) {
        int x = cf_maze_tok_coord(tok[p + 3 * j + 1]), y = cf_maze_tok_coord(tok[p + 3 * j + 2]);
        hash = (hash ^ (uint64_t)x) * 1099511628211ull;
        hash = (hash ^ (uint64_t)y) * 1099511628211ull;
    }
    r.plan_hash = hash;
#define X(j) cf_maze_tok_coord(tok[p + 3 * (j) + 1])
#define Y(j) cf_maze_tok_coord(tok[p + 3 * (j) + 2])
    for (int j = 0; j < nodes; j++)
        if (X(j) >= m->w || Y(j) >= m->h) {
            r.verdict = CF_PLAN_OUT_OF_BOUNDS;
            r.bad_node = j;
            return r;
        }
    if (X(0) != m->sx || Y(0) != m->sy) {
        r.verdict = CF_PLAN_BAD_START;
        return r;
    }
    if (X(nodes - 1) != m->gx || Y(nodes - 1) != m->gy) {
        r.verdict = CF_PLAN_BAD_GOAL;
        return r;
    }
    for (int j = 0; j < nodes; j++)
        if (m->wall[Y(j) * m->w + X(j)]) {
            r.verdict = CF_PLAN_WALL;
            r.bad_node = j;
            return r;
        }
    for (int j = 1; j < nodes; j++)
        if (abs(X(j) - X(j - 1)) + abs(Y(j) - Y(j - 1)) != 1) {
            r.verdict = CF_PLAN_BAD_STEP;
            r.bad_node = j;
            return r;
        }
#undef X
#undef Y
    r.verdict = CF_PLAN_OK;
    r.correct = true;
    r.optimal = nodes == optimal_nodes;
    return r;
}

/* ---- statistics ---- */

#define Z95 1.959963984540054

cf_maze_stat cf_maze_wilson(int64_t successes, int64_t n)
{
    cf_maze_stat s = {NAN, NAN, NAN, n};
    if (n <= 0 || successes < 0 || successes > n) return s;
    double p = (double)successes / (double)n, nn = (double)n, z2 = Z95 * Z95;
    double denom = 1 + z2 / nn, center = (p + z2 / (2 * nn)) / denom;
    double half = Z95 * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    s.value = p;
    /* at p = 0 or 1 the bound is exactly 0 or 1; say so rather than leave a rounding residue */
    s.lo = successes == 0 ? 0 : fmax(0, center - half);
    s.hi = successes == n ? 1 : fmin(1, center + half);
    return s;
}

cf_maze_stat cf_maze_mean_ci(const double *x, int64_t n)
{
    cf_maze_stat s = {NAN, NAN, NAN, n};
    if (!x || n <= 0) return s;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    s.value = sum / (double)n;
    if (n < 2) return s;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - s.value) * (x[i] - s.value);
    double half = Z95 * sqrt(ss / (double)(n - 1)) / sqrt((double)n);
    s.lo = s.value - half;
    s.hi = s.value + half;
    return s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int distinct(uint64_t *h, int n)
{
    if (n == 0) return 0;
    qsort(h, (size_t)n, sizeof *h, cmp_u64);
    int d = 1;
    for (int i = 1; i < n; i++) d += h[i] != h[i - 1];
    return d;
}

enum { M_CORRECT, M_OPTIMAL, M_SWC, M_REASON, M_DIV_C, M_DIV_O, M_SLOW, M_COUNT };

cf_status cf_maze_metrics_compute(const cf_plan_check *checks, const int *optimal_nodes, int64_t tasks, int k,
                                  cf_maze_metrics *out)
{
    if (!checks || !optimal_nodes || !out || tasks < 1 || k < 1)
        return cf_set_error(CF_ERR_ARG, "cf_maze_metrics_compute: NULL input or %lld tasks x %d samples (need >= 1)",
                            (long long)tasks, k);
    memset(out, 0, sizeof *out);
    out->tasks = tasks;
    out->k = k;
    double *v = malloc((size_t)tasks * M_COUNT * sizeof *v);
    uint64_t *hc = malloc((size_t)k * sizeof *hc), *ho = malloc((size_t)k * sizeof *ho);
    if (!v || !hc || !ho) {
        free(v), free(hc), free(ho);
        return cf_set_error(CF_ERR_OOM, "cf_maze_metrics_compute: out of memory for %lld tasks", (long long)tasks);
    }
    int64_t s1 = 0, s3 = 0, o1 = 0, o3 = 0;
    for (int64_t t = 0; t < tasks; t++) {
        const cf_plan_check *c = checks + t * k;
        int nc = 0, no = 0, slow = 0;
        double swc = 0, reason = 0;
        int opt_steps = optimal_nodes[t] - 1;
        for (int j = 0; j < k; j++) {
            reason += c[j].trace_tokens;
            slow += c[j].mode == CF_MAZE_MODE_SLOW;
            if (!c[j].correct) continue;
            hc[nc++] = c[j].plan_hash;
            if (c[j].optimal) ho[no++] = c[j].plan_hash;
            int steps = c[j].plan_nodes - 1;
            swc += steps > 0 ? fmin(1.0, (double)opt_steps / steps) : 1.0;
        }
        s1 += nc >= 1, s3 += nc >= 3, o1 += no >= 1, o3 += no >= 3;
        double *row = v + t * M_COUNT;
        row[M_CORRECT] = (double)nc / k;
        row[M_OPTIMAL] = (double)no / k;
        row[M_SWC] = swc / k;
        row[M_REASON] = reason / k;
        row[M_DIV_C] = distinct(hc, nc);
        row[M_DIV_O] = distinct(ho, no);
        row[M_SLOW] = (double)slow / k;
    }
    out->solved1 = cf_maze_wilson(s1, tasks);
    out->solved3 = cf_maze_wilson(s3, tasks);
    out->optimal1 = cf_maze_wilson(o1, tasks);
    out->optimal3 = cf_maze_wilson(o3, tasks);
    /* means over tasks: each metric's per-task column in turn */
    double *col = malloc((size_t)tasks * sizeof *col);
    if (!col) {
        free(v), free(hc), free(ho);
        return cf_set_error(CF_ERR_OOM, "cf_maze_metrics_compute: out of memory for %lld tasks", (long long)tasks);
    }
    cf_maze_stat *dst[M_COUNT] = {&out->correct_rate, &out->optimal_rate,      &out->swc,          &out->reasoning,
                                  &out->diversity_correct, &out->diversity_optimal, &out->slow_fraction};
    for (int mtr = 0; mtr < M_COUNT; mtr++) {
        for (int64_t t = 0; t < tasks; t++) col[t] = v[t * M_COUNT + mtr];
        *dst[mtr] = cf_maze_mean_ci(col, tasks);
    }
    free(col), free(v), free(hc), free(ho);
    return CF_OK;
}

cf_status cf_maze_metrics_from_outputs(const cf_maze *mazes, const int *optimal_nodes, const int64_t *outputs,
                                       int64_t stride, const int64_t *lens, int64_t tasks, int k,
                                       cf_maze_metrics *out)
{
    if (!mazes || !optimal_nodes || !outputs || stride < 1 || tasks < 1 || k < 1)
        return cf_set_error(CF_ERR_ARG, "cf_maze_metrics_from_outputs: NULL input, stride %lld or %lld tasks x %d "
                            "samples (need >= 1)", (long long)stride, (long long)tasks, k);
    cf_plan_check *c = malloc((size_t)(tasks * k) * sizeof *c);
    if (!c) return cf_set_error(CF_ERR_OOM, "cf_maze_metrics_from_outputs: out of memory for %lld samples",
                                (long long)(tasks * k));
    for (int64_t t = 0; t < tasks; t++)
        for (int j = 0; j < k; j++) {
            int64_t row = t * k + j, n = lens ? lens[row] : stride;
            if (n > stride) n = stride;
            c[row] = cf_maze_check_plan(&mazes[t], optimal_nodes[t], outputs + row * stride, n);
        }
    cf_status st = cf_maze_metrics_compute(c, optimal_nodes, tasks, k, out);
    free(c);
    return st;
}
