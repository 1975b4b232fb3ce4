/* Export to safetensors, the format PyTorch and Hugging Face tools load directly.
 *
 * File: 8-byte little-endian header length N, then N bytes of JSON (padded with spaces so N % 8 == 0):
 *   {"__metadata__": {"format": "pt", "step": "<step>", "recipe_format_version": "1"},
 *    "<name>": {"dtype": "F32"|"BF16"|"F16", "shape": [...], "data_offsets": [begin, end]}, ...}
 * then the raw little-endian tensor bytes; tensors are sorted by name (bytewise), as Hugging Face's writer
 * does for tensors of one dtype, and data_offsets are relative to the end of the header. Files are written
 * to a temporary name, fsynced and renamed. */
#ifndef CF_SAFETENSORS_H
#define CF_SAFETENSORS_H

#include "layers/params.h"

#include <stdio.h>

/* Reads every /model tensor of a checkpoint and writes them as dtype (CF_F32, CF_BF16 or CF_F16, rounded to nearest
 * even), one tensor in memory at a time. Needs HDF5 (CF_ERR_UNSUPPORTED otherwise). */
cf_status cf_export_safetensors(const char *ckpt_path, const char *out_path, cf_dtype dtype);

/* Writes the parameters of a live model the same way (no HDF5 needed); step goes into the metadata. */
cf_status cf_safetensors_save_params(const char *out_path, cf_params *ps, cf_dtype dtype, int64_t step);

/* Writes n tensors under the names given (sorted by name in the file), as dtype; fetch fills the f32 values
 * of tensor t[i].src, one tensor in memory at a time (converters: a checkpoint exported under another
 * library's names). Same layout and atomicity as above, step 0 in the metadata. */
typedef cf_status (*cf_st_fetch)(void *user, int src, float *out);
typedef struct cf_st_out {
    const char *name;
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    int src;
} cf_st_out;
cf_status cf_safetensors_write(const char *out_path, int n, const cf_st_out *t, cf_dtype dtype, cf_st_fetch fetch,
                               void *user);

/* ---- reading back (checks, tools) ---- */
typedef struct cf_st_entry {
    char name[CF_PARAM_NAME_MAX];
    cf_dtype dtype; /* CF_F32, CF_F64, CF_BF16 or CF_F16 */
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    int64_t begin, end; /* byte offsets relative to data_start */
} cf_st_entry;

/* Parses and validates the header (offsets inside the file, sizes matching shapes and dtypes).
 * *entries is malloc'ed (free() it), in file order; *data_start is 8 + N. Other dtypes ("I64", ...) are
 * CF_ERR_UNSUPPORTED naming the tensor. */
cf_status cf_safetensors_read_header(const char *path, cf_st_entry **entries, int *count, int64_t *data_start);
/* Reads one tensor as f32 (numel values). */
cf_status cf_safetensors_read_f32(const char *path, const cf_st_entry *e, int64_t data_start, float *out);

/* ---- a model directory in the Hugging Face layout ----
 * DIR/model.safetensors, or DIR/model.safetensors.index.json ({"weight_map": {tensor: shard file}}) and the
 * shards it names (model-00001-of-00004.safetensors, ...). Opening reads and validates every header: a shard
 * the index names but the directory lacks, a tensor the index places in a shard that does not hold it, a
 * tensor in two shards, or a shard name with a '/' is CF_ERR_FORMAT naming the file and the tensor.
 *
 *     cf_st_dir *d = cf_st_dir_open("Llama-3-8B");
 *     const cf_st_entry *e = cf_st_dir_find(d, "model.norm.weight", NULL);   // NULL when absent
 *     float *w = malloc(...);  cf_st_dir_read_f32(d, e, w);                 // bf16 / f16 / f32 -> f32
 *     cf_st_dir_close(d);
 */
typedef struct cf_st_dir cf_st_dir;
cf_st_dir *cf_st_dir_open(const char *dir); /* NULL with the error */
void cf_st_dir_close(cf_st_dir *d);
int cf_st_dir_count(const cf_st_dir *d);
/* The i-th tensor (0 <= i < count; shards in index order, tensors in file order) and its file's path. */
const cf_st_entry *cf_st_dir_at(const cf_st_dir *d, int i, const char **file);
const cf_st_entry *cf_st_dir_find(const cf_st_dir *d, const char *name, const char **file);
cf_status cf_st_dir_read_f32(const cf_st_dir *d, const cf_st_entry *e, float *out);

#endif
