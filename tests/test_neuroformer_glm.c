/* The field's baselines for Neuroformer (recipes/neuroformer/glm.h): the raised-cosine basis of Pillow et al.
 * (Nature 2008) against values worked by hand, the Bernoulli GLM recovering a known coupling on a small simulated
 * circuit (and beating the rate-only GLM on held-out bins), the self-history GLM having no coupling, and ridge
 * regression on hand-computed cases. */
#include "autograd/rng.h"
#include "data/spikes/spike_metrics.h"
#include "recipes/neuroformer/glm.h"

#include "tests/check.h"

#include <stdlib.h>

static void basis_by_hand(void)
{
    /* K 2, L 3, c 1: x(l) = log(l + 1), centres log 2 and log 4, D = log 2; u = (x(l) - phi_k) / (2D):
     * k 0: u = 0, log(3/2)/log(4), 1/2 -> 1, 0.5 + 0.5 cos(pi 0.29248) = 0.80336, 0.5
     * k 1: u = -1/2, log(3/4)/log(4), 0 -> 0.5, 0.89745, 1 */
    double B[6], want[6] = {1, 0.8033645875683084, 0.5, 0.5, 0.8974543080776836, 1};
    CHECK(cf_glm_raised_cosine(2, 3, 1.0, B) == CF_OK);
    for (int i = 0; i < 6; i++) CHECK(fabs(B[i] - want[i]) < 1e-12, "B[%d] = %.15g, want %.15g", i, B[i], want[i]);
    /* the last bump of a longer basis reaches 0 two spacings away from its centre */
    double C[4 * 20];
    CHECK(cf_glm_raised_cosine(4, 20, 0.5, C) == CF_OK);
    CHECK(C[3 * 20 + 0] == 0 && fabs(C[3 * 20 + 19] - 1) < 1e-12 && fabs(C[0] - 1) < 1e-12);
    CHECK(cf_glm_raised_cosine(1, 3, 1.0, B) == CF_ERR_ARG);
    CHECK(cf_glm_raised_cosine(3, 2, 1.0, B) == CF_ERR_ARG);
    CHECK(cf_glm_raised_cosine(2, 3, 0.0, B) == CF_ERR_ARG);
}

enum { NU = 4, NB = 30000 };

/* Unit 0 drives unit 1 (at lags 1 and 2 bins); units 2 and 3 fire independently. */
static void simulate(int32_t *y)
{
    cf_philox_key key = cf_rng_key(7, 1);
    for (int64_t t = 0; t < NB; t++)
        for (int n = 0; n < NU; n++) {
            double z = -3;
            if (n == 1) z += (t >= 1 ? 3.0 * y[t - 1] : 0) + (t >= 2 ? 2.0 * y[t - 2] : 0);
            y[(int64_t)n * NB + t] = cf_rng_uniform(key, (uint64_t)t, (uint64_t)n) < 1 / (1 + exp(-z));
        }
}

