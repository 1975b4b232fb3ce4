/* FlatFormer's mapping and layers (layers/flatformer.h), checked against what the paper states:
 *  - equal-size grouping (section 3.1): the sort is a permutation per frame, every group has exactly G slots,
 *    duplicates only at the start of a frame's last group, a frame with fewer than G pillars padded with masked
 *    dummies, each pillar's output slot holds that pillar, frames never share a group;
 *  - window-based sorting (the released code's key): on a full grid every window's pillars form one
 *    contiguous run in the sorted order, for both axes and the shift;
 *  - group attention == dense attention over all pillars masked to the groups (the layer gathers, attends and
 *    scatters exactly as the masked dense computation);
 *  - the SST-style window layout: every set lies in one window, sizes are the bucket sizes, the padding ratio
 *    is what the slots say;
 *  - voxelisation counts the points it drops; the BEV scatter puts each pillar at its (y, x). */
#define CHECK_SHOW_LAST_ERROR
#include "layers/flatformer.h"

#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

/* frames of random points in a 16 x 16 m range, 1 m pillars, some outside the range */
static void random_points(float *pts, int64_t *counts, int B, int64_t Nmax, uint64_t seed, const int64_t *n)
{
    cf_philox_key key = cf_rng_key(seed, 1);
    for (int b = 0; b < B; b++) {
        counts[b] = n[b];
        for (int64_t i = 0; i < n[b]; i++) {
            float *p = pts + ((size_t)b * (size_t)Nmax + (size_t)i) * 4;
            p[0] = (float)(cf_rng_uniform(key, (uint64_t)b, 4 * (uint64_t)i) * 17.0 - 0.5);
            p[1] = (float)(cf_rng_uniform(key, (uint64_t)b, 4 * (uint64_t)i + 1) * 16.0);
            p[2] = (float)(cf_rng_uniform(key, (uint64_t)b, 4 * (uint64_t)i + 2) * 2.0 - 1.0);
            p[3] = 0.5f;
        }
    }
}

static void test_pillarize(cf_ctx *c)
{
    cf_ff_grid g;
    CHECK(cf_ff_grid_init(&g, 0, 0, -2, 16, 16, 2, 1.0f) == CF_OK && g.nx == 16 && g.ny == 16);
    /* frame 0: two points in pillar (y 1, x 2), one outside x; frame 1: one point at (y 0, x 15) */
    float pts[2 * 3 * 4] = {2.2f, 1.5f, 0, 1, 2.8f, 1.1f, 1, 0.5f, 16.5f, 1, 0, 0, 15.5f, 0.25f, -1, 0};
    int64_t counts[2] = {3, 1};
    cf_ff_pillars pl;
    CHECK(cf_ff_pillarize(c, &g, CF_F64, pts, counts, 2, 3, &pl) == CF_OK);
    CHECK(pl.npillars == 2 && pl.npoints == 3 && pl.dropped == 1, "P %lld kept %lld dropped %lld", (long long)pl.npillars, (long long)pl.npoints, (long long)pl.dropped);
    CHECK(pl.coords[0] == 0 && pl.coords[1] == 1 && pl.coords[2] == 2 && pl.coords[3] == 1 && pl.coords[4] == 0 && pl.coords[5] == 15);
    CHECK(pl.frame_start[1] == 1 && pl.frame_start[2] == 2);
    /* point 0's features: mean of (2.2, 1.5, 0) and (2.8, 1.1, 1) is (2.5, 1.3, 0.5); centre (2.5, 1.5, 0) */
    double want[10] = {2.2, 1.5, 0, 1, -0.3, 0.2, -0.5, -0.3, 0, 0};
    for (int d = 0; d < 10; d++) CHECK_NEAR(cf_get_flat(pl.point_feat, d), want[d], 1e-6);
    /* BEV scatter of features [P, 2] = (1, 2), (3, 4) */
    cf_tensor *f = cf_empty(c, CF_F64, CF_SHAPE(2, 2));
    for (int i = 0; i < 4; i++) cf_set_flat(f, i, i + 1);
    cf_tensor *bev = cf_ff_bev_scatter(c, f, &pl, 16, 16);
    CHECK(bev && bev->shape[0] == 2 && bev->shape[1] == 2 && bev->shape[2] == 16 && bev->shape[3] == 16);
    double total = 0;
    for (int64_t i = 0; bev && i < cf_numel(bev); i++) total += cf_get_flat(bev, i);
    CHECK_NEAR(total, 10, 1e-12);
    if (bev) {
        CHECK_NEAR(cf_get_flat(bev, ((0 * 2 + 1) * 16 + 1) * 16 + 2), 2, 0); /* frame 0, channel 1, y 1, x 2 */
        CHECK_NEAR(cf_get_flat(bev, ((1 * 2 + 0) * 16 + 0) * 16 + 15), 3, 0);
    }
    cf_step_reset(c);
}

