/* The Bernoulli GLM baseline with raised-cosine history and coupling filters (Pillow et al., Nature 2008) and
 * ridge regression; the contract is in glm.h. */
#include "recipes/neuroformer/glm.h"

#include "layers/params.h"
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_glm_config cf_glm_defaults(void)
{
    return (cf_glm_config){.K = 4, .L = 10, .c = 1.0, .lambda = 1e-3, .steps = 300, .lr = 0.05, .threads = 0};
}

cf_status cf_glm_raised_cosine(int K, int L, double c, double *B)
{
    if (K < 2 || L < K || !(c > 0))
        return cf_set_error(CF_ERR_ARG, "glm: the raised-cosine basis needs K >= 2, L >= K and c > 0 (got K %d, L %d, c %g)", K, L, c);
    double x1 = log(1 + c), xL = log((double)L + c), D = (xL - x1) / (K - 1);
    for (int k = 0; k < K; k++)
        for (int l = 1; l <= L; l++) {
            double u = (log((double)l + c) - (x1 + k * D)) / (2 * D);
            B[k * L + l - 1] = fabs(u) <= 1 ? 0.5 + 0.5 * cos(3.14159265358979323846 * u) : 0;
        }
    return CF_OK;
}

void cf_glm_free(cf_glm *g)
{
    free(g->basis), free(g->W), free(g->b);
    memset(g, 0, sizeof *g);
}

/* x_{m,k}(t) for every m, k into x [N * K] from the history before t, a spike at bin s of unit m counting only
 * when (s, m) <= (cut_bin, cut_unit) in (bin, unit) order (cut_bin INT64_MAX: every spike counts). */
static void features(const cf_glm *g, const int32_t *counts, int64_t n_bins, int64_t t, int64_t cut_bin, int cut_unit,
                     double *x)
{
    int N = g->N, K = g->K, L = g->L;
    for (int m = 0; m < N; m++) {
        const int32_t *y = counts + (int64_t)m * n_bins;
        for (int k = 0; k < K; k++) x[m * K + k] = 0;
        for (int l = 1; l <= L; l++) {
            int64_t s = t - l;
            if (s < 0 || s >= n_bins || y[s] <= 0) continue;
            if (s > cut_bin || (s == cut_bin && m > cut_unit)) continue;
            for (int k = 0; k < K; k++) x[m * K + k] += g->basis[k * L + l - 1];
        }
    }
}

static double logit_of(const cf_glm *g, const double *x, int n)
{
    double z = g->b[n];
    if (g->kind == CF_GLM_RATE) return z;
    int N = g->N, K = g->K;
    for (int m = 0; m < N; m++) {
        if (g->kind == CF_GLM_SELF && m != n) continue;
        for (int k = 0; k < K; k++) z += g->W[(int64_t)(m * K + k) * N + n] * x[m * K + k];
    }
    return z;
}

cf_status cf_glm_probs(const cf_glm *g, const int32_t *counts, int64_t n_bins, int64_t t, int64_t cut_bin, int cut_unit,
                        double *p)
{
    double *x = malloc(sizeof(double) * (size_t)(g->N * g->K));
    if (!x) return cf_set_error(CF_ERR_OOM, "glm: out of memory");
    features(g, counts, n_bins, t, cut_bin, cut_unit, x);
    for (int n = 0; n < g->N; n++) p[n] = 1 / (1 + exp(-logit_of(g, x, n)));
    free(x);
    return CF_OK;
}

double cf_glm_prob(const cf_glm *g, const int32_t *counts, int64_t n_bins, int n, int64_t t, int64_t cutoff)
{
    double *p = malloc(sizeof(double) * (size_t)g->N), v = NAN;
    if (p && cf_glm_probs(g, counts, n_bins, t, cutoff < 0 ? INT64_MAX : cutoff - 1, g->N - 1, p) == CF_OK) v = p[n];
    free(p);
    return v;
}

