/* Synthetic LiDAR scenes for FlatFormer's small experiment: a spinning LiDAR of `rings` beams x `azimuths`
 * steps at the origin, ray-cast against a ground plane, 3-10 labelled objects (car, pedestrian, cyclist as
 * oriented boxes of their usual sizes) and unlabelled clutter (poles, walls), so that occlusion and the
 * fall-off of density with range come out as in real scans. The scene stands in for Waymo (which FlatFormer,
 * Liu et al. CVPR 2023, section 5, is evaluated on) where no download is possible; recipes/flatformer/README.md. */
#include "data/pointcloud/pointcloud.h"

#include "autograd/fileio.h"
#include "autograd/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cf_lidar_scene_cfg_default(cf_lidar_scene_cfg *c)
{
    c->half = 20.0f;
    c->rings = 32;
    c->azimuths = 512;
    c->min_boxes = 3;
    c->max_boxes = 10;
    c->clutter = 6;
    c->sensor_z = 1.73f;
}

typedef struct {
    cf_box3d b;
    float intensity;
} solid;

/* ray (origin 0, direction d) against the oriented box: the entry distance, or INFINITY */
static double hit_box(const cf_box3d *b, const double d[3])
{
    double c = cos(b->yaw), s = sin(b->yaw);
    double o[3] = {-(c * b->x + s * b->y), -(-s * b->x + c * b->y), -b->z};
    double r[3] = {c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]};
    double half[3] = {0.5 * b->l, 0.5 * b->w, 0.5 * b->h};
    double t0 = 0, t1 = INFINITY;
    for (int k = 0; k < 3; k++) {
        if (fabs(r[k]) < 1e-12) {
            if (fabs(o[k]) > half[k]) return INFINITY;
            continue;
        }
        double a = (-half[k] - o[k]) / r[k], bb = (half[k] - o[k]) / r[k];
        if (a > bb) {
            double t = a;
            a = bb;
            bb = t;
        }
        if (a > t0) t0 = a;
        if (bb < t1) t1 = bb;
        if (t0 > t1) return INFINITY;
    }
    return t0 > 0.3 ? t0 : INFINITY;
}

static int overlaps(const solid *s, int n, float x, float y, float r)
{
    for (int i = 0; i < n; i++) {
        float rr = 0.5f * sqrtf(s[i].b.l * s[i].b.l + s[i].b.w * s[i].b.w);
        float dx = s[i].b.x - x, dy = s[i].b.y - y;
        if (dx * dx + dy * dy < (r + rr + 0.5f) * (r + rr + 0.5f)) return 1;
    }
    return 0;
}

/* puts b (its size set) at uniform draws (ux, uy, uyaw) in [-lim, lim]^2 on the ground; adds it to the solids and
 * returns 1 unless it lands within 3 m of the sensor or on another solid */
static int place(solid *s, int *ns, cf_box3d *b, double ux, double uy, double uyaw, float lim, float ground, float intensity)
{
    b->x = (float)((2 * ux - 1) * lim);
    b->y = (float)((2 * uy - 1) * lim);
    b->yaw = (float)((2 * uyaw - 1) * CF_PC_PI);
    b->z = ground + 0.5f * b->h;
    float r = 0.5f * sqrtf(b->l * b->l + b->w * b->w);
    if (b->x * b->x + b->y * b->y < 9.0f || overlaps(s, *ns, b->x, b->y, r)) return 0;
    s[*ns].b = *b;
    s[*ns].intensity = intensity;
    (*ns)++;
    return 1;
}

