/* InterFormer (Huang et al., "InterFormer: Real-time Interactive Image Segmentation", ICCV 2023): a ViT backbone run
 * ONCE per image, and a light neck + head run for every click. Clicks enter only through the neck (Sec. 3.2).
 *
 * Backbone (Sec. 3.1; the paper's ViT is MAE-pretrained, ours is trained jointly from scratch):
 *     image [B, 3, H, W] -> patch conv (p x p, stride p) + 2-D sin-cos positions -> `depth` pre-LN blocks -> LN
 *     -> map [B, D, H/p, W/p] -> SimpleFPN: one branch per neck stage i at stride 4 * 2^i (ratio p / stride:
 *        x4 ConvT-GN-GELU-ConvT-GN, x2 ConvT-GN, x1 nothing, x0.5 Conv 2x2 s2-GN; then Conv1x1-GN-GELU to C_i)
 *     features F_i [B, C_i, H / (4 * 2^i), W / (4 * 2^i)], i < stages
 * Click encoding (Sec. 3.2): the reference map R [B, H, W] (states 0..4, layers/interformer_clicks.h) is embedded
 *     at full resolution, emb = E[R] (E [5, C_0]), resized bilinearly to H/4 x W/4 and added to F_0.
 * I-MSA neck (Sec. 3.2, Eq. 2-4): x = F_0 + emb; per stage i: the first PoolingBlock takes its keys and values from
 *     the click-free F_i, the remaining ones from x; out_i = GN(x); then PatchMerging (3x3 stride-2 unfold, LN(9C),
 *     Linear 9C -> C_{i+1}). PoolingBlock (all norms GroupNorm(1, C)):
 *         x = x + PoolAttn(GN1(x), GNkv(kv));   x = x + IRB(GN2(x)),  IRB = 1x1 -> hardswish -> dw3x3 -> hardswish -> 1x1
 *     PoolAttn: Q = Linear(q) over the h x w tokens; for each pool ratio r: s = min(T / r, h), hp = round(h /
 *     round(h / s)) (w alike), P_r = AdaptiveMaxPool(kv, hp, wp) (kv itself when the size is unchanged), P_r += DW3x3(P_r);
 *     K, V = Linear(LN(concat_r tokens(P_r))) -> softmax(Q K^T / sqrt(d)) V -> Linear. T: the stage-0 target size,
 *     halved per stage. The cost is linear in pixels.
 * Head (our light FPN head, in place of the paper's UPerHead): Conv1x1 of each out_i to `head_dim`, bilinear to
 *     stride 4, summed, Conv3x3-GN-GELU, Conv1x1 -> one logit z (= l_fg - l_bg of the paper's two classes), bilinear
 *     to H x W: logits [B, 1, H, W].
 *
 *     cf_interformer net; cf_interformer_init(&net, ps, &cfg);
 *     cf_if_features f; cf_if_backbone(ctx, &net, image, &f);          // once per image
 *     for each click: z = cf_if_decode(ctx, &net, &f, ref);            // ref: i64 [B, H, W] states
 */
#ifndef CF_LAYERS_INTERFORMER_H
#define CF_LAYERS_INTERFORMER_H

#include "layers/nn.h"

#define CF_IF_MAX_STAGES 4
#define CF_IF_MAX_RATIOS 4
#define CF_IF_MAX_DEPTH 8

typedef struct cf_interformer_config {
    int64_t image, channels;                  /* square input side (a multiple of 4 * 2^(stages-1) and of patch) */
    int64_t patch, dim, depth, heads;         /* ViT */
    int64_t stages;                           /* neck stages (FPN maps at strides 4, 8, ...) */
    int64_t width[CF_IF_MAX_STAGES];          /* C_i */
    int64_t neck_heads[CF_IF_MAX_STAGES];
    int64_t neck_depth[CF_IF_MAX_STAGES];     /* PoolingBlocks per stage (>= 1) */
    int64_t mlp_ratio[CF_IF_MAX_STAGES];      /* IRB expansion */
    int64_t ratios[CF_IF_MAX_STAGES][CF_IF_MAX_RATIOS]; /* pool ratios (0 ends a stage's list) */
    int64_t target;                           /* T at stage 0 */
    int64_t head_dim;
} cf_interformer_config;

