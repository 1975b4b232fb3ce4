/* MAFormer (Wang et al., "MAFormer: A Transformer Network with Multi-scale Attention Fusion for Visual
 * Recognition", arXiv 2209.01620, 2022; Neurocomputing 595, 2024): the Multi-scale Attention Fusion (MAF)
 * block and a small staged classifier built from it.
 *
 * The paper publishes no code; the wiring below follows its sec. 3 description (a local window branch, a
 * global branch that learns a down-sampled token set, "GLD", and an attention-based fusion of the two).
 * Tokens x [B, N, C] of an H x W map (N = H*W):
 *
 *   window branch   YL = x + proj(window_attention(LN1(x)) + relative-position bias)     (windows M x M)
 *   GLD             YG = (Wd LN_g(x)^T + bd)^T + P       Wd [Ng, N] mixes tokens, Ng = ceil(ratio * N),
 *                                                        P [Ng, C] a learned position embedding
 *   fusion          F  = YL + cross_attention(q = LN_q(YL), k = v = LN_k(YG))        cost O(N Ng C)
 *   MLP             out = F + MLP(LN2(F)),   MLP = Linear(C, rC) - GELU - Linear(rC, C)
 *
 * Ablations of the paper's sec. 4.4 with the same number of token mixers per block (parameters equal up
 * to GLD's Wd and P):
 *   CF_MAF_WINDOW   two window attentions:    YL = x + win1(x);  F = YL + win2(YL)
 *   CF_MAF_GLOBAL   two GLD + fusion mixers:  Y1 = x + fuse1(x, GLD1(x));  F = Y1 + fuse2(Y1, GLD2(Y1))
 *
 * The classifier: conv 3x3 stride 2 token embedding (+LN); stages s = 0.. with dims[s], depths[s], heads[s];
 * between stages a conv 3x3 stride 2 merge (+LN) doubles resolution down; stages before `global_from` are
 * MAF blocks, the rest plain pre-LN multi-head self-attention blocks over the whole map (at the last,
 * smallest map a window covers everything). Head: LN, mean over tokens, Linear -> classes.
 *
 *     cf_maformer_config c = {.in_ch = 1, .img_h = 32, .img_w = 32, .stages = 3, .dims = {32, 64, 128},
 *                             .depths = {2, 2, 1}, .heads = {2, 4, 4}, .window = 4, .ratio = 0.25,
 *                             .mlp_ratio = 4, .global_from = 2, .classes = 8, .variant = CF_MAF_FULL};
 *     cf_maformer net;
 *     cf_maformer_init(&net, ps, &c);                  // size errors name the stage and the map
 *     cf_tensor *logits = cf_maformer_logits(ctx, &net, images);   // images [B, in_ch, img_h, img_w]
 *     cf_maformer_free(&net);
 */
#ifndef CF_LAYERS_MAFORMER_H
#define CF_LAYERS_MAFORMER_H

#include "layers/nn.h"
#include "layers/relpos2d.h"

#define CF_MAF_MAX_STAGES 4

typedef enum cf_maf_variant { CF_MAF_FULL, CF_MAF_WINDOW, CF_MAF_GLOBAL } cf_maf_variant;
bool cf_maf_variant_parse(const char *s, cf_maf_variant *out); /* "maf", "window", "global" */

typedef struct cf_maformer_config {
    int64_t in_ch, img_h, img_w, classes;
    int stages;
    int64_t dims[CF_MAF_MAX_STAGES], depths[CF_MAF_MAX_STAGES], heads[CF_MAF_MAX_STAGES];
    int64_t window;     /* M */
    double ratio;       /* Ng = ceil(ratio * N) */
    int64_t mlp_ratio;
    int global_from;    /* first stage of plain global self-attention blocks (stages: none) */
    double drop_path;   /* per-sample residual drop, the same in every block */
    cf_maf_variant variant;
} cf_maformer_config;

/* one token mixer: a window attention or a GLD + fusion cross-attention */
typedef struct cf_maf_mixer {
    bool window;
    cf_norm_layer ln;             /* LN1 (window) or LN_q (fusion) */
    cf_attention attn;            /* self (window) or cross (fusion) */
    cf_relpos2d rel;              /* window: [(2M-1)^2, heads] */
    cf_norm_layer ln_g, ln_k;     /* fusion: GLD's input norm, the keys' norm */
    cf_tensor *wd, *bd, *pos;     /* fusion: Wd [Ng, N], bd [Ng], P [Ng, C] */
} cf_maf_mixer;

typedef struct cf_maf_block {
    cf_maf_mixer a, b;
    cf_norm_layer ln2;
    cf_mlp mlp;
    int64_t H, W, M, Ng;
    uint64_t stream;
} cf_maf_block;

typedef struct cf_maf_stage {
    cf_tensor *conv_w, *conv_b;   /* embedding (stage 0) or merge: [dim, prev, 3, 3], [dim] */
    cf_norm_layer ln;
    int64_t H, W, dim, depth;
    bool global;
    cf_maf_block *maf;            /* depth blocks (MAF stages) */
    cf_block *blocks;             /* depth blocks (global stages) */
} cf_maf_stage;

typedef struct cf_maformer {
    cf_maformer_config cfg;
    cf_maf_stage st[CF_MAF_MAX_STAGES];
    cf_norm_layer head_ln;
    cf_linear_layer head;
} cf_maformer;

cf_status cf_maformer_init(cf_maformer *m, cf_params *ps, const cf_maformer_config *c);
/* One MAF block on tokens x [B, H*W, C] (exposed for tests). */
cf_tensor *cf_maf_block_fwd(cf_ctx *ctx, const cf_maf_block *blk, cf_maf_variant v, cf_tensor *x, double drop_path);
cf_status cf_maf_block_init(cf_maf_block *blk, cf_params *ps, const char *name, cf_maf_variant v, int64_t H, int64_t W,
                            int64_t C, int64_t heads, int64_t M, int64_t Ng, int64_t mlp_ratio);
void cf_maf_block_free(cf_maf_block *blk);
/* images [B, in_ch, img_h, img_w] -> logits [B, classes] */
cf_tensor *cf_maformer_logits(cf_ctx *ctx, const cf_maformer *m, cf_tensor *images);
void cf_maformer_free(cf_maformer *m);

#endif
