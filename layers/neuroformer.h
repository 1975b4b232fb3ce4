/* Neuroformer (Antoniades et al., "Neuroformer: Multimodal and Multitask Generative Pretraining for Brain
 * Data", ICLR 2024; shapes and defaults as in its official code, github.com/a-antoniades/Neuroformer): a
 * GPT-style model that generates the spikes of a window token by token (neuron ID + time-offset class),
 * conditioned on the population's previous window, on the stimulus movie and, optionally, on behaviour.
 *
 * Forward (as the official code builds it), C = dim:
 *   E      = TokEmb(id) + TempEmb(dt) + PosEmb[0:T]                     (dropout on the sum)
 *   E_prev = TokEmb(prev_id) + TempEmbPrev(prev_dt) + PosEmbPrev[0:Tp]  (TokEmb shared)
 *            TempEmb is the official MLP on the scalar dt class: Linear(1, C/2) -> GELU -> Linear(C/2, C).
 *   frame tokens (when frame_layers > 0): the clip [B, 1, F, h, w] through
 *            Conv3d(1 -> C, kernel k = stride k, with bias) -> [B, C, F/kt, h/kh, w/kw], channels last,
 *            LayerNorm(C), ReLU, flattened to [B, P - 1, C] (P - 1 = (F/kt)(h/kh)(w/kw), floored as PyTorch
 *            does); the window's SOS embedding E[:, 0] is prepended as token 0, then dropout; then
 *            frame_layers NON-causal self-attention blocks over the P tokens. (The official 3-D sinusoidal
 *            encoding is computed but never added, because of a bug; it is not added here either.)
 *   x = state_layers causal self-attention blocks on E
 *   x = hist_layers cross-attention blocks (q = x, kv = E_prev) WITH the previous window's key-padding mask
 *       (the official code attends to PAD keys; the mask is cformer's fix)
 *   x = frame_layers cross-attention blocks (q = x, kv = the frame tokens)
 *   x = beh_layers cross-attention blocks over the behaviour tokens (when beh_inputs > 0): variable j's
 *       standardised value v_j becomes v_j * W[j] + b[j] (a per-variable Linear(1, C); the official
 *       LayerNorm over one feature erased the value; cformer's fix)
 *   x = final_layers causal self-attention blocks
 *   heads: id_logits = W_id x [B, T, N+3], dt_logits = W_dt x [B, T, M+4] (no bias);
 *          behaviour regression Linear(C, 1) on the mean of x over the window's real tokens (SOS..EOS).
 * Every block is the official one: x = q + Drop(W_o MHA(LN1(q), kv, kv)); x = x + Drop(MLP(LN2(x)));
 * return LN_out(x). Keys and values are NOT normalised (for self-attention they are the block's raw input).
 *
 * Losses (next-token CE plus the paper's contrastive alignment; the official code's weights):
 *   w_id CE(id) + w_dt CE(dt) (targets -100 ignored) + w_clip L_clip + w_beh MSE(beh).
 * The contrastive term pools z_id = masked mean of the final x, and for each other modality z_beh = mean of
 * the behaviour tokens and z_frames = mean of the frame tokens after the frame self-attention; each pair
 * (id, beh), (id, frames) is projected with one shared P: C -> C without bias (or one per modality),
 * L2-normalised, and scored with S = z_id z_other^T / temperature: symmetric CLIP 1/2 (CE(S, I) + CE(S^T, I))
 * by default, CE(S, I) alone when clip_symmetric is false; L_clip is the mean over the pairs. It exists
 * only with a second modality (beh_inputs > 0 or frame_layers > 0).
 *
 * Generation with a cache (cf_nf_cache) appends the keys and values of the causal blocks token by token and
 * computes those of the cross-attention blocks (history and frames) once per window, at its first step
 * (the one that holds SOS, which the frame tokens need).
 *
 * Parameter names (the checkpoint keys): tok_emb.weight, temp_emb.{0,2}.{weight,bias},
 * temp_emb_prev.{0,2}.*, pos_emb [1, T, C], pos_emb_prev [1, Tp, C], {state,hist,frame,stim,beh,final}_blocks.<i>.
 * {ln1,ln2,ln_out,attn.{query,key,value,proj},mlp.{fc1,fc2}}.*, frame_emb.conv.{weight [C, 1, kt, kh, kw],
 * bias}, frame_emb.ln.{weight,bias}, beh_emb.{weight,bias} [k, C], head_id.weight, head_dt.weight,
 * head_beh.{weight,bias}, clip_proj.weight (or clip_proj_id / clip_proj_beh / clip_proj_frames).
 * Weight decay applies to the blocks' and heads' Linear weights and to the frame convolution's weight only
 * (not to biases, norms, embeddings, positions or the temporal MLPs), as the official optimiser groups them. */
