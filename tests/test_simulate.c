/* The spiking-circuit simulator: config checks, speed (1000 s of 40 units), rates near the configured
 * ones, hubs with more out-edges, the edge distribution, refractoriness, the stimulus and trials, and
 * determinism by seed. */
#include "autograd/clock.h"
#include "data/spikes/simulate_spikes.h"

#include "tests/check.h"

#include <stdlib.h>

static void test_check(void)
{
    cf_sim_config c = cf_sim_defaults();
    CHECK(cf_sim_check(&c) == CF_OK);
    c.n_hubs = 41;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("n_hubs");
    c = cf_sim_defaults();
    c.dt = 0;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("dt");
    c = cf_sim_defaults();
    c.edge_prob = 1.5;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("edge_prob");
    c = cf_sim_defaults();
    c.hub_rate_hz = 150; /* 1.5 spikes per 10 ms bin */
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("hub_rate_hz");
    c = cf_sim_defaults();
    c.refractory = NAN;
    CHECK(cf_sim_check(&c) != CF_OK);
    c = cf_sim_defaults();
    c.hub_targets = 40;
    CHECK(cf_sim_check(&c) != CF_OK);
    CHECK_ERROR_HAS("hub_targets");
    cf_spikes *s = (cf_spikes *)1;
    CHECK(cf_simulate_spikes(&c, &s, NULL) != CF_OK && s == NULL);
}

static void test_default_run(void)
{
    cf_sim_config c = cf_sim_defaults(); /* 40 units, 3 hubs, 1000 s */
    cf_spikes *s = NULL;
    double *w = malloc(40 * 40 * sizeof *w);
    double t0 = cf_now();
    CHECK(cf_simulate_spikes(&c, &s, w) == CF_OK);
    double took = cf_now() - t0;
    printf("  1000 s of 40 units: %.2f s, %lld spikes\n", took, s ? (long long)s->n_spikes : 0LL);
    CHECK(took < 8); /* well under a second in a release build; sanitizers are slower */
    if (!s) {
        free(w);
        return;
    }
    CHECK(s->n_units == 40 && s->t_start == 0 && s->t_end == 100000 * 0.01);
    CHECK(cf_spikes_validate(s, "sim") == CF_OK);
    int hubs[3];
    CHECK(cf_sim_hubs(&c, hubs) == CF_OK);
    CHECK(hubs[0] < hubs[1] && hubs[1] < hubs[2]);
    double r[40], mean = 0, mean_other = 0, max_other = 0;
    CHECK(cf_spikes_rates(s, 0, 1000, r) == CF_OK);
    for (int i = 0; i < 40; i++) {
        mean += r[i] / 40;
        bool hub = i == hubs[0] || i == hubs[1] || i == hubs[2];
        if (hub) {
            CHECK(r[i] > 10 && r[i] < 20); /* configured 15 Hz */
        } else {
            mean_other += r[i] / 37;
            if (r[i] > max_other) max_other = r[i];
        }
    }
    printf("  mean rate %.2f Hz, non-hubs %.2f Hz (max %.2f)\n", mean, mean_other, max_other);
    CHECK(mean_other > 4 && mean_other < 6.5); /* configured 5 Hz */
    CHECK(max_other < 10);
    CHECK(mean < 30); /* cformer's sanity bound for the simulator */
    /* spikes sit on the bin grid, at most one per unit and bin */
    int64_t nb = cf_spikes_n_bins(s, c.dt);
    CHECK(nb == 100000);
    int32_t *counts = malloc((size_t)nb * 40 * sizeof *counts);
    CHECK(cf_spikes_bin(s, c.dt, nb, counts) == CF_OK);
    int64_t total = 0, over = 0;
    for (int64_t i = 0; i < nb * 40; i++) total += counts[i], over += counts[i] > 1;
    CHECK(total == s->n_spikes && over == 0);
    /* refractoriness (r = -4): a spike right after a spike is much rarer than a spike anywhere */
    int64_t after = 0, spikes = 0;
    for (int u = 0; u < 40; u++)
        for (int64_t b = 0; b + 1 < nb; b++)
            if (counts[(int64_t)u * nb + b]) spikes++, after += counts[(int64_t)u * nb + b + 1];
    double p_after = (double)after / (double)spikes, p_any = (double)total / (double)(nb * 40);
    printf("  P(spike | spike in the previous bin) = %.4f vs P(spike) = %.4f\n", p_after, p_any);
    CHECK(p_after < 0.5 * p_any);
    free(counts);
    /* the weights returned are cf_sim_weights' */
    double *w2 = malloc(40 * 40 * sizeof *w2);
    CHECK(cf_sim_weights(&c, w2) == CF_OK && memcmp(w, w2, 40 * 40 * sizeof *w) == 0);
    free(w2);
    free(w);
    cf_spikes_free(s);
}

