/* ZeRO stage 1: optimizer state sharded across ranks.
 *
 * Shards: the flat parameter buffer [0, ps->total) is cut into `world` contiguous element ranges of
 * S = ceil(total / world) rounded up to 16 elements (64 bytes), the last ones shorter or empty:
 * rank r owns [min(r S, total), min((r + 1) S, total)). Shards are NOT aligned to parameter boundaries:
 * a parameter may straddle two ranks. That is exact because SGD and Adam(W) are element-wise; each
 * element keeps its parameter's weight-decay setting.
 *
 * The optimizer is optim.h's cf_optimizer (cf_zero_new returns one), so a trainer drives it like the
 * replicated one. A step: backward with a cf_ddp made with zero_stage = 1 reduce-scatters each gradient
 * bucket so that after cf_ddp_finish this rank's shard of ps->grads holds the averaged gradient; then
 *     cf_optim_clip_grad_norm(opt, max_norm, &norm);  // global norm: one all-reduce of a scalar
 *     cf_optim_step(opt, lr);                         // update the owned slice, all-gather parameters
 * Do not use cf_clip_grad_norm / cf_scale_grads on ps in this mode (the non-owned gradients are local).
 *
 * Checkpoints hold the FULL optimizer state (/optim/<slot>/<name>, the layout of ps->values), so a run
 * can resume on any number of ranks, with or without ZeRO: cf_optim_slot_read gathers a slot on rank 0
 * (cf_zero_gather_state: on any root), cf_optim_slot_write takes each rank's shard of a full state every
 * rank holds (cf_zero_scatter_state: or sent from one root).
 *
 * Parameters on a device (cf_params_to_device; the cf_ddp made with opt.nccl -- over MPI it is refused): the
 * state shards live on the device, the update runs there, and the collectives are NCCL's on the device in the
 * cf_ddp's buffer of world x S elements (S = cf_zero_shard_stride; rank r's part starts at r S, where its shard
 * starts): after backward one ncclReduceScatter of the gradients (ddp.h), after the shard's update one
 * ncclAllGather of the parameters (this rank's shard copied into its part, the front copied back to ps->values).
 * The shards and the checkpoint layout are those of the MPI path: cf_zero_gather_state all-gathers the slot the
 * same way and the root copies the front to its host buffer; cf_zero_scatter_state copies this rank's shard from
 * a full host state every rank holds, or from the root's after an ncclBroadcast. cf_zero_slot_shard is then a
 * device pointer. Emulated (CF_CUDA_EMU), the NCCL calls are the shim's over MPI (nccl_emu.h), whose int counts
 * bound world x S below 2^31. */
#ifndef CF_ZERO_H
#define CF_ZERO_H

#include "distributed/ddp.h"
#include "optim/optim.h"

/* A cf_optimizer made by cf_zero_new (the name says which one a function needs). */
typedef struct cf_optimizer cf_zero;

/* Rank `rank`'s shard [*lo, *hi) of a flat buffer of `total` elements split over `world` ranks. */
void cf_zero_shard_range(int64_t total, int world, int rank, int64_t *lo, int64_t *hi);
/* S above: ceil(total / world) rounded up to 16 (a non-empty shard r starts at r S). */
int64_t cf_zero_shard_stride(int64_t total, int world);

/* ddp must have zero_stage 1. Slot names and update rules are those of the replicated optimizer;
 * cf_optim_shards gives the world size. Any flat buffer size: under 2^31 elements the all-gather, gather
 * and scatter are MPI v-collectives (int counts and offsets); from 2^31 on, or when ddp's options set
 * mpi_chunk (ddp.h; tests), they go in pieces of at most cf_ddp_mpi_chunk elements (MPI_Ibcast for the
 * all-gather, MPI_Isend / MPI_Irecv for the gather and scatter), with the same results bit for bit.
 * Free with cf_optim_free. */
cf_optimizer *cf_zero_new(cf_ddp *ddp, const cf_optim_config *cfg);

/* The functions below need z from cf_zero_new (another optimizer: an empty shard, NULL, 0, CF_ERR_ARG). */
/* This rank's shard [*lo, *hi) of the flat buffers. */
void cf_zero_shard(const cf_zero *z, int64_t *lo, int64_t *hi);
/* This rank's shard of slot i: hi - lo elements of the parameters' dtype. */
void *cf_zero_slot_shard(cf_zero *z, int i);
/* Collects slot i from every rank into full (ps->total elements, the layout of ps->values; padding
 * between parameters is zero) on rank root. full may be NULL on the other ranks. */
cf_status cf_zero_gather_state(cf_zero *z, int slot, void *full, int root);
/* Sets this rank's shard of slot i from a full state: root >= 0: full is read on rank root only and
 * sent (full may be NULL elsewhere); root < 0: every rank passes the full state and copies its shard. */
cf_status cf_zero_scatter_state(cf_zero *z, int slot, const void *full, int root);
/* Seconds spent in the parameter all-gather of cf_optim_step (cumulative). */
double cf_zero_gather_seconds(const cf_zero *z);
/* MPI calls this rank issued in the all-gather, gather and scatter (cumulative): one per collective on the
 * v-collective path; on the piecewise path one MPI_Ibcast per piece of every shard, and one MPI_Isend or
 * MPI_Irecv per piece of a non-root shard (the root's own shard is copied). */
int64_t cf_zero_mpi_calls(const cf_zero *z);

/* The interface's calls under the names ZeRO code used before the interface existed (any optimizer). */
static inline void cf_zero_free(cf_zero *z) { cf_optim_free(z); }
static inline void cf_zero_scale_grads(cf_zero *z, double s) { cf_optim_scale_grads(z, s); }
static inline cf_status cf_zero_clip_grad_norm(cf_zero *z, double max_norm, double *norm)
{
    return cf_optim_clip_grad_norm(z, max_norm, norm);
}
static inline cf_status cf_zero_step(cf_zero *z, double lr) { return cf_optim_step(z, lr); }
static inline int64_t cf_zero_steps_taken(const cf_zero *z) { return cf_optim_steps_taken(z); }
static inline void cf_zero_set_steps_taken(cf_zero *z, int64_t t) { cf_optim_set_steps_taken(z, t); }
static inline int cf_zero_slot_count(const cf_zero *z) { return cf_optim_slot_count(z); }
static inline const char *cf_zero_slot_name(const cf_zero *z, int i) { return cf_optim_slot_name(z, i); }

#endif