/* -log p(y | z) of a Bernoulli on logit z, stably. */
static double bern_nll(double z, int y)
{
    double sp = z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); /* softplus(z) = -log(1 - p) */
    return y ? sp - z : sp;
}

double cf_glm_nll(const cf_glm *g, const int32_t *counts, int64_t n_bins, const int64_t *from, const int64_t *to,
                  int n_ranges, int64_t *n_bins_scored)
{
    double *x = malloc(sizeof(double) * (size_t)(g->N * g->K)), sum = 0;
    int64_t cnt = 0;
    for (int r = 0; x && r < n_ranges; r++)
        for (int64_t t = from[r] > 0 ? from[r] : 0; t < to[r] && t < n_bins; t++, cnt++) {
            features(g, counts, n_bins, t, INT64_MAX, 0, x);
            for (int n = 0; n < g->N; n++) sum += bern_nll(logit_of(g, x, n), counts[(int64_t)n * n_bins + t] > 0);
        }
    free(x);
    if (n_bins_scored) *n_bins_scored = cnt;
    return cnt ? sum / ((double)cnt * g->N) : NAN;
}

void cf_glm_coupling(const cf_glm *g, double *score)
{
    int N = g->N, K = g->K, L = g->L;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; i != j && g->kind == CF_GLM_COUPLED && k < K; k++) {
                double area = 0;
                for (int l = 0; l < L; l++) area += g->basis[k * L + l];
                s += g->W[(int64_t)(i * K + k) * N + j] * area;
            }
            score[i * N + j] = s;
        }
}

/* The fit: full-batch Adam on the mean Bernoulli NLL, the L2 penalty as Adam's weight decay on W. */
static cf_status fit_adam(const cf_glm_config *c, cf_glm *g, float *X, float *Y, int64_t T)
{
    int N = g->N, F = g->N * g->K;
    cf_ctx_options co = {.threads = c->threads};
    cf_ctx *ctx = cf_ctx_new(&co);
    cf_params *ps = cf_params_new(CF_F32, 0);
    float *mask = g->kind == CF_GLM_SELF ? calloc((size_t)F * N, sizeof(float)) : NULL;
    cf_tensor *W = ps ? cf_params_add(ps, "W", 2, (const int64_t[]){F, N}, true) : NULL;
    cf_tensor *b = ps ? cf_params_add(ps, "b", 1, (const int64_t[]){N}, false) : NULL;
    cf_tensor *Xt = cf_tensor_wrap(CF_F32, 2, (const int64_t[]){T, F}, X);
    cf_tensor *Yt = cf_tensor_wrap(CF_F32, 2, (const int64_t[]){T, N}, Y);
    cf_tensor *Mt = mask ? cf_tensor_wrap(CF_F32, 2, (const int64_t[]){F, N}, mask) : NULL;
    cf_status st = ctx && W && b && Xt && Yt && (g->kind != CF_GLM_SELF || Mt) ? cf_params_grads(ps) : cf_set_error(CF_ERR_OOM, "glm: out of memory");
    for (int m = 0; mask && m < N; m++)
        for (int k = 0; k < g->K; k++) mask[(int64_t)(m * g->K + k) * N + m] = 1;
    /* start from each unit's rate */
    for (int n = 0; st == CF_OK && n < N; n++) cf_set_flat(b, n, g->b[n]);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAM);
    oc.lr = c->lr, oc.weight_decay = c->lambda;
    cf_optimizer *opt = st == CF_OK ? cf_optim_new(ps, &oc) : NULL;
    if (st == CF_OK && !opt) st = cf_last_status();
    for (int step = 0; st == CF_OK && step < c->steps; step++) {
        cf_params_zero_grad(ps);
        cf_tensor *Wm = Mt ? cf_mul(ctx, W, Mt) : W;
        cf_tensor *z = Wm ? cf_add(ctx, cf_matmul(ctx, Xt, Wm), b) : NULL;
        cf_tensor *loss = z ? cf_bce_with_logits(ctx, z, Yt, NULL, CF_REDUCTION_MEAN) : NULL;
        if (!loss) st = cf_last_status();
        if (st == CF_OK) st = cf_backward(ctx, loss, NULL);
        if (st == CF_OK) st = cf_optim_step(opt, c->lr);
        if (st == CF_OK) g->train_nll = cf_item(loss);
        cf_step_reset(ctx);
    }
    for (int64_t i = 0; st == CF_OK && i < (int64_t)F * N; i++) g->W[i] = cf_get_flat(W, i) * (mask ? mask[i] : 1.0f);
    for (int n = 0; st == CF_OK && n < N; n++) g->b[n] = cf_get_flat(b, n);
    if (opt) cf_optim_free(opt);
    cf_tensor_free(Xt), cf_tensor_free(Yt);
    if (Mt) cf_tensor_free(Mt);
    free(mask);
    cf_params_free(ps);
    if (ctx) cf_ctx_free(ctx);
    return st;
}