static void test_connectivity(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.n_neurons = 60;
    c.seed = 5;
    double *w = malloc(60 * 60 * sizeof *w);
    int hubs[3];
    CHECK(cf_sim_weights(&c, w) == CF_OK && cf_sim_hubs(&c, hubs) == CF_OK);
    int out_deg[60] = {0}, hub_edges = 0, random_edges = 0, inhib = 0, pairs = 0;
    bool is_hub[60] = {false};
    for (int h = 0; h < 3; h++) is_hub[hubs[h]] = true;
    for (int i = 0; i < 60; i++) {
        CHECK(w[i * 60 + i] == 0);
        int hub_w = 0;
        for (int j = 0; j < 60; j++) {
            double x = w[i * 60 + j];
            if (i == j) continue;
            pairs++;
            if (x == 0) continue;
            out_deg[i]++;
            if (x == c.hub_weight) {
                hub_w++;
                CHECK(is_hub[i]);
            } else {
                random_edges++;
                inhib += x < 0;
                CHECK(fabs(x) >= c.edge_w_min && fabs(x) <= c.edge_w_max);
            }
        }
        if (is_hub[i]) CHECK(hub_w == c.hub_targets);
        hub_edges += hub_w;
    }
    int max_other = 0;
    for (int i = 0; i < 60; i++)
        if (!is_hub[i] && out_deg[i] > max_other) max_other = out_deg[i];
    for (int h = 0; h < 3; h++) CHECK(out_deg[hubs[h]] > max_other && out_deg[hubs[h]] >= c.hub_targets);
    double frac = (double)random_edges / (double)(pairs - hub_edges);
    printf("  hub out-degree %d %d %d, others at most %d; random edge fraction %.3f, %d of %d inhibitory\n",
           out_deg[hubs[0]], out_deg[hubs[1]], out_deg[hubs[2]], max_other, frac, inhib, random_edges);
    CHECK(frac > 0.015 && frac < 0.045);
    CHECK(inhib > 0 && inhib < random_edges / 2);
    /* other seeds choose other hubs and edges */
    c.seed = 6;
    double *w6 = malloc(60 * 60 * sizeof *w6);
    CHECK(cf_sim_weights(&c, w6) == CF_OK && memcmp(w, w6, 60 * 60 * sizeof *w) != 0);
    free(w6);
    free(w);
}

static void test_refractory_absolute(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 100;
    c.refractory = -INFINITY;
    c.base_rate_hz = 20; /* many chances for back-to-back spikes */
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    if (!s) return;
    int64_t back_to_back = 0;
    for (int u = 0; u < s->n_units; u++)
        for (int64_t i = s->offsets[u] + 1; i < s->offsets[u + 1]; i++)
            back_to_back += cf_spikes_bin_of(s, s->times[i], c.dt) - cf_spikes_bin_of(s, s->times[i - 1], c.dt) <= 1;
    CHECK(s->n_spikes > 5000);
    CHECK(back_to_back == 0);
    cf_spikes_free(s);
    /* without refractoriness they happen */
    c.refractory = 0;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    back_to_back = 0;
    for (int u = 0; s && u < s->n_units; u++)
        for (int64_t i = s->offsets[u] + 1; i < s->offsets[u + 1]; i++)
            back_to_back += cf_spikes_bin_of(s, s->times[i], c.dt) - cf_spikes_bin_of(s, s->times[i - 1], c.dt) <= 1;
    CHECK(back_to_back > 100);
    cf_spikes_free(s);
}

