/* Astroformer's layers and data (layers/astroformer.h, layers/mbconv.h, data/images/galaxies.h):
 *  - MBConv+SE and the transformer block: output shapes, and gradients (input, weights, the relative-position
 *    table) against central differences in f64, BN in training mode;
 *  - squeeze-excitation on a hand-computed case: with zeroed SE weights the gate is sigmoid(0) = 1/2 on
 *    every channel, so the block's residual branch is half of what it is with the gate forced to 1;
 *  - the property the design relies on (sec. 3, BN in the C stages): in evaluation mode the logits of an image
 *    do not depend on the rest of its batch (running statistics), in training mode they do (batch statistics);
 *    this fails if evaluation used batch statistics;
 *  - the network runs only at the size it was built for (the relative-position tables fix it): another size is
 *    an error naming both, never a broadcast; bad configurations are refused by name;
 *  - galaxies: items are a pure function of (seed, split, index); classes follow Galaxy10 DECaLS' counts; label
 *    noise swaps only the pairs 2/3, 6/7, 8/9, at about 10%; the HDF5 file reads back through the Galaxy10
 *    loader with the same pixels and labels. */
#include "autograd/cformer.h"
#include "data/images/galaxies.h"
#include "data/images/images.h"
#include "layers/astroformer.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_ctx *ctx;

typedef cf_tensor *(*fwd_fn)(void *net, cf_tensor *x);

/* worst |fd - analytic| / (1e-3 + |fd|) over every 3rd element of each leaf, for sum(f(x) * r) */
static double fd_check(fwd_fn f, void *net, cf_tensor *x, cf_tensor *const *leaves, int nl)
{
    cf_tensor *y0 = f(net, x);
    if (!y0) return INFINITY;
    cf_tensor *r = cf_tensor_alloc(CF_F64, y0->ndim, y0->shape);
    cf_copy_(r, cf_randn(ctx, CF_F64, y0->ndim, y0->shape, 4, 4));
    cf_step_reset(ctx);
    cf_tensor *loss = cf_sum(ctx, cf_mul(ctx, f(net, x), r), CF_ALL_DIMS, false);
    if (!loss || cf_backward(ctx, loss, NULL) != CF_OK) return INFINITY;
    double worst = 0;
    for (int l = 0; l < nl; l++) {
        cf_tensor *t = leaves[l];
        if (!t->grad) return INFINITY;
        int64_t n = cf_numel(t);
        double *an = malloc(sizeof *an * (size_t)n);
        for (int64_t i = 0; i < n; i++) an[i] = cf_get_flat(t->grad, i);
        cf_step_reset(ctx);
        bool prev = cf_set_grad_enabled(ctx, false);
        for (int64_t i = 0; i < n; i += 3) {
            double v0 = cf_get_flat(t, i), fv[2], eps = 1e-6;
            for (int s = 0; s < 2; s++) {
                cf_set_flat(t, i, v0 + (s ? -eps : eps));
                fv[s] = cf_get_flat(cf_sum(ctx, cf_mul(ctx, f(net, x), r), CF_ALL_DIMS, false), 0);
                cf_step_reset(ctx);
            }
            cf_set_flat(t, i, v0);
            double fd = (fv[0] - fv[1]) / (2 * eps);
            worst = fmax(worst, fabs(fd - an[i]) / (1e-3 + fabs(fd)));
        }
        cf_set_grad_enabled(ctx, prev);
        free(an);
    }
    cf_tensor_free(r);
    return worst;
}

static cf_tensor *mb_fwd(void *net, cf_tensor *x) { return cf_mbconv_fwd(ctx, net, x, 0); }
static cf_tensor *tb_fwd(void *net, cf_tensor *x) { return cf_astro_tblock_fwd(ctx, net, x, 0); }

static cf_tensor *input(int64_t B, int64_t C, int64_t H, int64_t W, uint64_t seed)
{
    cf_tensor *x = cf_tensor_alloc(CF_F64, CF_SHAPE(B, C, H, W));
    cf_copy_(x, cf_randn(ctx, CF_F64, CF_SHAPE(B, C, H, W), seed, 1));
    cf_step_reset(ctx);
    cf_requires_grad_(x, true);
    return x;
}

