/* Augmentation (data/images/augment.h) and the images dataset: hand-computed views (identity, flip,
 * normalisation, bilinear halving), determinism per (seed, index, epoch), mixup and cutmix against their
 * definitions, targets summing to 1 with smoothing, Beta(alpha, alpha) moments, and a dataset row that is
 * the same whether or not other rows were drawn first (what makes a resume exact). */
#define CHECK_SHOW_LAST_ERROR
#include "data/images/augment.h"
#include "data/images/images.h"
#include "data/loader.h"

#include "tests/check.h"

#include <stdlib.h>

static void test_hand_views(void)
{
    /* 2 x 3 RGB image */
    uint8_t im[2 * 3 * 3];
    for (int i = 0; i < 18; i++) im[i] = (uint8_t)(10 * i);
    cf_augment a;
    cf_augment_defaults(&a, 3, 2, 3, 4);
    float out[18];
    cf_augment_view(&a, im, 2, 3, 7, 0, 0, 0, out);
    int ok = 1;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) ok &= fabsf(out[(c * 2 + y) * 3 + x] - im[(y * 3 + x) * 3 + c] / 255.f) < 1e-6f;
    CHECK(ok, "same-size view without crop is the image / 255 in CHW");
    /* normalisation: (p/255 - mean) / std per channel */
    a.mean[1] = 0.5f, a.std[1] = 0.25f;
    cf_augment_view(&a, im, 2, 3, 7, 0, 0, 0, out);
    CHECK_NEAR(out[(1 * 2 + 1) * 3 + 2], (im[(1 * 3 + 2) * 3 + 1] / 255.0 - 0.5) / 0.25, 1e-5);
    /* flip: with flip on, some of the first 64 items are mirrored, the rest identical */
    cf_augment_defaults(&a, 1, 2, 3, 4);
    a.flip = true;
    uint8_t g[6] = {0, 51, 102, 153, 204, 255};
    int flipped = 0, same = 0;
    for (int i = 0; i < 64; i++) {
        cf_augment_view(&a, g, 2, 3, 1, i, 0, 0, out);
        if (fabsf(out[0] - 102 / 255.f) < 1e-6f && fabsf(out[2] - 0.f) < 1e-6f && fabsf(out[3] - 1.f) < 1e-6f) flipped++;
        else if (fabsf(out[0]) < 1e-6f && fabsf(out[2] - 102 / 255.f) < 1e-6f) same++;
    }
    CHECK(flipped + same == 64 && flipped > 16 && same > 16, "flipped %d, same %d", flipped, same);
    /* bilinear halving of a 2 x 4 row pair to 1 x 2: each output is the mean of a 2 x 2 block */
    uint8_t h4[8] = {0, 40, 80, 120, 20, 60, 100, 140};
    cf_augment_defaults(&a, 1, 1, 2, 2);
    cf_augment_view(&a, h4, 2, 4, 0, 0, 0, 0, out);
    CHECK_NEAR(out[0] * 255, 30, 1e-4);
    CHECK_NEAR(out[1] * 255, 110, 1e-4);
}

static void test_crop_determinism(void)
{
    uint8_t im[16 * 16];
    for (int i = 0; i < 256; i++) im[i] = (uint8_t)(i * 7);
    cf_augment a;
    cf_augment_defaults(&a, 1, 8, 8, 3);
    a.crop = true, a.flip = true;
    float o1[64], o2[64], o3[64];
    cf_augment_view(&a, im, 16, 16, 5, 3, 2, 0, o1);
    cf_augment_view(&a, im, 16, 16, 5, 3, 2, 0, o2);
    CHECK(memcmp(o1, o2, sizeof o1) == 0, "same (seed, index, epoch) gives the same view");
    int differ = 0;
    for (int e = 3; e < 8; e++) {
        cf_augment_view(&a, im, 16, 16, 5, 3, e, 0, o3);
        differ += memcmp(o1, o3, sizeof o1) != 0;
    }
    CHECK(differ >= 4, "other epochs draw other crops (%d of 5 differ)", differ);
    /* every output pixel is a convex mix of image pixels: within [min, max] of the image */
    int inside = 1;
    for (int i = 0; i < 64; i++) inside &= o1[i] >= 0.f && o1[i] <= 1.f;
    CHECK(inside);
}

