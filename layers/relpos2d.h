/* Learned 2-D relative-position bias for attention over an h x w token grid (Liu et al., "Swin Transformer",
 * ICCV 2021, sec. 3.2, eq. 4; the "bias" RelPosBias of CoAtNet/MaxViT used by Astroformer): a table
 * T [(2h-1)(2w-1), heads] and, for tokens i, j at rows r and columns c (row-major),
 *
 *     idx(i, j) = (r_i - r_j + h - 1)(2w - 1) + (c_i - c_j + w - 1),   bias[hd, i, j] = T[idx(i, j), hd]
 *
 * The gather is the embedding op, so the table's gradient is a scatter-add over the repeated indices.
 * The index is built once at init for the grid it was built for: a model only runs at that size
 * (cf_relpos2d_fwd refuses another token count).
 *
 *     cf_relpos2d rb;
 *     cf_relpos2d_init(&rb, ps, "rel_bias", 4, 4, heads);           // table [49, heads], N(0, 0.02)
 *     cf_tensor *bias = cf_relpos2d_fwd(ctx, &rb, 16);             // [1, heads, 16, 16] for cf_sdpa
 *     cf_relpos2d_free(&rb);
 */
#ifndef CF_LAYERS_RELPOS2D_H
#define CF_LAYERS_RELPOS2D_H

#include "layers/params.h"

typedef struct cf_relpos2d {
    cf_tensor *table; /* [(2h-1)(2w-1), heads], a parameter (no weight decay) */
    cf_tensor *index; /* i64 [h*w, h*w], persistent */
    int64_t h, w, heads;
} cf_relpos2d;

cf_status cf_relpos2d_init(cf_relpos2d *rb, cf_params *ps, const char *name, int64_t h, int64_t w, int64_t heads);
/* tokens must be h*w: else an error naming both */
cf_tensor *cf_relpos2d_fwd(cf_ctx *ctx, const cf_relpos2d *rb, int64_t tokens);
/* idx(i, j) of the header, for tests */
int64_t cf_relpos2d_index(int64_t h, int64_t w, int64_t i, int64_t j);
void cf_relpos2d_free(cf_relpos2d *rb);

#endif
