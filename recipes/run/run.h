/* A run: everything a recipe builds (context, model, data, optimizer, schedule) and the jobs on it:
 * train, evaluate, check. The cformer command is a thin layer over these. */
#ifndef CF_RUN_H
#define CF_RUN_H

#include "data/loader.h"
#include "distributed/distributed.h"
#include "recipes/run/model.h"
#include "optim/optim.h"

typedef struct cf_run_options {
    const char *recipe_path;  /* NULL: the recipe stored in recipe_from (a checkpoint) */
    const char *recipe_from;  /* with recipe_path NULL: a checkpoint whose resolved recipe the run uses */
    int n_sets;
    const char *const *sets;  /* "section.key=value" overrides */
    const char *run_dir;      /* NULL: runs/<recipe name> */
    const char *resume;       /* NULL, "latest" or a checkpoint path */
    bool overwrite;           /* a fresh run may replace an earlier run's outputs in run_dir (else refused) */
    bool allow_recipe_change; /* a resume may change keys that change the trajectory (else refused, naming them) */
    const char *init_from;    /* checkpoint whose matching weights start the model */
    int64_t steps;            /* > 0 overrides train.steps */
    int64_t stop_at;          /* > 0: stop after this step (checkpointed), as if the job were killed */
    bool bench;               /* timing run: no checkpoints, no eval, summary line */
    bool profile;             /* bench only: per-op times of the timed steps (cf_ctx_profile) */
    int64_t bench_warmup;
    /* bench only: called on rank 0 before the tokens_per_s line with the items (tokens) and seconds of one
     * timed step and the number of steps run in all (warm-up included), to print more of the benchmark */
    void (*bench_report)(void *user, double items_per_step, double step_s, int64_t steps_run);
    void *bench_user;
    bool quiet;
    /* recipe check: the parameters are shapes only (cf_params_new_shapes) and nothing sized by them is made (no
     * optimizer state, gradient buckets, device copies or bf16 working copies); their keys and limits are still
     * checked. The run can then only be inspected and closed. */
    bool shapes_only;
} cf_run_options;

typedef struct cf_run {
    cf_recipe *recipe;
    char run_dir[1024];
    char recipe_file[1024]; /* the recipe file's absolute path (for a checkpoint's recipe: the file it came from) */
    cf_ctx *ctx;
    cf_params *params;
    cf_model *model;
    cf_dataset *train_set, *val_set; /* both always open: train_set->info is what the model was built for */
    cf_loader *loader;
    cf_optimizer *opt;   /* replicated state, or sharded over the ranks (distributed.zero: 1) */
    cf_optim_config optim_cfg;
    cf_schedule sched;
    cf_pg *pg;           /* ranks of this job (a group of one without mpirun) */
    cf_ddp *ddp;         /* gradient buckets, when world > 1 (or zero, or nccl) */
    cf_nccl *nccl;       /* distributed.backend: nccl (train.device: cuda), else NULL */
    /* train.* and friends, resolved */
    int64_t steps, batch_size, grad_accum, seed, threads;
    bool nonfinite_skip;   /* train.nonfinite: skip (drop a step whose loss or gradient is not finite) | stop */
    double lr, clip;
    int64_t log_every, ckpt_every, ckpt_keep;
    /* the eval section's run-level keys: the validation loss every eval_every steps over eval_batches batches
     * (0: all) of eval_batch_size rows; the split `cformer eval` scores */
    int64_t eval_every, eval_batches, eval_batch_size;
    const char *eval_split;
    int rank, world;
    cf_device device; /* train.device: where training runs (the parameters, the optimizer state, each batch) */
} cf_run;

/* Loads the recipe, applies overrides, builds everything training needs (with_optimizer) or evaluation
 * needs, and reports unknown keys. On error the message names the recipe file, line and key. */
cf_status cf_run_open(cf_run *run, const cf_run_options *o, bool with_optimizer);
void cf_run_close(cf_run *run);

cf_status cf_train(const cf_run_options *o);
/* Loads ckpt into a run and evaluates eval.split with the model's evaluation (the validation loss when it has
 * none); writes the metrics as one JSON object to out_path (NULL: RUN_DIR/eval.json) and prints a table. Without
 * o->recipe_path the checkpoint's own resolved recipe is used (--set still overrides). out_path may not be ckpt. */
cf_status cf_evaluate(const cf_run_options *o, const char *ckpt, const char *out_path);
/* The validation loss: the mean loss over (up to eval.batches of) ds in order, without gradients, as
 * "<prefix>_loss" and "<prefix>_items" ("loss", "items" for prefix ""). What training logs every eval.every
 * steps (as val_loss, val_items: cf_progress_log_eval prefixes val_). */
cf_status cf_run_validate(cf_run *run, cf_dataset *ds, const char *prefix, cf_metrics *out);
/* Opens another split of the run's dataset (data.type's factory with the run's recipe); caller frees. */
cf_dataset *cf_run_open_split(cf_run *run, const char *split);
/* The resolved recipe as the run saves it (RUN_DIR/recipe.yaml, checkpoints): a first comment line names the
 * recipe file it came from, so `cformer eval CKPT` resolves its relative paths as the file did. Caller frees. */
char *cf_run_recipe_text(const cf_run *run);
/* Opens the run with its parameters as shapes only (o->shapes_only) and reports every problem without training;
 * prints "<recipe>: ok (N parameters)", the memory training needs per rank, and the resolved recipe. Its memory
 * does not grow with the model's size. */
cf_status cf_recipe_check(const cf_run_options *o);

#endif
