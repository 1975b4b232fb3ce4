/* LMUFormer (Liu et al., "LMUFormer: Low Complexity Yet Powerful Spiking Model With Legendre Memory Units",
 * ICLR 2024): the model types, the `kws` dataset and its generator. */
#ifndef CF_LMUFORMER_MODEL_H
#define CF_LMUFORMER_MODEL_H

#include "recipes/run/model.h"

/* model.type: lmuformer (model.variant: lmuformer | spiking | lmu_only) */
extern const cf_model_vtable cf_lmuformer_model;

/* data.type: kws. Batches hold "x" f32 [rows, mels, frames] and "label" i64 [rows]; info.units = mels,
 * info.frames = frames, info.vocab = classes. */
cf_dataset *cf_kws_factory(void *recipe_like, const char *split);
/* `cformer data kws --out DIR [...]` */
int cf_kws_cmd(int argc, char **argv);
/* `cformer data pseq --out DIR [...]`: permuted sequential templates (data/series/pseq.h), same layout */
int cf_pseq_cmd(int argc, char **argv);

#endif
