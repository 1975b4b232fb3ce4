#include "data/h5util.h"

#ifdef CF_HAVE_HDF5
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cf_h5_quiet cf_h5_quiet_on(void)
{
    cf_h5_quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

void cf_h5_quiet_off(cf_h5_quiet q) { H5Eset_auto2(H5E_DEFAULT, q.func, q.data); }

void cf_h5_close(hid_t *id)
{
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = -1;
}

hid_t cf_h5_open_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    if (H5Fis_hdf5(path) <= 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: not an HDF5 file", path);
        return -1;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    cf_h5_close(&fapl);
    if (file < 0) cf_set_error(CF_ERR_FORMAT, "%s: cannot open as HDF5 (corrupt?)", path);
    return file;
}

/* A name for an in-memory file that is not on disk: HDF5's core driver refuses to open a file image under
 * the name of an existing file (and, when creating, first reads such a file whole). */
static void mem_name(char *buf, size_t n, const char *path)
{
    for (int k = 0;; k++) {
        snprintf(buf, n, "%s.inmemory.%ld.%d", path, (long)getpid(), k);
        if (access(buf, F_OK) < 0) return;
    }
}

hid_t cf_h5_open_image(const void *buf, size_t n, const char *what)
{
    if (!what) what = "(HDF5 buffer)";
    if (!buf || n == 0) {
        cf_set_error(CF_ERR_FORMAT, "%s: not an HDF5 file (empty)", what);
        return -1;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
        H5Pset_file_image(fapl, (void *)buf, n) >= 0) {
        char name[4200];
        mem_name(name, sizeof name, what);
        file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
    }
    cf_h5_close(&fapl);
    if (file < 0) cf_set_error(CF_ERR_FORMAT, "%s: cannot open as HDF5 (not HDF5, or corrupt?)", what);
    return file;
}

bool cf_h5_exists(hid_t loc, const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return false;
    for (char *p = buf;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (buf[0] && H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return false;
            if (!c) return true;
            *p = c;
        }
    }
}

bool cf_h5_numeric_type_ok(hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type), prec = H5Tget_precision(type);
    int off = H5Tget_offset(type);
    return (cls == H5T_INTEGER || cls == H5T_FLOAT) && size >= 1 && size <= 8 && prec >= 1 && off >= 0 &&
           (size_t)off + prec <= 8 * size;
}

int cf_h5_attr_double(hid_t obj, const char *name, double *v)
{
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), type = -1, space = -1;
    int rc = -1;
    if (a < 0) return -1;
    type = H5Aget_type(a);
    space = H5Aget_space(a);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && cf_h5_numeric_type_ok(type) && space >= 0 &&
        H5Sget_simple_extent_npoints(space) == 1 &&
        H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0)
        rc = 1;
    cf_h5_close(&type);
    cf_h5_close(&space);
    cf_h5_close(&a);
    return rc;
}

int cf_h5_attr_string(hid_t obj, const char *name, char *buf, size_t n)
{
    if (n == 0) return -1;
    buf[0] = 0;
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), type = -1, space = -1, mem = -1;
    int rc = -1;
    if (a < 0) return -1;
    type = H5Aget_type(a);
    space = H5Aget_space(a);
    if (type >= 0 && H5Tget_class(type) == H5T_STRING && space >= 0 && H5Sget_simple_extent_npoints(space) == 1) {
        if (H5Tis_variable_str(type) > 0) {
            char *s = NULL;
            mem = H5Tcopy(H5T_C_S1); /* the file's character set: HDF5 does not convert between ASCII and UTF-8 */
            if (mem >= 0 && H5Tset_size(mem, H5T_VARIABLE) >= 0 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0 &&
                H5Aread(a, mem, &s) >= 0) {
                snprintf(buf, n, "%s", s ? s : "");
                rc = 1;
                H5free_memory(s);
            }
        } else {
            size_t len = H5Tget_size(type);
            char *s = calloc(len + 1, 1);
            mem = H5Tcopy(H5T_C_S1);
            if (s && mem >= 0 && H5Tset_size(mem, len + 1) >= 0 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0 &&
                H5Aread(a, mem, s) >= 0) {
                snprintf(buf, n, "%s", s);
                rc = 1;
            }
            free(s);
        }
    }
    cf_h5_close(&mem);
    cf_h5_close(&type);
    cf_h5_close(&space);
    cf_h5_close(&a);
    return rc;
}

