/* Datasets and batches: the interface every data source (text, spike windows, mazes, time series,
 * images, ...) implements, and the registry that creates one by name.
 *
 * A batch is a small set of named host tensors allocated ONCE (by the dataset's make_batch) and refilled
 * in place every step, so the training loop never allocates: the loader (data/loader.h) keeps two of them
 * and fills one on its prefetch thread while the step reads the other.
 *
 * A dataset is `len` items; get(index, batch, row) writes item `index` into row `row` of every field of the
 * batch. Implementations embed cf_dataset as their FIRST member and provide a cf_dataset_vtable:
 *
 *     typedef struct { cf_dataset base; ... } my_ds;
 *     static const cf_dataset_vtable my_vt = {"mine", my_get, my_make_batch, my_free};
 *     my_ds *d = calloc(1, sizeof *d); d->base.vt = &my_vt; d->base.len = n;
 *
 * get() is called from the loader's prefetch thread (one call at a time, never concurrently with another
 * get on the same dataset); it must not touch the step arena or any cf_ctx, and reports failures with
 * cf_set_error (the message is carried to the thread that calls cf_loader_next). */
#ifndef CF_DATASET_H
#define CF_DATASET_H

#include "autograd/cformer.h"

#include <stdio.h>

/* 16: a spike batch with behaviour and frames (Visnav) already has 9 */
#define CF_BATCH_MAX_FIELDS 16
#define CF_BATCH_NAME_MAX 32

typedef struct cf_dataset cf_dataset;

/* Named persistent tensors whose first dimension is the row. `capacity` rows are allocated; `rows` are
 * valid in the current fill (less than capacity only for a final partial batch with drop_last off, in
 * which case every field's shape[0] is set to `rows` as well, so a consumer sees [rows, ...]). */
typedef struct cf_batch {
    int nfields;
    char names[CF_BATCH_MAX_FIELDS][CF_BATCH_NAME_MAX];
    cf_tensor *fields[CF_BATCH_MAX_FIELDS];
    int capacity;
    int rows;
    /* where this batch starts in the loader's sequence (for logs and checks); -1 when not from a loader */
    int64_t epoch, position;
    const cf_dataset *owner; /* the dataset whose make_batch built it */
} cf_batch;

/* Adds a zero-filled persistent field of the given shape (shape[0] is the row count). For make_batch. */
cf_status cf_batch_add(cf_batch *b, const char *name, cf_dtype dt, int ndim, const int64_t *shape);
/* The field called name, or NULL (with an error naming the field) when the batch has none. */
cf_tensor *cf_batch_get(const cf_batch *b, const char *name);
/* Frees the field tensors and zeroes *b (the struct itself is the caller's). Safe on a zeroed batch. */
void cf_batch_free(cf_batch *b);
/* Sets the number of valid rows (<= capacity) and every field's shape[0] accordingly. */
cf_status cf_batch_set_rows(cf_batch *b, int rows);
/* b with every field copied to the context's device (arena tensors: valid until cf_step_reset) into *out, which
 * the caller owns and never frees; returns out, or b itself on the host, or NULL with the error set. */
const cf_batch *cf_batch_on_device(cf_ctx *ctx, const cf_batch *b, cf_batch *out);

typedef struct cf_dataset_vtable {
    const char *kind; /* "text", ...; used in messages and type checks */
    cf_status (*get)(cf_dataset *ds, int64_t index, cf_batch *b, int row);
    cf_status (*make_batch)(cf_dataset *ds, int rows, cf_batch *b);
    void (*free)(cf_dataset *ds); /* frees everything, including ds itself */
} cf_dataset_vtable;

/* What a dataset tells the model that will read it: the run opens the datasets first and hands the training
 * split's info to the model's create, so a model never reads a data file to learn its sizes. A factory fills
 * the fields its family has and leaves the rest zero. */
#define CF_DATA_INFO_CHANNELS 64
typedef struct cf_data_info {
    int64_t vocab;               /* token datasets: vocabulary size (ids in [0, vocab)) */
    int64_t seq;                 /* tokens per row when fixed (text), else 0 */
    int64_t units;               /* spikes: neurons */
    int channels;                /* named per-item channels (spikes: behaviour variables) */
    char channel_names[CF_DATA_INFO_CHANNELS][32];
    int64_t frames, frame_h, frame_w; /* stimulus frames per item and their size in pixels */
} cf_data_info;

struct cf_dataset {
    const cf_dataset_vtable *vt;
    int64_t len;   /* number of items */
    char name[256]; /* for messages: e.g. "text data/tiny.txt [train]" */
    cf_data_info info; /* filled by the factory (zero where the family has no such field) */
};

/* Checked wrappers: index in [0, len), row in [0, capacity), batch made by this dataset. */
cf_status cf_dataset_get(cf_dataset *ds, int64_t index, cf_batch *b, int row);
/* Builds an empty batch of `rows` rows (b must be zeroed or freed before). */
cf_status cf_dataset_make_batch(cf_dataset *ds, int rows, cf_batch *b);
void cf_dataset_free(cf_dataset *ds); /* NULL is fine */

/* ---- registry: datasets by name, so a recipe's `data.type: text` picks its factory ---- */

/* recipe_like is the run's `cf_recipe *` (recipes/recipe/recipe.h), opaque here because data/ builds below
 * recipes/ and cannot depend on it. The factories that read `data.*` keys and call a format's open function
 * (e.g. cf_text_dataset_open) live with the recipes -- recipes/run/datasets.c and each paper's folder -- and
 * register here. split: "train", "val" or "test". Returns NULL with an error set on failure. */
typedef cf_dataset *(*cf_dataset_factory)(void *recipe_like, const char *split);

typedef struct cf_dataset_config {
    void *recipe;      /* handed to the factory as recipe_like */
    const char *split; /* handed to the factory as split */
} cf_dataset_config;

/* Registers a factory, or replaces the one of the same name (a later registration wins: the recipes'
 * "text" adapter replaces data/'s own, tests install fakes). Names are [A-Za-z0-9_.-], at most 63 bytes. */
cf_status cf_dataset_register(const char *name, cf_dataset_factory fn);
/* Creates a dataset with the named factory; unknown names are an error listing the known ones. */
cf_dataset *cf_dataset_create(const char *name, const cf_dataset_config *cfg);
/* Prints the registered names, one per line, sorted (for `cformer list`). */
void cf_dataset_list(FILE *f);
/* Number of registered factories and the i-th name in sorted order (NULL when out of range; the pointer
 * is valid until the next cf_dataset_register). */
int cf_dataset_count(void);
const char *cf_dataset_name_at(int i);

#endif
