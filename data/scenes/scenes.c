/* Synthetic instance scenes and their PNG-pair reader and writer (data/scenes/scenes.h). */
#include "data/scenes/scenes.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct {
    uint64_t s;
} rng64;

static double unif(rng64 *r) /* splitmix64 -> [0, 1) */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double range(rng64 *r, double lo, double hi) { return lo + (hi - lo) * unif(r); }

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

typedef struct {
    int kind; /* 0 ellipse, 1 rectangle, 2 triangle, 3 star, 4 ring */
    double cx, cy, a, b, th, inner;
    double tx[3], ty[3];
    double col[3], col2[3], stripe, sdir;
} shape;

static bool inside(const shape *s, double x, double y)
{
    double dx = x - s->cx, dy = y - s->cy, c = cos(s->th), sn = sin(s->th);
    double u = c * dx + sn * dy, v = -sn * dx + c * dy;
    switch (s->kind) {
    case 0: return (u * u) / (s->a * s->a) + (v * v) / (s->b * s->b) <= 1;
    case 1: return fabs(u) <= s->a && fabs(v) <= s->b;
    case 2: {
        double d[3];
        for (int k = 0; k < 3; k++) {
            int j = (k + 1) % 3;
            d[k] = (s->tx[j] - s->tx[k]) * (y - s->ty[k]) - (s->ty[j] - s->ty[k]) * (x - s->tx[k]);
        }
        return (d[0] >= 0 && d[1] >= 0 && d[2] >= 0) || (d[0] <= 0 && d[1] <= 0 && d[2] <= 0);
    }
    case 3: {
        double r = sqrt(dx * dx + dy * dy), ang = atan2(dy, dx) - s->th;
        return r <= s->a * (0.6 + 0.4 * cos(5 * ang));
    }
    default: {
        double q = (u * u) / (s->a * s->a) + (v * v) / (s->b * s->b);
        return q <= 1 && q >= s->inner * s->inner;
    }
    }
}

static void make_shape(rng64 *r, int side, shape *s)
{
    double S = side;
    s->kind = (int)(unif(r) * 5) % 5;
    s->cx = range(r, 0.15 * S, 0.85 * S), s->cy = range(r, 0.15 * S, 0.85 * S);
    s->a = range(r, 0.12 * S, 0.28 * S), s->b = range(r, 0.5, 1.0) * s->a;
    s->th = range(r, 0, M_PI), s->inner = range(r, 0.45, 0.7);
    for (int k = 0; k < 3; k++) {
        double ang = s->th + 2 * M_PI * k / 3 + range(r, -0.4, 0.4), rad = s->a * range(r, 0.8, 1.2);
        s->tx[k] = s->cx + rad * cos(ang), s->ty[k] = s->cy + rad * sin(ang);
    }
    for (int c = 0; c < 3; c++) s->col[c] = range(r, 0, 255), s->col2[c] = range(r, 0, 255);
    s->stripe = unif(r) < 0.4 ? range(r, 3, 8) : 0;
    s->sdir = range(r, 0, M_PI);
}

