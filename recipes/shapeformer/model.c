/* `model.type: shapeformer` (Le et al., KDD 2024; keys in recipes/shapeformer/README.md): the full model
 * and its single-branch ablations (model.branches: both, generic, shapelet). */
#include "recipes/run/limits.h"
#include "recipes/shapeformer/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cf_model base;
    cf_shapeformer net;
    cf_shapelet_config discovery;
} sf_model;

static cf_status config_from_recipe(cf_recipe *r, const cf_data_info *info, cf_shapeformer_config *c,
                                    cf_shapelet_config *d)
{
    memset(c, 0, sizeof *c);
    const char *branches = cf_recipe_str(r, "model.branches", "both");
    c->dims = info->units, c->length = info->seq, c->classes = info->vocab;
    c->per_class = cf_recipe_int_in(r, "model.shapelets_per_class", 3, 1, 1024);
    c->shapelet_max = cf_recipe_int_in(r, "model.shapelet_max", 40, 2, CF_MAX_SEQ);
    c->search = cf_recipe_int_in(r, "model.search_window", 20, 0, CF_MAX_SEQ);
    c->es = cf_recipe_int_in(r, "model.shapelet_dim", 32, 1, CF_MAX_DIM);
    c->el = cf_recipe_int_in(r, "model.generic_dim", 16, 1, CF_MAX_DIM);
    c->heads = cf_recipe_int_in(r, "model.heads", 4, 1, CF_MAX_DIM);
    c->hidden = cf_recipe_int_in(r, "model.hidden", 64, 1, CF_MAX_HIDDEN);
    c->dropout = cf_recipe_float_in(r, "model.dropout", 0.2, 0, 1, CF_RANGE_OPEN_HI);
    d->per_class = c->per_class;
    d->window = cf_recipe_int_in(r, "model.discovery_window", 10, 0, CF_MAX_SEQ);
    d->max_len = c->shapelet_max;
    d->num_pip = cf_recipe_float_in(r, "model.num_pip", 0.2, 0, 1, CF_RANGE_OPEN_LO);
    CF_TRY(cf_recipe_status(r));
    if (strcmp(branches, "both") && strcmp(branches, "generic") && strcmp(branches, "shapelet"))
        return cf_recipe_fail(r, "model.branches", CF_ERR_ARG, "unknown value '%s' (choose from both, generic, shapelet)",
                              branches);
    c->shapelet_branch = strcmp(branches, "generic") != 0;
    c->generic_branch = strcmp(branches, "shapelet") != 0;
    if (c->dims < 1 || c->length < 3 || c->classes < 2)
        return cf_recipe_fail(r, "data.type", CF_ERR_ARG, "the data gives no labelled series (use data.type: ts)");
    if (c->es % c->heads || c->el % c->heads)
        return cf_recipe_fail(r, "model.heads", CF_ERR_ARG, "%lld does not divide model.shapelet_dim (%lld) and "
                              "model.generic_dim (%lld)", (long long)c->heads, (long long)c->es, (long long)c->el);
    return CF_OK;
}

static cf_model *create(cf_recipe *r, cf_params *ps, const cf_data_info *info)
{
    sf_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "shapeformer: out of memory");
        return NULL;
    }
    m->base.vt = &cf_shapeformer_model;
    cf_shapeformer_config c;
    cf_status st = config_from_recipe(r, info, &c, &m->discovery);
    if (st == CF_OK) st = cf_shapeformer_init(&m->net, ps, &c);
    if (st != CF_OK) {
        free(m);
        return NULL;
    }
    return &m->base;
}

/* Discovery on the training split the batch came from (once; the result lives in the parameters). */
static cf_status discover(sf_model *m, const cf_batch *b)
{
    cf_ts_dense_view v;
    if (!cf_ts_dataset_view(b->owner, &v) || strcmp(v.split, "train") != 0)
        return cf_set_error(CF_ERR_STATE, "shapeformer: the shapelets are not discovered yet and this batch is not from "
                            "the `ts` training split (train first, or evaluate a checkpoint)");
    int64_t M = m->net.M;
    cf_shapelet *sh = malloc((size_t)M * sizeof *sh);
    if (!sh) return cf_set_error(CF_ERR_OOM, "shapeformer: out of memory");
    cf_status st = cf_shapelets_discover(v.x, v.y, v.n, v.dims, v.length, v.classes, &m->discovery, sh);
    if (st == CF_OK) st = cf_shapeformer_set_shapelets(&m->net, sh, v.x, v.n);
    if (st == CF_OK) {
        fprintf(stderr, "shapeformer: %lld shapelets discovered on %lld training series:", (long long)M, (long long)v.n);
        for (int64_t i = 0; i < M; i++)
            fprintf(stderr, "%s c%lld:d%lld[%lld,%lld)", i % 4 ? "" : "\n ", (long long)sh[i].label, (long long)sh[i].dim,
                    (long long)sh[i].start, (long long)sh[i].end);
        fprintf(stderr, "\n");
    }
    free(sh);
    return st;
}

cf_tensor *cf_shapeformer_batch_logits(cf_model *mb, cf_ctx *ctx, const cf_batch *b);
cf_tensor *cf_shapeformer_batch_logits(cf_model *mb, cf_ctx *ctx, const cf_batch *b)
{
    sf_model *m = (sf_model *)mb;
    if (!cf_shapeformer_has_shapelets(&m->net) && discover(m, b) != CF_OK) return NULL;
    return cf_shapeformer_logits(ctx, &m->net, cf_batch_get(b, "series"));
}

int64_t cf_shapeformer_correct(const cf_tensor *logits, const cf_tensor *label, int64_t *confusion, int64_t classes);

static cf_tensor *loss(cf_model *mb, cf_ctx *ctx, const cf_batch *b, cf_metrics *out)
{
    cf_tensor *label = cf_batch_get(b, "label");
    cf_tensor *logits = cf_shapeformer_batch_logits(mb, ctx, b);
    if (!logits || !label) return NULL;
    if (out) cf_metrics_set(out, "acc", (double)cf_shapeformer_correct(logits, label, NULL, 0) / (double)label->shape[0]);
    return cf_cross_entropy(ctx, logits, label, NULL);
}

static int64_t items(cf_model *mb, const cf_batch *b)
{
    (void)mb;
    cf_tensor *t = cf_batch_get(b, "label");
    return t ? t->shape[0] : 0;
}

static void free_model(cf_model *mb) { free(mb); }

cf_shapeformer *cf_shapeformer_of(cf_model *m)
{
    return m && m->vt == &cf_shapeformer_model ? &((sf_model *)m)->net : NULL;
}

const cf_model_vtable cf_shapeformer_model = {
    .name = "shapeformer",
    .summary = "multivariate series classifier: discovered shapelets + a generic convolutional transformer branch",
    .create = create,
    .loss = loss,
    .items = items,
    .evaluate = cf_shapeformer_evaluate,
    .free = free_model,
    .eval_split = "test",
};
