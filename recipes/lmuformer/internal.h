/* Internals of the LMUFormer folder shared by model.c (layers, forward, loss) and eval.c (accuracy against
 * frames seen, streaming). Layout: x [B, F mels, N frames], channel-first; features [B, D, N]. */
#ifndef CF_LMUFORMER_INTERNAL_H
#define CF_LMUFORMER_INTERNAL_H

#include "layers/lif.h"
#include "layers/lmu.h"
#include "recipes/lmuformer/model.h"

enum { CF_LMUF_LMUFORMER, CF_LMUF_SPIKING, CF_LMUF_LMU_ONLY };
#define CF_LMUF_SLOTS 16 /* k3 convolutions and LIF layers a streaming pass may carry */

typedef struct cf_lmuf_bn {
    cf_tensor *w, *b, *rm, *rv;
} cf_lmuf_bn;

typedef struct cf_lmuf_conv {
    cf_tensor *w; /* [out, in, k], no bias */
    int64_t k;
} cf_lmuf_conv;

/* what a streaming pass carries between frames */
typedef struct cf_lmuf_stream {
    cf_tensor *buf[CF_LMUF_SLOTS]; /* each k3 convolution's last 2 input frames */
    cf_lif_state lif[CF_LMUF_SLOTS];
    cf_tensor *mem;            /* LMU memory [B, d] */
    cf_tensor *sum;            /* feature sum [B, D] */
    int64_t seen;
} cf_lmuf_stream;

typedef struct cf_lmuf {
    cf_model base;
    int variant;
    int64_t F, D, d, classes, frames;
    double theta;
    bool causal, streaming, pool_last; /* pool_last: the head reads the last frame, not the running mean */
    int64_t stream_items, curve_every;
    cf_lmuf_conv pe[4], rpe, in_proj, proj, fc1, fc2, wu, wh;
    cf_lmuf_bn pe_bn[4], rpe_bn, proj_bn, fc1_bn, fc2_bn, in_bn, ffn_bn, u_bn, m_bn, h_bn, head_bn;
    cf_lmu_cell cell;  /* lmuformer, lmu_only */
    cf_lmu_memory mem; /* spiking */
    cf_tensor *head_w, *head_b;
} cf_lmuf;

/* one forward pass: the context, the streaming state (NULL: a whole sequence) and the slot counters */
typedef struct cf_lmuf_pass {
    cf_ctx *ctx;
    cf_lmuf *m;
    cf_lmuf_stream *st;
    int conv_i, lif_i;
} cf_lmuf_pass;

/* Logits after each frame of x [B, F, n]: [B, n, classes]. p->st NULL: the whole sequence (parallel LMU);
 * else one chunk of a stream (recurrent LMU), the state advanced by n frames. */
cf_tensor *cf_lmuf_logits_all(cf_lmuf_pass *p, cf_tensor *x);
/* The batch's "x" checked against the model and cast to its dtype. */
cf_tensor *cf_lmuf_input(cf_ctx *ctx, cf_lmuf *m, const cf_batch *b);
/* Frees what a stream carries and zeroes it. */
void cf_lmuf_stream_free(cf_lmuf_stream *s);
/* Bytes a stream carries (its persistent state). */
int64_t cf_lmuf_stream_bytes(const cf_lmuf_stream *s);

cf_status cf_lmuformer_evaluate(cf_model *m, cf_ctx *ctx, const cf_eval_input *in, cf_metrics *out);

#endif
