/* The glyph task (data/images/glyphs.h) as a dataset (`data.type: glyphs`, made in memory from a seed) and as
 * IDX files (`cformer data glyphs -o DIR`, read back with data.type: images).
 *
 *   data.train_size   training items                                  (20000)
 *   data.test_size    val/test items (one held-out stream, as IDX's t10k) (5000)
 *   data.glyph_seed   the seed the items are drawn from               (1)
 *   and the `images` dataset's normalisation and augmentation keys (recipes/run/datasets_images.h). */
#include "data/images/glyphs.h"
#include "data/images/idx.h"
#include "recipes/maformer/model.h"
#include "recipes/run/cli_args.h"
#include "recipes/run/datasets_images.h"
#include "recipes/run/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* n items of stream split into freshly malloc'ed pixels [n, 32, 32] and labels [n] */
static cf_status render_all(uint64_t seed, int split, int64_t n, uint8_t **px, int32_t **lab)
{
    const int64_t P = CF_GLYPHS_SIDE * CF_GLYPHS_SIDE;
    *px = malloc((size_t)(n * P)), *lab = malloc(sizeof **lab * (size_t)n);
    if (!*px || !*lab) {
        free(*px), free(*lab), *px = NULL, *lab = NULL;
        return cf_set_error(CF_ERR_OOM, "glyphs: out of memory for %lld images", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) cf_glyphs_render(seed, split, i, *px + i * P, *lab + i, NULL);
    return CF_OK;
}

cf_dataset *cf_glyphs_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    bool train = cf_images_split_train_items(split);
    int64_t ntrain = cf_recipe_int_in(r, "data.train_size", 20000, 1, 1 << 24);
    int64_t ntest = cf_recipe_int_in(r, "data.test_size", 5000, 1, 1 << 24);
    uint64_t gseed = (uint64_t)cf_recipe_int_in(r, "data.glyph_seed", 1, 0, CF_MAX_SEED);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    int64_t n = train ? ntrain : ntest;
    uint8_t *px;
    int32_t *lab;
    if (render_all(gseed, train ? CF_GLYPHS_TRAIN : CF_GLYPHS_TEST, n, &px, &lab) != CF_OK) return NULL;
    char name[128];
    snprintf(name, sizeof name, "glyphs seed %llu [%s]", (unsigned long long)gseed, split);
    return cf_images_dataset_from_memory(r, cf_images_split_augmented(split), px, lab, n, CF_GLYPHS_SIDE, CF_GLYPHS_SIDE, 1, CF_GLYPHS_CLASSES, name);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer data glyphs -o DIR [--train N] [--test N] [--seed S]\n"
               "  writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte: MAFormer's glyph task (32 x 32 grey, 8\n"
               "  classes; data/images/glyphs.h), the items data.type: glyphs makes in memory with the same seed;\n"
               "  read them with data.type: images, data.path: DIR. Defaults 20000 / 5000 items, seed 1.\n");
}

static cf_status write_split(const char *dir, const char *stem, uint64_t seed, int split, int64_t n)
{
    uint8_t *px;
    int32_t *lab;
    CF_TRY(render_all(seed, split, n, &px, &lab));
    uint8_t *lb = malloc((size_t)n);
    cf_status st = lb ? CF_OK : cf_set_error(CF_ERR_OOM, "glyphs: out of memory");
    for (int64_t i = 0; lb && i < n; i++) lb[i] = (uint8_t)lab[i];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, stem);
    if (st == CF_OK) st = cf_idx_write(path, 3, (int64_t[]){n, CF_GLYPHS_SIDE, CF_GLYPHS_SIDE}, px);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, stem);
    if (st == CF_OK) st = cf_idx_write(path, 1, (int64_t[]){n}, lb);
    free(px), free(lab), free(lb);
    return st;
}

int cf_glyphs_cmd(int argc, char **argv)
{
    const char *cmd = "data glyphs", *out = NULL;
    int64_t seed = 1, ntrain = 20000, ntest = 5000;
    const cf_cli_opt opts[] = {
        CF_CLI_OPT_INT("--seed", &seed, 0, CF_MAX_SEED), CF_CLI_OPT_INT("--train", &ntrain, 1, 1 << 24),
        CF_CLI_OPT_INT("--test", &ntest, 1, 1 << 24),    CF_CLI_OPT_OUT(&out),
    };
    int rc = cf_cli_parse(cmd, argc, argv, opts, CF_CLI_COUNT(opts), usage);
    if (rc != CF_CLI_GO) return rc;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cformer %s: cannot create %s: %s\n", cmd, out, strerror(errno));
        return 1;
    }
    if (write_split(out, "train", (uint64_t)seed, CF_GLYPHS_TRAIN, ntrain) != CF_OK ||
        write_split(out, "t10k", (uint64_t)seed, CF_GLYPHS_TEST, ntest) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    printf("wrote %s/{train,t10k}-{images-idx3,labels-idx1}-ubyte (%lld / %lld glyph images, seed %lld)\n", out,
           (long long)ntrain, (long long)ntest, (long long)seed);
    return 0;
}