/* One scene: rgb [side, side, 3], ids [side, side]; returns the number of objects drawn. */
static int draw_scene(uint64_t seed, uint64_t item, int side, uint8_t *rgb, uint8_t *ids)
{
    rng64 r = {seed * 0x100000001b3ull ^ (item + 1) * 0x9e3779b97f4a7c15ull};
    double c0[3], c1[3], gdir = range(&r, 0, 2 * M_PI), noise = range(&r, 4, 14);
    for (int c = 0; c < 3; c++) c0[c] = range(&r, 0, 255), c1[c] = range(&r, 0, 255);
    int nobj = 2 + (int)(unif(&r) * 4) % 4;
    shape sh[5];
    for (int k = 0; k < nobj; k++) make_shape(&r, side, &sh[k]);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double t = 0.5 + 0.5 * ((x - side / 2.0) * cos(gdir) + (y - side / 2.0) * sin(gdir)) / (side * 0.71);
            double px[3];
            for (int c = 0; c < 3; c++) px[c] = c0[c] + (c1[c] - c0[c]) * t;
            int id = 0;
            for (int k = 0; k < nobj; k++)
                if (inside(&sh[k], x + 0.5, y + 0.5)) id = k + 1; /* later objects occlude */
            if (id) {
                const shape *s = &sh[id - 1];
                bool alt = s->stripe > 0 && fmod(fabs((x * cos(s->sdir) + y * sin(s->sdir))) / s->stripe, 2.0) >= 1.0;
                for (int c = 0; c < 3; c++) px[c] = alt ? s->col2[c] : s->col[c];
            }
            for (int c = 0; c < 3; c++) {
                double v = px[c] + noise * (unif(&r) - 0.5) * 2;
                rgb[(y * side + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
            }
            ids[y * side + x] = (uint8_t)id;
        }
    return nobj;
}

static cf_status mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return cf_set_error(CF_ERR_IO, "%s: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return cf_set_error(CF_ERR_IO, "%s: %s", buf, strerror(errno));
    return CF_OK;
}

static cf_status write_png(const char *path, const uint8_t *px, int side, bool rgb)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)side, im.height = (png_uint_32)side;
    im.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&im, path, 0, px, 0, NULL))
        return cf_set_error(CF_ERR_IO, "%s: cannot write the PNG (%s)", path, im.message);
    return CF_OK;
}

cf_status cf_scenes_generate(const char *dir, const char *split, int64_t n, int side, uint64_t seed)
{
    if (side < 16 || side > CF_SCENES_MAX_SIDE)
        return cf_set_error(CF_ERR_ARG, "scenes: side %d (16..%d)", side, CF_SCENES_MAX_SIDE);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/images", dir, split);
    CF_TRY(mkdirs(path));
    snprintf(path, sizeof path, "%s/%s/masks", dir, split);
    CF_TRY(mkdirs(path));
    uint8_t *rgb = malloc((size_t)side * side * 3), *ids = malloc((size_t)side * side);
    cf_status st = rgb && ids ? CF_OK : cf_set_error(CF_ERR_OOM, "scenes: out of memory");
    uint64_t split_key = fnv1a(split);
    for (int64_t i = 0; i < n && st == CF_OK; i++) {
        draw_scene(seed ^ split_key, (uint64_t)i, side, rgb, ids);
        snprintf(path, sizeof path, "%s/%s/images/%05lld.png", dir, split, (long long)i);
        st = write_png(path, rgb, side, true);
        snprintf(path, sizeof path, "%s/%s/masks/%05lld.png", dir, split, (long long)i);
        if (st == CF_OK) st = write_png(path, ids, side, false);
    }
    free(rgb), free(ids);
    return st;
}

/* Reads one PNG as side x side RGB (rgb) or as 8-bit greyscale ids (!rgb); *side 0: set it from this file. */
static cf_status read_png(const char *path, bool rgb, int *side, uint8_t *dst, int64_t cap)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return cf_set_error(CF_ERR_FORMAT, "%s: not a readable PNG (%s)", path, im.message);
    const char *bad = NULL;
    if (im.format & PNG_FORMAT_FLAG_LINEAR) bad = "16-bit samples (the scenes format is 8-bit)";
    else if (!rgb && (im.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_COLORMAP)))
        bad = "a colour or palette image (an instance mask must be 8-bit greyscale ids)";
    else if (!rgb && (im.format & PNG_FORMAT_FLAG_ALPHA)) bad = "an alpha channel (an instance mask has one channel)";
    else if (im.width != im.height) bad = "not square";
    else if (*side && (int)im.width != *side) bad = "a size other than the split's first image";
    else if (im.width < 16 || im.width > CF_SCENES_MAX_SIDE) bad = "a side outside 16..4096";
    if (bad) {
        png_image_free(&im);
        return cf_set_error(CF_ERR_FORMAT, "%s: %u x %u, %s", path, im.width, im.height, bad);
    }
    if ((int64_t)im.width * im.height * (rgb ? 3 : 1) > cap) {
        png_image_free(&im);
        return cf_set_error(CF_ERR_FORMAT, "%s: larger than the split's first image", path);
    }
    *side = (int)im.width;
    im.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (!png_image_finish_read(&im, NULL, dst, 0, NULL))
        return cf_set_error(CF_ERR_FORMAT, "%s: PNG decoding failed (%s)", path, im.message);
    return CF_OK;
}

