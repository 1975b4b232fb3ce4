/* Internals of the LMUFormer folder shared by model.c (create, loss) and eval.c (accuracy against frames
 * seen, streaming). */
#ifndef CF_LMUFORMER_INTERNAL_H
#define CF_LMUFORMER_INTERNAL_H

#include "layers/lmuformer.h"
#include "recipes/lmuformer/model.h"

typedef struct cf_lmuf_model {
    cf_model base;
    cf_lmuf net;
    bool streaming;                    /* eval.streaming */
    int64_t stream_items, curve_every; /* eval.streaming_items, eval.curve_every */
} cf_lmuf_model;

/* The batch's "x" checked against the network and cast to its dtype. */
cf_tensor *cf_lmuf_input(cf_ctx *ctx, const cf_lmuf *m, const cf_batch *b);

cf_status cf_lmuformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);

#endif
