/* `cformer run flatformer-encoder-bench`: the encoder wall-clock of FlatFormer (equal-size groups), the no-shift
 * ablation and the SST-style padded windows (Liu et al., CVPR 2023, section 4, the latency comparison with SST)
 * measured in ONE process on the same frames, the modes interleaved pass by pass so that load on shared cores
 * hits them alike. Each frame: the synthetic scene pillarised on the small recipe's grid (40 x 40 m, 0.5 m), the
 * pillar features random (the encoder's cost does not depend on their values), then the 4-layer encoder forward
 * without gradients (inference, as the paper times it). Prints ms per frame (median of R passes), the padding
 * ratio and the speed-up over window-padded; --json FILE writes the same. One thread unless --threads. */
#include "autograd/clock.h"
#include "autograd/json.h"
#include "recipes/flatformer/internal.h"
#include "recipes/run/cli_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NMODE = 3 };
static const char *const mode_name[NMODE] = {"flatformer", "no-shift", "window-padded"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int ff_encoder_bench_cmd(int argc, char **argv)
{
    const char *cmd = "run flatformer-encoder-bench", *json = NULL;
    int64_t frames = 8, reps = 5, threads = 1, dim = 64, group = 32, window = 8, layers = 4;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool val = i + 1 < argc, ok = true;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            printf("usage: cformer run flatformer-encoder-bench [--frames N] [--repeats R] [--dim C] [--group G] [--window W] [--layers L] [--threads T] [--json FILE]\n");
            return 0;
        }
        if (!strcmp(s, "--frames") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 1000, &frames);
        else if (!strcmp(s, "--repeats") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 101, &reps);
        else if (!strcmp(s, "--dim") && val) ok = cf_cli_int(cmd, s, argv[++i], 8, 1024, &dim);
        else if (!strcmp(s, "--group") && val) ok = cf_cli_int(cmd, s, argv[++i], 2, 4096, &group);
        else if (!strcmp(s, "--window") && val) ok = cf_cli_int(cmd, s, argv[++i], 2, 64, &window);
        else if (!strcmp(s, "--layers") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 64, &layers);
        else if (!strcmp(s, "--threads") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 256, &threads);
        else if (!strcmp(s, "--json") && val) json = argv[++i];
        else {
            fprintf(stderr, "cformer %s: unknown or incomplete argument '%s'\n", cmd, s);
            return 2;
        }
        if (!ok) return 2;
    }
    if (dim % 8) {
        fprintf(stderr, "cformer %s: --dim %lld must be a multiple of 8 (4 heads, sin/cos pairs per axis)\n", cmd, (long long)dim);
        return 2;
    }
    cf_ff_grid g;
    cf_ff_grid_init(&g, -20, -20, -3, 20, 20, 1, 0.5f);
    cf_lidar_scene_cfg sc;
    cf_lidar_scene_cfg_default(&sc);
    cf_ctx *ctx = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_ff_encoder enc[NMODE];
    memset(enc, 0, sizeof enc);
    float *pts = NULL;
    int64_t *counts = NULL, npoints = 0, max_n = 40000;
    double *t = calloc((size_t)(NMODE * reps), sizeof *t), pad[NMODE] = {0}, pillars = 0;
    int rc = 1;
    if (!ctx || !ps || !t) goto done;
    for (int m = 0; m < NMODE; m++) {
        cf_ff_encoder_config ec = {.dim = dim, .heads = 4, .layers = layers, .group = group, .wx = window, .wy = window, .mode = (cf_ff_mode)m};
        char name[32];
        snprintf(name, sizeof name, "enc%d", m);
        if (!cf_ff_mode_parse(mode_name[m], &ec.mode) || cf_ff_encoder_init(&enc[m], ps, name, &ec) != CF_OK) goto done;
    }
    /* the frames, one point buffer each */
    pts = calloc((size_t)frames * (size_t)max_n * 4, sizeof *pts);
    counts = calloc((size_t)frames, sizeof *counts);
    if (!pts || !counts) goto done;
    for (int64_t f = 0; f < frames; f++) {
        cf_points p;
        cf_boxes b;
        if (cf_lidar_scene(&sc, 7, (uint64_t)f, &p, &b) != CF_OK) goto done;
        counts[f] = p.n < max_n ? p.n : max_n;
        memcpy(pts + (size_t)f * (size_t)max_n * 4, p.xyzi, (size_t)counts[f] * 4 * sizeof(float));
        npoints += counts[f];
        cf_points_free(&p);
        cf_boxes_free(&b);
    }
    cf_set_threads(ctx, (int)threads);
    cf_set_grad_enabled(ctx, false);
    cf_set_training(ctx, false);
    for (int64_t r = -1; r < reps; r++) /* pass -1 warms the arena and the caches */
        for (int m = 0; m < NMODE; m++) {
            double sum = 0;
            for (int64_t f = 0; f < frames; f++) {
                cf_ff_pillars pl;
                if (cf_ff_pillarize(ctx, &g, CF_F32, pts + (size_t)f * (size_t)max_n * 4, counts + f, 1, max_n, &pl) != CF_OK) goto done;
                cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(pl.npillars, dim), 3, (uint64_t)f);
                cf_ff_stats st;
                double t0 = cf_now();
                cf_tensor *y = cf_ff_encoder_fwd(ctx, &enc[m], x, &pl, g.nx, g.ny, &st);
                sum += cf_now() - t0;
                if (!y) goto done;
                if (r == 0) pad[m] += st.padding_ratio / (double)frames;
                if (r == 0 && m == 0) pillars += (double)pl.npillars / (double)frames;
                cf_step_reset(ctx);
            }
            if (r >= 0) t[m * reps + r] = 1000.0 * sum / (double)frames;
        }
    double ms[NMODE];
    printf("%d frames of %.0f points, %.0f pillars; encoder C=%lld, %lld layers, G=%lld, window %lld; median of %lld passes\n",
           (int)frames, (double)npoints / (double)frames, pillars, (long long)dim, (long long)layers, (long long)group,
           (long long)window, (long long)reps);
    printf("%-16s %12s %14s %22s\n", "mode", "ms/frame", "padding ratio", "speed-up vs padded");
    for (int m = 0; m < NMODE; m++) {
        qsort(t + m * reps, (size_t)reps, sizeof *t, cmp_double);
        ms[m] = t[m * reps + reps / 2];
    }
    for (int m = 0; m < NMODE; m++) printf("%-16s %12.2f %14.4f %22.2f\n", mode_name[m], ms[m], pad[m], ms[2] / ms[m]);
    if (json) {
        cf_json j;
        if (cf_json_open(&j, json) != CF_OK) goto done;
        cf_json_object(&j);
        cf_json_kv_int(&j, "frames", frames);
        cf_json_kv_number(&j, "pillars_per_frame", pillars);
        for (int m = 0; m < NMODE; m++) {
            cf_json_key(&j, mode_name[m]);
            cf_json_object(&j);
            cf_json_kv_number(&j, "encoder_ms_per_frame", ms[m]);
            cf_json_kv_number(&j, "padding_ratio", pad[m]);
            cf_json_kv_number(&j, "speedup_vs_window_padded", ms[2] / ms[m]);
            cf_json_end(&j);
        }
        cf_json_end(&j);
        if (cf_json_commit(&j) != CF_OK) goto done;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
    for (int m = 0; m < NMODE; m++) cf_ff_encoder_free(&enc[m]);
    cf_params_free(ps);
    if (ctx) cf_ctx_free(ctx);
    free(pts), free(counts), free(t);
    return rc;
}
