/* The process group: one per training process, over MPI when the build has it (CF_HAVE_MPI) and the
 * process was started by a launcher (mpirun, srun, ...); otherwise a group of one in which every
 * collective is a local no-op or copy, so the trainer has one code path.
 *
 * Collectives work on host (CPU) buffers of f32, f64, i32 or i64 and block until done. Each is issued
 * as a non-blocking MPI call followed by a wait with a deadline (CF_DIST_TIMEOUT seconds, default
 * 1800; 0 waits for ever): a peer that hangs instead of dying then ends the job with a message naming
 * this rank and the collective, not a silent hang. Every MPI return code is checked (the communicator
 * uses MPI_ERRORS_RETURN); a failure is CF_ERR_IO with MPI's message and the rank.
 *
 * Ordering rule (as for any MPI program): every rank must issue the same collectives in the same order.
 *
 * Threads: MPI is initialised with MPI_THREAD_FUNNELED; call everything here from the thread that
 * called cf_pg_init (the training thread; gradient hooks run on it during backward). */
#ifndef CF_PG_H
#define CF_PG_H

#include "autograd/cf_base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cf_pg cf_pg;

typedef enum cf_reduce_op {
    CF_REDUCE_SUM = 0,
    CF_REDUCE_AVG, /* sum / world; floating dtypes only */
    CF_REDUCE_MAX,
    CF_REDUCE_MIN
} cf_reduce_op;

/* Starts the group. Initialises MPI (MPI_Init_thread, FUNNELED) when the build has MPI and a launcher
 * started this process (it sets OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK, PMI_SIZE or
 * SLURM_STEP_NUM_TASKS); CF_MPI_INIT=1 forces MPI initialisation, CF_MPI_INIT=0 forbids it. If MPI was
 * already initialised by the caller it is used and not finalised here. argc/argv may be NULL.
 * Returns NULL with an error when MPI fails to start, or when the launcher says there are several
 * ranks but this process cannot join them (a build without MPI; srun without --mpi=pmix). */
cf_pg *cf_pg_init(int *argc, char ***argv);
/* Frees the group and finalises MPI if cf_pg_init initialised it. NULL is a no-op. */
void cf_pg_finalize(cf_pg *pg);

int cf_pg_rank(const cf_pg *pg);
int cf_pg_world(const cf_pg *pg);
/* Rank among the processes on this node and their count: from OMPI_COMM_WORLD_LOCAL_RANK,
 * MPI_LOCALRANKID or SLURM_LOCALID when set, else from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED). */
int cf_pg_local_rank(const cf_pg *pg);
int cf_pg_local_world(const cf_pg *pg);
/* True when an MPI communicator backs the group (false for the group of one without MPI). */
bool cf_pg_uses_mpi(const cf_pg *pg);
/* The GPU this rank should use: local rank % device_count (-1 when device_count <= 0). With a
 * launcher that gives each rank one visible GPU (Slurm --gpus-per-task=1), device_count is 1 and this
 * is 0. */
int cf_pg_device(const cf_pg *pg, int device_count);
/* Seconds a collective may wait before the job is aborted (0: for ever). Default from CF_DIST_TIMEOUT
 * or 1800. */
void cf_pg_set_timeout(cf_pg *pg, double seconds);
double cf_pg_timeout(const cf_pg *pg);

/* ---- blocking collectives (host buffers; n counts elements of dt) ---- */
cf_status cf_pg_barrier(cf_pg *pg);
/* In place: buf holds this rank's n values and receives the reduction. */
cf_status cf_pg_allreduce(cf_pg *pg, void *buf, int64_t n, cf_dtype dt, cf_reduce_op op);
/* buf on root is sent to every other rank's buf. */
cf_status cf_pg_broadcast(cf_pg *pg, void *buf, int64_t n, cf_dtype dt, int root);
/* Text from root to every rank: on root *text is sent (unchanged); elsewhere *text receives a malloc'ed copy
 * (the caller frees it; any earlier *text is not freed). */
cf_status cf_pg_broadcast_text(cf_pg *pg, char **text, int root);
/* recv (world * n elements) receives rank r's n elements at recv + r * n. send may be NULL: then this
 * rank's block is already in place in recv. */
cf_status cf_pg_allgather(cf_pg *pg, const void *send, void *recv, int64_t n, cf_dtype dt);
/* send holds world * n elements; recv (n elements) receives block `rank` of the element-wise
 * reduction over ranks. */
cf_status cf_pg_reduce_scatter(cf_pg *pg, const void *send, void *recv, int64_t n, cf_dtype dt, cf_reduce_op op);
/* A loss or metric reduced over ranks (e.g. CF_REDUCE_AVG for the mean loss); *v in and out. */
cf_status cf_pg_allreduce_scalar(cf_pg *pg, double *v, cf_reduce_op op);

/* ---- non-blocking all-reduce ----
 * The request is caller-owned memory (no allocation per call); zero it before its first use. Between
 * start and completion the buffer must not be touched. MPI progresses such a request only while some MPI call runs (Open MPI has no
 * progress thread by default), so call cf_pg_test now and then while computing, as cf_ddp's hooks do. */
typedef struct cf_pg_request {
    cf_pg *pg;
    void *buf;
    int64_t n;
    cf_dtype dtype;
    cf_reduce_op op;
    bool active;      /* started and not yet completed */
    uint64_t impl[2]; /* the MPI_Request */
} cf_pg_request;

cf_status cf_pg_iallreduce(cf_pg *pg, void *buf, int64_t n, cf_dtype dt, cf_reduce_op op, cf_pg_request *req);
/* Waits (with the group's deadline) and applies the 1/world scale of CF_REDUCE_AVG. An inactive
 * request returns CF_OK at once. */
cf_status cf_pg_wait(cf_pg_request *req);
/* Sets *done; when done, the result is final (AVG applied) and the request inactive. */
cf_status cf_pg_test(cf_pg_request *req, bool *done);

/* ---- consistency and faults ---- */
/* All-gathers hash from every rank; when they differ returns CF_ERR_STATE with a message naming `what`
 * and the ranks that differ from rank 0, e.g. "recipe differs across ranks: rank 0 has
 * 0x1234..., ranks 1, 3 have other values (1: 0xabcd..., 3: 0x...)". */
cf_status cf_pg_check_same(cf_pg *pg, uint64_t hash, const char *what);
/* FNV-1a 64 of n bytes, for cf_pg_check_same (e.g. over the resolved recipe text). */
uint64_t cf_pg_hash(const void *data, size_t n);

/* Ends the WHOLE job: prints "cformer: rank R of W (host): <message>" on stderr and calls
 * MPI_Abort (exit(1) for a group of one). Use it on every error path of a multi-rank run: returning
 * from main on one rank while the others wait in a collective would otherwise hang until the
 * collective deadline. pg may be NULL. */
_Noreturn void cf_pg_abort(const cf_pg *pg, const char *fmt, ...) CF_PRINTF(2, 3);
/* When st is not CF_OK: cf_pg_abort(pg, "<what>: <cf_last_error()>"). */
void cf_pg_check(const cf_pg *pg, cf_status st, const char *what);

#endif