#ifndef CF_NEUROFORMER_H
#define CF_NEUROFORMER_H

#include "layers/nn.h"

typedef struct cf_neuroformer_config {
    int64_t n_units;    /* N: ID tokens 0..N-1, then SOS N, EOS N+1, PAD N+2 */
    int64_t dt_classes; /* M + 1 offset classes 0..M; dt vocabulary M + 4 (SOS, EOS, PAD follow) */
    int64_t block, prev_block; /* T and Tp */
    int64_t dim, heads;
    int64_t state_layers, hist_layers, beh_layers, final_layers;
    int64_t beh_inputs; /* behaviour variables fed as tokens (0: none) */
    bool beh_predict;   /* behaviour regression head */
    double dropout, init_std;
    bool contrastive;   /* used only when beh_inputs > 0 */
    double clip_temp;
    bool clip_symmetric, clip_separate;
    double w_id, w_dt, w_clip, w_beh; /* loss weights (see cf_neuroformer_loss) */
    /* the stimulus frames: frame_layers (L_stim) frame self-attention and stimulus cross-attention blocks
     * (0: no frames); the clip is frames x frame_h x frame_w; the Conv3d kernel (= its stride) kt, kh, kw */
    int64_t frame_layers, frames, frame_h, frame_w;
    int64_t frame_kernel[3];
} cf_neuroformer_config;

/* cformer's small CPU configuration (not the paper's): C 64, 4 heads, one state / history / final layer
 * (and one behaviour layer when there are behaviour inputs), dropout 0.1, T 32, Tp 64, contrastive on
 * (temperature 0.5, symmetric), loss weights id 0.6, dt 0.4, contrastive 0.25, behaviour 1, no frames
 * (frame kernel 3x5x5, the official Visnav one, when frame_layers is set). n_units and dt_classes: set them. */
cf_neuroformer_config cf_neuroformer_defaults(void);

typedef struct cf_nf_attention {
    cf_linear_layer query, key, value, proj;
    int64_t heads, head_dim;
    double dropout;
    bool causal;
    uint64_t stream;
} cf_nf_attention;

typedef struct cf_nf_block {
    cf_norm_layer ln1, ln2, ln_out;
    cf_nf_attention attn;
    cf_mlp mlp;
    bool self; /* keys and values from the block's own input (else from a memory sequence) */
    double dropout;
    uint64_t stream;
} cf_nf_block;

typedef struct cf_neuroformer {
    cf_neuroformer_config cfg;
    int64_t id_vocab, dt_vocab, id_sos, id_eos, id_pad, dt_sos, dt_eos, dt_pad;
    cf_embedding_layer tok_emb;
    cf_linear_layer temp1, temp2, temp1_prev, temp2_prev;
    cf_tensor *pos_emb, *pos_emb_prev; /* [1, T, C], [1, Tp, C] */
    cf_nf_block *state, *hist, *beh, *final;
    cf_tensor *beh_w, *beh_b;          /* [k, C] */
    cf_linear_layer head_id, head_dt, head_beh, clip_proj, clip_proj_beh, clip_proj_frames;
    cf_tensor *frame_conv_w, *frame_conv_b; /* [C, 1, kt, kh, kw], [C] */
    cf_norm_layer frame_ln;
    cf_nf_block *frame_blocks, *stim;
    int64_t frame_tokens; /* P: 1 + (F/kt)(h/kh)(w/kw) */
} cf_neuroformer;