static void test_window_runs(cf_ctx *c)
{
    /* a full 16 x 16 grid, windows 4 x 4 (and their shift by 2): each window is one contiguous run */
    cf_ff_pillars pl = {0};
    pl.B = 1;
    pl.npillars = 256;
    int32_t coords[256 * 3];
    int64_t fs[2] = {0, 256};
    for (int i = 0; i < 256; i++) coords[3 * i] = 0, coords[3 * i + 1] = i / 16, coords[3 * i + 2] = i % 16;
    pl.coords = coords;
    pl.frame_start = fs;
    for (int axis = 0; axis < 2; axis++)
        for (int shift = 0; shift < 2; shift++) {
            cf_ff_layout lay;
            int64_t *perm;
            CHECK(cf_ff_group_layout(c, &pl, 16, 4, 4, (cf_ff_axis)axis, shift, 16, 16, &lay, &perm) == CF_OK);
            int s = shift ? 2 : 0, runs = 0, steps1 = 0;
            int64_t prev = -1;
            for (int i = 0; i < 256; i++) {
                int x = coords[3 * perm[i] + 2] + s, y = coords[3 * perm[i] + 1] + s;
                int64_t w = (y / 4) * 8 + x / 4;
                if (w != prev) runs++;
                prev = w;
                if (i) {
                    int px = coords[3 * perm[i - 1] + 2], py = coords[3 * perm[i - 1] + 1];
                    steps1 += abs(px - (x - s)) + abs(py - (y - s)) == 1;
                }
            }
            int wins = shift ? 25 : 16; /* windows the shifted grid touches */
            CHECK(runs == wins, "axis %d shift %d: %d runs for %d windows", axis, shift, runs, wins);
            /* snake order: most consecutive pillars are neighbours */
            CHECK(steps1 > 200, "axis %d shift %d: %d of 255 steps to a neighbour", axis, shift, steps1);
            /* with 16 pillars per group and no shift, a group is exactly a window */
            cf_step_reset(c);
        }
}