cf_status cf_glm_fit(const cf_glm_config *c, cf_glm_kind kind, const int32_t *counts, int N, int64_t n_bins,
                     const int64_t *from, const int64_t *to, int n_ranges, cf_glm *out)
{
    memset(out, 0, sizeof *out);
    if (!c || N < 1 || n_bins < 1 || c->steps < 1 || !(c->lr > 0) || !(c->lambda >= 0))
        return cf_set_error(CF_ERR_ARG, "glm: needs N >= 1 units, bins, steps >= 1, lr > 0 and lambda >= 0");
    *out = (cf_glm){.kind = kind, .N = N, .K = c->K, .L = c->L};
    out->basis = malloc(sizeof(double) * (size_t)(c->K > 0 && c->L > 0 ? c->K * c->L : 1));
    out->W = calloc((size_t)N * (size_t)(c->K > 0 ? c->K : 1) * (size_t)N, sizeof(double));
    out->b = calloc((size_t)N, sizeof(double));
    cf_status st = out->basis && out->W && out->b ? cf_glm_raised_cosine(c->K, c->L, c->c, out->basis)
                                                  : cf_set_error(CF_ERR_OOM, "glm: out of memory");
    /* the bins to fit */
    int64_t T = 0;
    for (int r = 0; st == CF_OK && r < n_ranges; r++)
        for (int64_t t = from[r] > c->L ? from[r] : c->L; t < to[r] && t < n_bins; t++) T++;
    if (st == CF_OK && T == 0) st = cf_set_error(CF_ERR_ARG, "glm: no bin with %d bins of history to fit in the ranges", c->L);
    int F = N * c->K;
    float *X = st == CF_OK ? malloc(sizeof(float) * (size_t)(T * F)) : NULL, *Y = st == CF_OK ? malloc(sizeof(float) * (size_t)(T * N)) : NULL;
    double *x = st == CF_OK ? malloc(sizeof(double) * (size_t)F) : NULL, *ones = st == CF_OK ? calloc((size_t)N, sizeof(double)) : NULL;
    if (st == CF_OK && (!X || !Y || !x || !ones)) st = cf_set_error(CF_ERR_OOM, "glm: out of memory for %lld bins x %d features", (long long)T, F);
    int64_t row = 0;
    for (int r = 0; st == CF_OK && r < n_ranges; r++)
        for (int64_t t = from[r] > c->L ? from[r] : c->L; t < to[r] && t < n_bins; t++, row++) {
            features(out, counts, n_bins, t, INT64_MAX, 0, x);
            for (int f = 0; f < F; f++) X[row * F + f] = (float)x[f];
            for (int n = 0; n < N; n++) {
                int y = counts[(int64_t)n * n_bins + t] > 0;
                Y[row * N + n] = (float)y, ones[n] += y;
            }
        }
    /* the rate-only GLM's maximum-likelihood bias (Laplace-smoothed so a silent unit stays finite) */
    for (int n = 0; st == CF_OK && n < N; n++) {
        double p = (ones[n] + 0.5) / ((double)T + 1);
        out->b[n] = log(p / (1 - p));
    }
    if (st == CF_OK && kind != CF_GLM_RATE) st = fit_adam(c, out, X, Y, T);
    if (st == CF_OK && kind == CF_GLM_RATE) out->train_nll = cf_glm_nll(out, counts, n_bins, from, to, n_ranges, NULL);
    free(X), free(Y), free(x), free(ones);
    if (st != CF_OK) cf_glm_free(out);
    return st;
}

