/* Synthetic Galaxy10-like images: data/images/galaxies.h. */
#include "data/images/galaxies.h"

#include "autograd/fileio.h"
#include "autograd/rng.h"
#include "data/h5util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const int cf_galaxy10_counts[CF_GALAXY_CLASSES] = {1081, 1853, 2645, 2027, 334, 2043, 1829, 2628, 1423, 1873};

typedef struct {
    cf_philox_key key;
    uint64_t step, i;
} draw;

static double uni(draw *d, double lo, double hi) { return lo + (hi - lo) * cf_rng_uniform(d->key, d->step, d->i++); }
static double gauss(draw *d) { return cf_rng_normal(d->key, d->step, d->i++); }

enum { S = CF_GALAXY_SIDE, NP = S * S };
static const double CF_PI = 3.14159265358979323846;

static double sersic(double r, double re, double n)
{
    double b = 2 * n - 1.0 / 3.0;
    return exp(-b * (pow(r / re, 1.0 / n) - 1.0));
}

/* adds a component to one of the two maps (bulge: red, disk: blue) */
typedef struct {
    double cx, cy, cos_t, sin_t;
} frame;

static void coords(const frame *f, int x, int y, double q, double *u, double *v, double *r)
{
    double dx = x - f->cx, dy = y - f->cy;
    *u = dx * f->cos_t + dy * f->sin_t, *v = -dx * f->sin_t + dy * f->cos_t;
    *r = sqrt(*u * *u + (*v / q) * (*v / q)) + 1e-6;
}

static void add_sersic(double *map, const frame *f, double amp, double re, double n, double q)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double u, v, r;
            coords(f, x, y, q, &u, &v, &r);
            map[y * S + x] += amp * sersic(r, re, n);
        }
}

/* exponential disk with m = 2 logarithmic arms of the given pitch (0: no arms) from radius r0 */
static void add_disk(double *map, const frame *f, double amp, double rd, double q, double pitch_deg, double r0, double phase)
{
    double cot = pitch_deg > 0 ? 1.0 / tan(pitch_deg * CF_PI / 180.0) : 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double u, v, r;
            coords(f, x, y, q, &u, &v, &r);
            double I = exp(-r / rd);
            if (pitch_deg > 0) {
                double phi = atan2(v / q, u), arm = 0.5 * (1 + cos(2 * (phi - cot * log(fmax(r, r0) / r0) - phase)));
                I *= (r < r0 ? 0.6 : 0.25) + 2.0 * pow(arm, 4) * (r < r0 ? 0.3 : 1.0);
            }
            map[y * S + x] += amp * I;
        }
}

static void add_blob(double *map, double cx, double cy, double amp, double sigma)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double dx = x - cx, dy = y - cy;
            map[y * S + x] += amp * exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
        }
}

static void blur(double *map, double *tmp, double sigma)
{
    double k[9], sum = 0;
    for (int i = -4; i <= 4; i++) sum += k[i + 4] = exp(-(double)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i < 9; i++) k[i] /= sum;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double a = 0;
            for (int i = -4; i <= 4; i++) a += k[i + 4] * map[y * S + (x + i < 0 ? 0 : x + i >= S ? S - 1 : x + i)];
            tmp[y * S + x] = a;
        }
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double a = 0;
            for (int i = -4; i <= 4; i++) a += k[i + 4] * tmp[(y + i < 0 ? 0 : y + i >= S ? S - 1 : y + i) * S + x];
            map[y * S + x] = a;
        }
}

static int draw_class(draw *d)
{
    double t = uni(d, 0, 17736), acc = 0;
    for (int c = 0; c < CF_GALAXY_CLASSES; c++)
        if (t < (acc += cf_galaxy10_counts[c])) return c;
    return CF_GALAXY_CLASSES - 1;
}

