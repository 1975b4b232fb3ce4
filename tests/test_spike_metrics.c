/* Spike metrics and baselines: edge AUC (perfect 1, reversed 0, ties 0.5, target-major input), direction
 * accuracy, window F1 in its three modes on hand cases, unigram cross-entropy, the Poisson baseline,
 * Pearson / PSTH, the lagged cross-correlation baseline, and the attention normalisation. */
#include "data/spikes/simulate_spikes.h"
#include "data/spikes/spike_metrics.h"

#include "tests/check.h"

#include <stdlib.h>

static void test_auc(void)
{
    /* 4 units, edges 0->1, 0->2, 3->1 */
    double w[16] = {0};
    w[0 * 4 + 1] = 1, w[0 * 4 + 2] = 2, w[3 * 4 + 1] = -1;
    double perfect[16], reversed[16], flat[16], tm[16];
    for (int i = 0; i < 16; i++) {
        perfect[i] = w[i] != 0 ? 1.0 + i * 0.01 : -(double)i;
        reversed[i] = -perfect[i];
        flat[i] = 0.3;
    }
    double auc;
    CHECK(cf_edge_auc(perfect, w, 4, false, &auc) == CF_OK);
    CHECK_NEAR(auc, 1, 1e-12);
    CHECK(cf_edge_auc(reversed, w, 4, false, &auc) == CF_OK);
    CHECK_NEAR(auc, 0, 1e-12);
    CHECK(cf_edge_auc(flat, w, 4, false, &auc) == CF_OK);
    CHECK_NEAR(auc, 0.5, 1e-12);
    /* the diagonal does not count, whatever its score */
    perfect[5] = 100;
    CHECK(cf_edge_auc(perfect, w, 4, false, &auc) == CF_OK);
    CHECK_NEAR(auc, 1, 1e-12);
    /* a target-major matrix (attention A[target, source]) is read transposed */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) tm[j * 4 + i] = perfect[i * 4 + j];
    CHECK(cf_edge_auc(tm, w, 4, true, &auc) == CF_OK);
    CHECK_NEAR(auc, 1, 1e-12);
    CHECK(cf_edge_auc(tm, w, 4, false, &auc) == CF_OK);
    CHECK(auc < 1);
    /* one positive ranked between the negatives: hand count */
    double s2[16];
    for (int i = 0; i < 16; i++) s2[i] = (double)i; /* 9 negatives among 12 off-diagonal pairs */
    /* positives at 1, 2, 13 -> scores 1, 2, 13; negatives 3,4,6,7,8,9,11,12,14 (and 0,5,10,15 diagonal) */
    CHECK(cf_edge_auc(s2, w, 4, false, &auc) == CF_OK);
    /* pairs (pos > neg): score 1: 0 negatives below, 2: 0, 13: 3,4,6,7,8,9,11,12 = 8 -> 8 / 27 */
    CHECK_NEAR(auc, 8.0 / 27.0, 1e-12);
    double none[16] = {0};
    CHECK(cf_edge_auc(perfect, none, 4, false, &auc) != CF_OK);
    CHECK_ERROR_HAS("edges");
    double acc;
    int64_t ne;
    CHECK(cf_edge_direction_accuracy(perfect, w, 4, false, NULL, 0, &acc, &ne) == CF_OK);
    CHECK(ne == 3);
    CHECK_NEAR(acc, 1, 1e-12);
    CHECK(cf_edge_direction_accuracy(reversed, w, 4, false, NULL, 0, &acc, &ne) == CF_OK);
    CHECK_NEAR(acc, 0, 1e-12);
    int src[] = {3};
    CHECK(cf_edge_direction_accuracy(perfect, w, 4, false, src, 1, &acc, &ne) == CF_OK);
    CHECK(ne == 1);
    w[1 * 4 + 0] = 1; /* 0 <-> 1 both ways: no direction, skipped */
    CHECK(cf_edge_direction_accuracy(perfect, w, 4, false, NULL, 0, &acc, &ne) == CF_OK);
    CHECK(ne == 2);
}