cf_status cf_ridge_fit(const double *X, const double *y, int64_t n, int p, double lambda, double *beta, double *beta0)
{
    if (n < 1 || p < 1 || !(lambda >= 0)) return cf_set_error(CF_ERR_ARG, "ridge: needs n >= 1 rows, p >= 1 columns, lambda >= 0");
    double *mx = calloc((size_t)p, sizeof(double)), *A = calloc((size_t)p * (size_t)p, sizeof(double));
    double *r = calloc((size_t)p, sizeof(double)), my = 0;
    cf_status st = mx && A && r ? CF_OK : cf_set_error(CF_ERR_OOM, "ridge: out of memory");
    for (int64_t i = 0; st == CF_OK && i < n; i++) {
        my += y[i] / (double)n;
        for (int a = 0; a < p; a++) mx[a] += X[i * p + a] / (double)n;
    }
    /* centred normal equations (Xc'Xc + lambda I) beta = Xc'yc */
    for (int64_t i = 0; st == CF_OK && i < n; i++)
        for (int a = 0; a < p; a++) {
            double xa = X[i * p + a] - mx[a];
            r[a] += xa * (y[i] - my);
            for (int c = 0; c <= a; c++) A[a * p + c] += xa * (X[i * p + c] - mx[c]);
        }
    for (int a = 0; st == CF_OK && a < p; a++) A[a * p + a] += lambda;
    /* Cholesky A = G G' in the lower triangle */
    for (int j = 0; st == CF_OK && j < p; j++) {
        double d = A[j * p + j];
        for (int k = 0; k < j; k++) d -= A[j * p + k] * A[j * p + k];
        if (!(d > 1e-12 * (1 + fabs(A[j * p + j])))) {
            st = cf_set_error(CF_ERR_ARG, "ridge: the normal equations are singular at column %d (raise lambda)", j);
            break;
        }
        A[j * p + j] = sqrt(d);
        for (int i = j + 1; i < p; i++) {
            double s = A[i * p + j];
            for (int k = 0; k < j; k++) s -= A[i * p + k] * A[j * p + k];
            A[i * p + j] = s / A[j * p + j];
        }
    }
    for (int i = 0; st == CF_OK && i < p; i++) { /* G z = r */
        double s = r[i];
        for (int k = 0; k < i; k++) s -= A[i * p + k] * r[k];
        r[i] = s / A[i * p + i];
    }
    for (int i = p - 1; st == CF_OK && i >= 0; i--) { /* G' beta = z */
        double s = r[i];
        for (int k = i + 1; k < p; k++) s -= A[k * p + i] * beta[k];
        beta[i] = s / A[i * p + i];
    }
    if (st == CF_OK) {
        double b0 = my;
        for (int a = 0; a < p; a++) b0 -= beta[a] * mx[a];
        *beta0 = b0;
    }
    free(mx), free(A), free(r);
    return st;
}

