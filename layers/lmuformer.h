/* The LMUFormer network (Liu et al., "LMUFormer: Low Complexity Yet Powerful Spiking Model With Legendre
 * Memory Units", ICLR 2024): LMUFormer, Spiking LMUFormer and the LMU-only ablation, with streaming state.
 *
 * Input x [B, F, N] (F mel bins, N frames, channel-first). Every layer runs along the frame axis:
 *   lmuformer  patch embedding 4 x [conv k3 -> ReLU -> BN], x += conv_rpe(x);
 *              x += BN(conv1x1(LMU cell(x)))  (the parallel LMU of layers/lmu.h);
 *              x += ReLU(BN(conv1x1(GELU(BN(conv1x1 D->4D (x))))))   (channel mixing)
 *   spiking    the spiking patch embedding conv -> BN -> LIF (x3) -> conv, x += conv_rpe(LIF(BN(x))); the
 *              spiking LMU cell s = LIF_0.5(BN(x)), u = LIF(BN(W_u s)), m = LIF(BN(memory(u))),
 *              h = LIF(BN(W_h [m; s])); the spiking channel mixer x += conv1x1(LIF(BN(conv1x1(LIF(BN(x))))));
 *              head BN -> LIF; LIF neurons of layers/lif.h; memory order 2D by default
 *   lmu_only   conv1x1 F -> D, one LMU block, no convolutional embedding and no channel mixer
 * Head: Linear(D -> classes) on the running mean of the features (pool_last: on each frame's features).
 *
 * Streaming: with a cf_lmuf_stream (causal only), one call per chunk of frames carries the convolutions'
 * last k-1 inputs, the LIF membranes, the LMU memory and the running feature sum, so memory is constant in the
 * sequence length and the logits equal the whole-sequence logits.
 *
 *     cf_lmuf net = {.variant = CF_LMUF_SPIKING, .F = 32, .D = 64, .d = 128, .classes = 10, .theta = 64,
 *                    .causal = true};
 *     cf_lmuf_build(&net, ps);
 *     cf_tensor *lg = cf_lmuf_sequence_logits(ctx, &net, x);            // [B, classes], training
 *     cf_lmuf_stream s = {0};
 *     for (t ...) {
 *         cf_lmuf_pass p = {ctx, &net, &s, 0, 0};
 *         cf_tensor *lt = cf_lmuf_logits_all(&p, x_t);                 // [B, 1, classes] after t+1 frames
 *     }
 *     cf_lmuf_stream_free(&s); cf_lmuf_free(&net);
 */
#ifndef CF_LAYERS_LMUFORMER_H
#define CF_LAYERS_LMUFORMER_H

#include "layers/lif.h"
#include "layers/lmu.h"
#include "layers/nn.h"

enum { CF_LMUF_LMUFORMER, CF_LMUF_SPIKING, CF_LMUF_LMU_ONLY };
#define CF_LMUF_SLOTS 16 /* k3 convolutions and LIF layers a streaming pass may carry */


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

/* the network; set variant .. pool_last, then cf_lmuf_build */
typedef struct cf_lmuf {
    int variant;
    int64_t F, D, d, classes; /* mels, channels, memory order, classes */
    double theta;
    bool causal, pool_last; /* causal: left-padded k3 convolutions; pool_last: the head reads the last frame */
    cf_lmuf_conv pe[4], rpe, in_proj, proj, fc1, fc2, wu, wh;
    cf_batch_norm_layer pe_bn[4], rpe_bn, proj_bn, fc1_bn, fc2_bn, in_bn, ffn_bn, u_bn, m_bn, h_bn, head_bn;
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

/* Adds the parameters (batch-norm running statistics as frozen parameters, so checkpoints carry them). */
cf_status cf_lmuf_build(cf_lmuf *m, cf_params *ps);
void cf_lmuf_free(cf_lmuf *m);
/* Logits after each frame of x [B, F, n]: [B, n, classes]. p->st NULL: the whole sequence (parallel LMU);
 * else one chunk of a stream (recurrent LMU), the state advanced by n frames. */
cf_tensor *cf_lmuf_logits_all(cf_lmuf_pass *p, cf_tensor *x);
/* The whole sequence's logits [B, classes] (mean pooling: the mean over time of the per-frame logits). */
cf_tensor *cf_lmuf_sequence_logits(cf_ctx *ctx, cf_lmuf *m, cf_tensor *x);
/* Frees what a stream carries and zeroes it; the bytes it carries. */
void cf_lmuf_stream_free(cf_lmuf_stream *s);
int64_t cf_lmuf_stream_bytes(const cf_lmuf_stream *s);

#endif
