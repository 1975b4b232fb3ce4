/* A small, strict reader of NumPy's .npy files (the format of np.save; versions 1.0, 2.0 and 3.0), for the
 * official Neuroformer datasets (Visnav ships spike rates, behaviour and the stimulus movie as .npy).
 *
 * The format: the magic "\x93NUMPY", a major and minor version byte, the header length (2 bytes little-endian
 * for 1.0, 4 bytes for 2.0 and 3.0), then that many bytes of a Python dict literal
 *     {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by a newline, then the raw array. The dict is parsed properly: keys in any
 * order, either quote style, any spaces, a trailing comma, shapes `(3,)`, `(3, 4)` and `()` (a scalar: one
 * element); an unknown or repeated key, a missing one, or anything but spaces after the dict is an error.
 *
 * Element types (descr): <f4 <f8 <i1 <i2 <i4 <i8 <u1 <u2 <u4 <u8 |b1 |i1 |u1 and the big-endian (>) and native
 * (=) forms, converted on read. Objects (|O), strings, structured dtypes and anything else are errors.
 * fortran_order True is accepted: the data are transposed into C order (row-major) on read, so callers always
 * see C order with the shape as written.
 *
 * The data must be exactly prod(shape) * itemsize bytes: a shorter file is truncated, a longer one has
 * trailing bytes; both are errors. Every error names the file (or the `what` of an in-memory buffer) and
 * what is wrong (the byte offset of a header fault, the flat index of a bad element). No input crashes. */
#ifndef CF_NPY_H
#define CF_NPY_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CF_NPY_MAX_DIMS 32

typedef enum cf_npy_kind { CF_NPY_FLOAT, CF_NPY_INT, CF_NPY_UINT, CF_NPY_BOOL } cf_npy_kind;

typedef struct cf_npy_info {
    int major, minor;           /* the file's version */
    char descr[8];              /* as written ("<f8") */
    cf_npy_kind kind;
    int itemsize;               /* bytes per element */
    bool big_endian;            /* the data's byte order */
    bool fortran_order;         /* as written; the data returned are C order either way */
    int ndim;                   /* 0: a scalar */
    int64_t shape[CF_NPY_MAX_DIMS];
    int64_t count;              /* prod(shape) (1 for a scalar) */
    int64_t data_offset;        /* where the array starts in the file */
} cf_npy_info;

/* What the caller wants the elements as. */
typedef enum cf_npy_out { CF_NPY_OUT_F64, CF_NPY_OUT_F32, CF_NPY_OUT_I64 } cf_npy_out;

/* Flags for the readers. */
enum {
    CF_NPY_FINITE = 1, /* a NaN or infinity is an error (naming the element) */
};

/* Reads the header only and checks the file's size against it. */
cf_status cf_npy_read_info(const char *path, cf_npy_info *info);
/* Reads the whole array, converted to `out` in C order, into *data (malloc'ed; free it; NULL when count is 0).
 * Converting to I64: floats must be integral (else an error naming the element), unsigned 64-bit values above
 * INT64_MAX are an error. Converting to F32: a finite value beyond float's range is an error. info may be NULL. */
cf_status cf_npy_read(const char *path, cf_npy_out out, unsigned flags, cf_npy_info *info, void **data);
/* The same from n bytes in memory; `what` names the buffer in messages. */
cf_status cf_npy_read_mem(const void *buf, size_t n, const char *what, cf_npy_out out, unsigned flags,
                          cf_npy_info *info, void **data);

#endif