void cf_scenes_free(cf_scenes *s)
{
    if (!s) return;
    free(s->image), free(s->mask), free(s->count), free(s->ids), free(s);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

cf_scenes *cf_scenes_read(const char *dir, const char *split, int64_t min_area)
{
    char path[4096], mpath[4096];
    int64_t n = 0;
    for (;; n++) {
        snprintf(path, sizeof path, "%s/%s/images/%05lld.png", dir, split, (long long)n);
        if (!exists(path)) break;
    }
    if (n == 0) {
        cf_set_error(CF_ERR_IO, "%s/%s/images/00000.png: no such file (scenes layout: DIR/<split>/images/NNNNN.png and "
                     "DIR/<split>/masks/NNNNN.png)", dir, split);
        return NULL;
    }
    cf_scenes *s = calloc(1, sizeof *s);
    if (!s) return cf_set_error(CF_ERR_OOM, "scenes: out of memory"), NULL;
    s->n = n;
    snprintf(s->name, sizeof s->name, "scenes %.200s [%s]", dir, split);
    /* the first image fixes the side */
    int side = 0;
    {
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        snprintf(path, sizeof path, "%s/%s/images/00000.png", dir, split);
        if (!png_image_begin_read_from_file(&im, path)) {
            cf_set_error(CF_ERR_FORMAT, "%s: not a readable PNG (%s)", path, im.message);
            free(s);
            return NULL;
        }
        side = (int)im.width;
        png_image_free(&im);
        if (side < 16 || side > CF_SCENES_MAX_SIDE) {
            cf_set_error(CF_ERR_FORMAT, "%s: side %d outside 16..%d", path, side, CF_SCENES_MAX_SIDE);
            free(s);
            return NULL;
        }
    }
    int64_t px = (int64_t)side * side;
    s->side = side;
    s->image = malloc((size_t)(n * px * 3)), s->mask = malloc((size_t)(n * px));
    s->count = calloc((size_t)n, 1), s->ids = calloc((size_t)n, sizeof *s->ids);
    int64_t *area = calloc(256, sizeof *area);
    cf_status st = s->image && s->mask && s->count && s->ids && area ? CF_OK : cf_set_error(CF_ERR_OOM, "%s: out of memory", s->name);
    for (int64_t i = 0; i < n && st == CF_OK; i++) {
        snprintf(path, sizeof path, "%s/%s/images/%05lld.png", dir, split, (long long)i);
        snprintf(mpath, sizeof mpath, "%s/%s/masks/%05lld.png", dir, split, (long long)i);
        int sd = side;
        st = read_png(path, true, &sd, s->image + i * px * 3, px * 3);
        if (st == CF_OK && !exists(mpath)) st = cf_set_error(CF_ERR_IO, "%s: missing (the mask of %s)", mpath, path);
        if (st == CF_OK) st = read_png(mpath, false, &sd, s->mask + i * px, px);
        if (st != CF_OK) break;
        memset(area, 0, 256 * sizeof *area);
        for (int64_t p = 0; p < px; p++) area[s->mask[i * px + p]]++;
        for (int k = 1; k < 256; k++)
            if (area[k] >= min_area) s->ids[i][s->count[i]++] = (uint8_t)k;
        if (!s->count[i])
            st = cf_set_error(CF_ERR_FORMAT, "%s: no object of at least %lld pixels (every scene needs a target)", mpath,
                              (long long)min_area);
    }
    free(area);
    if (st != CF_OK) {
        cf_scenes_free(s);
        return NULL;
    }
    return s;
}
