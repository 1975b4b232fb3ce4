/* `cformer spikes generate`: autoregressive spike generation with a trained Neuroformer (window by window), written
 * as an NWB-style HDF5 file. */
#include "tools/cli.h"
#include "data/spikes/spike_metrics.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/neuroformer/model.h"
#include "recipes/run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer spikes generate RECIPE --checkpoint CKPT -o GEN.h5 [--seconds S] [--true-past]\n"
               "                               [--split test|val|train] [--temperature T] [--top-k K] [--top-p P]\n"
               "                               [--seed S] [--batch B] [--no-cache] [--set section.key=value]...\n\n"
               "Generates the spikes of the split's windows in time order (default: the first 10 s of the test split),\n"
               "token by token with the KV cache. Each window is conditioned on the model's OWN previous window (true\n"
               "spikes only before the first generated window), or on the true one with --true-past. Spike time =\n"
               "window start + dt class x dt. A model with frame layers sees each window's frame clip (its tokens' keys\n"
               "and values made once per window). Writes the generated spikes (NWB-style: /units/spike_times) and prints\n"
               "the window F1 against the true spikes. --no-cache recomputes the prefix at every token (the reference).\n");
}

int cf_cmd_spikes(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "generate") != 0) {
        usage(stderr);
        return 2;
    }
    cf_run_options o = {0};
    const char *sets[128], *ckpt = NULL, *out = NULL, *split = "test";
    cf_nf_gen_options go = {.sample = {.temperature = 1.0, .top_p = 1.0, .seed = 1, .use_cache = true}, .seconds = 10, .batch = 64};
    o.sets = sets;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc;
        if (strcmp(s, "--checkpoint") == 0 && v) ckpt = argv[++i];
        else if ((strcmp(s, "-o") == 0 || strcmp(s, "--out") == 0) && v) out = argv[++i];
        else if (strcmp(s, "--seconds") == 0 && v) go.seconds = atof(argv[++i]);
        else if (strcmp(s, "--true-past") == 0) go.true_past = true;
        else if (strcmp(s, "--split") == 0 && v) split = argv[++i];
        else if (strcmp(s, "--temperature") == 0 && v) go.sample.temperature = atof(argv[++i]);
        else if (strcmp(s, "--top-k") == 0 && v) go.sample.top_k = atoll(argv[++i]);
        else if (strcmp(s, "--top-p") == 0 && v) go.sample.top_p = atof(argv[++i]);
        else if (strcmp(s, "--seed") == 0 && v) go.sample.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(s, "--batch") == 0 && v) go.batch = atoll(argv[++i]);
        else if (strcmp(s, "--no-cache") == 0) go.sample.use_cache = false;
        else if (strcmp(s, "--set") == 0 && v && o.n_sets < 128) sets[o.n_sets++] = argv[++i];
        else if (s[0] != '-' && !o.recipe_path) o.recipe_path = s;
        else {
            fprintf(stderr, "cformer spikes generate: unexpected argument '%s' (see --help)\n", s);
            return 2;
        }
    }
    if (!o.recipe_path || !ckpt || !out) {
        fprintf(stderr, "cformer spikes generate: need RECIPE, --checkpoint CKPT and -o FILE (see --help)\n");
        return 2;
    }
    cf_run run;
    cf_status st = cf_run_open(&run, &o, false);
    cf_dataset *ds = NULL;
    cf_nf_generation g = {0};
    cf_spikes *gen = NULL;
    if (st == CF_OK && !cf_neuroformer_of(run.model)) st = cf_set_error(CF_ERR_ARG, "spikes generate needs model.type neuroformer");
    if (st == CF_OK) st = cf_checkpoint_load(ckpt, run.params, 0, NULL, NULL, NULL);
    cf_spike_source src;
    if (st == CF_OK) st = cf_spike_source_from_recipe(run.recipe, &src);
    if (st == CF_OK && !(ds = cf_spike_source_open(&src, split, false))) st = cf_last_status();
    double t0 = cf_cli_now();
    if (st == CF_OK) st = cf_neuroformer_generate_split(run.model, run.ctx, ds, &go, &g);
    int n_units = st == CF_OK ? (int)cf_neuroformer_of(run.model)->cfg.n_units : 0;
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
               (long long)g.true_off[g.windows], counted ? f1 / (double)counted : 0.0, cf_cli_now() - t0, out);
    }
    cf_spikes_free(gen);
    cf_nf_generation_free(&g);
    cf_dataset_free(ds);
    cf_run_close(&run);
    if (st != CF_OK) {
        fprintf(stderr, "cformer spikes generate: %s\n", cf_last_error());
        return 1;
    }
    return 0;
}
