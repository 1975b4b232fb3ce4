/* The synthetic primitive shapes (data/pointcloud/primitives.h): points uniform by area on the surface of a
 * cube, sphere, cylinder, cone, torus or square pyramid, fitted into the unit sphere, then scaled, rotated by a
 * uniform random rotation and jittered. */
#include "data/pointcloud/primitives.h"

#include "autograd/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const cf_prim_class_names[CF_PRIM_NCLASS] = {"cube", "sphere", "cylinder", "cone", "torus", "pyramid"};

#define PI 3.14159265358979323846
#define TORUS_R 0.7
#define TORUS_TUBE 0.3

void cf_pc_cls_set_free(cf_pc_cls_set *s)
{
    free(s->xyz);
    free(s->label);
    memset(s, 0, sizeof *s);
}

/* one point on the canonical surface of class c (each fits [-1, 1]^3, its bounding box centred on the origin);
 * u: fresh uniforms, the torus may need more, drawn from (key, step) at elements 8 onwards */
static void surface_point(int c, cf_philox_key key, uint64_t step, double p[3])
{
    double u[4];
    for (int k = 0; k < 4; k++) u[k] = cf_rng_uniform(key, step, (uint64_t)k);
    switch (c) {
    case CF_PRIM_CUBE: {
        int face = (int)(u[0] * 6) % 6, axis = face / 2;
        p[axis] = face % 2 ? 1 : -1;
        p[(axis + 1) % 3] = 2 * u[1] - 1;
        p[(axis + 2) % 3] = 2 * u[2] - 1;
        break;
    }
    case CF_PRIM_SPHERE: {
        double g[3], n = 0;
        for (int k = 0; k < 3; k++) g[k] = cf_rng_normal(key, step, (uint64_t)(4 + k)), n += g[k] * g[k];
        n = n > 0 ? sqrt(n) : 1;
        for (int k = 0; k < 3; k++) p[k] = g[k] / n;
        break;
    }
    case CF_PRIM_CYLINDER: { /* radius 1, z in [-1, 1]: side 4 pi, the two caps 2 pi */
        double th = 2 * PI * u[1];
        if (u[0] < 2.0 / 3.0) {
            p[0] = cos(th), p[1] = sin(th), p[2] = 2 * u[2] - 1;
        } else {
            double r = sqrt(u[2]);
            p[0] = r * cos(th), p[1] = r * sin(th), p[2] = u[3] < 0.5 ? -1 : 1;
        }
        break;
    }
    case CF_PRIM_CONE: { /* base radius 1 at z = -1, apex at z = 1: side pi sqrt(5), base pi */
        double th = 2 * PI * u[1], t = sqrt(u[2]);
        if (u[0] < sqrt(5.0) / (1 + sqrt(5.0))) p[0] = t * cos(th), p[1] = t * sin(th), p[2] = 1 - 2 * t;
        else p[0] = t * cos(th), p[1] = t * sin(th), p[2] = -1;
        break;
    }
    case CF_PRIM_TORUS: { /* ring radius R, tube radius r in the xy plane: area density (R + r cos phi) */
        double th = 2 * PI * u[1], ph = 2 * PI * u[2];
        for (uint64_t k = 8; u[3] * (TORUS_R + TORUS_TUBE) > TORUS_R + TORUS_TUBE * cos(ph) && k < 8 + 2 * 64; k += 2) {
            ph = 2 * PI * cf_rng_uniform(key, step, k);
            u[3] = cf_rng_uniform(key, step, k + 1);
        }
        p[0] = (TORUS_R + TORUS_TUBE * cos(ph)) * cos(th);
        p[1] = (TORUS_R + TORUS_TUBE * cos(ph)) * sin(th);
        p[2] = TORUS_TUBE * sin(ph);
        break;
    }
    default: { /* square pyramid: base [-1, 1]^2 at z = -1 (area 4), apex (0, 0, 1), four sides of sqrt(5) */
        if (u[0] < 4 / (4 + 4 * sqrt(5.0))) {
            p[0] = 2 * u[1] - 1, p[1] = 2 * u[2] - 1, p[2] = -1;
            break;
        }
        static const double corner[5][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}, {-1, -1}};
        int side = (int)(u[1] * 4) % 4;
        double s = u[2], t = u[3];
        if (s + t > 1) s = 1 - s, t = 1 - t;
        const double *a = corner[side], *b = corner[side + 1];
        p[0] = a[0] + s * (b[0] - a[0]) - t * a[0];
        p[1] = a[1] + s * (b[1] - a[1]) - t * a[1];
        p[2] = -1 + 2 * t;
        break;
    }
    }
}

