/* The NCCL shim of the SIMT emulator build: the subset in nccl_emu.h over MPI, on the emulator's device memory
 * (read and written only through cf_cuda_copy_d2h / cf_cuda_copy_h2d, like any host code). Compiled into the
 * build only with CF_CUDA_EMU and CF_HAVE_NCCL (CMakeLists.txt defines the latter for the emulator when MPI is on). */
#if defined(CF_CUDA_EMU) && defined(CF_HAVE_NCCL)
#include "distributed/nccl_emu.h"

#include "autograd/cuda/cuda_api.h"

#include <limits.h>
#include <stdbool.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char magic[] = "cformer-nccl-emu";

struct ncclComm {
    MPI_Comm comm; /* MPI_COMM_NULL for a world of one without MPI */
    int rank, nranks;
    void *scratch; /* the host side of a collective, grown to the largest one */
    size_t cap;
};

static char last_error[512];

static ncclResult_t fail(ncclResult_t r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- CUDA runtime ---- */

cudaError_t cudaSetDevice(int device)
{
    return device >= 0 && device < cf_cuda_device_count() ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = cf_cuda_device_count();
    return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    (void)stream;
    return cudaSuccess;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidDevice: return "invalid device ordinal (the emulator has device 0 only)";
    case cudaErrorNotReady: return "device not ready";
    }
    return "unknown error";
}

/* ---- communicators ---- */

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    }
    return "unknown result code";
}

const char *ncclGetLastError(ncclComm_t comm)
{
    (void)comm;
    return last_error;
}

static bool mpi_up(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    static unsigned counter;
    memset(id, 0, sizeof *id);
    memcpy(id->internal, magic, sizeof magic);
    /* distinct per process and call: pid, time and a counter after the magic */
    uint64_t salt[3] = {(uint64_t)getpid(), (uint64_t)time(NULL), (uint64_t)++counter};
    memcpy(id->internal + sizeof magic, salt, sizeof salt);
    return ncclSuccess;
}

/* the split's colour: FNV-1a of the id, a non-negative int */
static int id_colour(const ncclUniqueId *id)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof id->internal; i++) h = (h ^ (unsigned char)id->internal[i]) * 16777619u;
    return (int)(h & 0x7fffffff);
}

ncclResult_t ncclCommInitRank(ncclComm_t *out, int nranks, ncclUniqueId id, int rank)
{
    *out = NULL;
    if (nranks < 1 || rank < 0 || rank >= nranks)
        return fail(ncclInvalidArgument, "ncclCommInitRank: rank %d of %d ranks", rank, nranks);
    if (memcmp(id.internal, magic, sizeof magic) != 0)
        return fail(ncclInvalidArgument, "ncclCommInitRank: the unique id was not made by ncclGetUniqueId (was it "
                    "broadcast from rank 0?)");
    struct ncclComm *c = calloc(1, sizeof *c);
    if (!c) return fail(ncclSystemError, "ncclCommInitRank: out of memory");
    c->comm = MPI_COMM_NULL, c->rank = rank, c->nranks = nranks;
    if (!mpi_up()) {
        if (nranks == 1) { /* nothing to exchange with */
            *out = c;
            return ncclSuccess;
        }
        free(c);
        return fail(ncclInvalidUsage, "ncclCommInitRank: %d ranks without MPI (the emulator's NCCL runs over MPI)",
                    nranks);
    }
    int rc = MPI_Comm_split(MPI_COMM_WORLD, id_colour(&id), rank, &c->comm), size = 0, me = -1;
    if (rc == MPI_SUCCESS) MPI_Comm_size(c->comm, &size), MPI_Comm_rank(c->comm, &me);
    if (rc != MPI_SUCCESS || size != nranks || me != rank) {
        if (rc == MPI_SUCCESS) MPI_Comm_free(&c->comm);
        free(c);
        return fail(ncclInvalidUsage, "ncclCommInitRank: %d processes share the id, this one as rank %d; the caller "
                    "said %d ranks, this one %d", size, me, nranks, rank);
    }
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    *out = c;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t c)
{
    if (!c) return ncclSuccess;
    if (c->comm != MPI_COMM_NULL && mpi_up()) MPI_Comm_free(&c->comm);
    free(c->scratch);
    free(c);
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t c) { return ncclCommDestroy(c); }

ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t *async)
{
    (void)c;
    *async = ncclSuccess;
    return ncclSuccess;
}

/* ---- collectives ---- */

static size_t type_size(ncclDataType_t dt)
{
    switch (dt) {
    case ncclInt32: case ncclFloat32: return 4;
    case ncclInt64: case ncclFloat64: return 8;
    case ncclFloat16: case ncclBfloat16: return 2;
    }
    return 0;
}

