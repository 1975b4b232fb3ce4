/* What the HDF5 spike readers share (spikes_h5_read.c: the plumbing; spikes_nwb_extras.c: trials, behaviour
 * and the span; spikes_nwb.c: the units table; spikes_h5.c: binned counts, ground truth, dispatch). Not part of
 * the API: data/spikes/spikes.h is. Every function names the file (`file`/`path`) and the dataset in its
 * errors and returns CF_ERR_FORMAT for a malformed file, never crashes on one. */
#ifndef CF_SPIKES_H5_INTERNAL_H
#define CF_SPIKES_H5_INTERNAL_H

#include "data/h5util.h"
#include "data/spikes/spikes.h"

#ifdef CF_HAVE_HDF5
#include <hdf5.h>

#include <stdbool.h>
#include <stdint.h>

/* Shape of a numeric dataset: rank (0..2) and dims; CF_ERR_FORMAT naming it otherwise. */
cf_status cf_spikes_h5_numeric_shape(hid_t d, const char *file, const char *name, int *rank, hsize_t dims[2]);
/* Refuses (naming `shown`) a dataset whose declared n_values are not backed by stored bytes (a placeholder of
 * fill values: more than 1 MiB declared with over 4096 times less stored). */
cf_status cf_spikes_h5_check_stored(hid_t d, const char *file, const char *shown, uint64_t n_values);
/* Reads a whole numeric dataset `name` of loc (rank 0..max_rank) converted to memtype (H5T_NATIVE_DOUBLE or
 * H5T_NATIVE_INT64) into *out (malloc'd, 8 bytes per value; dims gets the shape). Missing: CF_ERR_FORMAT naming
 * `shown` when required, else CF_OK with *out NULL. cf_spikes_h5_read_all shows the name as "/name". */
cf_status cf_spikes_h5_read_all_as(hid_t loc, const char *file, const char *name, const char *shown, bool required,
                                   int max_rank, hid_t memtype, void **out, hsize_t dims[2]);
cf_status cf_spikes_h5_read_all(hid_t loc, const char *file, const char *name, bool required, int max_rank,
                                hid_t memtype, void **out, hsize_t dims[2]);
/* A number given as an attribute `name` of obj, or else of the root, or else as a one-value dataset `name`:
 * 1 found, 0 absent, -1 (error set, naming `where`) when it is not a number. */
int cf_spikes_h5_find_number(hid_t file, hid_t obj, const char *fname, const char *where, const char *name, double *v);
/* The number of rows of dataset name (its first dimension), or -1 when it is absent or not a dataset. */
int64_t cf_spikes_h5_rows_of(hid_t loc, const char *name);

/* The end of the recording as the data imply it so far, and the row that set it (named when the span is
 * beyond max_seconds). */
typedef struct {
    double t_max; /* the span's end so far */
    double t;     /* the time at that row */
    int64_t row;  /* -1: not one row (a whole dataset's extent) */
    char where[300];
} cf_spikes_span_end;

/* Moves e to t_max when it is later, remembering the time t at `row` of `where` that implied it. */
void cf_spikes_h5_span_extend(cf_spikes_span_end *e, double t_max, double t, const char *where, int64_t row);

/* Trials, behaviour and the span for s (whose spikes are read; end: how far they reach), shared by both
 * readers. The span must be within lim->max_seconds and hold every spike. */
cf_status cf_spikes_h5_finish(hid_t file, const char *path, cf_spikes *s, cf_spikes_span_end *end,
                              double t_start_default, const cf_spike_limits *lim);

/* The NWB-style units table of an open file (NULL with the error set, naming what it lacks). */
cf_spikes *cf_spikes_h5_read_nwb(hid_t file, const char *path, const cf_spike_limits *lim);

#endif /* CF_HAVE_HDF5 */
#endif
