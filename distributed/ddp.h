/* Data parallelism: gradient buckets reduced over the process group while backward still runs.
 *
 * Buckets are contiguous slices of the flat gradient buffer (layers/params.h), built over the
 * parameters in REVERSE registration order -- the order in which backward finishes them -- each
 * holding whole parameters and about bucket_mb MiB (a larger parameter gets a bucket of its own).
 * Bucket 0 holds the last-registered parameters and ends at ps->total; the buckets tile [0, ps->total)
 * without gaps (alignment padding between parameters travels with its bucket; it stays zero).
 *
 * cf_ddp_new puts a gradient-final hook on every parameter (cf_set_grad_hook). During a backward with
 * sync on, each hook counts its parameter ready in its bucket; a complete bucket starts its
 * non-blocking reduction at once, so communication overlaps the rest of backward. Buckets start
 * strictly in index order (a complete bucket waits for its predecessors), so every rank issues the same
 * collectives in the same order even when ranks use different parameters in a step. Each hook also
 * polls the oldest reduction in flight, which is what drives MPI's progress during compute.
 *
 * Parameters that get no gradient in a step never fire their hook: frozen ones (requires_grad off) are
 * not counted, and trainable ones the forward did not use are detected at the first hook of the
 * backward (their leaf's tape mark is from an older step) and counted ready at once; their slice (zeros,
 * or what earlier micro-steps accumulated) is reduced with the rest.
 *
 * cf_ddp_finish (after backward, before clipping and the optimizer) starts the buckets not started yet
 * (all of them when no backward ran on this rank, e.g. an empty micro-batch), waits for all, and leaves
 * the AVERAGE over ranks in the gradients:
 *   zero_stage 0: the whole flat gradient buffer holds the average on every rank (MPI all-reduce);
 *   zero_stage 1: only this rank's shard [lo, hi) of it does (reduce-scatter; see zero.h); the rest
 *                 holds this rank's local gradients and must not be used.
 *
 *     cf_ddp *ddp = cf_ddp_new(pg, ps, &(cf_ddp_options){.bucket_mb = 25});
 *     cf_ddp_broadcast_params(ddp);                  // identical start on every rank
 *     for each step:
 *         for (m = 0; m < accum; m++) {
 *             cf_ddp_set_sync(ddp, m == accum - 1);  // only the last micro-step communicates
 *             loss = forward(...); cf_backward(ctx, loss, NULL); cf_step_reset(ctx);
 *         }
 *         cf_ddp_finish(ddp);
 *         clip; optimizer step; cf_params_zero_grad(ps);
 *
 * Parameters on a device (cf_params_to_device), zero_stage 0, two paths with the same buckets in the same order:
 *   MPI (opt.nccl NULL): a starting bucket is copied to a host staging buffer and reduced there over MPI;
 *                 finish scales the staging buffer by 1/world and copies it back;
 *   NCCL (opt.nccl, nccl.h): a starting bucket is summed in place on the device by ncclAllReduce on the
 *                 default stream (after the backward kernels that wrote it; no host copy); finish waits for
 *                 the stream (the group's deadline) and scales the gradients by 1/world on the device. The
 *                 sum and the f32 x (1/world) are those of the MPI path, so both leave the same averages
 *                 (bit for bit where the all-reduce adds in the same order: two ranks, or the emulator's
 *                 shim, which reduces over MPI). With NCCL a group of one reduces too (a copy): the path runs.
 *
 * What overlaps backward and what does not. Buckets start during backward (above) unless one of two cases holds;
 * these defer every bucket to cf_ddp_finish, which then starts them in
 * index order and waits (stats: buckets_in_finish; nothing overlaps backward):
 *   mixed precision (cf_params_set_compute, bf16 working copies; checked at every hook, so the copies may be made
 *                 after cf_ddp_new): the buckets reduce the f32 MASTER gradients ps->grads, which are filled only by
 *                 cf_params_collect_grads after each backward -- so call cf_ddp_finish after the last micro-step's
 *                 collect. The reduction is that of f32 (MPI, or NCCL on the device), never of the bf16 gradients,
 *                 and is the f32 path's bit for bit given the same master gradients;
 *   ZeRO-1 with parameters on a device (zero_stage 1 with opt.nccl): one ncclReduceScatter of the whole flat
 *                 buffer, in a device buffer of world x S elements (S: zero.h's shard stride; the gradients copied
 *                 into its front, the tail zero), then this rank's part copied to its shard [lo, hi) of ps->grads
 *                 and scaled by 1/world there. zero_stage 1 on a device over MPI is refused.
 * Neither allocates in the step: the device buffer is made by cf_ddp_new, the host staging too.
 *
 * Sizes: MPI 3.1 counts are int. A bucket of 2^31 elements or more is reduced in pieces of 2^27 elements (one
 * MPI call each, issued together when the bucket starts; their per-rank counts fit an int); opt.mpi_chunk forces
 * pieces at any size (tests). cf_zero does the same for its collectives (zero.h), so no parameter count is refused.
 *
 * One backward per synchronised micro-step: a second backward in it would add to gradients whose
 * reduction may already be in flight. The engine fires each leaf's hook once per step (tape
 * generation), so this is not detected; with several losses, sum them and run one backward. */
