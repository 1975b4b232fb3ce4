/* The synthetic galaxies (data/images/galaxies.h) as a dataset (`data.type: galaxies`, made in memory from a
 * seed) and as a Galaxy10-layout HDF5 file (`cformer data galaxies -o FILE.h5`, read back with
 * data.type: images, data.format: h5).
 *
 *   data.train_size   training items                          (2000)
 *   data.test_size    val/test items (one held-out stream)    (2000)
 *   data.galaxy_seed  the seed the items are drawn from       (1)
 *   and the `images` dataset's normalisation and augmentation keys (recipes/run/datasets_images.h). */
#include "data/images/galaxies.h"
#include "recipes/astroformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/datasets_images.h"
#include "recipes/run/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cf_dataset *cf_galaxies_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    bool train = cf_images_split_train_items(split);
    int64_t ntrain = cf_recipe_int_in(r, "data.train_size", 2000, 1, 1 << 22);
    int64_t ntest = cf_recipe_int_in(r, "data.test_size", 2000, 1, 1 << 22);
    uint64_t gseed = (uint64_t)cf_recipe_int_in(r, "data.galaxy_seed", 1, 0, CF_MAX_SEED);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    int64_t n = train ? ntrain : ntest, P = CF_GALAXY_SIDE * CF_GALAXY_SIDE * 3;
    uint8_t *px = malloc((size_t)(n * P));
    int32_t *lab = malloc(sizeof *lab * (size_t)n);
    if (!px || !lab) {
        free(px), free(lab);
        cf_set_error(CF_ERR_OOM, "galaxies: out of memory for %lld images", (long long)n);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) cf_galaxy_render(gseed, train ? CF_GALAXY_TRAIN : CF_GALAXY_TEST, i, px + i * P, lab + i, NULL);
    char name[128];
    snprintf(name, sizeof name, "galaxies seed %llu [%s]", (unsigned long long)gseed, split);
    return cf_images_dataset_from_memory(r, cf_images_split_augmented(split), px, lab, n, CF_GALAXY_SIDE, CF_GALAXY_SIDE, 3, CF_GALAXY_CLASSES, name);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data galaxies -o FILE.h5 [--n N] [--seed S] [--test]\n"
               "  writes N synthetic galaxies (64 x 64 x 3, the ten Galaxy10 DECaLS classes; data/images/galaxies.h)\n"
               "  as HDF5 with `images` uint8 [N, 64, 64, 3] and `ans` uint8 [N], the Galaxy10 DECaLS layout; read it\n"
               "  with data.type: images, data.format: h5. --test draws the held-out stream that data.type: galaxies\n"
               "  uses for val/test. Defaults: N 2000, seed 1.\n");
}

int cf_galaxies_cmd(int argc, char **argv)
{
    const char *cmd = "data galaxies", *out = NULL;
    int64_t seed = 1, n = 2000;
    bool test = false;
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED), CF_CLI_OPT_INT("--n", &n, 1, 1 << 22),
        CF_CLI_OPT_FLAG("--test", &test),                CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse(cmd, argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    if (cf_galaxies_write_h5(out, n, (uint64_t)seed, test ? CF_GALAXY_TEST : CF_GALAXY_TRAIN) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("wrote %s (%lld synthetic galaxies, seed %lld, %s stream; datasets images, ans)\n", out, (long long)n,
           (long long)seed, test ? "held-out" : "training");
    return 0;
}
