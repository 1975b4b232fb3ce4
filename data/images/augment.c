/* Image augmentation (contract and paper citations in augment.h). */
#include "data/images/augment.h"
#include "data/images/images_internal.h"

#include "autograd/rng.h"

#include <math.h>
#include <string.h>

/* Streams: role 0/1 views and the mixing draw use different keys; within one, fixed element slots. */
enum { SLOT_CROP = 0, SLOT_FLIP = 40, SLOT_MIX = 0, SLOT_MIX_LAM = 16, SLOT_BOX = 8 };
static const uint64_t STREAM_VIEW = 0x5a17, STREAM_PARTNER = 0x3c6e, STREAM_MIX = 0x7b1d;

static cf_philox_key key_for(uint64_t seed, uint64_t stream, int64_t index)
{
    return cf_rng_key(seed ^ (stream * 0x9e3779b97f4a7c15ull), (uint64_t)index);
}

void cf_augment_defaults(cf_augment *a, int channels, int out_h, int out_w, int classes)
{
    memset(a, 0, sizeof *a);
    a->channels = channels, a->out_h = out_h, a->out_w = out_w, a->classes = classes;
    a->scale_lo = 0.08, a->scale_hi = 1.0, a->ratio_lo = 3.0 / 4.0, a->ratio_hi = 4.0 / 3.0;
    for (int c = 0; c < CF_AUGMENT_MAX_CHANNELS; c++) a->mean[c] = 0.f, a->std[c] = 1.f;
    a->mix_prob = 1.0;
}

/* Gamma(shape) by Marsaglia and Tsang ("A simple method for generating gamma variables", 2000), with the
 * U^(1/shape) boost for shape < 1; a bounded number of tries keeps the draw a pure function of its slots. */
