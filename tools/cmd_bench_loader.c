/* `cformer bench loader RECIPE [--batches N] [--batch-size B]`: how many items per second the recipe's
 * training data reaches the step through the prefetching loader (decoding and augmentation included),
 * with a step that does nothing, so the number is the loader's ceiling to set against a training step's
 * time. Prints as its last line items_per_s=<x> batch_ms=<y>. */
#include "autograd/clock.h"
#include "data/loader.h"
#include "recipes/recipe/recipe.h"
#include "recipes/run/model.h"
#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: cformer bench loader RECIPE [--batches N] [--batch-size B]\n\n"
               "Draws N batches (default 200) of the recipe's training split through the prefetching loader\n"
               "and prints items_per_s=<x> batch_ms=<y>.\n");
    return rc;
}

int cf_cmd_bench_loader(int argc, char **argv)
{
    if (cf_cli_wants_help(argc, argv)) return usage(stdout, 0);
    if (argc < 2) return usage(stderr, 2);
    int64_t batches = 200, bs = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) {
            if (!cf_cli_int("bench loader", argv[i], argv[i + 1], 1, 1000000, &batches)) return 2;
            i++;
        } else if (strcmp(argv[i], "--batch-size") == 0 && i + 1 < argc) {
            if (!cf_cli_int("bench loader", argv[i], argv[i + 1], 1, 1 << 20, &bs)) return 2;
            i++;
        } else {
            fprintf(stderr, "cformer bench loader: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    cf_register_builtins();
    cf_recipe *r = cf_recipe_load(argv[1]);
    if (!r) return fprintf(stderr, "cformer bench loader: %s\n", cf_last_error()), 1;
    const char *slash = strrchr(argv[1], '/');
    if (slash) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - argv[1]), argv[1]);
        cf_recipe_set_base_dir(r, dir);
    }
    if (!bs) bs = cf_recipe_int_in(r, "train.batch_size", 32, 1, 1 << 20);
    cf_dataset *ds = cf_dataset_create(cf_recipe_str(r, "data.type", "text"), &(cf_dataset_config){r, "train"});
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = (int)bs;
    cf_loader *l = ds ? cf_loader_create(ds, &lc) : NULL;
    int rc = 1;
    if (l && cf_loader_next(l)) { /* the first batch (and the prefetch thread's start) is not timed */
        double t0 = cf_now();
        int64_t k = 0;
        while (k < batches && cf_loader_next(l)) k++;
        double dt = cf_now() - t0;
        if (k == batches) {
            printf("cformer bench loader: %s, %lld batches of %lld\n", ds->name, (long long)k, (long long)bs);
            printf("items_per_s=%.0f batch_ms=%.3f\n", (double)(k * bs) / dt, 1e3 * dt / (double)k);
            rc = 0;
        }
    }
    if (rc) fprintf(stderr, "cformer bench loader: %s\n", cf_last_error());
    cf_loader_free(l);
    cf_dataset_free(ds);
    cf_recipe_free(r);
    return rc;
}