static void glm_recovers_coupling(void)
{
    int32_t *y = malloc(sizeof(int32_t) * NU * NB);
    simulate(y);
    cf_glm_config c = cf_glm_defaults();
    c.K = 3, c.L = 6, c.steps = 200, c.threads = 1;
    int64_t from[1] = {0}, to[1] = {NB * 4 / 5}, tfrom[1] = {NB * 4 / 5}, tto[1] = {NB};
    cf_glm cp, self, rate;
    CHECK(cf_glm_fit(&c, CF_GLM_COUPLED, y, NU, NB, from, to, 1, &cp) == CF_OK);
    CHECK(cf_glm_fit(&c, CF_GLM_SELF, y, NU, NB, from, to, 1, &self) == CF_OK);
    CHECK(cf_glm_fit(&c, CF_GLM_RATE, y, NU, NB, from, to, 1, &rate) == CF_OK);
    double s[NU * NU], w[NU * NU] = {0}, auc = 0;
    w[0 * NU + 1] = 1;
    cf_glm_coupling(&cp, s);
    for (int i = 0; i < NU * NU; i++)
        if (i != 1) CHECK(fabs(s[i]) < 0.3 * s[1], "coupling score[%d] = %g against the true edge's %g", i, s[i], s[1]);
    CHECK(s[1] > 1.5, "the true edge's integrated filter is %g", s[1]);
    CHECK(cf_edge_auc(s, w, NU, false, &auc) == CF_OK && auc == 1.0, "AUC %g", auc);
    /* the fitted probability follows the drive: unit 1 right after a spike of unit 0 vs after silence */
    int64_t after = -1, quiet = -1;
    for (int64_t t = 20; t < NB && (after < 0 || quiet < 0); t++) {
        bool none = true;
        for (int l = 1; l <= 6; l++) none = none && !y[t - l];
        if (y[t - 1] && after < 0) after = t;
        if (none && quiet < 0) quiet = t;
    }
    double pa = cf_glm_prob(&cp, y, NB, 1, after, -1), pq = cf_glm_prob(&cp, y, NB, 1, quiet, -1);
    CHECK(pa > 0.3 && pq < 0.1, "p after a drive %g, after silence %g", pa, pq);
    /* hiding the last L bins of history (cutoff at t - L) gives the silent-past probability */
    CHECK(fabs(cf_glm_prob(&cp, y, NB, 1, after, after - 6) - 1 / (1 + exp(-cp.b[1]))) < 1e-12);
    /* held-out likelihood: coupled < self-history <= rate-only (up to fitting noise) */
    double nc = cf_glm_nll(&cp, y, NB, tfrom, tto, 1, NULL), ns = cf_glm_nll(&self, y, NB, tfrom, tto, 1, NULL);
    double nr = cf_glm_nll(&rate, y, NB, tfrom, tto, 1, NULL);
    CHECK(nc < ns - 0.005 && ns < nr + 1e-3, "held-out NLL coupled %g, self %g, rate %g", nc, ns, nr);
    cf_glm_coupling(&self, s);
    for (int i = 0; i < NU * NU; i++) CHECK(s[i] == 0);
    int64_t none[1] = {0};
    cf_glm bad;
    CHECK(cf_glm_fit(&c, CF_GLM_COUPLED, y, NU, NB, none, none, 1, &bad) == CF_ERR_ARG);
    cf_glm_free(&cp), cf_glm_free(&self), cf_glm_free(&rate);
    free(y);
}

static void token_nll_by_hand(void)
{
    /* two units firing with probability 1/2 in every bin, whatever the past (b = 0, no filters) */
    double basis[4] = {1, 0, 0, 1}, W[8] = {0}, b[2] = {0, 0};
    cf_glm g = {.kind = CF_GLM_RATE, .N = 2, .K = 2, .L = 2, .basis = basis, .W = W, .b = b};
    int32_t counts[2 * 4] = {0};
    double ni, nd;
    /* one bin, no spike: EOS has probability (1/2)^2 for both heads */
    CHECK(cf_glm_token_nll(&g, counts, 4, 2, 1, NULL, NULL, 0, &ni, &nd) == CF_OK);
    CHECK(fabs(ni - log(4)) < 1e-12 && fabs(nd - log(4)) < 1e-12, "%g %g", ni, nd);
    /* unit 1 alone: first event (0, b) 1/2, (1, b) 1/4, EOS 1/4 -> ID 1 costs log 4, offset 0 costs log 4/3; then
     * nothing is left, so EOS is certain */
    int32_t u[2] = {1, 0};
    int64_t bins[2] = {2, 3};
    CHECK(cf_glm_token_nll(&g, counts, 4, 2, 1, u, bins, 1, &ni, &nd) == CF_OK);
    CHECK(fabs(ni - log(4)) < 1e-12 && fabs(nd - log(4.0 / 3)) < 1e-12, "%g %g", ni, nd);
    /* two bins, unit 1 in the first, unit 0 in the second. Target 0: (2,0) 1/2, (2,1) 1/4, (3,0) 1/8, (3,1) 1/16,
     * EOS 1/16 -> ID 1 has 1/4 + 1/16 = 5/16, offset 0 has 3/4. Target 1, after (2,1): (3,0) 1/2, (3,1) 1/4, EOS
     * 1/4 -> ID 0: 1/2, offset 1: 3/4. Target 2 (EOS), after (3,0): (3,1) 1/2, EOS 1/2. */
    CHECK(cf_glm_token_nll(&g, counts, 4, 2, 2, u, bins, 2, &ni, &nd) == CF_OK);
    CHECK(fabs(ni - (-log(5.0 / 16) + log(2) + log(2))) < 1e-12 && fabs(nd - (-log(0.75) + log(4.0 / 3) + log(2))) < 1e-12,
          "%g %g", ni, nd);
    int64_t bad[2] = {3, 2};
    CHECK(cf_glm_token_nll(&g, counts, 4, 2, 2, u, bad, 2, &ni, &nd) == CF_ERR_ARG);
}

