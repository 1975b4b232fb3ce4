/* AlgoFormer: a pre-transformer, a looped transformer and a post-transformer (Gao et al., "On the Expressive
 * Power of a Variant of the Looped Transformer", 2024, Section 3, the AlgoFormer equation
 *     y = ReadOut(TF_post(TF_loop^T(TF_pre(ReadIn(Z)))))  ).
 * The looped part is ONE stack of `loop` blocks applied T times with the same parameter tensors, so the tape
 * accumulates its gradient over the loops: dL/dW = sum_t dL/dW^(t).
 *
 * Shapes: z [B, S, d] (S tokens of width d: the in-context prompt x_1, [y_1, 0..0], x_2, ...), then
 *     E   = pre(ReadIn(z) + wpe[0..S))            [B, S, D]     (pre = 0 blocks: E = ReadIn(z) + wpe)
 *     H_0 = 0 with input injection, else E
 *     H_t = loop(H_{t-1} + E) with injection (Yang et al., "Looped Transformers are Better at Learning
 *           Learning Algorithms", ICLR 2024, Section 4: z_{t+1} = f(z_t + e)), else loop(H_{t-1})
 *     y_t = ReadOut(ln_f(post(H_t)))              [B, S]        one scalar per token
 * A standard transformer is `loop = 0` (or loops = 0): y = ReadOut(ln_f(post(pre(...)))), one output.
 *
 * The loop window (Yang et al., Section 4, "truncated loss"): of T loops only the last `window` are recorded
 * on the tape; loops 1 .. T - window run with grad mode off, so the loop parameters get the gradients of the
 * last `window` applications only and the activations held for backward are O(window). Without injection
 * and with window < T, pre and ReadIn receive no gradient at all: cf_algoformer_init refuses that shape
 * (when pre or ReadIn exist to be trained, i.e. always) so the mistake cannot train silently.
 *
 * Usage:
 *     cf_algoformer m;
 *     cf_algoformer_config c = cf_algoformer_defaults(); c.input_dim = 5; c.positions = 41;
 *     CF_TRY(cf_algoformer_init(&m, ps, &c));
 *     cf_tensor *ys[8];                              // the last k iterates' outputs, earliest first
 *     int k = cf_algoformer_forward(ctx, &m, z, m.cfg.window, ys);   // k <= window; -1 on error
 *     ...
 *     cf_algoformer_free(&m);
 * The stages are public for tests that rebuild the loop by hand (an unrolled copy with tied weights):
 *     E = cf_algoformer_embed(ctx, &m, z); H = ...; y = cf_algoformer_head(ctx, &m, H); */
#ifndef CF_ALGOFORMER_H
#define CF_ALGOFORMER_H

#include "layers/nn.h"

typedef struct cf_algoformer_config {
    int64_t input_dim;          /* d: width of a prompt token */
    int64_t dim, heads, hidden; /* D, attention heads (D % heads == 0), MLP width (GPT-2: 4 D) */
    int64_t pre, loop, post;    /* blocks in TF_pre, TF_loop (one application) and TF_post; each >= 0 */
    int64_t loops;              /* T: applications of TF_loop (0 with loop = 0) */
    int64_t window;             /* loops recorded on the tape, 1 .. loops (loops: full backpropagation) */
    bool inject;                /* input injection H_t = loop(H_{t-1} + E) */
    int64_t positions;          /* learned positions: the longest prompt (2 N + 1 tokens) */
    double init_std;            /* N(0, std) weights (GPT-2: 0.02) */
} cf_algoformer_config;

/* D 64, 4 heads, MLP 256, pre 1, loop 1 (8 loops, window 4, injection), post 1, d 5, 41 positions. */
cf_algoformer_config cf_algoformer_defaults(void);

typedef struct cf_algoformer {
    cf_algoformer_config cfg;
    cf_linear_layer read_in, read_out; /* Linear(d -> D), Linear(D -> 1) */
    cf_embedding_layer wpe;            /* [positions, D] */
    cf_block *pre, *loop, *post;       /* GPT-2 blocks: pre-LN, causal attention, GELU MLP */
    cf_norm_layer ln_f;
} cf_algoformer;

/* Checks the config (a bad one is a CF_ERR_ARG naming the field) and adds the parameters: read_in, wpe,
 * pre.<i>, loop.<i>, post.<i>, ln_f, read_out. */
cf_status cf_algoformer_init(cf_algoformer *m, cf_params *ps, const cf_algoformer_config *cfg);
void cf_algoformer_free(cf_algoformer *m);

/* E = pre(ReadIn(z) + positions): z [B, S, d] with S <= positions -> [B, S, D]. NULL on error. */
cf_tensor *cf_algoformer_embed(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *z);
/* One application of TF_loop to h (plus e when injecting; e is ignored otherwise). */
cf_tensor *cf_algoformer_step(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *h, cf_tensor *e);
/* ReadOut(ln_f(post(h))): [B, S, D] -> [B, S]. */
cf_tensor *cf_algoformer_head(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *h);
/* Runs the loop on E: iterates H_1 .. H_T (cfg.loops, cfg.window as above) and stores the last `keep`
 * (1 <= keep <= window, earliest first) in hs. Returns the number stored (1 for a model without a loop,
 * hs[0] = E), -1 on error. */
int cf_algoformer_iterates(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *e, int keep, cf_tensor **hs);
/* z -> the outputs y [B, S] of the last `keep` iterates (earliest first); the count stored, -1 on error. */
int cf_algoformer_forward(cf_ctx *ctx, const cf_algoformer *m, cf_tensor *z, int keep, cf_tensor **ys);

#endif
