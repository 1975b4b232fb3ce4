/* `data.type: icl_regression`: in-context regression prompts drawn on the fly (data/icl/icl.h) from the
 * recipe's data.* keys. The training split is a stream of fresh prompts in index order (data.shuffle: false),
 * so that the N curriculum follows the training step; validation and test are fixed sets of full prompts. */
#include "data/icl/icl.h"
#include "recipes/algoformer/model.h"
#include "recipes/run/limits.h"

#include <string.h>

cf_dataset *cf_icl_factory(void *rl, const char *split)
{
    cf_recipe *r = rl;
    cf_icl_config c = cf_icl_defaults();
    const char *task = cf_recipe_str(r, "data.task", "linear");
    if (task && !cf_icl_task_parse(task, &c.task))
        cf_recipe_fail(r, "data.task", CF_ERR_ARG, "unknown value '%s' (choose from linear, representation)", task);
    c.dim = cf_recipe_int_in(r, "data.dim", c.dim, 1, 4096);
    c.n_max = cf_recipe_int_in(r, "data.n", c.n_max, 1, 1 << 20);
    c.n_start = cf_recipe_int_in(r, "data.n_start", c.n_max, 1, 1 << 20);
    c.n_inc = cf_recipe_int_in(r, "data.n_inc", c.n_inc, 0, 1 << 20);
    c.n_every = cf_recipe_int_in(r, "data.n_every", 0, 0, CF_MAX_STEPS);
    c.noise = cf_recipe_float_in(r, "data.noise", 0, 0, 1e6, CF_RANGE_CLOSED);
    c.seed = (uint64_t)cf_recipe_int_in(r, "data.seed", 1, 0, CF_MAX_SEED);
    c.batch = cf_recipe_int_in(r, "train.batch_size", 8, 1, CF_MAX_ROWS);
    int64_t train_items = cf_recipe_int_in(r, "data.size", CF_MAX_COUNT, 1, CF_MAX_COUNT);
    int64_t eval_items = cf_recipe_int_in(r, "data.eval_items", 1024, 1, CF_MAX_COUNT);
    bool shuffle = cf_recipe_bool(r, "data.shuffle", true);
    if (cf_recipe_status(r) != CF_OK) return NULL;
    if (c.n_start > c.n_max) {
        cf_recipe_fail(r, "data.n_start", CF_ERR_ARG, "%lld is more than data.n %lld", (long long)c.n_start,
                       (long long)c.n_max);
        return NULL;
    }
    if (shuffle) {
        cf_recipe_fail(r, "data.shuffle", CF_ERR_ARG, "icl_regression needs data.shuffle: false (every item is a fresh "
                       "prompt, and the N curriculum follows the item index)");
        return NULL;
    }
    bool train = strcmp(split, "train") == 0;
    cf_dataset *ds = cf_icl_dataset_new(&c, split, train ? train_items : eval_items);
    if (!ds) cf_recipe_fail(r, "data", cf_last_status(), "%s", cf_last_error());
    return ds;
}
