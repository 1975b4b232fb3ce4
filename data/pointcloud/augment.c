/* Global augmentation of a LiDAR frame, points and boxes together (FlatFormer, section 4 "Implementation
 * details", after CenterPoint/mmdet3d: random flips along both axes, a global rotation and a global scaling),
 * plus random point drop. Every draw comes from the counter-based RNG keyed by (seed, index), so an item's
 * augmentation does not depend on the order items are loaded in. */
#include "data/pointcloud/pointcloud.h"

#include "autograd/rng.h"

#include <math.h>

int cf_box3d_contains(const cf_box3d *b, float x, float y, float z, float margin)
{
    float dx = x - b->x, dy = y - b->y;
    float c = cosf(b->yaw), s = sinf(b->yaw);
    float u = c * dx + s * dy, v = -s * dx + c * dy;
    return fabsf(u) <= 0.5f * b->l + margin && fabsf(v) <= 0.5f * b->w + margin && fabsf(z - b->z) <= 0.5f * b->h + margin;
}

static float wrap(float a)
{
    while (a > (float)CF_PC_PI) a -= 2.0f * (float)CF_PC_PI;
    while (a <= -(float)CF_PC_PI) a += 2.0f * (float)CF_PC_PI;
    return a;
}

void cf_pc_augment_apply(const cf_pc_augment *a, uint64_t seed, uint64_t index, cf_points *p, cf_boxes *bs)
{
    cf_philox_key key = cf_rng_key(seed, 0x70636175ull); /* "pcau" */
    int fx = cf_rng_uniform(key, index, 0) < a->flip_x;
    int fy = cf_rng_uniform(key, index, 1) < a->flip_y;
    float th = (float)((2.0 * cf_rng_uniform(key, index, 2) - 1.0) * a->rot);
    float sc = (float)(a->scale_lo + (a->scale_hi - a->scale_lo) * cf_rng_uniform(key, index, 3));
    float c = cosf(th), s = sinf(th);
    int64_t kept = 0;
    cf_philox_key dkey = cf_rng_key(seed ^ index, 0x64726f70ull); /* "drop" */
    for (int64_t i = 0; i < p->n; i++) {
        if (a->drop > 0 && cf_rng_uniform(dkey, index, (uint64_t)i) < a->drop) continue;
        float *q = p->xyzi + 4 * i, *o = p->xyzi + 4 * kept++;
        float x = q[0], y = q[1];
        if (fx) y = -y;
        if (fy) x = -x;
        o[0] = sc * (c * x - s * y);
        o[1] = sc * (s * x + c * y);
        o[2] = sc * q[2];
        o[3] = q[3];
    }
    p->n = kept;
    for (int i = 0; bs && i < bs->n; i++) {
        cf_box3d *b = &bs->b[i];
        float x = b->x, y = b->y, yaw = b->yaw;
        if (fx) y = -y, yaw = -yaw;
        if (fy) x = -x, yaw = (float)CF_PC_PI - yaw;
        b->x = sc * (c * x - s * y);
        b->y = sc * (s * x + c * y);
        b->z *= sc;
        b->l *= sc, b->w *= sc, b->h *= sc;
        b->yaw = wrap(yaw + th);
    }
}
