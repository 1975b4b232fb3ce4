/* Checkpoints: the model, optimizer state, training state and resolved recipe in one HDF5 file.
 *
 * Layout (format "cformer-checkpoint", format_version 1; see docs/design.md "Formats"):
 *   /                      attributes: format = "cformer-checkpoint", format_version = 1 (int64),
 *                          recipe = resolved recipe text, created_by = "cformer 0.1.0"; strings are
 *                          fixed-length UTF-8 (h5py gives bytes: f.attrs["recipe"].decode())
 *   /recipe                only for a recipe text of 60 KiB or more, which then is not an attribute:
 *                          the text as a uint8 array (h5py: bytes(f["recipe"][()]).decode())
 *   /model/<name>          one dataset per parameter in its true shape, name verbatim
 *                          ("blocks.0.attn.qkv.weight"), f32 as IEEE_F32LE, f64 as IEEE_F64LE;
 *                          bf16/f16 as uint16 with a string attribute dtype = "bf16"/"f16"
 *   /optim/<slot>/<name>   optimizer state ("exp_avg", "exp_avg_sq", "momentum_buffer") in the same shapes
 *   /train_state/          scalar datasets step, seed, epoch, cursor (i64/u64), world_size (i32),
 *                          rng (u64[n], absent when n = 0), extra/<key> (f64 scalars)
 * The file uses the HDF5 1.10 format (read by HDF5 >= 1.10, so by every h5py wheel since 2.8; cformer
 * wrote the 1.8 format before, and those files still load). So
 *   {k: torch.from_numpy(f['model'][k][()]) for k in f['model']}
 * is a PyTorch state_dict, and anyone with h5py can read a checkpoint without our code.
 *
 * Integrity: every byte that is read back is under a checksum that HDF5 verifies on every read (ours and
 * h5py's), so a damaged file fails with an error naming the damaged dataset instead of loading changed
 * numbers. Datasets of 4 KiB and more are chunked with shuffle + deflate level 4 + fletcher32 (per chunk),
 * found through the 1.10 chunk indexes (single chunk, fixed array), which are checksummed metadata; the
 * 1.8 format's v1 B-tree index was not, and one damaged byte there read a chunk as zeros or unfiltered.
 * Smaller datasets (biases, norms, scalars, the whole training state) are compact: their bytes live in
 * their object header, which HDF5 checksums like all metadata, as it does the root attributes holding the
 * recipe text (a text too long for the header is the chunked dataset /recipe, see above). cf_ckpt_open
 * opens every dataset's header, so damage in a small dataset, the state or the recipe fails every way of
 * reading the file (load, resume, init-from, export, inspect); chunks are verified as they are read.
 * Files without these checksums (small datasets stored contiguous by cformer before the checksums
 * covered them, or files written by other tools) still load, with one warning on stderr per open naming
 * how many datasets are unchecked; cf_ckpt_unchecked counts them and inspect reports them.
 *
 * Training state: a state is refused (CF_ERR_ARG by the save, CF_ERR_FORMAT by every reader of it) unless
 * 0 <= step, epoch, cursor < CF_CKPT_COUNT_MAX, 1 <= world_size <= CF_CKPT_WORLD_MAX, every extra is
 * finite, and extra "optim_steps" (when present) is a whole number in [0, step]; the error names the file
 * and the field ("ck.h5: /train_state/step is -1; ...").
 *
 * Not thread-safe: HDF5 (serial build) must be used from one thread at a time.
 * Every function here returns CF_ERR_UNSUPPORTED in a build without HDF5, except the file-name helpers
 * (cf_checkpoint_path/_list/_latest/_prune) and cf_train_state_set/_get, which need no HDF5. */
#ifndef CF_CHECKPOINT_H
#define CF_CHECKPOINT_H

#include "layers/params.h"

#include <stdio.h>