cf_status cf_neuroformer_init(cf_neuroformer *m, cf_params *ps, const cf_neuroformer_config *cfg);
void cf_neuroformer_free(cf_neuroformer *m);

/* One batch's inputs. id, dt: i64 [B, T'] (T' <= T; with a cache, the NEW tokens at positions cache len
 * ...). prev_id, prev_dt: i64 [B, Tp]; prev_pad: bool [B, Tp] (true = PAD) or NULL (then no key is masked:
 * the official behaviour). beh: f32 [B, beh_inputs] (standardised) or NULL when beh_inputs is 0. frames:
 * f32 [B, 1, F, h, w] when frame_layers > 0 (with a cache only at the window's first step; NULL after). */
/* prev_gate (may be NULL): f32 [B, Tp], each previous-window token's embedding multiplied by its gate before the
 * history cross-attention; all ones leave the model unchanged, and the gradient of an output with respect to
 * a gate of ones is that token's gradient x input attribution (Simonyan et al. 2014; Shrikumar et al. 2017):
 * sum_c dOut/dE_prev[k, c] E_prev[k, c]. Not with a cache that already holds the history keys. */
typedef struct cf_nf_inputs {
    cf_tensor *id, *dt, *prev_id, *prev_dt, *prev_pad, *beh, *frames, *prev_gate;
} cf_nf_inputs;

typedef struct cf_nf_outputs {
    cf_tensor *id_logits, *dt_logits; /* [B, T', N+3], [B, T', M+4] */
    cf_tensor *x;                     /* final hidden states [B, T', C] */
    cf_tensor *beh_tokens;            /* [B, k, C] or NULL */
    cf_tensor *frame_tokens;          /* [B, P, C] after the frame self-attention, or NULL (no frames, or
                                         taken from the cache) */
} cf_nf_outputs;

/* Caches for incremental generation: the keys and values of the causal self-attention blocks (appended
 * token by token) and of the cross-attention blocks over the previous window and the frame tokens (filled
 * at the window's first step, reused until cf_nf_cache_clear). */
typedef struct cf_nf_cache {
    cf_kv_cache *state, *final, *hist, *stim;
    int64_t n_state, n_final, n_hist, n_stim, batch;
} cf_nf_cache;
cf_status cf_nf_cache_init(cf_nf_cache *c, const cf_neuroformer *m, int64_t batch);
void cf_nf_cache_clear(cf_nf_cache *c);
void cf_nf_cache_free(cf_nf_cache *c);
static inline int64_t cf_nf_cache_len(const cf_nf_cache *c) { return c->n_state ? c->state[0].len : c->n_final ? c->final[0].len : 0; }

/* The history cross-attention probabilities, for connectivity analysis: when given to the forward, probs
 * gets an arena tensor [B, T', Tp]: softmax(q k^T / sqrt(hd)) with PAD keys masked, averaged over the heads
 * and over the hist_layers. Computed explicitly (cf_matmul + cf_softmax on the layer's q and k, without
 * gradients; the fused attention never forms the matrix), so it costs a little extra: analysis only.
 * With want_heads, heads[l] (l < CF_NF_REC_LAYERS) also gets history layer l's per-head probabilities
 * [B, H, T', Tp] (arena tensors; NULL beyond the model's layers). */
#define CF_NF_REC_LAYERS 8
typedef struct cf_nf_attn_record {
    cf_tensor *probs;
    bool want_heads;
    cf_tensor *heads[CF_NF_REC_LAYERS];
} cf_nf_attn_record;

/* The forward pass. cache (NULL when training) makes it incremental; rec (may be NULL) records the history
 * attention. Fills out; returns CF_OK or the error of the first op that failed. */
