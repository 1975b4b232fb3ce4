/* Models by name: what a recipe's `model.type` selects. A model reads its own `model.*` keys, adds its
 * parameters, and turns a batch into a loss; evaluation and generation are optional. */
#ifndef CF_MODEL_H
#define CF_MODEL_H

#include "data/dataset.h"
#include "layers/params.h"
#include "recipes/recipe/recipe.h"

#define CF_METRICS_MAX 48

typedef struct cf_metrics {
    int n;
    char name[CF_METRICS_MAX][32];
    double value[CF_METRICS_MAX];
} cf_metrics;

void cf_metrics_set(cf_metrics *m, const char *name, double value);
bool cf_metrics_get(const cf_metrics *m, const char *name, double *value);

typedef struct cf_model cf_model;

typedef struct cf_model_vtable {
    const char *name;
    const char *summary;
    /* Reads model.* keys (and any other key it needs), adds its parameters to ps. NULL on error. */
    cf_model *(*create)(cf_recipe *r, cf_params *ps);
    /* Forward and loss of one batch (a scalar); per-batch metrics may be added to out. */
    cf_tensor *(*loss)(cf_model *m, cf_ctx *ctx, const cf_batch *b, cf_metrics *out);
    /* Items (tokens, samples) in one batch, for throughput. */
    int64_t (*items)(cf_model *m, const cf_batch *b);
    /* Training FLOPs per item (optional, for MFU). */
    double (*flops_per_item)(cf_model *m);
    /* Evaluation over a whole split (optional: the default is the mean loss over the split's batches). */
    cf_status (*evaluate)(cf_model *m, cf_ctx *ctx, cf_dataset *ds, cf_recipe *r, cf_metrics *out);
    void (*free)(cf_model *m);
    /* Writes the last evaluation's results to path as JSON, for `cformer eval` (optional: the default
     * writes the flat metrics). flat holds the metrics evaluate returned (plus the step). */
    cf_status (*write_eval)(cf_model *m, const char *path, const cf_metrics *flat);
} cf_model_vtable;

struct cf_model {
    const cf_model_vtable *vt;
};

/* Registering a name twice replaces the first (tests register fakes). */
cf_status cf_model_register(const cf_model_vtable *vt);
const cf_model_vtable *cf_model_find(const char *name);
int cf_model_count(void);
const cf_model_vtable *cf_model_at(int i);
/* value of key resolved as a path: relative to the recipe file's folder when the key came from the file,
 * to the working directory when it came from --set. Returns value or buf. */
const char *cf_recipe_path(cf_recipe *r, const char *key, const char *value, char *buf, size_t n);
/* Registers the built-in models and datasets once (idempotent). */
void cf_register_builtins(void);

#endif
