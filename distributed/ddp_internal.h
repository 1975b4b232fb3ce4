/* What ddp.c and zero.c share for ZeRO-1 on a device over NCCL (not installed): the padded device buffer the
 * reduce-scatter and the all-gather run in, and flat copies and fills on the parameters' device.
 *
 * The NCCL collectives need equal parts per rank, laid out rank after rank; the ZeRO-1 shards (zero.h) are
 * S = cf_zero_shard_stride(total, world) elements apart, the last ones shorter or empty. So both collectives run
 * in a device buffer of world x S elements (the "pad") where rank r's part starts at r S -- which is where its
 * shard starts in the flat buffers whenever the shard is not empty -- and the flat buffers' total elements are
 * copied in or out of its front. */
#ifndef CF_DDP_INTERNAL_H
#define CF_DDP_INTERNAL_H

#include "autograd/cf_node.h"
#include "distributed/ddp.h"

#include <string.h>

/* opt.nccl of the cf_ddp (NULL: the MPI path). */
cf_nccl *cf_ddp_nccl(const cf_ddp *ddp);
/* ZeRO-1 over NCCL: the pad (world x S elements of ps->dtype, on ps->device) and *stride = S; NULL otherwise. */
void *cf_ddp_nccl_pad(const cf_ddp *ddp, int64_t *stride);

/* A 1-D view of n elements at data on dev, on the stack. */
static inline void cf_dist_flat(cf_tensor *t, cf_storage *s, cf_dtype dt, cf_device dev, void *data, int64_t n)
{
    *s = (cf_storage){.data = data, .nbytes = (size_t)n * cf_dtype_size(dt), .device = dev};
    memset(t, 0, sizeof *t);
    t->dtype = dt, t->ndim = 1, t->shape[0] = n, t->stride[0] = 1, t->storage = s;
}

/* dst[0, n) = src[0, n) in dev's memory (the backend's copy, ordered with its kernels). */
static inline cf_status cf_dist_dev_copy(cf_device dev, cf_dtype dt, void *dst, const void *src, int64_t n)
{
    if (n <= 0) return CF_OK;
    cf_tensor a, b;
    cf_storage sa, sb;
    cf_dist_flat(&a, &sa, dt, dev, dst, n);
    cf_dist_flat(&b, &sb, dt, dev, (void *)src, n);
    return cf_backend_table(dev)->copy(&a, &b, false);
}

/* x[0, n) = 0 in dev's memory. */
static inline cf_status cf_dist_dev_zero(cf_device dev, cf_dtype dt, void *x, int64_t n)
{
    if (n <= 0) return CF_OK;
    cf_tensor a;
    cf_storage sa;
    cf_dist_flat(&a, &sa, dt, dev, x, n);
    return cf_backend_table(dev)->fill(&a, 0.0);
}

#endif