#define CF_CHECKPOINT_FORMAT "cformer-checkpoint"
#define CF_CHECKPOINT_FORMAT_VERSION 1
#define CF_CKPT_RNG_WORDS 8
#define CF_CKPT_EXTRA_MAX 32
#define CF_CKPT_KEY_MAX 64
#define CF_CKPT_COUNT_MAX ((int64_t)1 << 53) /* steps/epochs/cursors: exact as doubles (optim_steps is one) */
#define CF_CKPT_WORLD_MAX (1 << 20)

/* One optimizer state buffer laid out exactly like ps->values (same dtype, same offsets). The save
 * reads through flat; the load WRITES through flat (the const only lets callers pass read-only views
 * to the save), so for a load it must point at writable memory of ps->total elements. */
typedef struct {
    const char *name; /* "exp_avg", ...; no '/' */
    const void *flat;
} cf_ckpt_slot;

typedef struct {
    char key[CF_CKPT_KEY_MAX]; /* no '/' and not "." */
    double value;
} cf_train_extra;

/* What a run needs besides tensors to continue exactly where it stopped. */
typedef struct cf_train_state {
    int64_t step;
    uint64_t seed;
    int64_t epoch;
    int64_t cursor; /* position of the next sample in this epoch's order */
    int n_rng;      /* words used in rng */
    uint64_t rng[CF_CKPT_RNG_WORDS];
    int world_size;
    int n_extra;    /* scheduler values, best metric, ... */
    cf_train_extra extra[CF_CKPT_EXTRA_MAX];
} cf_train_state;

/* Sets (adds or replaces) an extra value; CF_ERR_ARG for a bad key or a full table. */
cf_status cf_train_state_set(cf_train_state *st, const char *key, double value);
/* True and *value set when key is present. */
bool cf_train_state_get(const cf_train_state *st, const char *key, double *value);

/* Writes the checkpoint atomically: to "<path>.tmp.<pid>" in the same directory, flushed, fsynced,
 * renamed over path, directory fsynced. On failure the temporary file is removed and an existing file at
 * path is untouched. st and recipe_text may be NULL (step 0 on one rank, all else zero / "" is stored). A state
 * that a reader would refuse (see "Training state" above) is CF_ERR_ARG naming the field, and nothing is written.
 * Memory: the file is built in memory first (HDF5 1.10 cannot survive a failed disk write), so a save
 * briefly holds one more copy of the parameters and slots (less compression). */
cf_status cf_checkpoint_save(const char *path, cf_params *ps, int nslots, const cf_ckpt_slot *slots,
                             const cf_train_state *st, const char *recipe_text);

/* Strict load: every parameter of ps must be in /model with the same shape and /model must hold nothing
 * else; each requested slot must be in /optim likewise. On any problem the error names the file and
 * lists the tensors at fault, and nothing (params, slots, st, recipe) is modified. Floating datasets are
 * converted to ps->dtype. st and recipe_text_out may be NULL; *recipe_text_out is malloc'ed. /train_state is
 * read and checked whenever the file has one, also when st is NULL; it is required only when st is given.
 * Memory: everything is read into scratch ((1 + nslots) x ps->total elements) before it is committed. */
cf_status cf_checkpoint_load(const char *path, cf_params *ps, int nslots, cf_ckpt_slot *slots, cf_train_state *st,
                             char **recipe_text_out);

/* Fine-tuning start (--init-from): loads every parameter whose name and shape match, leaves the others
 * as they are, and writes a human-readable report (loaded count, parameters new in the model, file
 * tensors not used, shapes that differ) into report (may be NULL). Nothing is modified on error. */
cf_status cf_checkpoint_init_from(const char *path, cf_params *ps, char *report, size_t report_len);

/* Prints format version, training state, every tensor (name, shape, dtype, numel), the optimizer slots,
 * the total parameter count, the recipe text and how many datasets are checksummed (backs `cformer inspect
 * CKPT`). It reads every tensor, so it doubles as a full verification: a damaged dataset or an impossible
 * training state is printed as such and returned as the error, after the summary. */