static void ridge_by_hand(void)
{
    /* y = 2x + 1 exactly: lambda 0 gives it back; lambda 5 with centred x (-1.5, -0.5, 0.5, 1.5), Sxx 5, Sxy 10:
     * beta = 10 / (5 + 5) = 1, intercept 4 - 1 * 1.5 = 2.5 */
    double X[4] = {0, 1, 2, 3}, y[4] = {1, 3, 5, 7}, beta, b0;
    CHECK(cf_ridge_fit(X, y, 4, 1, 0, &beta, &b0) == CF_OK && fabs(beta - 2) < 1e-12 && fabs(b0 - 1) < 1e-12);
    CHECK(cf_ridge_fit(X, y, 4, 1, 5, &beta, &b0) == CF_OK && fabs(beta - 1) < 1e-12 && fabs(b0 - 2.5) < 1e-12,
          "beta %g b0 %g", beta, b0);
    /* two columns: y = x1 - 2 x2 + 3 on four rows, solved exactly at lambda 0 */
    double X2[8] = {0, 0, 1, 0, 0, 1, 1, 1}, y2[4] = {3, 4, 1, 2}, b2[2];
    CHECK(cf_ridge_fit(X2, y2, 4, 2, 0, b2, &b0) == CF_OK && fabs(b2[0] - 1) < 1e-12 && fabs(b2[1] + 2) < 1e-12 &&
          fabs(b0 - 3) < 1e-12);
    /* a constant column is singular without a penalty */
    double X3[4] = {1, 1, 1, 1};
    CHECK(cf_ridge_fit(X3, y, 4, 1, 0, &beta, &b0) == CF_ERR_ARG);
    CHECK(cf_ridge_fit(X, y, 4, 1, -1, &beta, &b0) == CF_ERR_ARG);
}

/* Cross-validated penalty: a noiseless linear target picks the smallest candidate, a target independent of X
 * the largest; bad arguments are refused. */
static void ridge_select_cases(void)
{
    enum { n = 40, p = 3 };
    double X[n * p], y[n], z[n], lam[3] = {1e-3, 1, 1e4}, best = 0;
    cf_philox_key key = cf_rng_key(11, 0);
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < p; a++) X[i * p + a] = cf_rng_uniform(key, (uint64_t)i, (uint64_t)a) - 0.5;
        y[i] = 3 * X[i * p] - X[i * p + 2] + 0.5;
        z[i] = cf_rng_uniform(key, (uint64_t)i, 99) - 0.5;
    }
    CHECK(cf_ridge_select(X, y, n, p, lam, 3, 5, &best) == CF_OK && best == 1e-3, "noiseless: best %g", best);
    CHECK(cf_ridge_select(X, z, n, p, lam, 3, 5, &best) == CF_OK && best == 1e4, "noise: best %g", best);
    CHECK(cf_ridge_select(X, y, n, p, lam, 3, 1, &best) == CF_ERR_ARG);
    CHECK(cf_ridge_select(X, y, 5, p, lam, 3, 5, &best) == CF_ERR_ARG);
    CHECK(cf_ridge_select(X, y, n, p, lam, 0, 5, &best) == CF_ERR_ARG);
}

int main(void)
{
    basis_by_hand();
    ridge_by_hand();
    ridge_select_cases();
    token_nll_by_hand();
    glm_recovers_coupling();
    TEST_MAIN_END();
}