cf_status cf_ridge_select(const double *X, const double *y, int64_t n, int p, const double *lambdas, int n_lambdas, int folds,
                          double *best)
{
    if (folds < 2 || n < 2 * (int64_t)folds || n_lambdas < 1 || p < 1)
        return cf_set_error(CF_ERR_ARG, "ridge: cross-validation needs folds >= 2, at least 2 rows per fold and a candidate "
                            "(n %lld, folds %d, candidates %d)", (long long)n, folds, n_lambdas);
    double *Xt = malloc(sizeof(double) * (size_t)(n * p)), *yt = malloc(sizeof(double) * (size_t)n);
    double *beta = malloc(sizeof(double) * (size_t)p), best_err = INFINITY;
    cf_status st = Xt && yt && beta ? CF_OK : cf_set_error(CF_ERR_OOM, "ridge: out of memory");
    for (int c = 0; st == CF_OK && c < n_lambdas; c++) {
        double err = 0, b0;
        bool ok = true;
        for (int f = 0; ok && f < folds; f++) {
            int64_t lo = n * f / folds, hi = n * (f + 1) / folds, m = 0;
            for (int64_t i = 0; i < n; i++)
                if (i < lo || i >= hi) memcpy(Xt + m * p, X + i * p, sizeof(double) * (size_t)p), yt[m++] = y[i];
            if (cf_ridge_fit(Xt, yt, m, p, lambdas[c], beta, &b0) != CF_OK) {
                ok = false;
                break;
            }
            for (int64_t i = lo; i < hi; i++) {
                double e = b0 - y[i];
                for (int a = 0; a < p; a++) e += beta[a] * X[i * p + a];
                err += e * e;
            }
        }
        if (ok && (err < best_err || (err == best_err && lambdas[c] > *best))) best_err = err, *best = lambdas[c];
    }
    if (st == CF_OK) cf_clear_error();
    if (st == CF_OK && !isfinite(best_err)) st = cf_set_error(CF_ERR_ARG, "ridge: every penalty gave a singular system");
    free(Xt), free(yt), free(beta);
    return st;
}

cf_status cf_glm_token_nll(const cf_glm *g, const int32_t *counts, int64_t n_bins, int64_t b0, int C, const int32_t *units,
                           const int64_t *bins, int64_t n, double *nll_id, double *nll_dt)
{
    int N = g->N;
    if (C < 1) return cf_set_error(CF_ERR_ARG, "glm: a window needs at least one bin");
    for (int64_t j = 0; j < n; j++)
        if (units[j] < 0 || units[j] >= N || bins[j] < b0 || bins[j] >= b0 + C ||
            (j > 0 && (bins[j] < bins[j - 1] || (bins[j] == bins[j - 1] && units[j] <= units[j - 1]))))
            return cf_set_error(CF_ERR_ARG, "glm: token %lld (unit %d, bin %lld) is not in (bin, unit) order inside the window "
                                "[%lld, %lld) of %d units", (long long)j, units[j], (long long)bins[j], (long long)b0,
                                (long long)(b0 + C), N);
    double *p = malloc(sizeof(double) * (size_t)N), *pid = malloc(sizeof(double) * (size_t)N);
    double *pdt = malloc(sizeof(double) * (size_t)C);
    cf_status st = p && pid && pdt ? CF_OK : cf_set_error(CF_ERR_OOM, "glm: out of memory");
    *nll_id = *nll_dt = 0;
    for (int64_t j = 0; st == CF_OK && j <= n; j++) {
        /* what is known before target j: the true history and the window's tokens before j */
        int64_t cb = j ? bins[j - 1] : b0 - 1;
        int cu = j ? units[j - 1] : N - 1;
        double surv = 1; /* P(no event yet) walking (bin, unit) order after the cut */
        for (int n2 = 0; n2 < N; n2++) pid[n2] = 0;
        for (int c = 0; c < C; c++) pdt[c] = 0;
        for (int64_t t = cb; st == CF_OK && t < b0 + C; t++) {
            if (t < b0) continue;
            st = cf_glm_probs(g, counts, n_bins, t, cb, cu, p);
            for (int m = t == cb ? cu + 1 : 0; st == CF_OK && m < N; m++) {
                double e = surv * p[m];
                pid[m] += e, pdt[t - b0] += e, surv *= 1 - p[m];
            }
        }
        if (st != CF_OK) break;
        if (j < n) *nll_id -= log(pid[units[j]]), *nll_dt -= log(pdt[bins[j] - b0]);
        else *nll_id -= log(surv), *nll_dt -= log(surv);
    }
    free(p), free(pid), free(pdt);
    return st;
}