/* reductions: f32, f64, i32, i64; moves (broadcast, gather) of 16-bit floats go as uint16 */
static MPI_Datatype mpi_type(ncclDataType_t dt, bool reduce)
{
    switch (dt) {
    case ncclInt32: return MPI_INT32_T;
    case ncclInt64: return MPI_INT64_T;
    case ncclFloat32: return MPI_FLOAT;
    case ncclFloat64: return MPI_DOUBLE;
    case ncclFloat16: case ncclBfloat16: return reduce ? MPI_DATATYPE_NULL : MPI_UINT16_T;
    }
    return MPI_DATATYPE_NULL;
}

static MPI_Op mpi_op(ncclRedOp_t op)
{
    switch (op) {
    case ncclSum: case ncclAvg: return MPI_SUM;
    case ncclProd: return MPI_PROD;
    case ncclMax: return MPI_MAX;
    case ncclMin: return MPI_MIN;
    }
    return MPI_OP_NULL;
}

/* The checks every collective starts with: a communicator, a known type, an int-sized count, and device
 * buffers (the host pointer this catches is the bug the shim exists to find). */
static ncclResult_t check(const char *call, ncclComm_t c, ncclDataType_t dt, size_t count, size_t total)
{
    if (!c) return fail(ncclInvalidArgument, "%s: NULL communicator", call);
    if (!type_size(dt)) return fail(ncclInvalidArgument, "%s: unknown data type %d", call, (int)dt);
    if (total > INT_MAX || count > INT_MAX)
        return fail(ncclInvalidArgument, "%s: %zu elements, more than the emulator's MPI int count", call, total);
    return ncclSuccess;
}

static ncclResult_t on_device(const char *call, const char *name, const void *p, size_t bytes)
{
    if (bytes == 0 || cf_emu_is_device_range(p, bytes)) return ncclSuccess;
    return fail(ncclInvalidArgument, "%s: %s %p is not %zu bytes of emulated device memory (a host pointer given "
                "to NCCL?)", call, name, p, bytes);
}

static void *scratch(ncclComm_t c, size_t bytes)
{
    if (bytes > c->cap) {
        void *p = realloc(c->scratch, bytes);
        if (!p) return NULL;
        c->scratch = p, c->cap = bytes;
    }
    return c->scratch ? c->scratch : (c->scratch = malloc(1));
}

static ncclResult_t d2h(const char *call, void *host, const void *dev, size_t bytes)
{
    char err[256];
    if (bytes && cf_cuda_copy_d2h(host, dev, bytes, err, sizeof err) != 0)
        return fail(ncclUnhandledCudaError, "%s: %s", call, err);
    return ncclSuccess;
}

static ncclResult_t h2d(const char *call, void *dev, const void *host, size_t bytes)
{
    char err[256];
    if (bytes && cf_cuda_copy_h2d(dev, host, bytes, err, sizeof err) != 0)
        return fail(ncclUnhandledCudaError, "%s: %s", call, err);
    return ncclSuccess;
}

static ncclResult_t mpi_result(const char *call, const char *mpi_call, int rc)
{
    if (rc == MPI_SUCCESS) return ncclSuccess;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return fail(ncclSystemError, "%s: %s failed: %s", call, mpi_call, msg);
}

/* the reduction's type and operation, or an error for what MPI cannot reduce */
static ncclResult_t reduction(const char *call, ncclDataType_t dt, ncclRedOp_t op, MPI_Datatype *t, MPI_Op *o)
{
    *t = mpi_type(dt, true);
    *o = mpi_op(op);
    if (*t == MPI_DATATYPE_NULL) return fail(ncclInvalidArgument, "%s: f16/bf16 reductions are not emulated", call);
    if (*o == MPI_OP_NULL) return fail(ncclInvalidArgument, "%s: unknown reduction %d", call, (int)op);
    if (op == ncclAvg && dt != ncclFloat32 && dt != ncclFloat64)
        return fail(ncclInvalidArgument, "%s: ncclAvg of integers is not emulated", call);
    return ncclSuccess;
}

/* ncclAvg: the sum times 1/nranks */
static void average(void *x, size_t n, ncclDataType_t dt, int nranks)
{
    if (dt == ncclFloat32) {
        float *f = x, s = 1.0f / (float)nranks;
        for (size_t i = 0; i < n; i++) f[i] *= s;
    } else {
        double *d = x, s = 1.0 / nranks;
        for (size_t i = 0; i < n; i++) d[i] *= s;
    }
}

