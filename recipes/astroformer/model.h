/* Astroformer in the trainer (Dagli, arXiv 2304.05350): `model.type: astroformer` over image data
 * (`data.type: images`: Fashion-MNIST IDX, Galaxy10 DECaLS HDF5, ...; or the synthetic galaxies
 * `data.type: galaxies`). Keys: recipes/astroformer/README.md. */
#ifndef CF_RECIPES_ASTROFORMER_MODEL_H
#define CF_RECIPES_ASTROFORMER_MODEL_H

#include "layers/astroformer.h"
#include "recipes/run/classify_eval.h"

extern const cf_model_vtable cf_astroformer_model;

/* data.type: galaxies (data/images/galaxies.h, made in memory) */
cf_dataset *cf_galaxies_factory(void *recipe_like, const char *split);
/* `cformer data galaxies -o FILE.h5`: the same items as a Galaxy10-layout HDF5 file */
int cf_galaxies_cmd(int argc, char **argv);

#endif
