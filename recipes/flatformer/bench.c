/* `cformer run pointcloud-bench`: loader throughput in points per second for every point-cloud format the
 * readers take. Writes N synthetic scenes in each format (KITTI .bin, PLY ascii / binary LE / binary BE, PCD
 * ascii / binary / binary_compressed) into a scratch folder, then reads them all back R times per format from
 * a warm page cache and prints points/s (median of R passes) as a table and, with --json FILE, as JSON. */
#include "autograd/clock.h"
#include "autograd/fileio.h"
#include "autograd/json.h"
#include "recipes/flatformer/internal.h"
#include "recipes/run/cli_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NFMT = 7 };
static const char *const fmt_name[NFMT] = {"kitti-bin", "ply-ascii", "ply-binary-le", "ply-binary-be", "pcd-ascii", "pcd-binary", "pcd-binary-compressed"};
static const char *const fmt_ext[NFMT] = {"bin", "ply", "ply", "ply", "pcd", "pcd", "pcd"};

static cf_status write_fmt(int f, const char *path, const cf_points *p)
{
    if (f == 0) return cf_kitti_bin_write(path, p);
    if (f <= 3) return cf_ply_write(path, p, (cf_ply_format)(f - 1), 0);
    return cf_pcd_write(path, p, (cf_pcd_format)(f - 4));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int ff_bench_cmd(int argc, char **argv)
{
    const char *cmd = "run pointcloud-bench", *dir = "/tmp", *json = NULL;
    int64_t scenes = 20, reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool val = i + 1 < argc, ok = true;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            printf("usage: cformer run pointcloud-bench [--scenes N] [--repeats R] [--dir TMP] [--json FILE]\n");
            return 0;
        }
        if (!strcmp(s, "--scenes") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 10000, &scenes);
        else if (!strcmp(s, "--repeats") && val) ok = cf_cli_int(cmd, s, argv[++i], 1, 1000, &reps);
        else if (!strcmp(s, "--dir") && val) dir = argv[++i];
        else if (!strcmp(s, "--json") && val) json = argv[++i];
        else {
            fprintf(stderr, "cformer %s: unknown or incomplete argument '%s'\n", cmd, s);
            return 2;
        }
        if (!ok) return 2;
    }
    char root[4096];
    snprintf(root, sizeof root, "%s/cf_pcbench_%d", dir, (int)getpid());
    if (cf_mkdirs(root) != CF_OK) {
        fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
        return 1;
    }
    cf_lidar_scene_cfg sc;
    cf_lidar_scene_cfg_default(&sc);
    int64_t total_points = 0;
    char path[4200];
    for (int64_t k = 0; k < scenes; k++) {
        cf_points p;
        cf_boxes b;
        if (cf_lidar_scene(&sc, 1, (uint64_t)k, &p, &b) != CF_OK) goto fail;
        total_points += p.n;
        for (int f = 0; f < NFMT; f++) {
            snprintf(path, sizeof path, "%s/%06lld.%d.%s", root, (long long)k, f, fmt_ext[f]);
            if (write_fmt(f, path, &p) != CF_OK) {
                cf_points_free(&p), cf_boxes_free(&b);
                goto fail;
            }
        }
        cf_points_free(&p);
        cf_boxes_free(&b);
    }
    double rate[NFMT], t[1000];
    printf("%-24s %14s %12s\n", "format", "points/s", "ms/scan");
    for (int f = 0; f < NFMT; f++) {
        for (int64_t r = 0; r < reps; r++) {
            double t0 = cf_now();
            for (int64_t k = 0; k < scenes; k++) {
                cf_points p;
                snprintf(path, sizeof path, "%s/%06lld.%d.%s", root, (long long)k, f, fmt_ext[f]);
                if (cf_pc_read(path, &p) != CF_OK) goto fail;
                cf_points_free(&p);
            }
            t[r] = cf_now() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        rate[f] = (double)total_points / t[reps / 2];
        printf("%-24s %14.3e %12.3f\n", fmt_name[f], rate[f], 1000.0 * t[reps / 2] / (double)scenes);
    }
    for (int64_t k = 0; k < scenes; k++)
        for (int f = 0; f < NFMT; f++) {
            snprintf(path, sizeof path, "%s/%06lld.%d.%s", root, (long long)k, f, fmt_ext[f]);
            unlink(path);
        }
    rmdir(root);
    printf("%lld scenes, %.0f points per scene, median of %lld passes\n", (long long)scenes, (double)total_points / (double)scenes, (long long)reps);
    if (json) {
        cf_json j;
        if (cf_json_open(&j, json) != CF_OK) goto fail;
        cf_json_object(&j);
        cf_json_kv_int(&j, "scenes", scenes);
        cf_json_kv_int(&j, "points", total_points);
        cf_json_key(&j, "points_per_second");
        cf_json_object(&j);
        for (int f = 0; f < NFMT; f++) cf_json_kv_number(&j, fmt_name[f], rate[f]);
        cf_json_end(&j);
        cf_json_end(&j);
        if (cf_json_commit(&j) != CF_OK) goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "cformer %s: %s\n", cmd, cf_last_error());
    return 1;
}
