/* HDF5 plumbing that the checkpoint's save and reader share. */
#include "recipes/checkpoint/checkpoint_internal.h"

#ifdef CF_HAVE_HDF5

#include <stdio.h>

typedef struct {
    char *buf;
    size_t n;
} walk_ctx;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *user)
{
    walk_ctx *w = user;
    if (n == 0 && e->desc && e->desc[0]) {
        snprintf(w->buf, w->n, " (HDF5: %s)", e->desc);
        /* some HDF5 messages span lines ("time = ...\n, filename = ...") */
        for (char *c = w->buf; *c; c++)
            if (*c == '\n' || *c == '\r') *c = ' ';
    }
    return 0;
}

/* The innermost HDF5 error ("truncated file: eof = ...") as " (HDF5: ...)", or "". */
const char *ckpt_h5_detail(char *buf, size_t n)
{
    buf[0] = '\0';
    walk_ctx w = {buf, n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
    return buf;
}

hid_t ckpt_mem_type_of(cf_dtype dt)
{
    switch (dt) {
    case CF_F32: return H5T_NATIVE_FLOAT;
    case CF_F64: return H5T_NATIVE_DOUBLE;
    case CF_BF16:
    case CF_F16: return H5T_NATIVE_UINT16;
    default: return -1;
    }
}

#endif /* CF_HAVE_HDF5 */