#ifndef CF_DDP_H
#define CF_DDP_H

#include "layers/params.h"
#include "distributed/nccl.h"
#include "distributed/pg.h"

typedef struct cf_ddp cf_ddp;

typedef struct cf_ddp_options {
    double bucket_mb; /* MiB of gradients per bucket; 0: 25 (PyTorch's default) */
    int zero_stage;   /* 0: all-reduce; 1: reduce-scatter to shards, with a cf_zero optimizer */
    cf_nccl *nccl;    /* device parameters only: reduce over this communicator (not owned); needed for zero_stage 1 */
    /* At most this many elements per MPI call (MPI 3.1 counts are int). 0 (the default): one MPI call per bucket
     * reduction and per ZeRO-1 collective (the v-collectives) when every count and displacement fits an int, and
     * pieces of 2^27 elements where one does not (a bucket, or with ZeRO-1 the flat buffer, of 2^31 elements or
     * more). > 0 (tests): forces the piecewise path everywhere, in pieces of at most this many elements (e.g. 7:
     * pieces that cut parameters and shards unevenly); the results are those of the one-call path bit for bit
     * (the same element-wise sums; the parameter all-gather and the state gather/scatter only move data). */
    int64_t mpi_chunk;
} cf_ddp_options;

typedef struct cf_ddp_bucket_info {
    int64_t offset, numel;        /* the slice [offset, offset + numel) of the flat buffers */
    int first_param, last_param;  /* the parameters first_param..last_param (ps->items indices) */
} cf_ddp_bucket_info;

/* Cumulative since the last cf_ddp_stats_reset, over synchronised steps. */
typedef struct cf_ddp_stats {
    int64_t steps;
    int64_t buckets_in_backward; /* started by a hook while backward ran (overlapped) */
    int64_t buckets_in_finish;   /* started by cf_ddp_finish (no backward ran, or hooks missed) */
    int64_t params_unused;       /* trainable parameters the forward did not use (counted ready at once) */
    double bytes;                /* gradient bytes reduced by this rank */
    int64_t mpi_calls;           /* MPI reductions issued: one per bucket, or one per piece (mpi_chunk) */
    double wait_s;               /* blocked in cf_ddp_finish waiting: communication NOT hidden by backward
                                  * (NCCL: the wait for the stream, which includes backward kernels still queued) */
    double window_s;             /* from each step's first bucket start to the end of cf_ddp_finish */
} cf_ddp_stats;

/* Allocates ps's gradient buffer if needed and hooks every parameter. opt NULL: defaults. ps must not
 * get new parameters afterwards. A group of one works too (every bucket completes at once). */
/* What cf_ddp_new refuses before it allocates anything (NCCL with host parameters, ZeRO-1 on a device without
 * NCCL, a negative mpi_chunk ...), on its own: a check of a recipe whose parameters are shapes only.
 * No parameter count is refused: counts past MPI's int go in pieces (mpi_chunk). */
cf_status cf_ddp_check(const cf_params *ps, const cf_ddp_options *opt);
cf_ddp *cf_ddp_new(cf_pg *pg, cf_params *ps, const cf_ddp_options *opt);
/* Removes the hooks. NULL is a no-op. */
void cf_ddp_free(cf_ddp *ddp);

/* Rank 0's parameter values to every rank (call once after initialisation or loading); with opt.nccl by
 * ncclBroadcast on the device, else over MPI through the host mirror. bf16 working copies are refreshed. */
cf_status cf_ddp_broadcast_params(cf_ddp *ddp);

/* Only micro-steps with sync on communicate (default on). Turn it on before the LAST backward of an
 * accumulation; the others just accumulate locally. */
void cf_ddp_set_sync(cf_ddp *ddp, bool sync);
bool cf_ddp_sync(const cf_ddp *ddp);
/* Completes this step's reduction (see the header comment). A no-op when sync is off. */
cf_status cf_ddp_finish(cf_ddp *ddp);

int cf_ddp_bucket_count(const cf_ddp *ddp);
cf_ddp_bucket_info cf_ddp_bucket(const cf_ddp *ddp, int i);
int cf_ddp_bucket_of(const cf_ddp *ddp, int param_index);
/* Buckets started so far in the current synchronised step (reset by cf_ddp_finish). */
int cf_ddp_buckets_started(const cf_ddp *ddp);

cf_ddp_stats cf_ddp_stats_get(const cf_ddp *ddp);
void cf_ddp_stats_reset(cf_ddp *ddp);

cf_pg *cf_ddp_pg(const cf_ddp *ddp);
cf_params *cf_ddp_params(const cf_ddp *ddp);
int cf_ddp_zero_stage(const cf_ddp *ddp);
/* The piece size every MPI call of this ddp and its ZeRO-1 optimizer keeps to: opt.mpi_chunk when > 0, else 2^27
 * (used only where a count would not fit an int; 2^27 keeps a piece's bytes, 1 GiB of f64, within an int too, for
 * MPI layers that count bytes in an int). */
int64_t cf_ddp_mpi_chunk(const cf_ddp *ddp);
/* Whether opt.mpi_chunk > 0 forces the piecewise path (tests). */
bool cf_ddp_mpi_chunk_forced(const cf_ddp *ddp);

#endif
