/* InterFormer (Huang et al., ICCV 2023): the reference map's states after a hand-worked click sequence, the click
 * simulator on a disk (first click at the centre; no click without errors), the padded EDT, NoC, the pooled grid
 * sizes of I-MSA at the paper's 512 x 512 input, NFL's value and gradient against hand-computed cases, the property
 * the paper's real-time argument rests on (the backbone runs once per image however many clicks, and the cached
 * features give exactly the full forward's logits), and named errors for bad scene files. */
#include "autograd/cformer.h"
#include "recipes/interformer/internal.h"
#include "recipes/recipe/recipe.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>

static void test_ref_map(void)
{
    enum { H = 4, W = 5 };
    uint8_t ref[H * W], pred[H * W];
    cf_if_ref_reset(ref, H * W);
    cf_if_ref_click(ref, H, W, (cf_if_click){.y = 2, .x = 2, .positive = true}, 1);
    /* prediction: the top two rows foreground */
    for (int i = 0; i < H * W; i++) pred[i] = i < 2 * W;
    cf_if_ref_update(ref, pred, H * W);
    cf_if_ref_click(ref, H, W, (cf_if_click){.y = 0, .x = 0, .positive = false}, 0);
    /* prediction: all background */
    for (int i = 0; i < H * W; i++) pred[i] = 0;
    cf_if_ref_update(ref, pred, H * W);
    /* worked by hand: the disk (1,2), (2,1), (2,2), (2,3), (3,2) is 4 throughout; the other pixels of rows 0-1 went
     * 2 -> 3 -> 2, those of rows 2-3 2 -> 1 -> 1; (0,0) is 0 after the negative click */
    static const uint8_t want[H * W] = {0, 2, 2, 2, 2,
                                        2, 2, 4, 2, 2,
                                        1, 4, 4, 4, 1,
                                        1, 1, 4, 1, 1};
    for (int i = 0; i < H * W; i++) CHECK(ref[i] == want[i], "state at (%d,%d): %d, want %d", i / W, i % W, ref[i], want[i]);
}

static void test_edt_and_clicks(void)
{
    enum { S = 32 };
    cf_if_clicker *ck = cf_if_clicker_new(S, S);
    uint8_t m[S * S] = {0}, pred[S * S] = {0}, ref[S * S];
    float d[S * S];
    m[5 * S + 7] = 1; /* one pixel: 1 from the nearest outside pixel */
    cf_if_edt(ck, m, d);
    CHECK_NEAR(d[5 * S + 7], 1.0, 1e-6);
    CHECK(d[0] == 0);
    memset(m, 1, sizeof m); /* everything: the border counts as outside, so the centre pixel (15,15) is 16 away */
    cf_if_edt(ck, m, d);
    CHECK_NEAR(d[0], 1.0, 1e-6);
    CHECK_NEAR(d[15 * S + 15], 16.0, 1e-6);
    CHECK_NEAR(d[3 * S + 10], 4.0, 1e-6);
    /* a disk of radius 6 at (12, 18): the first click (k = 1, empty prediction) is its centre, positive */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) m[y * S + x] = (y - 12) * (y - 12) + (x - 18) * (x - 18) <= 36;
    cf_if_ref_reset(ref, S * S);
    cf_if_click c;
    CHECK(cf_if_next_click(ck, m, pred, ref, 1.0, cf_rng_key(1, 2), 0, &c));
    CHECK(c.y == 12 && c.x == 18 && c.positive, "click at (%d,%d) %s", c.y, c.x, c.positive ? "+" : "-");
    /* a prediction spilling to the right: the largest error is now false positive, the next click negative */
    memcpy(pred, m, sizeof pred);
    for (int y = 4; y < 20; y++)
        for (int x = 24; x < 32; x++) pred[y * S + x] = 1;
    CHECK(cf_if_next_click(ck, m, pred, ref, 1.0, cf_rng_key(1, 2), 1, &c));
    CHECK(!c.positive && c.x >= 24 && c.y >= 4 && c.y < 20, "click at (%d,%d)", c.y, c.x);
    /* a perfect prediction: no click */
    CHECK(!cf_if_next_click(ck, m, m, ref, 1.0, cf_rng_key(1, 2), 2, &c));
    CHECK_NEAR(cf_if_iou(m, m, S * S), 1.0, 0);
    cf_if_clicker_free(ck);
    /* NoC: a perfect model needs 1 click; never reaching tau counts as the cap */
    double perfect[3] = {1, 1, 1}, slow[3] = {0.5, 0.86, 0.95}, never[3] = {0.1, 0.2, 0.3};
    CHECK(cf_if_noc(perfect, 3, 0.9) == 1);
    CHECK(cf_if_noc(slow, 3, 0.85) == 2 && cf_if_noc(slow, 3, 0.9) == 3);
    CHECK(cf_if_noc(never, 3, 0.85) == 3);
}

