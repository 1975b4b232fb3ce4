/* A build without HDF5 (CF_HDF5=OFF) keeps the checkpoint API, and every call that needs HDF5 says so.
 * The training-state extras and the run-directory helpers need no HDF5 and are built either way. */
#include "recipes/checkpoint/checkpoint.h"

#ifndef CF_HAVE_HDF5

static cf_status no_hdf5(const char *path)
{
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: checkpoints need HDF5, and this build has none (CF_HDF5=OFF)",
                        path ? path : "(null)");
}

cf_status cf_checkpoint_save(const char *path, cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                             const cf_train_state *st, const char *recipe_text)
{
    (void)ps, (void)nslots, (void)slots, (void)st, (void)recipe_text;
    return no_hdf5(path);
}

cf_status cf_checkpoint_load(const char *path, cf_params *ps, int nslots, cf_ckpt_slot *slots, cf_train_state *st,
                             char **recipe_text_out)
{
    (void)ps, (void)nslots, (void)slots, (void)st, (void)recipe_text_out;
    return no_hdf5(path);
}

cf_status cf_checkpoint_init_from(const char *path, cf_params *ps, char *report, size_t report_len)
{
    (void)ps, (void)report, (void)report_len;
    return no_hdf5(path);
}

cf_ckpt_reader *cf_ckpt_open(const char *path)
{
    no_hdf5(path);
    return NULL;
}
cf_ckpt_reader *cf_ckpt_open_mem(const void *buf, size_t n, const char *what)
{
    (void)buf, (void)n;
    no_hdf5(what);
    return NULL;
}
void cf_ckpt_close(cf_ckpt_reader *r) { (void)r; }
const char *cf_ckpt_file(const cf_ckpt_reader *r) { return (void)r, ""; }
int64_t cf_ckpt_format_version(const cf_ckpt_reader *r) { return (void)r, 0; }
const char *cf_ckpt_created_by(const cf_ckpt_reader *r) { return (void)r, ""; }
const char *cf_ckpt_recipe(const cf_ckpt_reader *r) { return (void)r, ""; }
int cf_ckpt_count(const cf_ckpt_reader *r, const char *slot) { return (void)r, (void)slot, -1; }
const cf_ckpt_tensor *cf_ckpt_tensor_at(const cf_ckpt_reader *r, const char *slot, int i)
{
    return (void)r, (void)slot, (void)i, NULL;
}
const cf_ckpt_tensor *cf_ckpt_find(const cf_ckpt_reader *r, const char *slot, const char *name)
{
    return (void)r, (void)slot, (void)name, NULL;
}
int cf_ckpt_nslots(const cf_ckpt_reader *r) { return (void)r, 0; }
bool cf_ckpt_has_state(const cf_ckpt_reader *r) { return (void)r, false; }
int cf_ckpt_unchecked(const cf_ckpt_reader *r) { return (void)r, 0; }
int cf_ckpt_datasets(const cf_ckpt_reader *r) { return (void)r, 0; }
const char *cf_ckpt_slot_name(const cf_ckpt_reader *r, int i) { return (void)r, (void)i, NULL; }
cf_status cf_ckpt_read(cf_ckpt_reader *r, const char *slot, const char *name, cf_dtype dt, void *out)
{
    (void)r, (void)slot, (void)dt, (void)out;
    return no_hdf5(name);
}
cf_status cf_ckpt_read_state(cf_ckpt_reader *r, cf_train_state *st)
{
    (void)r, (void)st;
    return no_hdf5(NULL);
}

#endif /* !CF_HAVE_HDF5 */
