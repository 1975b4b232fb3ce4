/* HDF5 helpers shared by our readers and writers.
 *
 * Files built in memory and written by us. HDF5 1.10 does not recover from a failed disk write
 * (ENOSPC, EFBIG: the file stays half-closed and the library crashes later), so our writers let HDF5
 * build the file with its core driver and hand the bytes to cf_write_file_atomic, where a full disk is an
 * ordinary error. Used by checkpoints and NWB-style spike files. */
#ifndef CF_H5UTIL_H
#define CF_H5UTIL_H

#include "autograd/cf_base.h"

#ifdef CF_HAVE_HDF5
#include <hdf5.h>

typedef struct cf_h5image {
    void *ptr;   /* the core driver's buffer */
    size_t size;
    bool kept;   /* the driver let go of ptr at close: it is ours */
    H5FD_file_image_callbacks_t cb;
} cf_h5image;

/* HDF5 prints its error stack to stderr by default; we report our own messages instead and restore the
 * caller's setting afterwards, so other users of HDF5 in the process are not affected. */
typedef struct cf_h5_quiet {
    H5E_auto2_t func;
    void *data;
} cf_h5_quiet;
cf_h5_quiet cf_h5_quiet_on(void);
void cf_h5_quiet_off(cf_h5_quiet q);
/* Closes any HDF5 id by its type and sets it to -1; a negative id is left alone. */
void cf_h5_close(hid_t *id);

/* ---- reading ---- */
/* Opens path read-only (closing the file closes whatever is still open in it); -1 with a message that tells
 * a missing file from one that is not HDF5. */
hid_t cf_h5_open_read(const char *path);
/* True when every component of path ("a/b/c", relative to loc) exists. */
bool cf_h5_exists(hid_t loc, const char *path);
/* Opens the n bytes of an HDF5 file held in memory, read-only and closing like cf_h5_open_read; HDF5 copies
 * the bytes, so buf may be freed once this returns. `what` names the buffer in messages. -1 with a message
 * when the buffer is empty or is not a readable HDF5 file. */
hid_t cf_h5_open_image(const void *buf, size_t n, const char *what);
/* True when a numeric (integer or float) type is one HDF5 can convert safely: 1..8 bytes whose precision and
 * offset fit inside them. HDF5 1.10 converts a corrupt type (bits beyond its size) by reading out of bounds
 * and dies (SIGBUS in H5T__bit_copy), so readers check a file's type before reading through it. */
bool cf_h5_numeric_type_ok(hid_t type);
/* A numeric scalar attribute read as a double: 1 found, 0 absent, -1 present but not a numeric scalar. */
int cf_h5_attr_double(hid_t obj, const char *name, double *v);
/* A string attribute (fixed or variable length) copied into buf: 1 found, 0 absent, -1 not a string. */
int cf_h5_attr_string(hid_t obj, const char *name, char *buf, size_t n);

/* Creates the in-memory file for `path` (the 1.8 format, whose metadata is checksummed; closing it closes
 * whatever an error path left open), growing by `increment` bytes. -1 on failure (HDF5's error stack set). */
hid_t cf_h5image_create(cf_h5image *im, const char *path, size_t increment);
/* Closes file and hands its bytes to *image (malloc'ed, *len bytes). */
cf_status cf_h5image_finish(cf_h5image *im, hid_t file, const char *path, void **image, size_t *len);
/* After a failure: frees the buffer if the driver already let go of it. */
void cf_h5image_discard(cf_h5image *im);
#endif

#endif
