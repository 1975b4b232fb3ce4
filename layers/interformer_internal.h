/* Shared between layers/interformer.c (backbone, head) and layers/interformer_imsa.c (the I-MSA neck). */
#ifndef CF_LAYERS_INTERFORMER_INTERNAL_H
#define CF_LAYERS_INTERFORMER_INTERNAL_H

#include "layers/interformer.h"
#include "layers/interformer_clicks.h"

/* A parameter ~ N(0, std) with weight decay (std > 0), or the constant value without it (norms, biases). */
cf_tensor *cf_if_param(cf_params *ps, const char *name, int ndim, const int64_t *shape, double std, double value);
/* GroupNorm(1, c): gn[0] weight (1), gn[1] bias (0), named name.weight / name.bias. */
cf_status cf_if_gn_init(cf_tensor **gn, cf_params *ps, const char *name, int64_t c);
cf_tensor *cf_if_gn(cf_ctx *ctx, cf_tensor *const *gn, cf_tensor *x);

cf_status cf_if_neck_init(cf_interformer *net, cf_params *ps);
/* x0 = F_0 + click embedding; writes the normalised stage outputs; false on error. */
bool cf_if_neck_fwd(cf_ctx *ctx, const cf_interformer *net, const cf_if_features *f, cf_tensor *x0,
                    cf_tensor **outs);

#endif
