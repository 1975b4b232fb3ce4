/* The subset of NCCL (and of the CUDA runtime) that distributed/nccl.c calls, for the SIMT emulator build
 * (CF_CUDA_EMU with MPI): distributed/nccl_emu.c implements it over MPI on the emulator's device memory, so the
 * NCCL training path runs and is tested without a GPU. Not installed; nccl.c includes it in place of
 * <cuda_runtime.h> and <nccl.h>.
 *
 * What it keeps of NCCL: a communicator per ncclCommInitRank over the ranks that share the unique id (an
 * MPI_Comm_split of MPI_COMM_WORLD by the id), collectives on device buffers only, results as NCCL defines them.
 * What it checks beyond NCCL: every buffer must lie inside one emulated device allocation (cf_cuda_malloc), so
 * a host pointer -- a host-staging bug -- is an ncclInvalidArgument naming the pointer (ncclGetLastError),
 * where real NCCL would fault or read garbage. What differs: collectives run synchronously on the calling
 * thread (the emulator's kernels do too), so the stream argument only has to be NULL or a value the caller
 * made up; ncclAvg is the sum times 1/nranks (NCCL scales each input before summing; equal for two ranks);
 * sums, products, minima and maxima of f16 and bf16 are refused (MPI has no such types); a world of one
 * needs no MPI at all (the id is never sent).
 *
 *     ncclUniqueId id; if (rank == 0) ncclGetUniqueId(&id);  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm);
 *     ncclComm_t c; ncclCommInitRank(&c, world, id, rank);
 *     ncclAllReduce(dev, dev, n, ncclFloat32, ncclSum, c, NULL);  ncclCommDestroy(c); */
#ifndef CF_NCCL_EMU_H
#define CF_NCCL_EMU_H

#include <stddef.h>

/* The emulator's tag (autograd/cuda/emu/runtime.cpp): 1 when [p, p + bytes) lies inside one cf_cuda_malloc. */
int cf_emu_is_device_range(const void *p, size_t bytes);

/* ---- CUDA runtime: the emulator has one device and runs everything synchronously ---- */
typedef void *cudaStream_t;
typedef enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidDevice = 101, cudaErrorNotReady = 600 } cudaError_t;
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaStreamQuery(cudaStream_t stream); /* always cudaSuccess: work is done when the call returns */
const char *cudaGetErrorString(cudaError_t e);

/* ---- NCCL ---- */
#define NCCL_UNIQUE_ID_BYTES 128
typedef struct ncclUniqueId {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef enum ncclResult_t {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7
} ncclResult_t;
typedef enum ncclDataType_t {
    ncclInt32 = 2,
    ncclInt64 = 4,
    ncclFloat16 = 6,
    ncclFloat32 = 7,
    ncclFloat64 = 8,
    ncclBfloat16 = 9
} ncclDataType_t;
typedef enum ncclRedOp_t { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;

ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
/* Collective over the nranks processes that pass the same id (they must all be in MPI_COMM_WORLD, and every
 * rank of MPI_COMM_WORLD must call it: the communicator is an MPI_Comm_split of it). */
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclCommAbort(ncclComm_t comm);
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async); /* always ncclSuccess */
const char *ncclGetErrorString(ncclResult_t r);
/* The message of this process's last failed call (NCCL 2.13's ncclGetLastError); comm is unused. */
const char *ncclGetLastError(ncclComm_t comm);

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t dt, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t dt, int root,
                           ncclComm_t comm, cudaStream_t stream);
/* recvbuff holds nranks * sendcount elements */
ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t dt,
                           ncclComm_t comm, cudaStream_t stream);
/* sendbuff holds nranks * recvcount elements */
ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t dt,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);

#endif
