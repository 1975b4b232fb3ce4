/* Models by name: what a recipe's `model.type` selects. A model reads its own `model.*` keys, adds its
 * parameters, and turns a batch into a loss; evaluation and generation are optional. */
#ifndef CF_MODEL_H
#define CF_MODEL_H

#include "data/dataset.h"
#include "layers/params.h"
#include "recipes/recipe/recipe.h"

#define CF_METRICS_MAX 256
#define CF_METRIC_NAME_MAX 64 /* bytes, with the terminating NUL */

struct cf_run;

/* The flat name -> value report of a training step or an evaluation (eval.json, metrics.jsonl). A metric that
 * does not fit (more than CF_METRICS_MAX names, or a name of CF_METRIC_NAME_MAX bytes or more) is never
 * written truncated or left out silently: it is counted in `dropped`, and cf_metrics_check fails naming the
 * first one, so the evaluation that produced it fails instead of writing an incomplete report. */
typedef struct cf_metrics {
    int n;
    char name[CF_METRICS_MAX][CF_METRIC_NAME_MAX];
    double value[CF_METRICS_MAX];
    int dropped;
    char first_dropped[CF_METRIC_NAME_MAX];
} cf_metrics;

void cf_metrics_set(cf_metrics *m, const char *name, double value);
bool cf_metrics_get(const cf_metrics *m, const char *name, double *value);
/* CF_OK, or CF_ERR_INTERNAL naming the first metric that did not fit and how many did not. */
cf_status cf_metrics_check(const cf_metrics *m);

typedef struct cf_model cf_model;

/* What a model's full evaluation is handed: everything is open already (the evaluation re-opens nothing). */
typedef struct cf_eval_input {
    cf_recipe *recipe;          /* the run's recipe (the evaluation's own keys were read by create) */
    const cf_data_info *info;   /* the training data's info, as create got it */
    cf_dataset *split;          /* the split to score: eval.split */
    const char *split_name;     /* "val", "test", ... (metric names may carry it) */
    cf_dataset *train;          /* the training split, for baselines fit on training data */
    int64_t batch_size;         /* rows per forward pass: eval.batch_size */
} cf_eval_input;

/* One model type: what a recipe's `model.type` selects. A paper registers its models (recipes/papers.def).
 *
 *     cf_model *m = vt->create(recipe, params, &train_set->info);   // reads model.* and eval.* keys only
 *     cf_tensor *l = vt->loss(m, ctx, batch, &metrics);            // every training step
 *     vt->evaluate(m, ctx, &(cf_eval_input){...}, &metrics);       // `cformer eval`
 */
typedef struct cf_model_vtable {
    const char *name;
    const char *summary;
    /* Reads its model.* keys and its evaluation's eval.* keys (every key it will ever read, so a misspelt one
     * is refused before training starts) and adds its parameters to ps. Sizes that come from the data (vocabulary,
     * neurons, frame size) come from info: create opens no file. NULL on error. */
    cf_model *(*create)(cf_recipe *r, cf_params *ps, const cf_data_info *info);
    /* Forward and loss of one batch (a scalar); per-batch metrics may be added to out. */
    cf_tensor *(*loss)(cf_model *m, cf_ctx *ctx, const cf_batch *b, cf_metrics *out);
    /* Items (tokens, samples) in one batch, for throughput. */
    int64_t (*items)(cf_model *m, const cf_batch *b);
    /* Training FLOPs per item (optional, for MFU). */
    double (*flops_per_item)(cf_model *m);
    /* The paper's evaluation of in->split (`cformer eval`). Optional: without it `cformer eval` reports the
     * validation loss, as training does every eval.every steps. */
    cf_status (*evaluate)(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);
    void (*free)(cf_model *m);
    /* Writes the last evaluation's results to path as JSON, for `cformer eval` (optional: the default
     * writes the flat metrics). flat holds the metrics evaluate returned (plus the step). */
    cf_status (*write_eval)(cf_model *m, const char *path, const cf_metrics *flat);
    /* The split `cformer eval` scores when the recipe has no eval.split (NULL: "val"). */
    const char *eval_split;
    /* `cformer generate RECIPE --checkpoint CKPT [args]` (optional): samples from the loaded model. argv holds the
     * arguments the generic command did not take (argv[0] is "generate"); returns a process exit code. */
    int (*generate)(struct cf_run *run, int argc, char **argv);
    /* Usage lines of generate's own arguments, for `cformer generate --help`. */
    const char *generate_usage;
} cf_model_vtable;

struct cf_model {
    const cf_model_vtable *vt;
};

/* Registering a name twice replaces the first (tests register fakes). */
cf_status cf_model_register(const cf_model_vtable *vt);
const cf_model_vtable *cf_model_find(const char *name);
int cf_model_count(void);
const cf_model_vtable *cf_model_at(int i);
/* Registers the built-in models and datasets (the random_tokens dataset and every paper of
 * recipes/papers.def) once; idempotent. */
void cf_register_builtins(void);

#endif
