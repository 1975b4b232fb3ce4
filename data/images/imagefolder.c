/* The ImageFolder source (contract in images.h): root/<class>/<image>, classes sorted by name. PNG through
 * libpng's simplified API (8-bit files read as 8-bit, 16-bit files read linear and scaled to 8 bits);
 * JPEG through libjpeg(-turbo) when the build has it. Decoding happens in read(), i.e. on the loader's
 * prefetch thread; the decode buffer grows to the largest image seen and is then reused. */
#include "data/images/images.h"
#include "data/images/images_internal.h"

#include <dirent.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#ifdef CF_HAVE_JPEG
#include <jpeglib.h>
#endif

typedef struct {
    cf_image_source base;
    char **paths;
    int32_t *labels;
    uint8_t *buf; /* decoded image, 4 channels (8-bit) or 3 (16-bit) */
    size_t cap;
} folder_source;

static cf_status grow(folder_source *s, size_t n, const char *path)
{
    if (n <= s->cap) return CF_OK;
    uint8_t *nb = realloc(s->buf, n);
    if (!nb) return cf_set_error(CF_ERR_OOM, "%s: out of memory for a %zu-byte image", path, n);
    s->buf = nb, s->cap = n;
    return CF_OK;
}

/* Decodes a PNG into s->buf as ih x iw RGBA 8-bit. */
static cf_status read_png(folder_source *s, const char *path, int *ih, int *iw)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return cf_set_error(CF_ERR_FORMAT, "%s: not a readable PNG (%s)", path, im.message);
    if (im.width > CF_IMAGE_MAX_SIDE || im.height > CF_IMAGE_MAX_SIDE) {
        png_image_free(&im);
        return cf_set_error(CF_ERR_FORMAT, "%s: %u x %u pixels, larger than the %d a side may have", path, im.width,
                            im.height, CF_IMAGE_MAX_SIDE);
    }
    bool wide = (im.format & PNG_FORMAT_FLAG_LINEAR) != 0; /* a 16-bit file */
    *ih = (int)im.height, *iw = (int)im.width;
    size_t px = (size_t)im.width * im.height;
    /* 16-bit: linear RGB (alpha composited on black: libpng premultiplies linear data) */
    im.format = wide ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_RGBA;
    size_t bytes = px * (wide ? 6 : 4);
    if (grow(s, bytes + (wide ? px * 4 : 0), path) != CF_OK) return png_image_free(&im), cf_last_status();
    uint8_t *dst = wide ? s->buf + px * 4 : s->buf;
    if (!png_image_finish_read(&im, NULL, dst, 0, NULL))
        return cf_set_error(CF_ERR_FORMAT, "%s: PNG decoding failed (%s)", path, im.message);
    if (wide) { /* 16-bit linear RGB -> 8-bit RGBA, in place from the upper part of the buffer */
        const uint16_t *w16 = (const uint16_t *)(void *)dst;
        for (size_t i = 0; i < px; i++) {
            for (int c = 0; c < 3; c++) s->buf[4 * i + c] = (uint8_t)((w16[3 * i + c] * 255u + 32767u) / 65535u);
            s->buf[4 * i + 3] = 255;
        }
    }
    return CF_OK;
}

#ifdef CF_HAVE_JPEG
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->mgr.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Decodes a JPEG into s->buf as ih x iw RGBA 8-bit. */
static cf_status read_jpeg(folder_source *s, const char *path, int *ih, int *iw)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cf_set_error(CF_ERR_IO, "%s: cannot open", path);
    struct jpeg_decompress_struct ci;
    jpeg_err err;
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.msg[0] = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return cf_set_error(CF_ERR_FORMAT, "%s: JPEG decoding failed (%s)", path, err.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return cf_set_error(CF_ERR_UNSUPPORTED, "%s: CMYK JPEGs are not supported (convert to RGB)", path);
    }
    if (ci.image_width > CF_IMAGE_MAX_SIDE || ci.image_height > CF_IMAGE_MAX_SIDE) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return cf_set_error(CF_ERR_FORMAT, "%s: %u x %u pixels, larger than the %d a side may have", path,
                            ci.image_width, ci.image_height, CF_IMAGE_MAX_SIDE);
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    *ih = (int)ci.output_height, *iw = (int)ci.output_width;
    size_t px = (size_t)ci.output_width * ci.output_height;
    if (grow(s, px * 4, path) != CF_OK) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return cf_last_status();
    }
    /* RGB rows land at [px, 4px); the forward expansion to RGBA below writes byte 4i+3 < px+3(i+1), so it
     * never overwrites a pixel it has not read yet */
    uint8_t *rgb = s->buf + px;
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = rgb + (size_t)ci.output_scanline * ci.output_width * 3;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    fclose(f);
    for (size_t i = 0; i < px; i++) {
        uint8_t r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
        s->buf[4 * i] = r, s->buf[4 * i + 1] = g, s->buf[4 * i + 2] = b, s->buf[4 * i + 3] = 255;
    }
    return CF_OK;
}
#endif

static bool has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

/* RGBA 8-bit (ih x iw) -> c channels, bilinear to h x w (align_corners off). */
static void resample(const uint8_t *rgba, int ih, int iw, uint8_t *out, int h, int w, int c)
{
    for (int y = 0; y < h; y++) {
        int y0, y1, x0, x1;
        double wy, wx, px[4];
        bilinear_tap(0, ih, h, y, &y0, &y1, &wy);
        for (int x = 0; x < w; x++) {
            bilinear_tap(0, iw, w, x, &x0, &x1, &wx);
            for (int k = 0; k < 4; k++) {
                double a = rgba[((size_t)y0 * iw + x0) * 4 + k], b = rgba[((size_t)y0 * iw + x1) * 4 + k];
                double cc = rgba[((size_t)y1 * iw + x0) * 4 + k], d = rgba[((size_t)y1 * iw + x1) * 4 + k];
                px[k] = (1 - wy) * ((1 - wx) * a + wx * b) + wy * ((1 - wx) * cc + wx * d);
            }
            uint8_t *o = out + ((size_t)y * w + x) * c;
            if (c == 1) o[0] = (uint8_t)(0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2] + 0.5); /* ITU-R BT.601 luma */
            else
                for (int k = 0; k < c; k++) o[k] = (uint8_t)(px[k] + 0.5);
        }
    }
}