static void test_groups(cf_ctx *c)
{
    cf_ff_grid g;
    cf_ff_grid_init(&g, 0, 0, -2, 16, 16, 2, 1.0f);
    const int64_t n[3] = {300, 7, 90}; /* frame 1 has fewer pillars than G */
    float *pts = malloc(3 * 300 * 4 * sizeof(float));
    int64_t counts[3];
    random_points(pts, counts, 3, 300, 5, n);
    cf_ff_pillars pl;
    CHECK(cf_ff_pillarize(c, &g, CF_F64, pts, counts, 3, 300, &pl) == CF_OK);
    CHECK(pl.dropped > 0, "points outside the range are counted");
    const int64_t G = 20;
    for (int axis = 0; axis < 2; axis++)
        for (int shift = 0; shift < 2; shift++) {
            cf_ff_layout lay;
            int64_t *perm;
            CHECK(cf_ff_group_layout(c, &pl, G, 4, 4, (cf_ff_axis)axis, shift, 16, 16, &lay, &perm) == CF_OK);
            int64_t P = pl.npillars, *seen = calloc((size_t)P, sizeof *seen);
            bool perm_ok = true;
            for (int64_t i = 0; i < P; i++) {
                if (perm[i] < 0 || perm[i] >= P || seen[perm[i]]++) perm_ok = false;
                /* the sort stays within each frame */
                int b = 0;
                while (i >= pl.frame_start[b + 1]) b++;
                if (perm_ok && pl.coords[3 * perm[i]] != b) perm_ok = false;
            }
            CHECK(perm_ok, "the sort is a permutation of each frame's pillars");
            const cf_ff_part *pt = &lay.part[0];
            CHECK(lay.nparts == 1 && pt->size == G && pt->n * G == lay.slots);
            const int64_t *idx = cf_data(pt->idx), *inv = cf_data(lay.inv);
            const bool *pad = pt->pad ? cf_data(pt->pad) : NULL;
            bool own = true, one_frame = true, dummies_ok = true, dup_ok = true;
            for (int64_t i = 0; i < P; i++) own &= inv[i] >= 0 && inv[i] < lay.slots && idx[inv[i]] == i;
            int64_t slot = 0;
            for (int b = 0; b < 3; b++) {
                int64_t nb = pl.frame_start[b + 1] - pl.frame_start[b], ng = (nb + G - 1) / G;
                for (int64_t gi = 0; gi < ng; gi++) {
                    int64_t uniq = 0;
                    for (int64_t t = 0; t < G; t++) {
                        int64_t r = idx[slot + gi * G + t];
                        bool dummy = r == P;
                        if (dummy != (pad && pad[slot + gi * G + t])) dummies_ok = false;
                        if (dummy && nb >= G) dummies_ok = false;
                        if (!dummy && pl.coords[3 * r] != b) one_frame = false;
                        if (!dummy && inv[r] == slot + gi * G + t) uniq++;
                    }
                    /* every slot is its pillar's own output except the first G - nb % G of the last group */
                    int64_t want = nb < G ? nb : gi < ng - 1 || nb % G == 0 ? G : nb % G;
                    if (uniq != want) dup_ok = false;
                }
                slot += ng * G;
            }
            CHECK(own, "each pillar's output slot holds that pillar");
            CHECK(one_frame, "no group mixes frames");
            CHECK(dummies_ok, "dummy slots only in a frame with fewer than G pillars, and masked");
            CHECK(dup_ok, "repeated slots only at the start of a frame's last group");
            CHECK(cf_ff_padding_ratio(&lay) < (double)G / 7.0 + 1e-9, "padding ratio %g", cf_ff_padding_ratio(&lay));
            free(seen);
        }
    /* the padded window layout of the same pillars */
    for (int shift = 0; shift < 2; shift++) {
        cf_ff_layout w;
        CHECK(cf_ff_window_layout(c, &pl, 4, 4, shift, 16, 16, &w) == CF_OK);
        int64_t P = pl.npillars, s = shift ? 2 : 0, base = 0;
        bool same_window = true, own = true;
        const int64_t *inv = cf_data(w.inv);
        for (int p = 0; p < w.nparts; p++) {
            const cf_ff_part *pt = &w.part[p];
            const int64_t *idx = cf_data(pt->idx);
            CHECK(pt->size >= 8 && (pt->size & (pt->size - 1)) == 0 && pt->size <= 16, "bucket size %lld", (long long)pt->size);
            for (int64_t k = 0; k < pt->n; k++) {
                int64_t win = -1;
                for (int64_t t = 0; t < pt->size; t++) {
                    int64_t r = idx[k * pt->size + t];
                    if (r == P) continue;
                    const int32_t *q = pl.coords + 3 * r;
                    int64_t wr = ((int64_t)q[0] * 5 + (q[1] + s) / 4) * 5 + (q[2] + s) / 4;
                    if (win >= 0 && wr != win) same_window = false;
                    win = wr;
                    if (inv[r] != base + k * pt->size + t) own = false;
                }
            }
            base += pt->n * pt->size;
        }
        CHECK(same_window && own && base == w.slots);
        CHECK(cf_ff_padding_ratio(&w) > 0.1, "windows are padded: ratio %g", cf_ff_padding_ratio(&w));
    }
    free(pts);
    cf_step_reset(c);
}

