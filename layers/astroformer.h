/* Astroformer (Dagli, "Astroformer: More Data Might not be all you need for Classification", ICLR 2023
 * workshop, arXiv 2304.05350, sec. 3): a convolution-then-transformer hybrid in the CoAtNet / MaxViT family,
 * whose stack is C-C-C-T: three stages of MBConv blocks with squeeze-excitation (layers/mbconv.h), then a
 * stage of transformer blocks with relative-position self-attention over the whole (small) feature map.
 *
 *   stem   conv3x3 stride `stem_stride` (in -> S, no bias) -> BN -> GELU -> conv3x3 (S -> S, bias)
 *          or, for the pure-ViT baseline (stem_patch > 0), a conv patch embedding k = s = stem_patch
 *   stage  types[s] 'C' (MBConv) or 'T' (transformer), dims[s], depths[s], strides[s] (1 or 2, first block)
 *   T      sc = stride 2 ? Conv1x1(AvgPool2(x)) : dims differ ? Conv1x1(x) : x,   n = [AvgPool2](LN2d(x))
 *          x  = sc + Proj(softmax(q k^T / sqrt(32) + B_rel) v)        heads = dim / head_dim, qkv from n
 *          x  = x + MLP(LN2d(x)),  MLP = Linear(D, 4D) - GELU - Linear(4D, D)   (1x1 convolutions)
 *          B_rel: layers/relpos2d.h over the block's own map (built for it: another size is refused)
 *   head   global average pool -> LN -> Linear(D, hidden) -> tanh -> Dropout -> Linear(hidden, classes)
 * (timm's qkv "head_first" channel order is a layout of the same projection; loading timm weights would
 * need that permutation, nothing here depends on it.)
 *
 *     cf_astroformer_config c = {.in_ch = 3, .img_h = 64, .img_w = 64, .classes = 10, .stem = 16,
 *                                .stem_stride = 2, .stages = 4, .types = "CCCT", .dims = {24, 32, 48, 64},
 *                                .depths = {1, 1, 1, 2}, .strides = {2, 2, 1, 1}, .head_dim = 32,
 *                                .expand = 4, .head_hidden = 64, .dropout = 0.1};
 *     cf_astroformer net;
 *     cf_astroformer_init(&net, ps, &c);
 *     cf_tensor *logits = cf_astroformer_logits(ctx, &net, images);   // [B, in_ch, 64, 64] -> [B, 10]
 *     cf_astroformer_free(&net);
 */
#ifndef CF_LAYERS_ASTROFORMER_H
#define CF_LAYERS_ASTROFORMER_H

#include "layers/mbconv.h"
#include "layers/nn.h"
#include "layers/relpos2d.h"

#define CF_ASTRO_MAX_STAGES 6

typedef struct cf_astroformer_config {
    int64_t in_ch, img_h, img_w, classes;
    int64_t stem, stem_stride, stem_patch; /* stem_patch > 0: ViT patch embedding to dims[0] instead */
    int stages;
    char types[CF_ASTRO_MAX_STAGES + 1]; /* 'C' or 'T' per stage */
    int64_t dims[CF_ASTRO_MAX_STAGES], depths[CF_ASTRO_MAX_STAGES], strides[CF_ASTRO_MAX_STAGES];
    int64_t head_dim, expand, head_hidden;
    double dropout, drop_path;
} cf_astroformer_config;

typedef struct cf_astro_tblock {
    int64_t in, dim, stride, H, W; /* H x W: the map attention runs on (after the stride) */
    cf_tensor *sc_w, *sc_b;        /* NULL: identity shortcut */
    cf_norm_layer ln1, ln2;
    cf_linear_layer qkv, proj;
    cf_relpos2d rel;
    cf_mlp mlp;
    int64_t heads;
    uint64_t stream;
} cf_astro_tblock;

typedef struct cf_astroformer {
    cf_astroformer_config cfg;
    cf_tensor *stem1_w, *stem2_w, *stem2_b;
    cf_batch_norm_layer stem_bn;
    cf_mbconv *conv[CF_ASTRO_MAX_STAGES];
    cf_astro_tblock *tb[CF_ASTRO_MAX_STAGES];
    cf_norm_layer head_ln;
    cf_linear_layer head_fc, head_out;
    int64_t out_dim;
} cf_astroformer;

cf_status cf_astroformer_init(cf_astroformer *m, cf_params *ps, const cf_astroformer_config *c);
cf_tensor *cf_astroformer_logits(cf_ctx *ctx, const cf_astroformer *m, cf_tensor *images);
/* One transformer block on x [B, in, H*stride, W*stride] (exposed for tests). */
cf_tensor *cf_astro_tblock_fwd(cf_ctx *ctx, const cf_astro_tblock *t, cf_tensor *x, double drop_path);
void cf_astroformer_free(cf_astroformer *m);

#endif