static void test_f1(void)
{
    cf_f1 r;
    int32_t t[] = {1, 2, 3, 3}, p[] = {2, 3, 3, 4, 5};
    CHECK(cf_window_f1(t, 4, p, 5, CF_F1_SET, &r) == CF_OK);
    /* sets {1,2,3} vs {2,3,4,5}: TP 2, P 2/4, R 2/3 */
    CHECK(r.tp == 2 && r.n_true == 3 && r.n_pred == 4);
    CHECK_NEAR(r.precision, 0.5, 1e-12);
    CHECK_NEAR(r.recall, 2.0 / 3, 1e-12);
    CHECK_NEAR(r.f1, 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3), 1e-12);
    CHECK(cf_window_f1(t, 4, p, 5, CF_F1_MULTISET, &r) == CF_OK);
    /* multisets: 2 once, 3 twice match -> TP 3, P 3/5, R 3/4 */
    CHECK(r.tp == 3);
    CHECK_NEAR(r.precision, 0.6, 1e-12);
    CHECK_NEAR(r.recall, 0.75, 1e-12);
    CHECK(cf_window_f1(t, 4, p, 5, CF_F1_OFFICIAL, &r) == CF_OK);
    CHECK_NEAR(r.precision, 0.5, 1e-12);
    CHECK(r.scored);
    /* perfect */
    CHECK(cf_window_f1(t, 4, t, 4, CF_F1_SET, &r) == CF_OK);
    CHECK_NEAR(r.f1, 1, 1e-12);
    /* no overlap */
    int32_t q[] = {7, 8};
    CHECK(cf_window_f1(t, 4, q, 2, CF_F1_SET, &r) == CF_OK);
    CHECK(r.f1 == 0 && r.precision == 0 && r.recall == 0);
    /* empty windows: silence predicted as silence is perfect in the set modes, not scored officially */
    CHECK(cf_window_f1(NULL, 0, NULL, 0, CF_F1_SET, &r) == CF_OK);
    CHECK_NEAR(r.f1, 1, 1e-12);
    CHECK(cf_window_f1(NULL, 0, q, 2, CF_F1_SET, &r) == CF_OK);
    CHECK(r.f1 == 0);
    CHECK(cf_window_f1(NULL, 0, NULL, 0, CF_F1_OFFICIAL, &r) == CF_OK);
    CHECK(!r.scored && r.f1 == 0);
    /* the official quirk: a subset prediction (no FP) gets P = R = 1 although it misses spikes */
    int32_t sub[] = {2};
    CHECK(cf_window_f1(t, 4, sub, 1, CF_F1_OFFICIAL, &r) == CF_OK);
    CHECK(r.precision == 1 && r.recall == 1 && r.f1 == 1);
    CHECK(cf_window_f1(t, 4, sub, 1, CF_F1_SET, &r) == CF_OK);
    CHECK_NEAR(r.recall, 1.0 / 3, 1e-12);
    CHECK_NEAR(r.precision, 1, 1e-12);
    /* and a superset (no FN) too */
    int32_t sup[] = {1, 2, 3, 9};
    CHECK(cf_window_f1(t, 4, sup, 4, CF_F1_OFFICIAL, &r) == CF_OK);
    CHECK(r.precision == 1 && r.recall == 1);
}

static void test_unigram_poisson(void)
{
    int64_t train[] = {0, 0, 1, CF_SPIKE_IGNORE, 2, 0, CF_SPIKE_IGNORE};
    double lp[4];
    CHECK(cf_unigram_logprob(train, 7, 4, 0, lp) == CF_OK);
    CHECK_NEAR(lp[0], log(3.0 / 5), 1e-12);
    CHECK(isinf(lp[3]) && lp[3] < 0);
    CHECK(cf_unigram_logprob(train, 7, 4, 1, lp) == CF_OK);
    CHECK_NEAR(lp[0], log(4.0 / 9), 1e-12);
    CHECK_NEAR(lp[3], log(1.0 / 9), 1e-12);
    int64_t test[] = {0, 3, CF_SPIKE_IGNORE};
    double ce;
    int64_t m;
    CHECK(cf_unigram_ce(lp, 4, test, 3, &ce, &m) == CF_OK);
    CHECK(m == 2);
    CHECK_NEAR(ce, -(log(4.0 / 9) + log(1.0 / 9)) / 2, 1e-12);
    int64_t bad[] = {0, 4};
    CHECK(cf_unigram_logprob(bad, 2, 4, 1, lp) != CF_OK);
    CHECK_ERROR_HAS("target 4");
    /* uniform training: CE = log(vocab) */
    int64_t uni[] = {0, 1, 2, 3};
    CHECK(cf_unigram_logprob(uni, 4, 4, 0, lp) == CF_OK);
    CHECK(cf_unigram_ce(lp, 4, uni, 4, &ce, NULL) == CF_OK);
    CHECK_NEAR(ce, log(4.0), 1e-12);
    /* Poisson windows: ascending ids, deterministic, mean count matching the rates */
    double rates[] = {5, 0, 40, 1000};
    int32_t ids[256], ids2[256];
    int64_t n, n2, total[4] = {0};
    CHECK(cf_poisson_window_ids(rates, 4, 0.05, 1, 7, ids, 256, &n) == CF_OK);
    CHECK(cf_poisson_window_ids(rates, 4, 0.05, 1, 7, ids2, 256, &n2) == CF_OK);
    CHECK(n == n2 && memcmp(ids, ids2, (size_t)n * sizeof *ids) == 0);
    for (int64_t i = 1; i < n; i++) CHECK(ids[i] >= ids[i - 1]);
    for (uint64_t wdw = 0; wdw < 2000; wdw++) {
        CHECK(cf_poisson_window_ids(rates, 4, 0.05, 1, wdw, ids, 256, &n) == CF_OK);
        for (int64_t i = 0; i < n; i++) total[ids[i]]++;
    }
    CHECK_NEAR(total[0] / 2000.0, 0.25, 0.05);
    CHECK(total[1] == 0);
    CHECK_NEAR(total[2] / 2000.0, 2.0, 0.15);
    CHECK_NEAR(total[3] / 2000.0, 50.0, 1.0);
    CHECK(cf_poisson_window_ids(rates, 4, 0.05, 1, 7, ids, 3, &n) != CF_OK && n > 3);
}