typedef struct cf_if_convgn {   /* conv (or transposed conv) without bias, then GroupNorm(1, C) */
    cf_tensor *w, *gn_w, *gn_b;
    bool transposed;
    int64_t k, stride;
} cf_if_convgn;

typedef struct cf_if_fpn_branch {
    cf_if_convgn up[2];   /* resampling units (0, 1 or 2 used) */
    int nup;
    cf_if_convgn out;     /* Conv1x1 -> GN (-> GELU) */
} cf_if_fpn_branch;

typedef struct cf_if_pool_block {
    cf_tensor *gn1[2], *gnkv[2], *gn2[2];
    cf_linear_layer q, kv, proj;
    cf_norm_layer ln;
    cf_tensor *dw_w[CF_IF_MAX_RATIOS], *dw_b[CF_IF_MAX_RATIOS];
    cf_tensor *irb_w[3], *irb_b[3];   /* 1x1 up, depthwise 3x3, 1x1 down */
    int64_t dim, heads, hidden;
} cf_if_pool_block;

typedef struct cf_if_stage {
    cf_if_pool_block blocks[CF_IF_MAX_DEPTH];
    cf_tensor *out_gn[2];
    cf_norm_layer merge_ln;            /* over 9 C (not the last stage) */
    cf_linear_layer merge;
} cf_if_stage;

typedef struct cf_interformer {
    cf_interformer_config cfg;
    cf_tensor *patch_w, *patch_b;      /* [D, channels, p, p], [D] */
    double *pos;                       /* [(H/p)^2, D] sin-cos table (host) */
    cf_block *blocks;
    cf_norm_layer ln;
    cf_if_fpn_branch fpn[CF_IF_MAX_STAGES];
    cf_embedding_layer click;          /* E [5, C_0] */
    cf_if_stage neck[CF_IF_MAX_STAGES];
    cf_tensor *lat_w[CF_IF_MAX_STAGES], *lat_b[CF_IF_MAX_STAGES];
    cf_if_convgn fuse;                 /* 3x3 */
    cf_tensor *cls_w, *cls_b;
    int64_t backbone_runs;             /* cf_if_backbone calls (the features-once property is tested on it) */
} cf_interformer;

typedef struct cf_if_features {
    cf_tensor *f[CF_IF_MAX_STAGES];
    int n;
} cf_if_features;

/* Checks the config (every size named in the error) and adds the parameters. */
cf_status cf_interformer_init(cf_interformer *net, cf_params *ps, const cf_interformer_config *cfg);
void cf_interformer_free(cf_interformer *net);
/* ViT + SimpleFPN on image [B, channels, H, W]: the click-free features. */
cf_status cf_if_backbone(cf_ctx *ctx, cf_interformer *net, cf_tensor *image, cf_if_features *out);
/* Click embedding + I-MSA neck + head on cached features: ref i64 [B, H, W] in 0..4 -> logits [B, 1, H, W]. */
cf_tensor *cf_if_decode(cf_ctx *ctx, const cf_interformer *net, const cf_if_features *f, cf_tensor *ref);
/* One PoolAttn (exposed for tests): q_in, kv [B, C, h, w] -> [B, C, h, w]. target: this stage's T. */
cf_tensor *cf_if_pool_attn(cf_ctx *ctx, const cf_if_pool_block *b, const int64_t *ratios, int64_t target,
                           cf_tensor *q_in, cf_tensor *kv);
/* The pooled grid side of PoolAttn for a map side h, target T and ratio r: round(h / round(h / min(T / r, h))). */
int64_t cf_if_pool_side(int64_t h, int64_t target, int64_t ratio);

/* Normalized focal loss (Sec. 3.4; Zhang et al. 2021's NFL, as the released code): on the logit z with targets
 * y in {0, 1}, z' = (2y - 1) z, p_t = sigmoid(z'), beta = (1 - p_t)^gamma, per image s = N / (sum beta + 1e-12)
 * held constant (no gradient), loss = mean over images and pixels of alpha * s * beta * (-log p_t), with
 * -log p_t = softplus(-z') for stability. z, y [B, ...] (same shape). */
cf_tensor *cf_if_nfl_loss(cf_ctx *ctx, cf_tensor *z, cf_tensor *y, double alpha, double gamma);

#endif