cf_status cf_lidar_scene(const cf_lidar_scene_cfg *c, uint64_t seed, uint64_t index, cf_points *out, cf_boxes *boxes)
{
    memset(out, 0, sizeof *out);
    memset(boxes, 0, sizeof *boxes);
    if (c->rings < 1 || c->azimuths < 1 || c->half < 5 || c->min_boxes < 0 || c->max_boxes < c->min_boxes || c->max_boxes > 64 || c->clutter < 0 || c->clutter > 64)
        return cf_set_error(CF_ERR_ARG, "lidar scene: bad configuration (rings %d, azimuths %d, half %g, boxes %d..%d, clutter %d)", c->rings, c->azimuths, c->half, c->min_boxes, c->max_boxes, c->clutter);
    cf_philox_key key = cf_rng_key(seed, 0x6c696461ull); /* "lida" */
    uint64_t draw = 0;
#define U() cf_rng_uniform(key, index, draw++)
    static const float size[3][3] = {{4.5f, 1.9f, 1.6f}, {0.8f, 0.8f, 1.8f}, {1.8f, 0.6f, 1.7f}};
    static const float refl[3] = {0.6f, 0.35f, 0.45f};
    solid s[128];
    int ns = 0;
    int nb = c->min_boxes + (int)(U() * (c->max_boxes - c->min_boxes + 1));
    if (nb > c->max_boxes) nb = c->max_boxes;
    float ground = -c->sensor_z, lim = c->half - 2.5f;
    for (int tries = 0; ns < nb && tries < 200 * (nb + 1); tries++) {
        double u = U();
        int cls = u < 0.5 ? CF_PC_CAR : u < 0.75 ? CF_PC_PEDESTRIAN : CF_PC_CYCLIST;
        cf_box3d b;
        b.cls = cls;
        b.l = size[cls][0] * (float)(0.9 + 0.2 * U());
        b.w = size[cls][1] * (float)(0.9 + 0.2 * U());
        b.h = size[cls][2] * (float)(0.9 + 0.2 * U());
        double ux = U(), uy = U(), uyaw = U();
        if (!place(s, &ns, &b, ux, uy, uyaw, lim, ground, refl[cls])) continue;
        CF_TRY(cf_boxes_push(boxes, &b));
    }
    for (int k = 0, tries = 0; k < c->clutter && tries < 200 * (c->clutter + 1); tries++) {
        cf_box3d b;
        b.cls = -1;
        int wall = U() < 0.4;
        b.l = wall ? (float)(3 + 5 * U()) : 0.3f;
        b.w = 0.3f;
        b.h = wall ? 2.5f : (float)(3 + 2 * U());
        double ux = U(), uy = U(), uyaw = U();
        if (!place(s, &ns, &b, ux, uy, uyaw, lim, ground, 0.25f)) continue;
        k++;
    }
    int64_t cap = (int64_t)c->rings * c->azimuths;
    out->xyzi = malloc((size_t)cap * 4 * sizeof(float));
    if (!out->xyzi) {
        cf_boxes_free(boxes);
        return cf_set_error(CF_ERR_OOM, "lidar scene: out of memory for %lld points", (long long)cap);
    }
    cf_philox_key nkey = cf_rng_key(seed, 0x6e6f6973ull ^ index); /* "nois" */
    double az0 = U() * 2 * CF_PC_PI / c->azimuths;
#undef U
    for (int r = 0; r < c->rings; r++) {
        /* beams from -25 to +3 degrees, as a 32-beam automotive LiDAR */
        double el = (-25.0 + 28.0 * (c->rings > 1 ? (double)r / (c->rings - 1) : 0.5)) * CF_PC_PI / 180.0;
        for (int a = 0; a < c->azimuths; a++) {
            double az = az0 + 2 * CF_PC_PI * a / c->azimuths;
            double d[3] = {cos(el) * cos(az), cos(el) * sin(az), sin(el)};
            double best = d[2] < 0 ? ground / d[2] : INFINITY;
            float inten = 0.15f;
            int is_ground = 1;
            for (int k = 0; k < ns; k++) {
                double t = hit_box(&s[k].b, d);
                if (t < best) best = t, inten = s[k].intensity, is_ground = 0;
            }
            if (!isfinite(best)) continue;
            uint64_t ray = (uint64_t)r * (uint64_t)c->azimuths + (uint64_t)a;
            double t = best + 0.02 * cf_rng_normal(nkey, index, 2 * ray);
            double x = t * d[0], y = t * d[1], z = t * d[2];
            if (is_ground) z = ground + 0.02 * cf_rng_normal(nkey, index, 2 * ray);
            if (fabs(x) > c->half || fabs(y) > c->half) continue;
            float *q = out->xyzi + 4 * out->n++;
            q[0] = (float)x;
            q[1] = (float)y;
            q[2] = (float)z;
            float iv = inten + 0.05f * (float)cf_rng_normal(nkey, index, 2 * ray + 1);
            q[3] = iv < 0 ? 0 : iv > 1 ? 1 : iv;
        }
    }
    out->has_intensity = 1;
    return CF_OK;
}

cf_status cf_lidar_scenes_write(const char *dir, const cf_lidar_scene_cfg *c, uint64_t seed, int n)
{
    static const char *const sub[3] = {"velodyne", "label_2", "calib"};
    char path[4096];
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, sub[k]);
        CF_TRY(cf_mkdirs(path));
    }
    cf_kitti_calib cal;
    cf_kitti_calib_default(&cal);
    for (int i = 0; i < n; i++) {
        cf_points p;
        cf_boxes b;
        CF_TRY(cf_lidar_scene(c, seed, (uint64_t)i, &p, &b));
        snprintf(path, sizeof path, "%s/velodyne/%06d.bin", dir, i);
        cf_status st = cf_kitti_bin_write(path, &p);
        if (st == CF_OK) {
            snprintf(path, sizeof path, "%s/label_2/%06d.txt", dir, i);
            st = cf_kitti_labels_write(path, &b, &cal);
        }
        if (st == CF_OK) {
            snprintf(path, sizeof path, "%s/calib/%06d.txt", dir, i);
            st = cf_kitti_calib_write(path, &cal);
        }
        cf_points_free(&p);
        cf_boxes_free(&b);
        CF_TRY(st);
    }
    return CF_OK;
}