static void test_block_gradients(void)
{
    cf_set_training(ctx, true);
    cf_params *ps = cf_params_new(CF_F64, 2);
    cf_mbconv mb;
    CHECK(cf_mbconv_init(&mb, ps, "mb", 3, 4, 2, 2) == CF_OK, "%s", cf_last_error());
    cf_tensor *x = input(2, 3, 4, 4, 1);
    cf_tensor *y = cf_mbconv_fwd(ctx, &mb, x, 0);
    CHECK(y && y->shape[0] == 2 && y->shape[1] == 4 && y->shape[2] == 2 && y->shape[3] == 2);
    cf_step_reset(ctx);
    cf_tensor *ml[] = {x, mb.w_exp, mb.w_dw, mb.se_w1, mb.se_w2, mb.w_proj, mb.sc_w, mb.bn1.w};
    double e = fd_check(mb_fwd, &mb, x, ml, 8);
    CHECK(e < 1e-5, "MBConv: worst relative gradient error %g", e);
    cf_tensor_free(x);
    cf_params_free(ps);

    ps = cf_params_new(CF_F64, 3);
    cf_astroformer_config c = {.in_ch = 4, .img_h = 4, .img_w = 4, .classes = 3, .stem = 4, .stem_stride = 1,
                               .stages = 1, .types = "T", .dims = {4}, .depths = {1}, .strides = {2}, .head_dim = 2,
                               .expand = 2, .head_hidden = 4};
    cf_astroformer net;
    CHECK(cf_astroformer_init(&net, ps, &c) == CF_OK, "%s", cf_last_error());
    cf_astro_tblock *tb = &net.tb[0][0];
    x = input(2, 4, 4, 4, 5);
    y = cf_astro_tblock_fwd(ctx, tb, x, 0);
    CHECK(y && y->shape[1] == 4 && y->shape[2] == 2 && y->shape[3] == 2); /* stride 2: 4 x 4 -> 2 x 2 */
    cf_step_reset(ctx);
    cf_tensor *tl[] = {x, tb->qkv.weight, tb->proj.weight, tb->rel.table, tb->sc_w, tb->mlp.fc1.weight};
    e = fd_check(tb_fwd, tb, x, tl, 6);
    CHECK(e < 1e-5, "transformer block: worst relative gradient error %g", e);
    cf_tensor_free(x);
    cf_astroformer_free(&net);
    cf_params_free(ps);
}

static void test_squeeze_excitation(void)
{
    cf_set_training(ctx, false); /* running statistics: the block is a fixed function */
    cf_params *ps = cf_params_new(CF_F64, 4);
    cf_mbconv mb;
    CHECK(cf_mbconv_init(&mb, ps, "mb", 4, 4, 1, 2) == CF_OK);
    cf_fill_(mb.se_w1, 0), cf_fill_(mb.se_b1, 0), cf_fill_(mb.se_w2, 0), cf_fill_(mb.se_b2, 0);
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(1, 4, 3, 3), 9, 1);
    cf_fill_(mb.b_proj, 0); /* the branch is then linear in the gate */
    cf_tensor *half = cf_mbconv_fwd(ctx, &mb, x, 0); /* gate sigmoid(0) = 1/2 */
    cf_fill_(mb.se_b2, 40);                          /* gate sigmoid(40) = 1 to double precision */
    cf_tensor *full = cf_mbconv_fwd(ctx, &mb, x, 0);
    double worst = 0;
    for (int64_t i = 0; half && full && i < cf_numel(x); i++) {
        double xi = cf_get_flat(x, i); /* identity shortcut: out = x + branch */
        worst = fmax(worst, fabs((cf_get_flat(half, i) - xi) - 0.5 * (cf_get_flat(full, i) - xi)));
    }
    CHECK(half && full && worst < 1e-12, "SE gate: residual branch at gate 1/2 is off by %g from half of gate 1", worst);
    cf_params_free(ps);
    cf_step_reset(ctx);
}

static void test_eval_batch_independence(void)
{
    cf_params *ps = cf_params_new(CF_F32, 5);
    cf_astroformer_config c = {.in_ch = 3, .img_h = 16, .img_w = 16, .classes = 4, .stem = 8, .stem_stride = 2,
                               .stages = 3, .types = "CCT", .dims = {8, 8, 16}, .depths = {1, 1, 1},
                               .strides = {2, 1, 1}, .head_dim = 8, .expand = 2, .head_hidden = 8};
    cf_astroformer net;
    CHECK(cf_astroformer_init(&net, ps, &c) == CF_OK, "%s", cf_last_error());
    cf_tensor *a = cf_randn(ctx, CF_F32, CF_SHAPE(4, 3, 16, 16), 1, 1), *b = cf_randn(ctx, CF_F32, CF_SHAPE(4, 3, 16, 16), 2, 1);
    cf_tensor *b2 = cf_empty(ctx, CF_F32, CF_SHAPE(4, 3, 16, 16)); /* b's images with a's first image */
    cf_copy_(b2, b);
    cf_copy_(cf_slice(ctx, b2, 0, 0, 1, 1), cf_slice(ctx, a, 0, 0, 1, 1));
    double d_eval = 0, d_train = 0;
    for (int train = 0; train < 2; train++) {
        cf_set_training(ctx, train);
        bool prev = cf_set_grad_enabled(ctx, false);
        cf_tensor *la = cf_astroformer_logits(ctx, &net, a), *lb = cf_astroformer_logits(ctx, &net, b2);
        cf_set_grad_enabled(ctx, prev);
        double d = 0;
        for (int k = 0; la && lb && k < 4; k++) d = fmax(d, fabs(cf_get_flat(la, k) - cf_get_flat(lb, k)));
        *(train ? &d_train : &d_eval) = d;
    }
    CHECK(d_eval < 1e-6, "eval mode: the first image's logits moved by %g with its batch", d_eval);
    CHECK(d_train > 1e-4, "train mode: batch statistics should move the logits, moved %g", d_train);
    /* built for 16 x 16: another size is an error, not a broadcast */
    CHECK(cf_astroformer_logits(ctx, &net, cf_randn(ctx, CF_F32, CF_SHAPE(1, 3, 32, 32), 1, 1)) == NULL);
    CHECK_ERROR_HAS("built for [B, 3, 16, 16] images");
    cf_astroformer_free(&net);
    cf_params_free(ps);
    cf_step_reset(ctx);
    cf_set_training(ctx, false);
}

