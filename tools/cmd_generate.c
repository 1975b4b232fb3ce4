/* `cformer generate`: samples from a trained model with the model type's own generation (text from a
 * language model, spike trains from a spike model, ...). */
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/paper.h"
#include "recipes/run/run.h"
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer generate [RECIPE] --checkpoint CKPT [--set section.key=value]... [the model's arguments]\n\n"
               "Loads the checkpoint into the recipe's model (without RECIPE: the recipe the checkpoint holds) and runs\n"
               "the model's generation. The model types' own arguments:\n");
    cf_register_builtins();
    for (int i = 0; i < cf_model_count(); i++) {
        const cf_model_vtable *vt = cf_model_at(i);
        if (vt->generate) fprintf(f, "\nmodel.type: %s\n%s", vt->name, vt->generate_usage ? vt->generate_usage : "");
    }
}

int cf_cmd_generate(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cf_run_options o = {0};
    const char *sets[128], *ckpt = NULL;
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    int n_rest = 0;
    if (!rest) return 1;
    rest[n_rest++] = argv[0];
    o.sets = sets;
    /* the generic arguments; everything else is the model's */
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool v = i + 1 < argc;
        if (strcmp(s, "--checkpoint") == 0 && v) ckpt = argv[++i];
        else if (strcmp(s, "--set") == 0 && v && o.n_sets < 128) sets[o.n_sets++] = argv[++i];
        else if (s[0] != '-' && !o.recipe_path && (strstr(s, ".yaml") || strstr(s, ".yml"))) o.recipe_path = s;
        else rest[n_rest++] = argv[i];
    }
    rest[n_rest] = NULL;
    if (!ckpt) {
        fprintf(stderr, "cformer generate: need --checkpoint CKPT (see --help)\n");
        free(rest);
        return 2;
    }
    if (!o.recipe_path) o.recipe_from = ckpt;
    cf_run run;
    cf_status st = cf_run_open(&run, &o, false);
    int rc = 1;
    if (st == CF_OK && !run.model->vt->generate)
        st = cf_set_error(CF_ERR_UNSUPPORTED, "model.type %s has no generation", run.model->vt->name);
    if (st == CF_OK) st = cf_checkpoint_load(ckpt, run.params, 0, NULL, NULL, NULL);
    if (st == CF_OK) st = cf_params_check_finite(run.params, ckpt);
    if (st == CF_OK) rc = run.model->vt->generate(&run, n_rest, rest);
    else fprintf(stderr, "cformer generate: %s\n", cf_last_error());
    cf_run_close(&run);
    free(rest);
    return rc;
}
