/* What the pieces of the checkpoint code share: the training state (checkpoint_state.c), the save
 * (checkpoint_save.c), the reader (checkpoint_read.c) and the HDF5 plumbing (checkpoint_h5.c). Load and
 * init-from (checkpoint_load.c) use only the public reader. Not for users: include checkpoint.h. */
#ifndef CF_CHECKPOINT_INTERNAL_H
#define CF_CHECKPOINT_INTERNAL_H

#include "recipes/checkpoint/checkpoint.h"

#include <string.h>

/* A train-state extra key is also a dataset name in /train_state/extra, hence no '/' and not ".". */
static inline bool ckpt_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 0 && n < CF_CKPT_KEY_MAX && !strchr(key, '/') && strcmp(key, ".") != 0;
}

/* Whether st is a state a run could have reached (see checkpoint.h, "Training state"): CF_OK, or `code` with
 * an error naming path and the first impossible field ("/train_state/step is -1; ..."). The save uses
 * CF_ERR_ARG, the reader CF_ERR_FORMAT. */
cf_status ckpt_state_check(const cf_train_state *st, const char *path, cf_status code);

#ifdef CF_HAVE_HDF5
#include "data/h5util.h"

/* A recipe text of this many bytes or more is stored as the dataset /recipe instead of the root attribute
 * "recipe": an attribute message above 64 KiB leaves the checksummed object header. */
#define CKPT_RECIPE_ATTR_MAX (60 << 10)

#include <hdf5.h>

/* The innermost HDF5 error ("truncated file: eof = ...") as " (HDF5: ...)", or "". */
const char *ckpt_h5_detail(char *buf, size_t n);
/* The in-memory HDF5 type of our tensors of dtype dt (bf16/f16 travel as their uint16 bits); -1 for
 * any other dtype. */
hid_t ckpt_mem_type_of(cf_dtype dt);
#endif

#endif