#define TRY(expr) \
    do { \
        ncclResult_t try_r_ = (expr); \
        if (try_r_ != ncclSuccess) return try_r_; \
    } while (0)

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t dt, ncclRedOp_t op,
                           ncclComm_t c, cudaStream_t stream)
{
    static const char call[] = "ncclAllReduce";
    (void)stream;
    MPI_Datatype t;
    MPI_Op o;
    TRY(check(call, c, dt, count, count));
    TRY(reduction(call, dt, op, &t, &o));
    size_t bytes = count * type_size(dt);
    TRY(on_device(call, "sendbuff", send, bytes));
    TRY(on_device(call, "recvbuff", recv, bytes));
    void *h = scratch(c, bytes);
    if (!h) return fail(ncclSystemError, "%s: out of host memory", call);
    TRY(d2h(call, h, send, bytes));
    if (c->comm != MPI_COMM_NULL)
        TRY(mpi_result(call, "MPI_Allreduce", MPI_Allreduce(MPI_IN_PLACE, h, (int)count, t, o, c->comm)));
    if (op == ncclAvg) average(h, count, dt, c->nranks);
    return h2d(call, recv, h, bytes);
}

ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t dt, int root, ncclComm_t c,
                           cudaStream_t stream)
{
    static const char call[] = "ncclBroadcast";
    (void)stream;
    TRY(check(call, c, dt, count, count));
    if (root < 0 || root >= c->nranks) return fail(ncclInvalidArgument, "%s: root %d of %d ranks", call, root, c->nranks);
    size_t bytes = count * type_size(dt);
    if (c->rank == root) TRY(on_device(call, "sendbuff", send, bytes)); /* only the root's is read */
    TRY(on_device(call, "recvbuff", recv, bytes));
    void *h = scratch(c, bytes);
    if (!h) return fail(ncclSystemError, "%s: out of host memory", call);
    if (c->rank == root) TRY(d2h(call, h, send, bytes));
    if (c->comm != MPI_COMM_NULL)
        TRY(mpi_result(call, "MPI_Bcast", MPI_Bcast(h, (int)count, mpi_type(dt, false), root, c->comm)));
    return h2d(call, recv, h, bytes);
}

ncclResult_t ncclAllGather(const void *send, void *recv, size_t sendcount, ncclDataType_t dt, ncclComm_t c,
                           cudaStream_t stream)
{
    static const char call[] = "ncclAllGather";
    (void)stream;
    TRY(check(call, c, dt, sendcount, sendcount * (size_t)(c ? c->nranks : 1)));
    size_t part = sendcount * type_size(dt), bytes = part * (size_t)c->nranks;
    TRY(on_device(call, "sendbuff", send, part));
    TRY(on_device(call, "recvbuff", recv, bytes));
    char *h = scratch(c, bytes);
    if (!h) return fail(ncclSystemError, "%s: out of host memory", call);
    TRY(d2h(call, h + (size_t)c->rank * part, send, part));
    if (c->comm != MPI_COMM_NULL)
        TRY(mpi_result(call, "MPI_Allgather", MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, h, (int)sendcount,
                                                             mpi_type(dt, false), c->comm)));
    return h2d(call, recv, h, bytes);
}

ncclResult_t ncclReduceScatter(const void *send, void *recv, size_t recvcount, ncclDataType_t dt, ncclRedOp_t op,
                               ncclComm_t c, cudaStream_t stream)
{
    static const char call[] = "ncclReduceScatter";
    (void)stream;
    MPI_Datatype t;
    MPI_Op o;
    TRY(check(call, c, dt, recvcount, recvcount * (size_t)(c ? c->nranks : 1)));
    TRY(reduction(call, dt, op, &t, &o));
    size_t part = recvcount * type_size(dt), bytes = part * (size_t)c->nranks;
    TRY(on_device(call, "sendbuff", send, bytes));
    TRY(on_device(call, "recvbuff", recv, part));
    void *h = scratch(c, bytes);
    if (!h) return fail(ncclSystemError, "%s: out of host memory", call);
    TRY(d2h(call, h, send, bytes));
    if (c->comm != MPI_COMM_NULL)
        TRY(mpi_result(call, "MPI_Reduce_scatter_block",
                       MPI_Reduce_scatter_block(MPI_IN_PLACE, h, (int)recvcount, t, o, c->comm)));
    if (op == ncclAvg) average(h, recvcount, dt, c->nranks);
    return h2d(call, recv, h, part);
}

#else
typedef int cf_nccl_emu_unused; /* an empty translation unit is not ISO C */
#endif