static void test_pool_sides(void)
{
    /* the paper's 512 x 512 input: stage 0 (128 x 128, T = 128, ratios 12 16 20 24) pools to 11, 8, 6, 5 a side;
     * stage 3 (16 x 16, T = 16, ratios 1 2 3 4) to 16, 8, 5, 4 */
    CHECK(cf_if_pool_side(128, 128, 12) == 11 && cf_if_pool_side(128, 128, 16) == 8);
    CHECK(cf_if_pool_side(128, 128, 20) == 6 && cf_if_pool_side(128, 128, 24) == 5);
    CHECK(cf_if_pool_side(16, 16, 1) == 16 && cf_if_pool_side(16, 16, 2) == 8);
    CHECK(cf_if_pool_side(16, 16, 3) == 5 && cf_if_pool_side(16, 16, 4) == 4);
}

static double sigm(double x) { return 1 / (1 + exp(-x)); }

static void test_nfl(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    /* one image, two pixels: z = (0, 2), y = (1, 0); alpha 0.5, gamma 2 */
    double zv[2] = {0, 2}, yv[2] = {1, 0};
    cf_tensor *z = cf_from_data(ctx, CF_F64, CF_SHAPE(1, 2), zv), *y = cf_from_data(ctx, CF_F64, CF_SHAPE(1, 2), yv);
    cf_requires_grad_(z, true);
    cf_tensor *l = cf_if_nfl_loss(ctx, z, y, 0.5, 2.0);
    /* by hand: p_t = (0.5, 1 - sigmoid(2) = 0.119203), beta = (0.25, 0.775803), s = 2 / 1.025803 = 1.949691,
     * -log p_t = (0.693147, 2.126928); loss = 0.5 * s * (0.25 * 0.693147 + 0.775803 * 2.126928) / 2 = 0.888750 */
    CHECK_NEAR(cf_item(l), 0.888750, 2e-6);
    CHECK(cf_backward(ctx, l, NULL) == CF_OK);
    /* the paper's per-pixel gradient with s held fixed: alpha s [gamma p_t (1 - p_t)^gamma log p_t - (1 - p_t)^(gamma+1)]
     * for y = 1, the sign flipped for y = 0 (p_t = 1 - p), over the N = 2 pixels of the mean */
    double s = 2 / (0.25 + pow(sigm(2), 2)), g[2];
    for (int i = 0; i < 2; i++) {
        double pt = yv[i] ? sigm(zv[i]) : 1 - sigm(zv[i]);
        double gp = 0.5 * s * (2 * pt * pow(1 - pt, 2) * log(pt) - pow(1 - pt, 3)) / 2;
        g[i] = yv[i] ? gp : -gp;
    }
    CHECK_NEAR(cf_get_flat(z->grad, 0), g[0], 1e-9);
    CHECK_NEAR(cf_get_flat(z->grad, 1), g[1], 1e-9);
    cf_ctx_free(ctx);
}

/* A tiny model through the registry's create, as `cformer train` builds it. */
static cf_if_model *tiny_model(cf_params **ps)
{
    cf_recipe *r = cf_recipe_parse("model:\n  type: interformer\n  patch: 8\n  dim: 16\n  depth: 1\n  heads: 2\n"
                                   "  widths: [8, 16]\n  head_dim: 8\n  target: 8\n  pool_ratios: {0: [2, 4], 1: [1, 2]}\n"
                                   "eval:\n  clicks: 5\n", "tiny.yaml");
    cf_data_info info = {.frame_h = 32, .frame_w = 32, .channels = 3, .vocab = 2, .frames = 1};
    *ps = cf_params_new(CF_F32, 7);
    cf_model *m = cf_interformer_model.create(r, *ps, &info);
    cf_recipe_free(r);
    return (cf_if_model *)m;
}

