/* `cformer data spikes` (also spelt `cformer simulate spikes`): a spiking circuit with known directed connectivity (data/spikes/simulate_spikes.h),
 * written as an NWB-style HDF5 file with the ground truth in /simulation (weights, hubs, baselines, gains). */
#include "autograd/clock.h"
#include "recipes/neuroformer/model.h"
#include "data/spikes/simulate_spikes.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data spikes [--neurons N] [--hubs H] [--seconds S] [--seed S] [--stimulus]\n"
               "                               [--stimulus-gain G] [--trial-s S] [--hub-weight W] [--edge-prob P]\n"
               "                               [--movie HxW] [--movie-gain G] [--movie-lag S] -o FILE.h5\n\n"
               "Simulates a Bernoulli GLM circuit (10 ms bins; defaults: 40 neurons, 3 hubs each driving 10 targets,\n"
               "sparse random edges, about 5 Hz, 1000 s) and writes its spikes as an NWB-style HDF5 file, with the\n"
               "ground-truth weights at /simulation/weights (w[i, j]: edge from unit i to unit j) and the hubs at\n"
               "/simulation/hubs. --stimulus adds a shared slow stimulus (gain 1; --stimulus-gain sets it), stored as\n"
               "the behaviour variable \"stimulus\". --movie 8x8 adds a 20 Hz grayscale movie of drifting blobs (the same\n"
               "movie in every trial with --trial-s) seen through each unit's Gaussian receptive field with gain G (default\n"
               "2) and a lag of S seconds (default 0.05); it is written as the ImageSeries /stimulus/presentation/movie\n"
               "and the fields as /simulation/receptive_fields. Deterministic in the seed; the file is written atomically.\n");
}

int cf_neuroformer_simulate_cmd(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    cf_sim_config c = cf_sim_defaults();
    const char *out = NULL;
    bool hub_targets_set = false;
    int64_t neurons = c.n_neurons, hubs_n = c.n_hubs, targets = c.hub_targets, seed = 0;
    const char *cmd = "data spikes";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc, ok = true;
        /* the ranges of cf_sim_check (data/spikes/simulate_spikes.h) that depend on no other option */
        if (strcmp(s, "--neurons") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 1, 4096, &neurons);
        else if (strcmp(s, "--hubs") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 0, 4096, &hubs_n);
        else if (strcmp(s, "--hub-targets") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 0, 4095, &targets), hub_targets_set = true;
        else if (strcmp(s, "--seconds") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], 0, 1e9, CF_RANGE_OPEN_LO, &c.seconds);
        else if (strcmp(s, "--seed") == 0 && v) ok = cf_cli_int(cmd, s, argv[++i], 0, CF_MAX_SEED, &seed);
        else if (strcmp(s, "--stimulus") == 0) c.stim_gain = c.stim_gain != 0 ? c.stim_gain : 1.0;
        else if (strcmp(s, "--stimulus-gain") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], -INFINITY, INFINITY, CF_RANGE_OPEN, &c.stim_gain);
        else if (strcmp(s, "--trial-s") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], 0, INFINITY, CF_RANGE_OPEN_HI, &c.trial_s);
        else if (strcmp(s, "--hub-weight") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], -INFINITY, INFINITY, CF_RANGE_OPEN, &c.hub_weight);
        else if (strcmp(s, "--edge-prob") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], 0, 1, CF_RANGE_CLOSED, &c.edge_prob);
        else if (strcmp(s, "--movie") == 0 && v) {
            const char *m = argv[++i];
            char *end = NULL;
            long h = strtol(m, &end, 10), w = end && (*end == 'x' || *end == 'X') ? strtol(end + 1, &end, 10) : -1;
            if (!end || *end || h < 1 || w < 1 || h > 1024 || w > 1024) {
                fprintf(stderr, "cformer data spikes: --movie '%s': expected HxW, e.g. 8x8 (1 to 1024 pixels a side)\n", m);
                return 2;
            }
            c.movie_h = (int)h, c.movie_w = (int)w;
        } else if (strcmp(s, "--movie-gain") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], -INFINITY, INFINITY, CF_RANGE_OPEN, &c.movie_gain);
        else if (strcmp(s, "--movie-lag") == 0 && v) ok = cf_cli_float(cmd, s, argv[++i], 0, INFINITY, CF_RANGE_OPEN_HI, &c.movie_lag);
        else if ((strcmp(s, "-o") == 0 || strcmp(s, "--out") == 0) && v) out = argv[++i];
        else {
            fprintf(stderr, "cformer data spikes: unexpected argument '%s' (see --help)\n", s);
            return 2;
        }
        if (!ok) return 2;
    }
    c.n_neurons = (int)neurons, c.n_hubs = (int)hubs_n, c.hub_targets = (int)targets, c.seed = (uint64_t)seed;
    if (!out) {
        fprintf(stderr, "cformer data spikes: no output file (-o FILE.h5)\n");
        return 2;
    }
    /* small circuits: fewer hub targets than the default 10 when there are not enough neurons */
    if (!hub_targets_set && c.hub_targets > c.n_neurons - 1) c.hub_targets = c.n_neurons > 1 ? c.n_neurons - 1 : 0;
    double t0 = cf_now();
    cf_spikes *s = NULL;
    double *w = malloc(sizeof(double) * (size_t)c.n_neurons * (size_t)c.n_neurons);
    int *hubs = malloc(sizeof(int) * (size_t)(c.n_hubs > 0 ? c.n_hubs : 1));
    cf_status st = w && hubs ? CF_OK : cf_set_error(CF_ERR_OOM, "out of memory");
    if (st == CF_OK) st = cf_simulate_spikes(&c, &s, w);
    if (st == CF_OK) st = cf_spikes_write_nwb(s, out, w, c.n_neurons, &c);
    if (st == CF_OK) st = cf_sim_hubs(&c, hubs);
    if (st == CF_OK) {
        int64_t edges = 0, inhib = 0;
        for (int64_t i = 0; i < (int64_t)c.n_neurons * c.n_neurons; i++) edges += w[i] != 0, inhib += w[i] < 0;
        double rate = (double)s->n_spikes / (s->t_end - s->t_start) / c.n_neurons;
        printf("simulated %d neurons for %g s: %lld spikes (mean %.2f Hz), %lld edges (%lld inhibitory), hubs", c.n_neurons,
               c.seconds, (long long)s->n_spikes, rate, (long long)edges, (long long)inhib);
        for (int h = 0; h < c.n_hubs; h++) printf(" %d", hubs[h]);
        if (c.stim_gain != 0) printf(", with a shared stimulus,");
        if (s->frames) printf(", with a %dx%d movie of %lld frames,", c.movie_h, c.movie_w, (long long)s->frames->n);
        printf(" in %.2f s\nwrote %s\n", cf_now() - t0, out);
    }
    cf_spikes_free(s);
    free(w);
    free(hubs);
    if (st != CF_OK) {
        fprintf(stderr, "cformer data spikes: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
