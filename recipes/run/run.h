/* A run: everything a recipe builds (context, model, data, optimizer, schedule) and the jobs on it:
 * train, evaluate, check. The cformer command is a thin layer over these. */
#ifndef CF_RUN_H
#define CF_RUN_H

#include "data/loader.h"
#include "distributed/distributed.h"
#include "recipes/run/model.h"
#include "optim/optim.h"

typedef struct cf_run_options {
    const char *recipe_path;
    int n_sets;
    const char *const *sets;  /* "section.key=value" overrides */
    const char *run_dir;      /* NULL: runs/<recipe name> */
    const char *resume;       /* NULL, "latest" or a checkpoint path */
    const char *init_from;    /* checkpoint whose matching weights start the model */
    int64_t steps;            /* > 0 overrides train.steps */
    int64_t stop_at;          /* > 0: stop after this step (checkpointed), as if the job were killed */
    bool bench;               /* timing run: no checkpoints, no eval, summary line */
    int64_t bench_warmup;
    bool quiet;
} cf_run_options;

typedef struct cf_run {
    cf_recipe *recipe;
    char run_dir[1024];
    cf_ctx *ctx;
    cf_params *params;
    cf_model *model;
    cf_dataset *train_set, *val_set;
    cf_loader *loader;
    cf_optimizer *opt;   /* replicated state, or sharded over the ranks (distributed.zero: 1) */
    cf_optim_config optim_cfg;
    cf_schedule sched;
    cf_pg *pg;           /* ranks of this job (a group of one without mpirun) */
    cf_ddp *ddp;         /* gradient buckets, when world > 1 */
    /* train.* and friends, resolved */
    int64_t steps, batch_size, grad_accum, seed, threads;
    double lr, clip;
    int64_t log_every, eval_every, eval_batches, ckpt_every, ckpt_keep;
    int rank, world;
} cf_run;

/* Loads the recipe, applies overrides, builds everything training needs (with_optimizer) or evaluation
 * needs, and reports unknown keys. On error the message names the recipe file, line and key. */
cf_status cf_run_open(cf_run *run, const cf_run_options *o, bool with_optimizer);
void cf_run_close(cf_run *run);

cf_status cf_train(const cf_run_options *o);
/* Loads ckpt into a run and evaluates the validation split; writes the metrics as one JSON object to
 * out_path (NULL: RUN_DIR/eval.json) and prints a table. */
cf_status cf_evaluate(const cf_run_options *o, const char *ckpt, const char *out_path);
/* Mean loss over (up to max_batches, 0: all) the validation split in order, or the model's own
 * evaluation when it has one. */
cf_status cf_run_evaluate(cf_run *run, int64_t max_batches, cf_metrics *out);
/* Builds everything and reports every problem, without training. */
cf_status cf_recipe_check(const cf_run_options *o);

#endif
