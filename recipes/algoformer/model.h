/* `model.type: algoformer` and `data.type: icl_regression`: AlgoFormer (Gao et al., "On the Expressive Power of
 * a Variant of the Looped Transformer", 2024) learning regression in context. One model type covers the four
 * models of the paper's comparison: AlgoFormer (pre + looped + post), the standard transformer (pre only,
 * loop 0) and the vanilla looped transformer (loop only, with input injection); recipes/algoformer/README.md
 * lists the keys. */
#ifndef CF_ALGOFORMER_MODEL_H
#define CF_ALGOFORMER_MODEL_H

#include "recipes/run/model.h"

extern const cf_model_vtable cf_algoformer_model;

/* The icl_regression dataset (data/icl/icl.h) from the recipe's data.* keys. */
cf_dataset *cf_icl_factory(void *recipe_like, const char *split);

#endif
