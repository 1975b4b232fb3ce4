/* The sampler and the prefetching loader.
 *
 * Order: each epoch e is a permutation of [0, len) (Fisher-Yates driven by the Philox RNG keyed by the
 * seed, with the epoch as the counter step, so it is the same on any machine and thread count), or the
 * identity when shuffle is off. Rank r of W takes positions r, r+W, r+2W, ... of that permutation, and
 * the tail that does not divide by W is dropped, so every rank sees per_rank = len / W items per epoch
 * and the same number of batches. A rank's epoch is cut into batches of batch_size rows; with drop_last
 * the rows that do not fill a batch are skipped, without it the last batch is partial (fewer rows).
 *
 * Cursor: (epoch, position) names the next batch cf_loader_next will return: position is the number of
 * this rank's items of that epoch already consumed (a multiple of batch_size except after a seek). Save
 * it with a checkpoint after a step; cf_loader_seek to it on resume and the batches continue exactly as
 * the original run would have produced them.
 *
 * Memory: two batches are allocated at creation (double buffering); nothing is allocated per step. A
 * prefetch thread fills the next batch while the caller uses the current one. */
#ifndef CF_LOADER_H
#define CF_LOADER_H

#include "data/dataset.h"

typedef struct cf_loader cf_loader;

typedef struct cf_loader_config {
    int batch_size;    /* rows per batch on this rank (>= 1) */
    bool shuffle;      /* permute each epoch (true by default) */
    bool drop_last;    /* skip a final partial batch (true by default) */
    uint64_t seed;     /* shuffling seed: the same on every rank, so ranks share one permutation */
    int rank, world;   /* this rank and the number of ranks (0 and 1 by default) */
    bool prefetch;     /* fill the next batch on a background thread (true by default) */
} cf_loader_config;

/* batch_size 1, shuffle on, drop_last on, seed 0, rank 0 of 1, prefetch on. */
cf_loader_config cf_loader_defaults(void);

/* Creates a loader over ds (borrowed: free the loader before the dataset). Fails when a rank would get
 * no batch at all. */
cf_loader *cf_loader_create(cf_dataset *ds, const cf_loader_config *cfg);
/* The next batch, blocking until it is ready. It stays valid, untouched, until the next call to
 * cf_loader_next / cf_loader_seek / cf_loader_free; the pointer alternates between the loader's two
 * batches. Epochs roll over forever. NULL on error (the dataset's message, with the epoch and index it
 * failed at); the error repeats on every call until a seek. */
const cf_batch *cf_loader_next(cf_loader *l);
/* The cursor of the batch the next cf_loader_next will return. */
void cf_loader_cursor(const cf_loader *l, int64_t *epoch, int64_t *position);
/* Moves the cursor (0 <= position <= items per rank per epoch); the batch last returned is invalidated. */
cf_status cf_loader_seek(cf_loader *l, int64_t epoch, int64_t position);
/* Prefetching: how many cf_loader_next calls found their batch not yet filled (the first call always does:
 * the thread starts there) and the seconds they blocked for it; 0 and 0 without prefetch. Counts only, no
 * allocation: a training loop reads them to show whether the step ever waited on the data. */
void cf_loader_stalls(const cf_loader *l, int64_t *count, double *seconds);
/* Items this rank sees per epoch, and the number of batches per epoch. */
int64_t cf_loader_items_per_epoch(const cf_loader *l);
int64_t cf_loader_batches_per_epoch(const cf_loader *l);
/* Stops and joins the prefetch thread, frees the batches. NULL is fine. */
void cf_loader_free(cf_loader *l);

/* The sampler alone (what the loader uses): the dataset index at position `pos` of rank's share of
 * epoch `epoch`. perm is scratch of len entries that the function (re)fills when *perm_epoch differs
 * from epoch (pass *perm_epoch = -1 the first time); unused when shuffle is off. */
int64_t cf_sampler_index(int64_t len, bool shuffle, uint64_t seed, int rank, int world, int64_t epoch, int64_t pos,
                         int64_t *perm, int64_t *perm_epoch);
/* Fills perm with epoch's permutation of [0, len). */
void cf_sampler_permutation(int64_t len, uint64_t seed, int64_t epoch, int64_t *perm);

#endif