void cf_galaxy_render(uint64_t seed, int split, int64_t index, uint8_t *hwc, int32_t *label, int32_t *drawn)
{
    draw d = {cf_rng_key(seed, 0x67616c6178ULL + (uint64_t)split), (uint64_t)index, 0};
    double bulge[NP], disk[NP], tmp[NP];
    memset(bulge, 0, sizeof bulge), memset(disk, 0, sizeof disk);
    int c = draw_class(&d);
    double sc = uni(&d, 0.7, 1.3), th = uni(&d, 0, 2 * CF_PI);
    frame f = {S / 2.0 - 0.5 + uni(&d, -2, 2), S / 2.0 - 0.5 + uni(&d, -2, 2), cos(th), sin(th)};
    double re = 7 * sc, phase = uni(&d, 0, CF_PI);
    switch (c) {
    case 0: {
        add_disk(disk, &f, 0.6, 0.7 * re, uni(&d, 0.6, 1), 0, 1, 0);
        int blobs = 2 + (int)uni(&d, 0, 3);
        for (int b = 0; b < blobs; b++) {
            double a = uni(&d, 0, 2 * CF_PI), rr = uni(&d, 0.4, 1.6) * re;
            add_blob(disk, f.cx + rr * cos(a), f.cy + rr * sin(a), uni(&d, 0.3, 0.9), uni(&d, 1.5, 3) * sc);
        }
        for (int p = 0; p < NP; p++) disk[p] *= 1 + 0.6 * sin(0.3 * (p % S) + phase) * cos(0.25 * (p / S) + 2 * phase);
        add_sersic(bulge, &f, 0.3, 0.3 * re, 2, 1);
        break;
    }
    case 1: {
        double sep = uni(&d, 8, 16) * sc / 2, a = uni(&d, 0, 2 * CF_PI);
        frame f1 = f, f2 = f;
        f1.cx += sep * cos(a), f1.cy += sep * sin(a), f2.cx -= sep * cos(a), f2.cy -= sep * sin(a);
        add_sersic(bulge, &f1, 0.8, 0.5 * re, uni(&d, 2, 4), uni(&d, 0.7, 1));
        add_sersic(bulge, &f2, uni(&d, 0.4, 0.8), 0.4 * re, uni(&d, 2, 4), uni(&d, 0.7, 1));
        double R = uni(&d, 10, 16) * sc, a0 = a + uni(&d, 0.5, 1.5);
        for (int k = 0; k < 24; k++) {
            double t = a0 + k * (CF_PI / 2) / 24;
            add_blob(disk, f1.cx + R * cos(t), f1.cy + R * sin(t), 0.12, 1.5);
        }
        break;
    }
    case 2: add_sersic(bulge, &f, 1.0, re, 4, uni(&d, 0.9, 1)); break;
    case 3: add_sersic(bulge, &f, 1.0, re, 3, uni(&d, 0.5, 0.8)); break;
    case 4: add_sersic(bulge, &f, 1.0, 1.3 * re, 2, uni(&d, 0.15, 0.3)); break;
    case 5:
    case 6:
    case 7: {
        double pitch = c == 5 ? uni(&d, 15, 25) : c == 6 ? uni(&d, 10, 15) : uni(&d, 25, 35), q = uni(&d, 0.6, 1);
        double r0 = c == 5 ? 0.9 * re : 0.4 * re;
        add_disk(disk, &f, 0.7, 0.9 * re, q, pitch, r0, phase);
        add_sersic(bulge, &f, 0.6, 0.3 * re, 2, 1);
        if (c == 5) { /* the bar, along the arms' starting angle */
            frame fb = f;
            fb.cos_t = cos(th + phase), fb.sin_t = sin(th + phase);
            add_sersic(bulge, &fb, 0.6, 0.9 * re, 0.7, 0.25);
        }
        break;
    }
    default:
        add_disk(disk, &f, 1.0, 1.2 * re, 0.1, 0, 1, 0);
        if (c == 9) add_sersic(bulge, &f, 0.9, 0.35 * re, 4, 1);
        break;
    }
    double psf = uni(&d, 0.8, 1.5), sky = uni(&d, 0.01, 0.04), sig = uni(&d, 0.01, 0.03);
    blur(bulge, tmp, psf), blur(disk, tmp, psf);
    /* g, r, z: bulge redder, disk bluer */
    static const double bulge_col[3] = {0.65, 1.0, 1.25}, disk_col[3] = {1.2, 1.0, 0.75};
    const double soft = 0.08, norm = asinh(1.5 / soft);
    for (int p = 0; p < NP; p++)
        for (int k = 0; k < 3; k++) {
            double I = bulge_col[k] * bulge[p] + disk_col[k] * disk[p];
            I += sky + sig * gauss(&d) + 0.05 * sqrt(fmax(I, 0)) * gauss(&d);
            double v = 255 * asinh(fmax(I, 0) / soft) / norm;
            hwc[p * 3 + k] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v + 0.5);
        }
    int y = c;
    if (uni(&d, 0, 1) < 0.1) { /* vote ambiguity between neighbouring classes */
        if (c == 2 || c == 3) y = 5 - c;
        else if (c == 6 || c == 7) y = 13 - c;
        else if (c == 8 || c == 9) y = 17 - c;
    }
    *label = y;
    if (drawn) *drawn = c;
}