/* HDF5's core driver grows the buffer through these callbacks and at close hands it to image_free, which
 * keeps it, so the closed file's bytes become ours without a copy. (An image taken with H5Fget_file_image
 * while the file is open carries the open-for-write superblock and fails its checksum on reading.) Only the
 * buffer of the file being created is tracked; anything else, such as the image of a file HDF5 opens
 * tentatively, is the driver's to allocate and free. */
static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    cf_h5image *t = udata;
    void *p = malloc(size);
    if (p && op == H5FD_FILE_IMAGE_OP_FILE_RESIZE) t->ptr = p, t->size = size;
    return p;
}

static void *image_memcpy(void *dst, const void *src, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op, (void)udata;
    return memcpy(dst, src, size);
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    cf_h5image *t = udata;
    bool ours = ptr == NULL || ptr == t->ptr;
    void *p = realloc(ptr, size);
    if (p && ours && op == H5FD_FILE_IMAGE_OP_FILE_RESIZE) t->ptr = p, t->size = size;
    return p;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    cf_h5image *t = udata;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr && ptr == t->ptr) t->kept = true;
    else free(ptr);
    return 0;
}

static void *image_udata_copy(void *udata) { return udata; }
static herr_t image_udata_free(void *udata) { return (void)udata, 0; }

/* The file's length from its version-2 superblock (the 1.8 format): the driver's buffer is rounded up to
 * its growth increment. */
static size_t image_length(const unsigned char *b, size_t size)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size < 48 || memcmp(b, sig, 8) != 0 || b[8] < 2 || b[9] != 8) return 0;
    uint64_t eof = 0;
    for (int i = 7; i >= 0; i--) eof = eof << 8 | b[28 + i]; /* base, extension, then end-of-file address */
    return eof >= 48 && eof <= size ? (size_t)eof : 0;
}

hid_t cf_h5image_create(cf_h5image *im, const char *path, size_t increment)
{
    memset(im, 0, sizeof *im);
    im->cb = (H5FD_file_image_callbacks_t){image_malloc,     image_memcpy,     image_realloc, image_free,
                                           image_udata_copy, image_udata_free, im};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 && H5Pset_fapl_core(fapl, increment, 0) >= 0 &&
        H5Pset_file_image_callbacks(fapl, &im->cb) >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0) {
        char name[4200];
        mem_name(name, sizeof name, path);
        file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    }
    if (fapl >= 0) H5Pclose(fapl);
    return file;
}

cf_status cf_h5image_finish(cf_h5image *im, hid_t file, const char *path, void **image, size_t *len)
{
    *image = NULL, *len = 0;
    if (H5Fclose(file) < 0) {
        cf_h5image_discard(im);
        return cf_set_error(CF_ERR_IO, "%s: closing the in-memory HDF5 file failed", path);
    }
    size_t n = im->kept ? image_length(im->ptr, im->size) : 0;
    if (n == 0) {
        cf_h5image_discard(im);
        return cf_set_error(CF_ERR_INTERNAL, "%s: HDF5 did not hand back a valid in-memory file image", path);
    }
    *image = im->ptr, *len = n;
    im->ptr = NULL, im->kept = false;
    return CF_OK;
}

void cf_h5image_discard(cf_h5image *im)
{
    if (im->kept) free(im->ptr);
    im->ptr = NULL, im->kept = false;
}
#endif
