/* NCCL collectives on GPU buffers, for the CUDA path.
 *
 * STATUS: compiled when the build defines CF_HAVE_NCCL, which CMakeLists.txt does when CF_NCCL (on by
 * default), CF_CUDA and CF_MPI are on and libnccl and nccl.h are found (the NCCL unique id is broadcast
 * over the MPI process group), and in the SIMT emulator build (CF_CUDA_EMU with CF_MPI), where the NCCL calls
 * go to a shim over MPI on the emulator's device memory that refuses host pointers (nccl_emu.h). In a build
 * without it each function below returns CF_ERR_UNSUPPORTED (NULL for cf_nccl_init) and cf_nccl_available()
 * is false. The NCCL code is written against NCCL 2.18+ and compiles against NCCL 2.28 / CUDA 13. The trainer
 * uses it for `distributed.backend: nccl` (ddp.h's cf_ddp_options.nccl: gradient buckets all-reduced on the
 * device; with ZeRO-1, zero.h, the gradients reduce-scattered and the parameters all-gathered); under the emulator
 * those paths are tested with two and three MPI ranks (tests/test_train_device.sh, tests/test_dist_device.c).
 *
 * Streams are passed as void * (a cudaStream_t; NULL is the default stream) so this header needs no
 * CUDA headers. Operations are asynchronous on the stream; cf_nccl_wait blocks with the process
 * group's deadline and turns an NCCL asynchronous error or a timeout into a job abort naming the rank
 * (a dead peer otherwise leaves NCCL kernels spinning for ever). */
#ifndef CF_NCCL_H
#define CF_NCCL_H

#include "distributed/pg.h"

typedef struct cf_nccl cf_nccl;

bool cf_nccl_available(void);
/* Built, and every rank on this node can have a GPU of its own as the ranks see them (local ranks <= visible
 * GPUs; NCCL refuses two ranks on one GPU). The emulator: always (each process emulates its own device). A
 * launcher that shows each rank one GPU of its own makes this false though NCCL would work: name nccl then. */
bool cf_nccl_usable(const cf_pg *pg);
/* Collective over all ranks of pg: cudaSetDevice(device), rank 0 creates the unique id, pg broadcasts
 * it, ncclCommInitRank. device -1: this rank's GPU, cf_pg_device(pg, cudaGetDeviceCount()) -- call it before
 * anything allocates device memory, as the device is set here. A group of one without MPI needs no broadcast;
 * a larger group needs MPI. */
cf_nccl *cf_nccl_init(cf_pg *pg, int device);
void cf_nccl_free(cf_nccl *nc);

/* dt: f32, f64, bf16, f16 (i32/i64 for sums). In place. CF_REDUCE_AVG uses ncclAvg. */
cf_status cf_nccl_allreduce(cf_nccl *nc, void *dev_buf, int64_t n, cf_dtype dt, cf_reduce_op op, void *stream);
cf_status cf_nccl_broadcast(cf_nccl *nc, void *dev_buf, int64_t n, cf_dtype dt, int root, void *stream);
/* recv holds world * n elements; send may equal recv + rank * n (in place). */
cf_status cf_nccl_allgather(cf_nccl *nc, const void *send, void *recv, int64_t n, cf_dtype dt, void *stream);
/* send holds world * n elements, recv n. */
cf_status cf_nccl_reduce_scatter(cf_nccl *nc, const void *send, void *recv, int64_t n, cf_dtype dt, cf_reduce_op op,
                                 void *stream);
/* Blocks until the stream's work is done (deadline: cf_pg_timeout). */
cf_status cf_nccl_wait(cf_nccl *nc, void *stream);

#endif