#ifdef CF_HAVE_HDF5
static cf_status write_h5(const char *path, int64_t n, const uint8_t *px, const uint8_t *lab)
{
    cf_h5image im;
    hid_t file = cf_h5image_create(&im, path, (size_t)(n * NP * 3) + (1u << 16)), sp = -1, ds = -1;
    herr_t e = file < 0 ? -1 : 0;
    hsize_t d4[4] = {(hsize_t)n, S, S, 3}, d1[1] = {(hsize_t)n};
    if (e >= 0 && (sp = H5Screate_simple(4, d4, NULL)) >= 0 &&
        (ds = H5Dcreate2(file, "images", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        e = H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px);
    else e = -1;
    cf_h5_close(&ds), cf_h5_close(&sp);
    if (e >= 0 && (sp = H5Screate_simple(1, d1, NULL)) >= 0 &&
        (ds = H5Dcreate2(file, "ans", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        e = H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab);
    else e = -1;
    cf_h5_close(&ds), cf_h5_close(&sp);
    if (e < 0) {
        cf_h5_close(&file);
        cf_h5image_discard(&im);
        return cf_set_error(CF_ERR_IO, "%s: HDF5 failed while writing the images; the previous file (if any) is unchanged", path);
    }
    void *image = NULL;
    size_t len = 0;
    cf_status st = cf_h5image_finish(&im, file, path, &image, &len);
    if (st == CF_OK) st = cf_write_file_atomic(path, image, len);
    free(image);
    return st;
}
#endif

cf_status cf_galaxies_write_h5(const char *path, int64_t n, uint64_t seed, int split)
{
#ifdef CF_HAVE_HDF5
    if (n < 1) return cf_set_error(CF_ERR_ARG, "%s: %lld galaxies (needs >= 1)", path, (long long)n);
    uint8_t *px = malloc((size_t)(n * NP * 3)), *lab = malloc((size_t)n);
    if (!px || !lab) {
        free(px), free(lab);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory for %lld galaxies", path, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t y;
        cf_galaxy_render(seed, split, i, px + i * NP * 3, &y, NULL);
        lab[i] = (uint8_t)y;
    }
    cf_h5_quiet q = cf_h5_quiet_on();
    cf_status st = write_h5(path, n, px, lab);
    cf_h5_quiet_off(q);
    free(px), free(lab);
    return st;
#else
    (void)n, (void)seed, (void)split;
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no HDF5 (install libhdf5-dev and rebuild)", path);
#endif
}
