/* The PNG file of `cformer plot`: libpng encodes the canvas, written atomically (a temporary file in the same
 * directory, fsynced, renamed). */
#include "autograd/fileio.h"
#include "tools/plot_internal.h"

#include "autograd/cformer.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>

typedef struct {
    jmp_buf jb;
    char msg[200];
} png_err;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jb, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* libpng reports errors by longjmp; everything it may jump over is set up before setjmp and only read
 * after it, so no local needs to be volatile. */
static cf_status png_encode(FILE *f, const canvas *c, const char *source, png_err *err)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, png_on_error, png_on_warning);
    if (!png) return cf_set_error(CF_ERR_OOM, "out of memory starting libpng");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return cf_set_error(CF_ERR_OOM, "out of memory starting libpng");
    }
    if (setjmp(err->jb)) {
        png_destroy_write_struct(&png, &info);
        return CF_ERR_IO;
    }
    char software[64];
    snprintf(software, sizeof software, "cformer %d.%d.%d plot", CF_VERSION_MAJOR, CF_VERSION_MINOR,
             CF_VERSION_PATCH);
    png_text txt[2] = {{0}, {0}};
    txt[0].compression = txt[1].compression = PNG_TEXT_COMPRESSION_NONE;
    txt[0].key = (png_charp) "Software";
    txt[0].text = software;
    txt[1].key = (png_charp) "Source";
    txt[1].text = (png_charp)source;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_text(png, info, txt, 2);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) png_write_row(png, c->px + (size_t)y * (size_t)c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return CF_OK;
}

cf_status plot_png_write_atomic(const char *path, const canvas *c, const char *source)
{
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    png_err err = {.msg = ""};
    FILE *f = cf_atomic_stream(af);
    cf_status rc = png_encode(f, c, source, &err);
    /* on a failed write libpng says only "Write Error"; the commit then fails naming the cause (ENOSPC ...) */
    if (rc == CF_OK || ferror(f)) return cf_atomic_commit(af);
    if (rc == CF_ERR_IO) rc = cf_set_error(CF_ERR_IO, "%s: encoding the PNG failed: %s", path, err.msg);
    cf_atomic_abort(af);
    return rc;
}