static void test_uncalibrated(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 100;
    c.calibrate = false;
    double b[40];
    CHECK(cf_sim_parameters(&c, b, NULL) == CF_OK);
    CHECK_NEAR(b[0] == b[1] ? b[0] : b[2], log(0.05 / 0.95), 1e-12);
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    double r[40], mean = 0;
    if (s && cf_spikes_rates(s, 0, 100, r) == CF_OK)
        for (int i = 0; i < 40; i++) mean += r[i] / 40;
    printf("  literal baselines: mean rate %.2f Hz\n", mean);
    CHECK(mean > 5 && mean < 30); /* input lifts it above 5 Hz; the 30 Hz bound holds */
    cf_spikes_free(s);
}

static void test_determinism_stimulus_trials(void)
{
    cf_sim_config c = cf_sim_defaults();
    c.seconds = 30;
    c.seed = 42;
    cf_spikes *a = NULL, *b = NULL, *d = NULL;
    CHECK(cf_simulate_spikes(&c, &a, NULL) == CF_OK);
    CHECK(cf_simulate_spikes(&c, &b, NULL) == CF_OK);
    char why[256] = "";
    CHECK(a && b && cf_spikes_equal(a, b, why, sizeof why));
    c.seed = 43;
    CHECK(cf_simulate_spikes(&c, &d, NULL) == CF_OK);
    CHECK(a && d && !cf_spikes_equal(a, d, NULL, 0));
    cf_spikes_free(b);
    cf_spikes_free(d);
    /* a stimulus and trials: the connectivity of seed 42 is unchanged (separate RNG streams) */
    c.seed = 42;
    c.stim_gain = 1.0;
    c.trial_s = 7;
    double w1[1600], w2[1600];
    CHECK(cf_sim_weights(&c, w1) == CF_OK);
    c.stim_gain = 0;
    CHECK(cf_sim_weights(&c, w2) == CF_OK && memcmp(w1, w2, sizeof w1) == 0);
    c.stim_gain = 1.0;
    c.seconds = 120;
    cf_spikes *s = NULL;
    CHECK(cf_simulate_spikes(&c, &s, NULL) == CF_OK);
    if (s) {
        CHECK(s->n_trials == 18);
        CHECK_NEAR(s->trial_start[17], 119, 1e-9);
        CHECK_NEAR(s->trial_stop[17], 120, 1e-9);
        CHECK(s->beh_dim == 1 && s->beh_len == 2400 && strcmp(s->beh_names[0], "stimulus") == 0);
        CHECK_NEAR(s->beh_t[1], 0.05, 1e-12);
        double m = 0, v = 0;
        for (int64_t i = 0; i < s->beh_len; i++) m += s->beh[i];
        m /= (double)s->beh_len;
        for (int64_t i = 0; i < s->beh_len; i++) v += (s->beh[i] - m) * (s->beh[i] - m);
        v /= (double)s->beh_len;
        printf("  stimulus: mean %.3f, variance %.3f\n", m, v);
        CHECK(v > 0.4 && v < 1.6); /* a unit-variance walk, correlation time 1 s, seen for 120 s */
        /* the shared drive: the population spike count follows the stimulus */
        int64_t nb = s->beh_len;
        double *pop = calloc((size_t)nb, sizeof *pop);
        for (int64_t i = 0; i < s->n_spikes; i++) {
            int64_t k = (int64_t)floor(s->times[i] / 0.05 + 1e-6);
            if (k >= 0 && k < nb) pop[k] += 1;
        }
        double mp = 0, cov = 0, vp = 0;
        for (int64_t i = 0; i < nb; i++) mp += pop[i] / (double)nb;
        for (int64_t i = 0; i < nb; i++) cov += (pop[i] - mp) * (s->beh[i] - m), vp += (pop[i] - mp) * (pop[i] - mp);
        double corr = cov / sqrt(vp * v * (double)nb);
        printf("  corr(population count, stimulus) = %.3f\n", corr);
        CHECK(corr > 0.3);
        free(pop);
    }
    cf_spikes_free(s);
    cf_spikes_free(a);
}

int main(void)
{
    RUN(test_check);
    RUN(test_default_run);
    RUN(test_connectivity);
    RUN(test_refractory_absolute);
    RUN(test_uncalibrated);
    RUN(test_determinism_stimulus_trials);
    TEST_MAIN_END();
}