static cf_status folder_read(cf_image_source *src, int64_t i, uint8_t *hwc, int32_t *label)
{
    folder_source *s = (folder_source *)src;
    const char *path = s->paths[i];
    int ih = 0, iw = 0;
    if (has_ext(path, ".png")) CF_TRY(read_png(s, path, &ih, &iw));
    else {
#ifdef CF_HAVE_JPEG
        CF_TRY(read_jpeg(s, path, &ih, &iw));
#else
        return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this build has no JPEG decoder (install libjpeg-turbo and reconfigure)", path);
#endif
    }
    resample(s->buf, ih, iw, hwc, src->h, src->w, src->c);
    *label = s->labels[i];
    return CF_OK;
}

static void folder_free(cf_image_source *src)
{
    folder_source *s = (folder_source *)src;
    for (int64_t i = 0; i < src->n; i++) free(s->paths[i]);
    free(s->paths);
    free(s->labels);
    free(s->buf);
    free(s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted entries of dir that satisfy keep (names malloc'ed); -1 on error. */
static int64_t list_dir(const char *dir, bool want_dirs, char ***out)
{
    DIR *d = opendir(dir);
    if (!d) return cf_set_error(CF_ERR_IO, "%s: cannot open the directory", dir), -1;
    char **names = NULL;
    int64_t n = 0, cap = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path || stat(path, &st) != 0) continue;
        bool keep = want_dirs ? S_ISDIR(st.st_mode)
                              : S_ISREG(st.st_mode) && (has_ext(e->d_name, ".png") || has_ext(e->d_name, ".jpg") ||
                                                        has_ext(e->d_name, ".jpeg"));
        if (!keep) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, sizeof *names * (size_t)cap);
            if (!nn) break;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (names) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static void free_names(char **names, int64_t n)
{
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

cf_image_source *cf_image_source_folder(const char *root, int h, int w, int c)
{
    if (h < 1 || w < 1 || h > CF_IMAGE_MAX_SIDE || w > CF_IMAGE_MAX_SIDE || !(c == 1 || c == 3 || c == 4)) {
        cf_set_error(CF_ERR_ARG, "%s: image size %d x %d x %d: sides 1..%d and 1, 3 or 4 channels", root, h, w, c, CF_IMAGE_MAX_SIDE);
        return NULL;
    }
    folder_source *s = calloc(1, sizeof *s);
    char **classes = NULL;
    int64_t nc = s ? list_dir(root, true, &classes) : -1;
    if (!s) cf_set_error(CF_ERR_OOM, "%s: out of memory", root);
    if (nc == 0) cf_set_error(CF_ERR_FORMAT, "%s: no class folders (ImageFolder layout: root/<class>/<image>.png|.jpg)", root);
    if (nc > CF_IMAGE_MAX_CLASSES) cf_set_error(CF_ERR_FORMAT, "%s: %lld class folders, more than %d", root, (long long)nc, CF_IMAGE_MAX_CLASSES);
    if (nc <= 0 || nc > CF_IMAGE_MAX_CLASSES) goto fail;
    s->base = (cf_image_source){.h = h, .w = w, .c = c, .classes = (int)nc, .read = folder_read, .free = folder_free};
    snprintf(s->base.name, sizeof s->base.name, "%s", root);
    int64_t cap = 0;
    for (int64_t k = 0; k < nc; k++) {
        char dir[4096], **files = NULL;
        if (snprintf(dir, sizeof dir, "%s/%s", root, classes[k]) >= (int)sizeof dir) {
            cf_set_error(CF_ERR_ARG, "%s: the path of class folder '%s' is too long", root, classes[k]);
            goto fail;
        }
        int64_t nf = list_dir(dir, false, &files);
        if (nf < 0) goto fail;
        if (nf == 0) {
            free(files);
            cf_set_error(CF_ERR_FORMAT, "%s: class folder '%s' holds no .png/.jpg/.jpeg images", root, classes[k]);
            goto fail;
        }
        for (int64_t i = 0; i < nf; i++) {
            if (s->base.n == cap) {
                cap = cap ? cap * 2 : 256;
                char **np = realloc(s->paths, sizeof *np * (size_t)cap);
                int32_t *nl = realloc(s->labels, sizeof *nl * (size_t)cap);
                if (np) s->paths = np;
                if (nl) s->labels = nl;
                if (!np || !nl) {
                    free_names(files, nf);
                    cf_set_error(CF_ERR_OOM, "%s: out of memory listing images", root);
                    goto fail;
                }
            }
            size_t len = strlen(dir) + strlen(files[i]) + 2;
            char *p = malloc(len);
            if (!p) {
                free_names(files, nf);
                cf_set_error(CF_ERR_OOM, "%s: out of memory listing images", root);
                goto fail;
            }
            snprintf(p, len, "%s/%s", dir, files[i]);
            s->paths[s->base.n] = p, s->labels[s->base.n] = (int32_t)k, s->base.n++;
        }
        free_names(files, nf);
    }
    free_names(classes, nc);
    return &s->base;
fail:
    free_names(classes, nc > 0 ? nc : 0);
    if (s) folder_free(&s->base);
    return NULL;
}
