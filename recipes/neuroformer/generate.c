/* `cformer generate` for a Neuroformer recipe: autoregressive spike generation over a split, written as an NWB-style HDF5 file, with the window F1 against the
 * true spikes. */
#include "autograd/clock.h"
#include "data/spikes/spike_metrics.h"
#include "recipes/neuroformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/limits.h"
#include "recipes/run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cf_neuroformer_generate_cmd(cf_run *run, int argc, char **argv)
{
    const char *out = NULL, *split = "test";
    cf_nf_gen_options go = {.sample = {.temperature = 1.0, .top_p = 1.0, .seed = 1, .use_cache = true}, .seconds = 10, .batch = 64};
    cf_cli_sampling sm = {.temperature = go.sample.temperature, .top_p = go.sample.top_p, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc, ok = true;
        int sampling = cf_cli_sampling_arg(argc, argv, &i, &sm);
        if (sampling) ok = sampling > 0;
        else if ((strcmp(s, "-o") == 0 || strcmp(s, "--out") == 0) && v) out = argv[++i];
        else if (strcmp(s, "--seconds") == 0 && v) /* 0: all of the split */
            ok = cf_cli_float("generate", s, argv[++i], 0, 1e9, CF_RANGE_CLOSED, &go.seconds);
        else if (strcmp(s, "--true-past") == 0) go.true_past = true;
        else if (strcmp(s, "--split") == 0 && v) split = argv[++i];
        else if (strcmp(s, "--batch") == 0 && v) ok = cf_cli_int("generate", s, argv[++i], 1, CF_MAX_ROWS, &go.batch);
        else if (strcmp(s, "--no-cache") == 0) go.sample.use_cache = false;
        else {
            fprintf(stderr, "cformer generate: unexpected argument '%s' (see --help)\n", s);
            return 2;
        }
        if (!ok) return 2;
    }
    go.sample.temperature = sm.temperature, go.sample.top_p = sm.top_p, go.sample.top_k = sm.top_k;
    go.sample.seed = (uint64_t)sm.seed;
    if (!out) {
        fprintf(stderr, "cformer generate: a Neuroformer writes its spikes to a file: give -o FILE.h5 (see --help)\n");
        return 2;
    }
    cf_dataset *ds = cf_run_open_split(run, split);
    cf_nf_generation g = {0};
    cf_spikes *gen = NULL;
    cf_status st = ds ? CF_OK : cf_last_status();
    double t0 = cf_now();
    if (st == CF_OK) st = cf_neuroformer_generate_split(run->model, run->ctx, ds, &go, &g);
    int n_units = st == CF_OK ? (int)cf_neuroformer_of(run->model)->cfg.n_units : 0;
    if (st == CF_OK && !(gen = cf_nf_generation_spikes(&g, n_units, false))) st = cf_last_status();
    if (st == CF_OK) st = cf_spikes_write_nwb(gen, out, NULL, 0, NULL);
    if (st == CF_OK) {
        double f1 = 0;
        int64_t counted = 0;
        for (int64_t w = 0; w < g.windows; w++) {
            cf_f1 f;
            if (cf_window_f1(g.true_unit + g.true_off[w], g.true_off[w + 1] - g.true_off[w], g.gen_unit + g.gen_off[w],
                             g.gen_off[w + 1] - g.gen_off[w], CF_F1_SET, &f) == CF_OK)
                f1 += f.f1, counted++;
        }
        printf("generated %lld windows (%.2f s to %.2f s, %s past): %lld spikes (true: %lld), window F1 %.4f, in %.1f s\n"
               "wrote %s\n",
               (long long)g.windows, g.t_from, g.t_to, go.true_past ? "true" : "own", (long long)g.gen_off[g.windows],
               (long long)g.true_off[g.windows], counted ? f1 / (double)counted : 0.0, cf_now() - t0, out);
    }
    cf_spikes_free(gen);
    cf_nf_generation_free(&g);
    cf_dataset_free(ds);
    if (st != CF_OK) {
        fprintf(stderr, "cformer generate: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
