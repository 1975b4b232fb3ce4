/* ShapeFormer in the trainer (Le et al., KDD 2024): `model.type: shapeformer` over `data.type: ts` (UEA/UCR
 * .ts files). Keys: recipes/shapeformer/README.md.
 *
 * The shapelets are discovered (layers/shapelet_discovery.h) on the training split when the first training
 * batch arrives: the batch's owner is the training dataset, which holds the whole split, so create stays
 * free of data and files. They are saved in the checkpoint (shapelets.*), so evaluation never rediscovers. */
#ifndef CF_RECIPES_SHAPEFORMER_MODEL_H
#define CF_RECIPES_SHAPEFORMER_MODEL_H

#include "data/series/ts.h"
#include "layers/shapeformer.h"
#include "recipes/run/model.h"

extern const cf_model_vtable cf_shapeformer_model;

/* The dense training data of a `ts` dataset (NULL when ds is another kind): x [len, V, T], labels [len]. */
typedef struct cf_ts_dense_view {
    const float *x;
    const int64_t *y;
    int64_t n, dims, length, classes;
    const char *split;
} cf_ts_dense_view;
bool cf_ts_dataset_view(const cf_dataset *ds, cf_ts_dense_view *out);
cf_dataset *cf_ts_factory(void *recipe_like, const char *split);
int cf_shapeformer_motifs_cmd(int argc, char **argv);

cf_shapeformer *cf_shapeformer_of(cf_model *m);
cf_status cf_shapeformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);

#endif
