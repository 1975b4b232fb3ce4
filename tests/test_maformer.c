/* MAFormer's layers and data (layers/maformer.h, layers/window.h, layers/relpos2d.h, data/images/glyphs.h):
 *  - window partition puts token (r, c) of image b at window (b, r/M, c/M), slot (r%M)*M + c%M, and reverse
 *    inverts it exactly;
 *  - the 2-D relative-position index of an 8 x 8 map takes (2*8-1)^2 = 225 distinct values, the diagonal the
 *    centre one, and the bias is the table gathered at it; another token count is refused;
 *  - the property the MAF block is built on (Wang et al., sec. 3): the window branch is local, so in the
 *    window-only block a change to one token moves only the outputs of its own window, while GLD + fusion
 *    carry it to every token (full MAF and global-only blocks); this fails if the partition mixes windows
 *    or the fusion does not reach the global branch;
 *  - the block's gradients (input, Wd, the relative-position table) against central differences in f64;
 *  - size errors name the stage and the map; a wrong image size is refused;
 *  - glyphs: the label is 4*same + 2*texture + bar of the parts drawn, items are a pure function of
 *    (seed, split, index), the 8 classes are balanced, the glyphs sit in opposite quadrants. */
#include "autograd/cformer.h"
#include "data/images/glyphs.h"
#include "layers/maformer.h"
#include "layers/window.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_ctx *ctx;

static void test_window_partition(void)
{
    int64_t B = 2, H = 4, W = 6, C = 3, M = 2;
    cf_tensor *x = cf_empty(ctx, CF_F64, CF_SHAPE(B, H, W, C));
    for (int64_t i = 0; i < cf_numel(x); i++) cf_set_flat(x, i, (double)i);
    cf_tensor *w = cf_window_partition(ctx, x, M);
    CHECK(w && w->ndim == 3 && w->shape[0] == B * (H / M) * (W / M) && w->shape[1] == M * M && w->shape[2] == C);
    int bad = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < H; r++)
            for (int64_t c = 0; c < W; c++)
                for (int64_t k = 0; k < C; k++) {
                    int64_t win = (b * (H / M) + r / M) * (W / M) + c / M, slot = (r % M) * M + c % M;
                    double want = (double)(((b * H + r) * W + c) * C + k);
                    bad += cf_get_flat(w, (win * M * M + slot) * C + k) != want;
                }
    CHECK(bad == 0, "%d elements of the partition are misplaced", bad);
    cf_tensor *back = cf_window_reverse(ctx, w, B, H, W, M);
    bad = 0;
    for (int64_t i = 0; back && i < cf_numel(x); i++) bad += cf_get_flat(back, i) != (double)i;
    CHECK(back && bad == 0);
    CHECK(cf_window_partition(ctx, x, 4) == NULL);
    CHECK_ERROR_HAS("window 4 does not divide the 4 x 6 token map");
    cf_step_reset(ctx);
}

