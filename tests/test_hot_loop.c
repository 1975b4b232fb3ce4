/* No malloc in the training hot loop after the first steps: a GPT trained through the loader, the tape,
 * backward (with each recompute mode), clipping and AdamW, with every malloc/calloc/realloc/posix_memalign of our code counted
 * (the link wraps them; see tests/CMakeLists.txt). */
#include "tests/check.h"
#include "data/loader.h"
#include "layers/gpt.h"
#include "optim/optim.h"
#include "recipes/run/model.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_long allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n)
{
    allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    allocs++;
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    allocs++;
    return __real_posix_memalign(p, a, n);
}

int main(void)
{
    cf_register_builtins();
    cf_recipe *r = cf_recipe_parse("model:\n  type: gpt\ndata:\n  type: random_tokens\n  size: 256\n", "hot.yaml");
    CHECK(cf_recipe_set(r, "model.vocab=64") == CF_OK && cf_recipe_set(r, "model.seq=32") == CF_OK);
    CHECK(cf_recipe_set(r, "model.dim=32") == CF_OK && cf_recipe_set(r, "model.layers=2") == CF_OK);
    CHECK(cf_recipe_set(r, "model.dropout=0.1") == CF_OK);
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 2, .arena_bytes = 1 << 20});
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_dataset *ds = cf_dataset_create("random_tokens", &(cf_dataset_config){.recipe = r, .split = "train"});
    cf_model *m = ds ? cf_model_find("gpt")->create(r, ps, &ds->info) : NULL;
    CHECK(m && ds);
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = 4;
    cf_loader *l = cf_loader_create(ds, &lc);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    /* each recompute mode (train.recompute): a segment's rerun keeps to the arena, the tape and the stash */
    for (int mode = CF_RECOMPUTE_NONE; mode <= CF_RECOMPUTE_BLOCK; mode++) {
        cf_set_recompute_mode(ctx, (cf_recompute_mode)mode);
        long before = 0;
        for (int step = 0; step < 10 && l && opt; step++) {
            if (step == 4) before = allocs; /* the first steps size the arena, tape and free lists */
            const cf_batch *b = cf_loader_next(l);
            cf_params_zero_grad(ps);
            cf_tensor *loss = m->vt->loss(m, ctx, b, NULL);
            CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK);
            cf_clip_grad_norm(ps, 1.0);
            cf_optim_step(opt, 1e-3);
            cf_step_reset(ctx);
        }
        long during = allocs - before;
        CHECK(before > 0); /* the wrapping works: setting up did allocate */
        if (during) fprintf(stderr, "recompute mode %d: %ld allocations in 6 steady-state steps\n", mode, during);
        CHECK(during == 0);
    }
    cf_loader_free(l);
    cf_dataset_free(ds);
    cf_optim_free(opt);
    m->vt->free(m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
    cf_recipe_free(r);
    TEST_MAIN_END();
}