static void test_mixing(void)
{
    cf_augment a;
    cf_augment_defaults(&a, 1, 8, 8, 5);
    a.mixup_alpha = 0.4, a.cutmix_alpha = 1.0, a.smoothing = 0.1;
    int same = 1, mixups = 0, cutmixes = 0, sums_ok = 1, lam_ok = 1, partner_ok = 1, apply_ok = 1;
    float x[64], y[64], t[5];
    for (int i = 0; i < 64; i++) y[i] = 2.f;
    for (int64_t idx = 0; idx < 400; idx++) {
        cf_augment_mix m = cf_augment_draw_mix(&a, 9, idx, 1, 50);
        cf_augment_mix m2 = cf_augment_draw_mix(&a, 9, idx, 1, 50);
        same &= m.mode == m2.mode && m.partner == m2.partner && m.lam == m2.lam && m.y0 == m2.y0 && m.x1 == m2.x1;
        partner_ok &= m.partner != idx % 50 || m.mode == CF_MIX_NONE || idx >= 50;
        partner_ok &= m.partner >= 0 && m.partner < 50;
        lam_ok &= m.lam >= 0 && m.lam <= 1;
        cf_augment_targets(&a, (int)(idx % 5), (int)((idx + 2) % 5), m.lam, t);
        double s = 0;
        for (int k = 0; k < 5; k++) s += t[k];
        sums_ok &= fabs(s - 1) < 1e-6;
        /* the item's own class gets (1-eps)*lam + eps/K */
        sums_ok &= fabs(t[idx % 5] - ((1 - 0.1) * m.lam + 0.1 / 5)) < 1e-6;
        for (int i = 0; i < 64; i++) x[i] = 1.f;
        cf_augment_apply_mix(&a, &m, x, y);
        double mean = 0;
        for (int i = 0; i < 64; i++) mean += x[i] / 64;
        if (m.mode == CF_MIX_MIXUP) {
            mixups++;
            apply_ok &= fabs(mean - (m.lam + 2 * (1 - m.lam))) < 1e-5; /* x = lam*1 + (1-lam)*2 everywhere */
        } else if (m.mode == CF_MIX_CUTMIX) {
            cutmixes++;
            /* lam is the share of pixels kept: mean = lam*1 + (1-lam)*2 exactly */
            apply_ok &= fabs(mean - (m.lam + 2 * (1 - m.lam))) < 1e-5;
            apply_ok &= (m.y1 - m.y0) * (m.x1 - m.x0) == (int)lround((1 - m.lam) * 64);
        }
    }
    CHECK(same && sums_ok && lam_ok && partner_ok && apply_ok, "same %d sums %d lam %d partner %d apply %d", same, sums_ok, lam_ok, partner_ok, apply_ok);
    CHECK(mixups > 120 && cutmixes > 120, "mixup %d, cutmix %d of 400", mixups, cutmixes);
    /* mix_prob 0: nothing mixed; the targets are the smoothed one-hot */
    a.mix_prob = 0;
    cf_augment_mix m = cf_augment_draw_mix(&a, 9, 3, 1, 50);
    CHECK(m.mode == CF_MIX_NONE && m.lam == 1);
    cf_augment_targets(&a, 2, 2, 1.0, t);
    CHECK_NEAR(t[2], 0.9 + 0.02, 1e-6);
    CHECK_NEAR(t[0], 0.02, 1e-7);
}

/* Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)). */
static void test_beta(void)
{
    const double alphas[3] = {0.2, 1.0, 4.0};
    for (int k = 0; k < 3; k++) {
        double s = 0, s2 = 0, al = alphas[k];
        int n = 20000, in01 = 1;
        for (int i = 0; i < n; i++) {
            double b = cf_augment_beta(al, 11, i, 0, 1000);
            in01 &= b >= 0 && b <= 1;
            s += b, s2 += b * b;
        }
        double mean = s / n, var = s2 / n - mean * mean, want = 1 / (4 * (2 * al + 1));
        CHECK(in01);
        CHECK_NEAR(mean, 0.5, 0.01);
        CHECK(fabs(var - want) < 0.05 * want + 0.002, "alpha %g: variance %g, expected %g", al, var, want);
    }
}