static void test_relpos2d(void)
{
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_relpos2d rb;
    CHECK(cf_relpos2d_init(&rb, ps, "rel", 8, 8, 2) == CF_OK);
    char seen[225] = {0};
    int distinct = 0, out_of_range = 0;
    for (int64_t i = 0; i < 64; i++)
        for (int64_t j = 0; j < 64; j++) {
            int64_t v = cf_relpos2d_index(8, 8, i, j);
            if (v < 0 || v >= 225) out_of_range++;
            else if (!seen[v]) seen[v] = 1, distinct++;
        }
    CHECK(distinct == 225 && out_of_range == 0, "%d distinct, %d out of range", distinct, out_of_range);
    CHECK(cf_relpos2d_index(8, 8, 9, 9) == 112); /* (7)(15) + 7: the centre of the 15 x 15 table */
    /* one step right = +1, one row down = +15, seen from the key */
    CHECK(cf_relpos2d_index(8, 8, 1, 0) == 113 && cf_relpos2d_index(8, 8, 8, 0) == 127);
    cf_tensor *bias = cf_relpos2d_fwd(ctx, &rb, 64);
    CHECK(bias && bias->shape[0] == 1 && bias->shape[1] == 2 && bias->shape[2] == 64 && bias->shape[3] == 64);
    int bad = 0;
    for (int64_t h = 0; bias && h < 2; h++)
        for (int64_t i = 0; i < 64; i++)
            for (int64_t j = 0; j < 64; j++)
                bad += cf_get_flat(bias, (h * 64 + i) * 64 + j) != cf_get_flat(rb.table, cf_relpos2d_index(8, 8, i, j) * 2 + h);
    CHECK(bad == 0);
    CHECK(cf_relpos2d_fwd(ctx, &rb, 49) == NULL);
    CHECK_ERROR_HAS("8 x 8 grid (64 tokens) got 49 tokens");
    cf_relpos2d_free(&rb);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

/* which output tokens of a block move when token 0 (window 0) of the input is changed */
static void moved_tokens(cf_maf_variant v, int *inside, int *outside)
{
    const int64_t H = 8, W = 8, C = 8, M = 4, N = H * W;
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_maf_block blk;
    CHECK(cf_maf_block_init(&blk, ps, "blk", v, H, W, C, 2, M, 16, 2) == CF_OK, "init: %s", cf_last_error());
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(1, N, C), 7, 1);
    cf_tensor *x2 = cf_empty(ctx, CF_F64, CF_SHAPE(1, N, C));
    cf_copy_(x2, x);
    cf_set_flat(x2, 1, cf_get_flat(x2, 1) + 0.5); /* one channel: a shift of all of them is what LN removes */
    cf_tensor *y = cf_maf_block_fwd(ctx, &blk, v, x, 0), *y2 = cf_maf_block_fwd(ctx, &blk, v, x2, 0);
    *inside = *outside = 0;
    for (int64_t t = 0; y && y2 && t < N; t++) {
        double d = 0;
        for (int64_t k = 0; k < C; k++) d = fmax(d, fabs(cf_get_flat(y, t * C + k) - cf_get_flat(y2, t * C + k)));
        bool in_win0 = t / W < M && t % W < M;
        if (d > 1e-12) (*(in_win0 ? inside : outside))++;
    }
    cf_maf_block_free(&blk);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

static void test_locality(void)
{
    int in, out;
    moved_tokens(CF_MAF_WINDOW, &in, &out);
    CHECK(in == 16 && out == 0, "window-only: %d tokens of window 0 and %d outside it moved", in, out);
    moved_tokens(CF_MAF_FULL, &in, &out);
    CHECK(in == 16 && out == 48, "full MAF: %d tokens of window 0 and %d outside it moved", in, out);
    moved_tokens(CF_MAF_GLOBAL, &in, &out);
    CHECK(in == 16 && out == 48, "global-only: %d tokens of window 0 and %d outside it moved", in, out);
}

/* d sum(block(x) * r) / d{x, Wd, rel table} against central differences */
static void test_block_gradients(void)
{
    const int64_t H = 4, W = 4, C = 4, N = H * W;
    cf_params *ps = cf_params_new(CF_F64, 9);
    cf_maf_block blk;
    CHECK(cf_maf_block_init(&blk, ps, "blk", CF_MAF_FULL, H, W, C, 2, 2, 4, 2) == CF_OK);
    cf_tensor *x = cf_tensor_alloc(CF_F64, CF_SHAPE(2, N, C)), *r = cf_tensor_alloc(CF_F64, CF_SHAPE(2, N, C));
    cf_copy_(x, cf_randn(ctx, CF_F64, CF_SHAPE(2, N, C), 1, 1));
    cf_copy_(r, cf_randn(ctx, CF_F64, CF_SHAPE(2, N, C), 2, 1));
    cf_step_reset(ctx);
    cf_requires_grad_(x, true);
    cf_tensor *leaves[3] = {x, blk.b.wd, blk.a.rel.table};
    cf_tensor *loss = cf_sum(ctx, cf_mul(ctx, cf_maf_block_fwd(ctx, &blk, CF_MAF_FULL, x, 0), r), CF_ALL_DIMS, false);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK, "%s", cf_last_error());
    double worst = 0;
    for (int l = 0; l < 3; l++) {
        cf_tensor *t = leaves[l];
        CHECK(t->grad != NULL);
        if (!t->grad) continue;
        double *an = malloc(sizeof *an * (size_t)cf_numel(t));
        for (int64_t i = 0; i < cf_numel(t); i++) an[i] = cf_get_flat(t->grad, i);
        cf_step_reset(ctx);
        bool prev = cf_set_grad_enabled(ctx, false);
        for (int64_t i = 0; i < cf_numel(t); i += 3) {
            double v0 = cf_get_flat(t, i), f[2], eps = 1e-6;
            for (int s = 0; s < 2; s++) {
                cf_set_flat(t, i, v0 + (s ? -eps : eps));
                f[s] = cf_get_flat(cf_sum(ctx, cf_mul(ctx, cf_maf_block_fwd(ctx, &blk, CF_MAF_FULL, x, 0), r), CF_ALL_DIMS, false), 0);
                cf_step_reset(ctx);
            }
            cf_set_flat(t, i, v0);
            double fd = (f[0] - f[1]) / (2 * eps);
            worst = fmax(worst, fabs(fd - an[i]) / (1e-3 + fabs(fd))); /* central differences are good to ~1e-9 */
        }
        cf_set_grad_enabled(ctx, prev);
        free(an);
    }
    CHECK(worst < 1e-5, "worst relative gradient error %g", worst);
    cf_tensor_free(x), cf_tensor_free(r);
    cf_maf_block_free(&blk);
    cf_params_free(ps);
}

