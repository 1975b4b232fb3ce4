/* NCCL communicator and collectives. Compiled for real only with CF_HAVE_NCCL (see nccl.h); otherwise
 * every entry point reports CF_ERR_UNSUPPORTED. In the SIMT emulator build the NCCL and CUDA runtime calls
 * below go to the emulator's shim (nccl_emu.h), so this very code runs without a GPU. */
#include "distributed/nccl.h"

#include "distributed/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(CF_HAVE_NCCL) && !defined(CF_HAVE_MPI)
#error "CF_HAVE_NCCL needs CF_HAVE_MPI: the NCCL unique id is broadcast over MPI"
#endif

#ifdef CF_HAVE_NCCL
#ifdef CF_CUDA_EMU
#include "distributed/nccl_emu.h"
#else
#include <cuda_runtime.h>
#include <nccl.h>
#endif
#include <time.h>

struct cf_nccl {
    cf_pg *pg;
    ncclComm_t comm;
    int device;
};

bool cf_nccl_available(void) { return true; }

static int device_count(void)
{
    int count = 0;
    return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

bool cf_nccl_usable(const cf_pg *pg)
{
#ifdef CF_CUDA_EMU
    (void)pg;
    return true; /* each process emulates a device of its own */
#else
    int count = device_count();
    return count > 0 && cf_pg_local_world(pg) <= count;
#endif
}

static cf_status nccl_fail(const cf_nccl *nc, ncclResult_t r, const char *call)
{
    const char *detail = ncclGetLastError(nc->comm);
    return cf_set_error(CF_ERR_IO, "%s failed on rank %d of %d: %s%s%s", call, cf_pg_rank(nc->pg), cf_pg_world(nc->pg),
                        ncclGetErrorString(r), detail && *detail ? ": " : "", detail ? detail : "");
}

static bool nccl_type(cf_dtype dt, ncclDataType_t *t)
{
    switch (dt) {
    case CF_F32: *t = ncclFloat32; return true;
    case CF_F64: *t = ncclFloat64; return true;
    case CF_F16: *t = ncclFloat16; return true;
    case CF_BF16: *t = ncclBfloat16; return true;
    case CF_I32: *t = ncclInt32; return true;
    case CF_I64: *t = ncclInt64; return true;
    default: return false;
    }
}

static ncclRedOp_t nccl_op(cf_reduce_op op)
{
    switch (op) {
    case CF_REDUCE_AVG: return ncclAvg;
    case CF_REDUCE_MAX: return ncclMax;
    case CF_REDUCE_MIN: return ncclMin;
    default: return ncclSum;
    }
}

static cf_status args(const char *what, int64_t n, cf_dtype dt, cf_reduce_op op, ncclDataType_t *t)
{
    if (n < 0) return cf_set_error(CF_ERR_ARG, "%s: negative element count %lld", what, (long long)n);
    if (!nccl_type(dt, t)) return cf_set_error(CF_ERR_DTYPE, "%s: dtype %s is not supported", what, cf_dtype_name(dt));
    if (op == CF_REDUCE_AVG && !cf_dtype_is_float(dt))
        return cf_set_error(CF_ERR_DTYPE, "%s: average of %s values", what, cf_dtype_name(dt));
    return CF_OK;
}

cf_nccl *cf_nccl_init(cf_pg *pg, int device)
{
    if (device < 0) {
        if ((device = cf_pg_device(pg, device_count())) < 0) {
            cf_set_error(CF_ERR_DEVICE, "cf_nccl_init: rank %d finds no CUDA device", cf_pg_rank(pg));
            return NULL;
        }
    }
    if (!cf_pg_uses_mpi(pg) && cf_pg_world(pg) > 1) {
        cf_set_error(CF_ERR_STATE, "cf_nccl_init: a group of %d ranks without MPI", cf_pg_world(pg));
        return NULL;
    }
    cudaError_t ce = cudaSetDevice(device);
    if (ce != cudaSuccess) {
        cf_set_error(CF_ERR_DEVICE, "cf_nccl_init: rank %d cannot use GPU %d: %s", cf_pg_rank(pg), device,
                     cudaGetErrorString(ce));
        return NULL;
    }
    cf_nccl *nc = calloc(1, sizeof *nc);
    if (!nc) {
        cf_set_error(CF_ERR_OOM, "cf_nccl_init: out of memory");
        return NULL;
    }
    nc->pg = pg, nc->device = device;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (cf_pg_rank(pg) == 0) {
        ncclResult_t r = ncclGetUniqueId(&id);
        /* the others wait in the broadcast below: a failure here must end the job, not return */
        if (r != ncclSuccess) cf_pg_abort(pg, "ncclGetUniqueId: %s", ncclGetErrorString(r));
    }
    /* the id is an opaque byte array: broadcast it as bytes (128 of them) over MPI (a group of one without MPI
     * has nobody to send it to) */
    if (cf_pg_uses_mpi(pg)) {
        MPI_Request req;
        int rc = MPI_Ibcast(&id, (int)sizeof id, MPI_BYTE, 0, cf_pg_comm_of(pg), &req);
        if (rc != MPI_SUCCESS || cf_pg_wait_mpi(pg, &req, "NCCL unique id broadcast") != CF_OK) {
            if (rc != MPI_SUCCESS) cf_pg_mpi_fail(pg, rc, "MPI_Ibcast");
            free(nc);
            return NULL;
        }
    }
    ncclResult_t r = ncclCommInitRank(&nc->comm, cf_pg_world(pg), id, cf_pg_rank(pg));
    if (r != ncclSuccess) {
        nccl_fail(nc, r, "ncclCommInitRank");
        free(nc);
        return NULL;
    }
    return nc;
}

void cf_nccl_free(cf_nccl *nc)
{
    if (!nc) return;
    ncclCommDestroy(nc->comm);
    free(nc);
}

cf_status cf_nccl_allreduce(cf_nccl *nc, void *buf, int64_t n, cf_dtype dt, cf_reduce_op op, void *stream)
{
    ncclDataType_t t = ncclFloat32; /* set by args() on success */
    CF_DIST_TRY(args("cf_nccl_allreduce", n, dt, op, &t));
    ncclResult_t r = ncclAllReduce(buf, buf, (size_t)n, t, nccl_op(op), nc->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? CF_OK : nccl_fail(nc, r, "ncclAllReduce");
}

cf_status cf_nccl_broadcast(cf_nccl *nc, void *buf, int64_t n, cf_dtype dt, int root, void *stream)
{
    ncclDataType_t t = ncclFloat32; /* set by args() on success */
    CF_DIST_TRY(args("cf_nccl_broadcast", n, dt, CF_REDUCE_SUM, &t));
    ncclResult_t r = ncclBroadcast(buf, buf, (size_t)n, t, root, nc->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? CF_OK : nccl_fail(nc, r, "ncclBroadcast");
}

cf_status cf_nccl_allgather(cf_nccl *nc, const void *send, void *recv, int64_t n, cf_dtype dt, void *stream)
{
    ncclDataType_t t = ncclFloat32; /* set by args() on success */
    CF_DIST_TRY(args("cf_nccl_allgather", n, dt, CF_REDUCE_SUM, &t));
    ncclResult_t r = ncclAllGather(send, recv, (size_t)n, t, nc->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? CF_OK : nccl_fail(nc, r, "ncclAllGather");
}

cf_status cf_nccl_reduce_scatter(cf_nccl *nc, const void *send, void *recv, int64_t n, cf_dtype dt, cf_reduce_op op,
                                 void *stream)
{
    ncclDataType_t t = ncclFloat32; /* set by args() on success */
    CF_DIST_TRY(args("cf_nccl_reduce_scatter", n, dt, op, &t));
    ncclResult_t r = ncclReduceScatter(send, recv, (size_t)n, t, nccl_op(op), nc->comm, (cudaStream_t)stream);
    return r == ncclSuccess ? CF_OK : nccl_fail(nc, r, "ncclReduceScatter");
}

cf_status cf_nccl_wait(cf_nccl *nc, void *stream)
{
    double t0 = cf_now(), limit = cf_pg_timeout(nc->pg);
    for (;;) {
        cudaError_t ce = cudaStreamQuery((cudaStream_t)stream);
        if (ce == cudaSuccess) return CF_OK;
        if (ce != cudaErrorNotReady)
            return cf_set_error(CF_ERR_DEVICE, "cf_nccl_wait on rank %d: %s", cf_pg_rank(nc->pg),
                                cudaGetErrorString(ce));
        ncclResult_t async = ncclSuccess;
        ncclCommGetAsyncError(nc->comm, &async);
        if (async != ncclSuccess && async != ncclInProgress) {
            ncclCommAbort(nc->comm);
            cf_pg_abort(nc->pg, "NCCL reported an asynchronous error: %s", ncclGetErrorString(async));
        }
        if (limit > 0 && cf_now() - t0 > limit) {
            ncclCommAbort(nc->comm);
            cf_pg_abort(nc->pg, "NCCL collective did not complete within %g s (CF_DIST_TIMEOUT): another rank is dead "
                        "or stuck", limit);
        }
        struct timespec nap = {0, 50000};
        nanosleep(&nap, NULL);
    }
}

#else /* !CF_HAVE_NCCL */

static cf_status unsupported(const char *what)
{
    return cf_set_error(CF_ERR_UNSUPPORTED, "%s: this cformer was built without NCCL (see docs/distributed.md)", what);
}

bool cf_nccl_available(void) { return false; }

bool cf_nccl_usable(const cf_pg *pg)
{
    (void)pg;
    return false;
}

cf_nccl *cf_nccl_init(cf_pg *pg, int device)
{
    (void)pg, (void)device;
    unsupported("cf_nccl_init");
    return NULL;
}

void cf_nccl_free(cf_nccl *nc) { (void)nc; }

cf_status cf_nccl_allreduce(cf_nccl *nc, void *buf, int64_t n, cf_dtype dt, cf_reduce_op op, void *stream)
{
    (void)nc, (void)buf, (void)n, (void)dt, (void)op, (void)stream;
    return unsupported("cf_nccl_allreduce");
}

cf_status cf_nccl_broadcast(cf_nccl *nc, void *buf, int64_t n, cf_dtype dt, int root, void *stream)
{
    (void)nc, (void)buf, (void)n, (void)dt, (void)root, (void)stream;
    return unsupported("cf_nccl_broadcast");
}

cf_status cf_nccl_allgather(cf_nccl *nc, const void *send, void *recv, int64_t n, cf_dtype dt, void *stream)
{
    (void)nc, (void)send, (void)recv, (void)n, (void)dt, (void)stream;
    return unsupported("cf_nccl_allgather");
}

cf_status cf_nccl_reduce_scatter(cf_nccl *nc, const void *send, void *recv, int64_t n, cf_dtype dt, cf_reduce_op op,
                                 void *stream)
{
    (void)nc, (void)send, (void)recv, (void)n, (void)dt, (void)op, (void)stream;
    return unsupported("cf_nccl_reduce_scatter");
}

cf_status cf_nccl_wait(cf_nccl *nc, void *stream)
{
    (void)nc, (void)stream;
    return unsupported("cf_nccl_wait");
}

#endif