/* A dataset row depends on (seed, index, epoch) only: drawing row 5 alone equals drawing it after others. */
static void test_dataset_rows(void)
{
    int64_t n = 20;
    uint8_t *px = malloc((size_t)n * 12 * 12);
    int32_t *lb = malloc(sizeof *lb * (size_t)n);
    for (int64_t i = 0; i < n * 144; i++) px[i] = (uint8_t)(i * 13 + i / 144);
    for (int64_t i = 0; i < n; i++) lb[i] = (int32_t)(i % 4);
    cf_image_source *s = cf_image_source_memory(px, lb, n, 12, 12, 1, 4, "mem");
    CHECK(s != NULL);
    cf_augment a;
    cf_augment_defaults(&a, 1, 8, 8, 4);
    a.crop = a.flip = true, a.mixup_alpha = 0.5, a.cutmix_alpha = 1, a.smoothing = 0.1;
    int64_t items[10];
    CHECK(cf_images_split(n, 0.5, false, items) + cf_images_split(n, 0.5, true, items) == n);
    cf_dataset *ds = cf_images_dataset_open(s, &a, 3, NULL, n, "mem [train]");
    CHECK(ds != NULL);
    if (!ds) return;
    cf_batch b1 = {0}, b2 = {0};
    CHECK(cf_dataset_make_batch(ds, 4, &b1) == CF_OK && cf_dataset_make_batch(ds, 4, &b2) == CF_OK);
    b1.epoch = b2.epoch = 3;
    for (int r = 0; r < 4; r++) CHECK(cf_dataset_get(ds, 11 + r, &b1, r) == CF_OK);
    CHECK(cf_dataset_get(ds, 5, &b1, 2) == CF_OK);
    CHECK(cf_dataset_get(ds, 5, &b2, 0) == CF_OK);
    const float *i1 = cf_data(cf_batch_get(&b1, "images")), *i2 = cf_data(cf_batch_get(&b2, "images"));
    const float *t1 = cf_data(cf_batch_get(&b1, "targets")), *t2 = cf_data(cf_batch_get(&b2, "targets"));
    CHECK(memcmp(i1 + 2 * 64, i2, 64 * sizeof(float)) == 0 && memcmp(t1 + 2 * 4, t2, 4 * sizeof(float)) == 0);
    CHECK(((const int64_t *)cf_data(cf_batch_get(&b1, "labels")))[2] == 1);
    double sum = 0;
    for (int k = 0; k < 4; k++) sum += t2[k];
    CHECK_NEAR(sum, 1.0, 1e-6);
    cf_batch_free(&b1), cf_batch_free(&b2);
    cf_dataset_free(ds);
    /* bad configurations are named */
    px = calloc(144, 1), lb = calloc(1, sizeof *lb);
    s = cf_image_source_memory(px, lb, 1, 12, 12, 1, 4, "mem1");
    a.smoothing = 1.0;
    CHECK(cf_images_dataset_open(s, &a, 0, NULL, 1, "mem1 [train]") == NULL);
    CHECK_ERROR_HAS("smoothing");
    px = calloc(144, 1), lb = calloc(1, sizeof *lb);
    lb[0] = 9;
    CHECK(cf_image_source_memory(px, lb, 1, 12, 12, 1, 4, "mem2") == NULL);
    CHECK_ERROR_HAS("label entry 0 is 9");
}

/* Resume: a loader sought to the cursor of batch k returns batch k exactly (augmentation and mixing
 * included), also across an epoch boundary. */
static void test_loader_resume(void)
{
    int64_t n = 12;
    uint8_t *px = malloc((size_t)n * 100);
    int32_t *lb = malloc(sizeof *lb * (size_t)n);
    for (int64_t i = 0; i < n * 100; i++) px[i] = (uint8_t)(i * 29 + 7);
    for (int64_t i = 0; i < n; i++) lb[i] = (int32_t)(i % 5);
    cf_augment a;
    cf_augment_defaults(&a, 1, 6, 6, 5);
    a.crop = a.flip = true, a.mixup_alpha = 0.4, a.cutmix_alpha = 1, a.smoothing = 0.05;
    cf_dataset *ds = cf_images_dataset_open(cf_image_source_memory(px, lb, n, 10, 10, 1, 5, "mem"), &a, 17, NULL, n, "mem");
    CHECK(ds != NULL);
    if (!ds) return;
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = 5, lc.seed = 4;
    cf_loader *l1 = cf_loader_create(ds, &lc);
    float want[5 * 36], wt[5 * 5];
    int64_t e = -1, p = -1;
    for (int k = 0; k < 5 && l1; k++) { /* two batches per epoch: batch 4 is in epoch 2 */
        if (k == 4) cf_loader_cursor(l1, &e, &p);
        const cf_batch *b = cf_loader_next(l1);
        CHECK(b != NULL);
        if (b && k == 4) {
            memcpy(want, cf_data(cf_batch_get(b, "images")), sizeof want);
            memcpy(wt, cf_data(cf_batch_get(b, "targets")), sizeof wt);
        }
    }
    cf_loader_free(l1);
    CHECK(e == 2, "batch 4 is in epoch %lld", (long long)e);
    cf_loader *l2 = cf_loader_create(ds, &lc);
    CHECK(l2 && cf_loader_seek(l2, e, p) == CF_OK);
    const cf_batch *b = l2 ? cf_loader_next(l2) : NULL;
    CHECK(b && memcmp(cf_data(cf_batch_get(b, "images")), want, sizeof want) == 0 &&
          memcmp(cf_data(cf_batch_get(b, "targets")), wt, sizeof wt) == 0);
    cf_loader_free(l2);
    cf_dataset_free(ds);
}

int main(void)
{
    RUN(test_hand_views);
    RUN(test_crop_determinism);
    RUN(test_mixing);
    RUN(test_beta);
    RUN(test_dataset_rows);
    RUN(test_loader_resume);
    TEST_MAIN_END();
}