static void test_model_errors(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_maformer net;
    cf_maformer_config c = {.in_ch = 1, .img_h = 24, .img_w = 24, .classes = 8, .stages = 2, .dims = {8, 16},
                            .depths = {1, 1}, .heads = {1, 2}, .window = 4, .ratio = 0.25, .mlp_ratio = 2,
                            .global_from = 2, .variant = CF_MAF_FULL};
    CHECK(cf_maformer_init(&net, ps, &c) != CF_OK); /* stage 1 is 6 x 6: window 4 does not divide it */
    CHECK_ERROR_HAS("window 4 does not divide the 6 x 6 token map");
    cf_params_free(ps);
    ps = cf_params_new(CF_F32, 1);
    c.img_h = c.img_w = 32;
    CHECK(cf_maformer_init(&net, ps, &c) == CF_OK, "%s", cf_last_error());
    cf_tensor *img = cf_randn(ctx, CF_F32, CF_SHAPE(2, 1, 32, 32), 1, 1);
    cf_tensor *lg = cf_maformer_logits(ctx, &net, img);
    CHECK(lg && lg->shape[0] == 2 && lg->shape[1] == 8);
    CHECK(cf_maformer_logits(ctx, &net, cf_randn(ctx, CF_F32, CF_SHAPE(2, 1, 28, 28), 1, 1)) == NULL);
    CHECK_ERROR_HAS("built for [B, 1, 32, 32] images");
    cf_maformer_free(&net);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

static void test_glyphs(void)
{
    enum { P = CF_GLYPHS_SIDE * CF_GLYPHS_SIDE, N = 4000 };
    uint8_t img[P], img2[P];
    int counts[CF_GLYPHS_CLASSES] = {0}, bad_label = 0, bad_place = 0, bad_pixels = 0;
    for (int i = 0; i < N; i++) {
        int32_t y, y2;
        cf_glyphs_item it;
        cf_glyphs_render(7, CF_GLYPHS_TRAIN, i, img, &y, &it);
        if (y < 0 || y >= CF_GLYPHS_CLASSES) {
            bad_label++;
            continue;
        }
        counts[y]++;
        bad_label += y != 4 * (it.shape[0] == it.shape[1]) + 2 * it.texture[0] + (it.bar >= 0);
        /* opposite quadrants: one glyph box in the top half, the other in the bottom half and the other side */
        bad_place += !(it.row[0] + 8 <= 16 && it.row[1] >= 16 && (it.col[0] < 16) != (it.col[1] < 16));
        /* a textured glyph: the shape's pixels at the texture's "on" positions are the brightest of the image */
        for (int g = 0; g < 2; g++) {
            int r = 0, c = 0;
            while (!cf_glyphs_shape_pixel(it.shape[g], r, c) || (it.texture[g] ? (r + c) % 2 : r % 2)) {
                if (++c == 6) c = 0, r++;
            }
            uint8_t v = img[(it.row[g] + r) * CF_GLYPHS_SIDE + it.col[g] + c];
            bad_pixels += v < 200;
        }
        if (i < 50) {
            cf_glyphs_render(7, CF_GLYPHS_TRAIN, i, img2, &y2, NULL);
            bad_label += y2 != y || memcmp(img, img2, P) != 0;
            cf_glyphs_render(7, CF_GLYPHS_TEST, i, img2, &y2, NULL);
            bad_label += memcmp(img, img2, P) == 0; /* the held-out stream differs */
        }
    }
    CHECK(bad_label == 0 && bad_place == 0 && bad_pixels == 0, "%d label, %d placement, %d pixel faults", bad_label,
          bad_place, bad_pixels);
    for (int k = 0; k < CF_GLYPHS_CLASSES; k++)
        CHECK(counts[k] > N / 8 - 100 && counts[k] < N / 8 + 100, "class %d has %d of %d items", k, counts[k], N);
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    RUN(test_window_partition);
    RUN(test_relpos2d);
    RUN(test_locality);
    RUN(test_block_gradients);
    RUN(test_model_errors);
    RUN(test_glyphs);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