/* the radius of the smallest origin-centred sphere holding each canonical shape */
static double fit_radius(int c)
{
    switch (c) {
    case CF_PRIM_CUBE:
    case CF_PRIM_PYRAMID: return sqrt(3.0);
    case CF_PRIM_CYLINDER:
    case CF_PRIM_CONE: return sqrt(2.0);
    default: return 1.0; /* sphere; torus: R + r = 1 */
    }
}

void cf_primitive_cloud(uint64_t seed, uint64_t index, int64_t P, float *xyz, int *label)
{
    int c = (int)(index % CF_PRIM_NCLASS);
    cf_philox_key key = cf_rng_key(seed, index);
    /* step 0: the pose; a uniform rotation from a uniform unit quaternion (Shoemake) */
    double u1 = cf_rng_uniform(key, 0, 0), u2 = cf_rng_uniform(key, 0, 1), u3 = cf_rng_uniform(key, 0, 2);
    double scale = (0.6 + 0.35 * cf_rng_uniform(key, 0, 3)) / fit_radius(c);
    double qa = sqrt(1 - u1) * sin(2 * PI * u2), qb = sqrt(1 - u1) * cos(2 * PI * u2);
    double qc = sqrt(u1) * sin(2 * PI * u3), qd = sqrt(u1) * cos(2 * PI * u3);
    double w = qd, x = qa, y = qb, z = qc;
    double R[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z),     2 * (x * z + w * y),
                   2 * (x * y + w * z),     1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                   2 * (x * z - w * y),     2 * (y * z + w * x),     1 - 2 * (x * x + y * y)};
    for (int64_t j = 0; j < P; j++) {
        double p[3];
        surface_point(c, key, 2 * (uint64_t)j + 1, p);
        for (int k = 0; k < 3; k++) {
            double v = scale * (R[3 * k] * p[0] + R[3 * k + 1] * p[1] + R[3 * k + 2] * p[2]);
            xyz[3 * j + k] = (float)(v + 0.01 * cf_rng_normal(key, 2 * (uint64_t)j + 2, (uint64_t)k));
        }
    }
    *label = c;
}

cf_status cf_primitives_make(cf_pc_cls_set *out, int64_t n, int64_t P, uint64_t seed)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || n > CF_PC_CLS_MAX_ITEMS || P < 1 || P > CF_PC_CLS_MAX_POINTS)
        return cf_set_error(CF_ERR_ARG, "primitives: %lld clouds of %lld points (need 1..%lld clouds of 1..%lld points)", (long long)n,
                            (long long)P, (long long)CF_PC_CLS_MAX_ITEMS, (long long)CF_PC_CLS_MAX_POINTS);
    out->xyz = malloc((size_t)n * (size_t)P * 3 * sizeof(float));
    out->label = malloc((size_t)n * sizeof(int32_t));
    if (!out->xyz || !out->label) {
        cf_pc_cls_set_free(out);
        return cf_set_error(CF_ERR_OOM, "primitives: out of memory for %lld clouds of %lld points", (long long)n, (long long)P);
    }
    out->n = n, out->P = P;
    for (int64_t i = 0; i < n; i++) {
        int c;
        cf_primitive_cloud(seed, (uint64_t)i, P, out->xyz + (size_t)i * (size_t)P * 3, &c);
        out->label[i] = c;
    }
    return CF_OK;
}