static void test_config_errors(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_astroformer net;
    cf_astroformer_config c = {.in_ch = 3, .img_h = 16, .img_w = 16, .classes = 4, .stem = 8, .stem_stride = 2,
                               .stages = 2, .types = "CX", .dims = {8, 16}, .depths = {1, 1}, .strides = {2, 2},
                               .head_dim = 8, .expand = 2, .head_hidden = 8};
    CHECK(cf_astroformer_init(&net, ps, &c) != CF_OK);
    CHECK_ERROR_HAS("stage 1 has type 'X'");
    memcpy(c.types, "CT", 3);
    c.dims[1] = 12;
    CHECK(cf_astroformer_init(&net, ps, &c) != CF_OK);
    CHECK_ERROR_HAS("dim 12 is not a multiple of the head size 8");
    cf_astroformer_free(&net);
    c.dims[1] = 16, c.stem_patch = 5, memcpy(c.types, "TT", 3);
    CHECK(cf_astroformer_init(&net, ps, &c) != CF_OK);
    CHECK_ERROR_HAS("patch 5 does not divide the 16 x 16 image");
    cf_astroformer_free(&net);
    cf_params_free(ps);
}

static void test_galaxies(void)
{
    enum { N = 6000, P = CF_GALAXY_SIDE * CF_GALAXY_SIDE * 3 };
    uint8_t *img = malloc(P), *img2 = malloc(P);
    int counts[CF_GALAXY_CLASSES] = {0}, flips = 0, pair_items = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        int32_t y, c, y2;
        cf_galaxy_render(3, CF_GALAXY_TRAIN, i, img, &y, &c);
        counts[c]++;
        bool pair = c == 2 || c == 3 || c == 6 || c == 7 || c == 8 || c == 9;
        pair_items += pair;
        if (y != c) {
            flips++;
            bad += !pair || (y != (c ^ 1) && !(c == 2 && y == 3) && !(c == 3 && y == 2)); /* 2<->3, 6<->7, 8<->9 */
        }
        if (i < 20) {
            cf_galaxy_render(3, CF_GALAXY_TRAIN, i, img2, &y2, NULL);
            bad += y2 != y || memcmp(img, img2, P) != 0;
        }
    }
    CHECK(bad == 0, "%d faults (label swaps outside the pairs, or items not reproducible)", bad);
    double rate = (double)flips / pair_items;
    CHECK(rate > 0.08 && rate < 0.12, "label noise on the neighbouring pairs: %.3f", rate);
    for (int k = 0; k < CF_GALAXY_CLASSES; k++) {
        double want = (double)cf_galaxy10_counts[k] / 17736.0, got = (double)counts[k] / N;
        CHECK(fabs(got - want) < 4 * sqrt(want * (1 - want) / N) + 1e-3, "class %d: share %.4f, Galaxy10 %.4f", k, got, want);
    }
    free(img), free(img2);
#ifdef CF_HAVE_HDF5
    CHECK(test_dir_make("galaxies"));
    CHECK(cf_galaxies_write_h5(tmp_path("gal.h5"), 5, 3, CF_GALAXY_TEST) == CF_OK, "%s", cf_last_error());
    cf_image_source *s = cf_image_source_h5(tmp_path("gal.h5"), "images", "ans");
    CHECK(s && s->n == 5 && s->h == 64 && s->w == 64 && s->c == 3, "%s", cf_last_error());
    uint8_t a[P], b[P];
    for (int i = 0; s && i < 5; i++) {
        int32_t y, yr;
        cf_galaxy_render(3, CF_GALAXY_TEST, i, a, &y, NULL);
        CHECK(s->read(s, i, b, &yr) == CF_OK && yr == y && memcmp(a, b, P) == 0, "item %d differs after the round trip", i);
    }
    cf_image_source_free(s);
    CHECK(cf_galaxies_write_h5(tmp_path("nodir/gal.h5"), 5, 3, CF_GALAXY_TEST) != CF_OK);
    CHECK_ERROR_HAS("nodir/gal.h5");
    test_rmtree(test_dir);
#endif
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    RUN(test_block_gradients);
    RUN(test_squeeze_excitation);
    RUN(test_eval_batch_independence);
    RUN(test_config_errors);
    RUN(test_galaxies);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
