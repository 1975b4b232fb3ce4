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
cf_status cf_safetensors_save_params(const char *out_path, const cf_params *ps, cf_dtype dtype, int64_t step);

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

#endif