static void test_pearson_psth(void)
{
    double x[] = {1, 2, 3, 4}, y[] = {2, 4, 6, 8}, z[] = {4, 3, 2, 1}, c[] = {5, 5, 5, 5};
    CHECK_NEAR(cf_pearson(x, y, 4), 1, 1e-12);
    CHECK_NEAR(cf_pearson(x, z, 4), -1, 1e-12);
    CHECK(isnan(cf_pearson(x, c, 4)));
    /* 2 units, 2 trials of 0.1 s; PSTH in bins of 0.05 s */
    double t[] = {0.01, 0.11, 0.06, 0.16, 0.17};
    int64_t u[] = {0, 0, 1, 1, 1};
    cf_spikes *s = cf_spikes_from_events(t, u, 5, 2, 0.0, 0.2, "psth");
    double ta[] = {0.0, 0.1}, tb[] = {0.1, 0.2};
    CHECK(s && cf_spikes_set_trials(s, 2, ta, tb) == CF_OK);
    double psth[4];
    int64_t nb;
    CHECK(s && cf_spikes_psth(s, 0.05, 0.1, psth, &nb) == CF_OK);
    CHECK(nb == 2);
    CHECK_NEAR(psth[0], 2 / (2 * 0.05), 1e-9); /* unit 0 fires in bin 0 of both trials */
    CHECK_NEAR(psth[1], 0, 1e-12);
    CHECK_NEAR(psth[2], 0, 1e-12);
    CHECK_NEAR(psth[3], 3 / (2 * 0.05), 1e-9);
    double r_unit[2];
    double other[4] = {10, 0, 1, 30};
    CHECK_NEAR(cf_psth_corr(psth, other, 2, 2, r_unit), 1, 1e-12);
    cf_spikes_free(s);
}

static void test_xcorr(void)
{
    /* unit 1 fires two bins after unit 0, always; unit 2 is independent noise */
    enum { B = 4000 };
    double *t = malloc(3 * B * sizeof *t);
    int64_t *u = malloc(3 * B * sizeof *u), n = 0;
    uint32_t h = 12345;
    for (int b = 0; b < B - 2; b++) {
        h = h * 1664525u + 1013904223u;
        if ((h >> 24) % 10 == 0) {
            t[n] = b * 0.01, u[n++] = 0;
            t[n] = (b + 2) * 0.01, u[n++] = 1;
        }
        if (((h >> 8) & 0xff) % 10 == 0) t[n] = b * 0.01, u[n++] = 2;
    }
    cf_spikes *s = cf_spikes_from_events(t, u, n, 3, 0.0, B * 0.01, "xc");
    double sc[9];
    CHECK(s && cf_xcorr_scores(s, 0.01, 5, 0, B * 0.01, sc) == CF_OK);
    CHECK(sc[0 * 3 + 1] > 0.5);               /* 0 drives 1 */
    CHECK(fabs(sc[1 * 3 + 0]) < 0.1);         /* not the reverse */
    CHECK(fabs(sc[0 * 3 + 2]) < 0.15 && sc[0] == 0);
    CHECK(cf_xcorr_scores(s, 0.01, 5, 0, 0.03, sc) != CF_OK);
    cf_spikes_free(s);
    free(t);
    free(u);
    /* on a simulated circuit the baseline finds the edges and their direction better than chance */
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 150;
    double *w = malloc(40 * 40 * sizeof *w), *score = malloc(40 * 40 * sizeof *score);
    cf_spikes *sim = NULL;
    CHECK(cf_simulate_spikes(&c, &sim, w) == CF_OK);
    int hubs[3];
    cf_sim_hubs(&c, hubs);
    double auc = 0, acc = 0;
    CHECK(sim && cf_xcorr_scores(sim, 0.01, 5, 0, 150, score) == CF_OK);
    CHECK(cf_edge_auc(score, w, 40, false, &auc) == CF_OK);
    CHECK(cf_edge_direction_accuracy(score, w, 40, false, hubs, 3, &acc, NULL) == CF_OK);
    printf("  lagged cross-correlation on 150 s: edge AUC %.3f, hub direction accuracy %.3f\n", auc, acc);
    CHECK(auc > 0.7 && acc > 0.8);
    cf_spikes_free(sim);
    free(w);
    free(score);
}

static void test_normalize(void)
{
    double A[4] = {4, 6, 8, 10}, nt[2] = {2, 0}, ns[2] = {1, 2};
    CHECK(cf_attention_normalize(A, nt, ns, 2) == CF_OK);
    CHECK(A[0] == 2 && A[1] == 1.5 && A[2] == 0 && A[3] == 0);
}

int main(void)
{
    RUN(test_auc);
    RUN(test_f1);
    RUN(test_unigram_poisson);
    RUN(test_pearson_psth);
    RUN(test_xcorr);
    RUN(test_normalize);
    TEST_MAIN_END();
}
