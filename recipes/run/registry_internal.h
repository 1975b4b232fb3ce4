/* Inside the registry (recipes/run/registry.c, datasets.c). */
#ifndef CF_REGISTRY_INTERNAL_H
#define CF_REGISTRY_INTERNAL_H

#include "recipes/run/paper.h"

/* Registers the datasets every paper may use (random_tokens, text). */
void cf_register_builtin_datasets(void);
/* Registers `images` (recipes/run/datasets_images.c). */
void cf_register_image_datasets(void);

#endif