cf_status cf_checkpoint_inspect(const char *path, FILE *out);

/* ---- reading a checkpoint piece by piece (inspect, export, converters) ----
 * cf_ckpt_open checks that path is a readable HDF5 file with format "cformer-checkpoint", a supported
 * format_version and a /model group, and lists the tensors of /model and of every /optim/<slot>,
 * sorted by name. /train_state is read only on request, so a file holding just /model (e.g. converted
 * from PyTorch with h5py) serves --init-from and export. */
typedef struct cf_ckpt_reader cf_ckpt_reader;

typedef struct cf_ckpt_tensor {
    char name[CF_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    int64_t numel;
    cf_dtype dtype;  /* as stored: f32, f64, bf16 or f16 */
    bool compressed; /* stored with the deflate filter */
} cf_ckpt_tensor;

cf_ckpt_reader *cf_ckpt_open(const char *path); /* NULL with an error naming path and the problem */
/* The same over the n bytes of a checkpoint file in memory (copied: buf may be freed once this returns);
 * `what` names it in messages and in cf_ckpt_file. */
cf_ckpt_reader *cf_ckpt_open_mem(const void *buf, size_t n, const char *what);
void cf_ckpt_close(cf_ckpt_reader *r);
const char *cf_ckpt_file(const cf_ckpt_reader *r);
int64_t cf_ckpt_format_version(const cf_ckpt_reader *r);
const char *cf_ckpt_created_by(const cf_ckpt_reader *r); /* "" when absent */
const char *cf_ckpt_recipe(const cf_ckpt_reader *r);     /* "" when absent */
/* slot NULL means /model, otherwise /optim/<slot>. Count is -1 when the slot is not in the file. */
int cf_ckpt_count(const cf_ckpt_reader *r, const char *slot);
const cf_ckpt_tensor *cf_ckpt_tensor_at(const cf_ckpt_reader *r, const char *slot, int i);
const cf_ckpt_tensor *cf_ckpt_find(const cf_ckpt_reader *r, const char *slot, const char *name);
int cf_ckpt_nslots(const cf_ckpt_reader *r);
bool cf_ckpt_has_state(const cf_ckpt_reader *r); /* the file has a /train_state group */
/* Datasets in the file (tensors, state values; the root attributes count as one) and how many of them
 * have no checksum (0 for every file cformer writes now; see "Integrity" above). */
int cf_ckpt_datasets(const cf_ckpt_reader *r);
int cf_ckpt_unchecked(const cf_ckpt_reader *r);
const char *cf_ckpt_slot_name(const cf_ckpt_reader *r, int i);
/* Reads one tensor into out (numel elements of dt, which is CF_F32 or CF_F64), converting. */
cf_status cf_ckpt_read(cf_ckpt_reader *r, const char *slot, const char *name, cf_dtype dt, void *out);
/* Reads /train_state; CF_ERR_FORMAT when it is absent, damaged or impossible (see "Training state"). On
 * error *st is all zero. */
cf_status cf_ckpt_read_state(cf_ckpt_reader *r, cf_train_state *st);

/* ---- run-directory helpers (no HDF5 needed) ---- */
/* "DIR/step-%08lld.h5" into buf; CF_ERR_ARG when it does not fit. */
cf_status cf_checkpoint_path(const char *dir, int64_t step, char *buf, size_t len);
/* The steps of all DIR/step-<digits>.h5 files, ascending, malloc'ed into *steps (free() it). A missing
 * directory is an empty list, not an error. */
cf_status cf_checkpoint_list(const char *dir, int64_t **steps, int *count);
/* Path of the highest-step checkpoint in dir. When there is none: CF_OK, buf = "" and *step = -1.
 * step may be NULL. */
cf_status cf_checkpoint_latest(const char *dir, char *buf, size_t len, int64_t *step);
/* Deletes all but the newest `keep` step-*.h5 files of dir (keep <= 0 keeps everything). */
cf_status cf_checkpoint_prune(const char *dir, int keep);

#endif