static void test_features_once(void)
{
    cf_params *ps;
    cf_if_model *m = tiny_model(&ps);
    CHECK(m != NULL);
    if (!m) return;
    cf_ctx *ctx = cf_ctx_new(NULL);
    cf_set_grad_enabled(ctx, false);
    enum { S = 32, IMAGES = 3, CLICKS = 5 };
    float img[3 * S * S], msk[S * S];
    double iou[CLICKS], tb = 0, tc = 0;
    for (int k = 0; k < IMAGES; k++) {
        for (int i = 0; i < 3 * S * S; i++) img[i] = (float)sin(0.37 * i + k);
        for (int i = 0; i < S * S; i++) msk[i] = (i / S - 10 - k) * (i / S - 10 - k) + (i % S - 14) * (i % S - 14) < 30;
        cf_tensor *image = cf_from_data(ctx, CF_F32, CF_SHAPE(1, 3, S, S), img);
        cf_tensor *mask = cf_from_data(ctx, CF_F32, CF_SHAPE(1, 1, S, S), msk);
        CHECK(cf_if_eval_image(m, ctx, image, mask, CLICKS, (uint64_t)k, iou, &tb, &tc) == CF_OK);
        cf_step_reset(ctx);
    }
    /* the paper's real-time premise: one backbone run per image, whatever the number of clicks */
    CHECK(m->net.backbone_runs == IMAGES, "backbone ran %lld times for %d images x %d clicks",
          (long long)m->net.backbone_runs, IMAGES, CLICKS);
    /* the cached features give exactly the full forward's logits, and a click changes them (it reaches the neck) */
    cf_tensor *image = cf_from_data(ctx, CF_F32, CF_SHAPE(1, 3, S, S), img);
    cf_if_features f, g;
    CHECK(cf_if_backbone(ctx, &m->net, image, &f) == CF_OK);
    int64_t ids[S * S];
    for (int i = 0; i < S * S; i++) ids[i] = CF_IF_UNKNOWN;
    cf_tensor *z0 = cf_if_decode(ctx, &m->net, &f, cf_from_data(ctx, CF_I64, CF_SHAPE(1, S, S), ids));
    for (int i = 0; i < 30; i++) ids[5 * S + i] = CF_IF_DEF_FG;
    cf_tensor *z1 = cf_if_decode(ctx, &m->net, &f, cf_from_data(ctx, CF_I64, CF_SHAPE(1, S, S), ids));
    CHECK(cf_if_backbone(ctx, &m->net, image, &g) == CF_OK);
    cf_tensor *z2 = cf_if_decode(ctx, &m->net, &g, cf_from_data(ctx, CF_I64, CF_SHAPE(1, S, S), ids));
    double same = 0, moved = 0;
    for (int64_t i = 0; i < S * S; i++) {
        same = fmax(same, fabs(cf_get_flat(z1, i) - cf_get_flat(z2, i)));
        moved = fmax(moved, fabs(cf_get_flat(z1, i) - cf_get_flat(z0, i)));
    }
    CHECK(same == 0, "cached vs full forward differ by %g", same);
    CHECK(moved > 1e-6, "a click did not change the logits");
    cf_ctx_free(ctx);
    cf_interformer_model.free(&m->base);
    cf_params_free(ps);
}

static void write_png(const char *path, const uint8_t *px, int w, int h, png_uint_32 format)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION, im.width = (png_uint_32)w, im.height = (png_uint_32)h, im.format = format;
    CHECK(png_image_write_to_file(&im, path, 0, px, 0, NULL));
}

static void test_bad_files(void)
{
    if (!test_dir_make("interformer")) return;
    CHECK(cf_scenes_generate(test_dir, "train", 3, 24, 5) == CF_OK);
    cf_scenes *s = cf_scenes_read(test_dir, "train", 4);
    CHECK(s && s->n == 3 && s->side == 24);
    for (int64_t i = 0; s && i < s->n; i++) CHECK(s->count[i] >= 1);
    cf_scenes_free(s);
    CHECK(cf_scenes_read(test_dir, "val", 4) == NULL);
    CHECK_ERROR_HAS("val/images/00000.png: no such file");
    static uint8_t rgb[24 * 24 * 3];
    /* a colour mask */
    write_png(tmp_path("train/masks/00001.png"), rgb, 24, 24, PNG_FORMAT_RGB);
    CHECK(cf_scenes_read(test_dir, "train", 4) == NULL);
    CHECK_ERROR_HAS("masks/00001.png: 24 x 24, a colour or palette image");
    /* a mask of another size */
    write_png(tmp_path("train/masks/00001.png"), rgb, 20, 20, PNG_FORMAT_GRAY);
    CHECK(cf_scenes_read(test_dir, "train", 4) == NULL);
    CHECK_ERROR_HAS("00001.png: 20 x 20, a size other than");
    /* an empty mask: no target object */
    write_png(tmp_path("train/masks/00001.png"), (uint8_t[24 * 24]){0}, 24, 24, PNG_FORMAT_GRAY);
    CHECK(cf_scenes_read(test_dir, "train", 4) == NULL);
    CHECK_ERROR_HAS("00001.png: no object of at least 4 pixels");
    /* a missing mask, a truncated image */
    remove(tmp_path("train/masks/00001.png"));
    CHECK(cf_scenes_read(test_dir, "train", 4) == NULL);
    CHECK_ERROR_HAS("masks/00001.png: missing");
    CHECK(cf_scenes_generate(test_dir, "train", 3, 24, 5) == CF_OK);
    FILE *f = fopen(tmp_path("train/images/00002.png"), "wb");
    if (f) fputs("\x89PNG\r\n\x1a\n", f), fclose(f);
    CHECK(cf_scenes_read(test_dir, "train", 4) == NULL);
    CHECK_ERROR_HAS("not a readable PNG");
    test_rmtree(test_dir);
}

int main(void)
{
    test_ref_map();
    test_edt_and_clicks();
    test_pool_sides();
    test_nfl();
    test_features_once();
    test_bad_files();
    TEST_MAIN_END();
}