/* the layer on a layout == the same layer with dense attention over all pillars, masked to each query's set */
static void test_group_attention_is_masked_dense(cf_ctx *c)
{
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_ff_layer l;
    CHECK(cf_ff_layer_init(&l, ps, "layer", 8, 2) == CF_OK);
    cf_ff_grid g;
    cf_ff_grid_init(&g, 0, 0, -2, 16, 16, 2, 1.0f);
    const int64_t n[2] = {60, 12};
    float pts[2 * 60 * 4];
    int64_t counts[2];
    random_points(pts, counts, 2, 60, 9, n);
    for (int mode = 0; mode < 2; mode++) {
        cf_ff_pillars pl;
        CHECK(cf_ff_pillarize(c, &g, CF_F64, pts, counts, 2, 60, &pl) == CF_OK);
        int64_t P = pl.npillars;
        cf_ff_layout lay;
        if (mode == 0) CHECK(cf_ff_group_layout(c, &pl, 16, 4, 4, CF_FF_SORT_Y, true, 16, 16, &lay, NULL) == CF_OK);
        else CHECK(cf_ff_window_layout(c, &pl, 4, 4, true, 16, 16, &lay) == CF_OK);
        cf_tensor *x = cf_empty(c, CF_F64, CF_SHAPE(P, 8));
        for (int64_t i = 0; i < P * 8; i++) cf_set_flat(x, i, sin(0.37 * (double)i));
        cf_tensor *pe = cf_ff_position_encoding(c, CF_F64, &pl, 8);
        cf_tensor *y = cf_ff_layer_fwd(c, &l, x, pe, &lay);
        /* reference: mask[i][j] = j is a real pillar in the set of i's output slot */
        cf_tensor *mask = cf_zeros(c, CF_BOOL, CF_SHAPE(P, P));
        bool *m = cf_data(mask);
        const int64_t *inv = cf_data(lay.inv);
        int64_t base = 0;
        for (int p = 0; p < lay.nparts; p++) {
            const cf_ff_part *pt = &lay.part[p];
            const int64_t *idx = cf_data(pt->idx);
            for (int64_t i = 0; i < P; i++) {
                int64_t s = inv[i] - base;
                if (s < 0 || s >= pt->n * pt->size) continue;
                int64_t set = s / pt->size;
                for (int64_t t = 0; t < pt->size; t++)
                    if (idx[set * pt->size + t] < P) m[i * P + idx[set * pt->size + t]] = true;
            }
            base += pt->n * pt->size;
        }
        cf_tensor *qk = cf_linear_fwd(c, &l.qk, cf_add(c, x, pe)), *v = cf_linear_fwd(c, &l.v, x);
        cf_tensor *q = cf_permute(c, cf_reshape(c, cf_narrow(c, qk, 1, 0, 8), CF_SHAPE(1, P, 2, 4)), (int[]){0, 2, 1, 3});
        cf_tensor *k = cf_permute(c, cf_reshape(c, cf_narrow(c, qk, 1, 8, 8), CF_SHAPE(1, P, 2, 4)), (int[]){0, 2, 1, 3});
        cf_tensor *vv = cf_permute(c, cf_reshape(c, v, CF_SHAPE(1, P, 2, 4)), (int[]){0, 2, 1, 3});
        cf_sdpa_opts o = {.attn_mask = mask};
        cf_tensor *a = cf_reshape(c, cf_permute(c, cf_sdpa(c, q, k, vv, &o), (int[]){0, 2, 1, 3}), CF_SHAPE(P, 8));
        cf_tensor *r = cf_norm_fwd(c, &l.ln1, cf_add(c, x, cf_linear_fwd(c, &l.out, a)));
        r = cf_norm_fwd(c, &l.ln2, cf_add(c, r, cf_mlp_fwd(c, &l.mlp, r)));
        double err = 0;
        for (int64_t i = 0; y && r && i < P * 8; i++) err = fmax(err, fabs(cf_get_flat(y, i) - cf_get_flat(r, i)));
        CHECK(y && r && err < 1e-10, "%s layout: max |grouped - masked dense| = %g", mode ? "window" : "group", err);
        cf_step_reset(c);
    }
    cf_params_free(ps);
}

int main(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    if (!c) return 1;
    test_pillarize(c);
    test_window_runs(c);
    test_groups(c);
    test_group_attention_is_masked_dense(c);
    cf_ctx_free(c);
    TEST_MAIN_END();
}