cf_status cf_neuroformer_forward(cf_ctx *ctx, const cf_neuroformer *m, const cf_nf_inputs *in, cf_nf_cache *cache,
                                 cf_nf_attn_record *rec, cf_nf_outputs *out);

typedef struct cf_nf_losses {
    cf_tensor *total, *id, *dt; /* scalars */
    cf_tensor *clip, *beh;      /* scalars or NULL when the term is off */
    cf_tensor *beh_pred;        /* [B] or NULL */
} cf_nf_losses;

/* Forward and loss. id_target, dt_target: i64 [B, T] (CF_SPIKE_IGNORE = -100 ignored); beh_target f32 [B]
 * (NULL: no behaviour term). total = w_id L_id + w_dt L_dt + w_clip L_clip + w_beh L_beh; when the
 * contrastive term is on, w_id and w_dt are scaled by (1 - w_clip), so the defaults give the official
 * 0.45 / 0.30 / 0.25 (the official code's) and 0.6 / 0.4 without it. */
cf_status cf_neuroformer_loss(cf_ctx *ctx, const cf_neuroformer *m, const cf_nf_inputs *in, cf_tensor *id_target,
                              cf_tensor *dt_target, cf_tensor *beh_target, cf_nf_losses *out);

/* ---- generation: window by window, token by token, as the official code (plus a KV cache) ---- */
typedef struct cf_nf_sample_opts {
    double temperature; /* 0: greedy */
    int64_t top_k;      /* 0: off */
    double top_p;       /* 1: off */
    uint64_t seed;
    bool use_cache;     /* false recomputes the whole prefix every step (the reference) */
    int64_t dt_max;     /* largest dt class a spike may take (the current window's last bin); < 0: M */
} cf_nf_sample_opts;

/* Generates one current window for each of B rows, given host arrays of the previous-window tokens
 * (prev_id, prev_dt [B * Tp], prev_pad [B * Tp] or NULL), behaviour inputs (beh [B * beh_inputs] or NULL)
 * and frame clips (frames [B * F * h * w] when frame_layers > 0, else NULL; with the cache the frame tokens
 * and their keys and values are computed once, at the first step). Row b starts from [SOS] with dt 0; step i reads the logits at position i and draws the ID and the
 * dt class independently (IDs among the units and EOS, dt classes among 0..dt_max), stopping at EOS or
 * after T - 1 tokens. Draws use the uniform cf_rng_uniform(cf_rng_key(seed, keys[b]), step, 0/1), so a
 * row's result does not depend on the batch it is in or on the cache. ids / dts [B * (T - 1)] get each
 * row's spikes (units and dt classes), n [B] their counts. cache: NULL, or one made for at least B rows
 * (reused between calls). The arena is reset after each step: call it outside a training step. */
cf_status cf_neuroformer_generate(cf_ctx *ctx, const cf_neuroformer *m, int64_t B, const int64_t *prev_id,
                                  const int64_t *prev_dt, const bool *prev_pad, const float *beh, const float *frames,
                                  const uint64_t *keys, const cf_nf_sample_opts *o, cf_nf_cache *cache, int64_t *ids,
                                  int64_t *dts, int64_t *n);

/* ---- connectivity: the paper's readout of circuit connectivity from attention (simulated hub circuits) ---- */
/* Accumulates one window's attention into A [N * N] (TARGET-major: A[y * N + x]) and the counts:
 * for every query q whose target y_q is a unit and every past token k that is a unit x_k (and not PAD),
 * A[y_q, x_k] += att[q * Tp + k]. n_target[y] counts the queries with target y, n_source[x] the past tokens
 * of unit x. att: [T' * Tp] (one row of cf_nf_attn_record.probs), targets [T'] (< 0 or >= N: skipped),
 * prev_id [Tp]. Normalise afterwards with cf_attention_normalize (data/spikes/spike_metrics.h). */
void cf_nf_accumulate_attention(const float *att, const int64_t *targets, int64_t Tq, const int64_t *prev_id, int64_t Tp,
                                int64_t n_units, double *A, double *n_target, double *n_source);

#endif
