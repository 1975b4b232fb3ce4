/* MAFormer in the trainer (Wang et al., arXiv 2209.01620): `model.type: maformer` over image data
 * (`data.type: images`, or the glyph task `data.type: glyphs`). Keys: recipes/maformer/README.md. */
#ifndef CF_RECIPES_MAFORMER_MODEL_H
#define CF_RECIPES_MAFORMER_MODEL_H

#include "layers/maformer.h"
#include "recipes/run/classify_eval.h"

extern const cf_model_vtable cf_maformer_model;

/* data.type: glyphs (data/images/glyphs.h, made in memory) */
cf_dataset *cf_glyphs_factory(void *recipe_like, const char *split);
/* `cformer data glyphs -o DIR`: the same items as IDX files for data.type: images */
int cf_glyphs_cmd(int argc, char **argv);

#endif