static double gamma_draw(double shape, cf_philox_key key, uint64_t step, uint64_t at)
{
    double boost = 1.0;
    if (shape < 1.0) {
        double u = cf_rng_uniform(key, step, at);
        boost = pow(u > 1e-300 ? u : 1e-300, 1.0 / shape);
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (uint64_t k = 0; k < 64; k++) {
        double x = cf_rng_normal(key, step, at + 1 + 2 * k), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = cf_rng_uniform(key, step, at + 2 + 2 * k);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v * boost;
    }
    return d * boost; /* the mean: reached with probability far below 1e-30 */
}

double cf_augment_beta(double alpha, uint64_t seed, int64_t index, int64_t epoch, uint64_t at)
{
    cf_philox_key key = key_for(seed, STREAM_MIX, index);
    double x = gamma_draw(alpha, key, (uint64_t)epoch, at), y = gamma_draw(alpha, key, (uint64_t)epoch, at + 200);
    return x + y > 0 ? x / (x + y) : 0.5;
}

cf_augment_mix cf_augment_draw_mix(const cf_augment *a, uint64_t seed, int64_t index, int64_t epoch, int64_t len)
{
    cf_augment_mix m = {CF_MIX_NONE, index, 1.0, 0, 0, 0, 0};
    bool mu = a->mixup_alpha > 0, cm = a->cutmix_alpha > 0;
    if ((!mu && !cm) || len < 2) return m;
    cf_philox_key key = key_for(seed, STREAM_MIX, index);
    uint64_t st = (uint64_t)epoch;
    if (cf_rng_uniform(key, st, SLOT_MIX) >= a->mix_prob) return m;
    bool use_cut = cm && (!mu || cf_rng_uniform(key, st, SLOT_MIX + 1) < 0.5);
    /* the partner: uniform over the other len-1 items */
    int64_t p = (int64_t)(cf_rng_uniform(key, st, SLOT_MIX + 2) * (double)(len - 1));
    if (p >= len - 1) p = len - 2;
    m.partner = p >= index ? p + 1 : p;
    double lam = cf_augment_beta(use_cut ? a->cutmix_alpha : a->mixup_alpha, seed, index, epoch, 1000);
    if (!use_cut) {
        m.mode = CF_MIX_MIXUP, m.lam = lam;
        return m;
    }
    /* CutMix eq. 2: box of size H*sqrt(1-lam) x W*sqrt(1-lam) centred uniformly, clipped */
    double r = sqrt(1.0 - lam);
    int bh = (int)(a->out_h * r), bw = (int)(a->out_w * r);
    int cy = (int)(cf_rng_uniform(key, st, SLOT_BOX) * a->out_h), cx = (int)(cf_rng_uniform(key, st, SLOT_BOX + 1) * a->out_w);
    m.y0 = cy - bh / 2 < 0 ? 0 : cy - bh / 2, m.y1 = cy + bh / 2 > a->out_h ? a->out_h : cy + bh / 2;
    m.x0 = cx - bw / 2 < 0 ? 0 : cx - bw / 2, m.x1 = cx + bw / 2 > a->out_w ? a->out_w : cx + bw / 2;
    m.mode = CF_MIX_CUTMIX;
    m.lam = 1.0 - (double)(m.y1 - m.y0) * (m.x1 - m.x0) / ((double)a->out_h * a->out_w);
    return m;
}

/* The crop window [y, y+ch) x [x, x+cw) of an h x w image. */
static void draw_crop(const cf_augment *a, int h, int w, cf_philox_key key, uint64_t st, double *y, double *x, double *ch, double *cw)
{
    *y = 0, *x = 0, *ch = h, *cw = w;
    if (!a->crop) return;
    double area = (double)h * w, lr0 = log(a->ratio_lo), lr1 = log(a->ratio_hi);
    for (int t = 0; t < 10; t++) {
        double s = a->scale_lo + (a->scale_hi - a->scale_lo) * cf_rng_uniform(key, st, SLOT_CROP + 4 * t);
        double ratio = exp(lr0 + (lr1 - lr0) * cf_rng_uniform(key, st, SLOT_CROP + 4 * t + 1));
        double tw = round(sqrt(s * area * ratio)), th = round(sqrt(s * area / ratio));
        if (tw >= 1 && th >= 1 && tw <= w && th <= h) {
            *ch = th, *cw = tw;
            *y = floor(cf_rng_uniform(key, st, SLOT_CROP + 4 * t + 2) * (h - th + 1));
            *x = floor(cf_rng_uniform(key, st, SLOT_CROP + 4 * t + 3) * (w - tw + 1));
            return;
        }
    }
    /* fallback: the largest centred crop whose ratio is within bounds */
    double in_ratio = (double)w / h;
    if (in_ratio < a->ratio_lo) *cw = w, *ch = round(w / a->ratio_lo);
    else if (in_ratio > a->ratio_hi) *ch = h, *cw = round(h * a->ratio_hi);
    if (*ch > h) *ch = h;
    if (*cw > w) *cw = w;
    *y = floor((h - *ch) / 2), *x = floor((w - *cw) / 2);
}

void cf_augment_view(const cf_augment *a, const uint8_t *hwc, int h, int w, uint64_t seed, int64_t index, int64_t epoch,
                     int role, float *out)
{
    cf_philox_key key = key_for(seed, role ? STREAM_PARTNER : STREAM_VIEW, index);
    uint64_t st = (uint64_t)epoch;
    double y0, x0, ch, cw;
    draw_crop(a, h, w, key, st, &y0, &x0, &ch, &cw);
    bool flip = a->flip && cf_rng_uniform(key, st, SLOT_FLIP) < 0.5;
    int C = a->channels, OH = a->out_h, OW = a->out_w;
    for (int oy = 0; oy < OH; oy++) {
        int iy, iy1, ix, ix1;
        double wy, wx;
        bilinear_tap(y0, ch, OH, oy, &iy, &iy1, &wy);
        for (int ox = 0; ox < OW; ox++) {
            bilinear_tap(x0, cw, OW, ox, &ix, &ix1, &wx);
            int dx = flip ? OW - 1 - ox : ox;
            for (int c = 0; c < C; c++) {
                double p00 = hwc[((size_t)iy * w + ix) * C + c], p01 = hwc[((size_t)iy * w + ix1) * C + c];
                double p10 = hwc[((size_t)iy1 * w + ix) * C + c], p11 = hwc[((size_t)iy1 * w + ix1) * C + c];
                double v = (1 - wy) * ((1 - wx) * p00 + wx * p01) + wy * ((1 - wx) * p10 + wx * p11);
                out[((size_t)c * OH + oy) * OW + dx] = (float)((v / 255.0 - a->mean[c]) / a->std[c]);
            }
        }
    }
}

void cf_augment_apply_mix(const cf_augment *a, const cf_augment_mix *mix, float *out, const float *other)
{
    int C = a->channels, OH = a->out_h, OW = a->out_w;
    size_t n = (size_t)C * OH * OW;
    if (mix->mode == CF_MIX_MIXUP) {
        float l = (float)mix->lam;
        for (size_t i = 0; i < n; i++) out[i] = l * out[i] + (1.f - l) * other[i];
    } else if (mix->mode == CF_MIX_CUTMIX) {
        for (int c = 0; c < C; c++)
            for (int y = mix->y0; y < mix->y1; y++)
                for (int x = mix->x0; x < mix->x1; x++) out[((size_t)c * OH + y) * OW + x] = other[((size_t)c * OH + y) * OW + x];
    }
}

void cf_augment_targets(const cf_augment *a, int label_a, int label_b, double lam, float *t)
{
    int K = a->classes;
    double eps = a->smoothing;
    for (int k = 0; k < K; k++) t[k] = (float)(eps / K);
    t[label_a] += (float)((1 - eps) * lam);
    t[label_b] += (float)((1 - eps) * (1 - lam));
}
