/* `cformer simulate spikes`: a spiking circuit with known directed connectivity (data/simulate_spikes.h),
 * written as an NWB-style HDF5 file with the ground truth in /simulation (weights, hubs, baselines, gains). */
#include "cli.h"
#include "data/simulate_spikes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer simulate spikes [--neurons N] [--hubs H] [--seconds S] [--seed S] [--stimulus]\n"
               "                               [--stimulus-gain G] [--trial-s S] [--hub-weight W] [--edge-prob P] -o FILE.h5\n\n"
               "Simulates a Bernoulli GLM circuit (10 ms bins; defaults: 40 neurons, 3 hubs each driving 10 targets,\n"
               "sparse random edges, about 5 Hz, 1000 s) and writes its spikes as an NWB-style HDF5 file, with the\n"
               "ground-truth weights at /simulation/weights (w[i, j]: edge from unit i to unit j) and the hubs at\n"
               "/simulation/hubs. --stimulus adds a shared slow stimulus (gain 1; --stimulus-gain sets it), stored as\n"
               "the behaviour variable \"stimulus\". Deterministic in the seed; the file is written atomically.\n");
}

int cf_cmd_simulate(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "spikes") != 0) {
        usage(stderr);
        return 2;
    }
    cf_sim_config c = cf_sim_defaults();
    const char *out = NULL;
    bool hub_targets_set = false;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc;
        if (strcmp(s, "--neurons") == 0 && v) c.n_neurons = atoi(argv[++i]);
        else if (strcmp(s, "--hubs") == 0 && v) c.n_hubs = atoi(argv[++i]);
        else if (strcmp(s, "--hub-targets") == 0 && v) c.hub_targets = atoi(argv[++i]), hub_targets_set = true;
        else if (strcmp(s, "--seconds") == 0 && v) c.seconds = atof(argv[++i]);
        else if (strcmp(s, "--seed") == 0 && v) c.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(s, "--stimulus") == 0) c.stim_gain = c.stim_gain != 0 ? c.stim_gain : 1.0;
        else if (strcmp(s, "--stimulus-gain") == 0 && v) c.stim_gain = atof(argv[++i]);
        else if (strcmp(s, "--trial-s") == 0 && v) c.trial_s = atof(argv[++i]);
        else if (strcmp(s, "--hub-weight") == 0 && v) c.hub_weight = atof(argv[++i]);
        else if (strcmp(s, "--edge-prob") == 0 && v) c.edge_prob = atof(argv[++i]);
        else if ((strcmp(s, "-o") == 0 || strcmp(s, "--out") == 0) && v) out = argv[++i];
        else {
            fprintf(stderr, "cformer simulate: unexpected argument '%s' (see --help)\n", s);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "cformer simulate: no output file (-o FILE.h5)\n");
        return 2;
    }
    /* small circuits: fewer hub targets than the default 10 when there are not enough neurons */
    if (!hub_targets_set && c.hub_targets > c.n_neurons - 1) c.hub_targets = c.n_neurons > 1 ? c.n_neurons - 1 : 0;
    if (c.n_neurons <= 0) {
        fprintf(stderr, "cformer simulate: --neurons must be positive\n");
        return 2;
    }
    double t0 = cf_cli_now();
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
        printf("%s in %.2f s\nwrote %s\n", c.stim_gain != 0 ? ", with a shared stimulus," : "", cf_cli_now() - t0, out);
    }
    cf_spikes_free(s);
    free(w);
    free(hubs);
    if (st != CF_OK) {
        fprintf(stderr, "cformer simulate: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
