// Contiguous operands for CUDA kernels that index a tensor as a dense array (C++, .cu files only).
#ifndef CF_CUDA_CONTIG_H
#define CF_CUDA_CONTIG_H

#include "autograd/cuda/kernels/kernels.h"

// *out = t itself when contiguous (or NULL), else a contiguous copy of t on the device (step arena).
static inline cf_status cf_cuda_contig(cf_ctx *ctx, cf_tensor *t, cf_tensor **out)
{
    *out = t;
    if (!t || cf_is_contiguous(t)) return CF_OK;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    if (!c) return cf_last_status();
    CF_TRY(cf_cuda_copy(c, t, false));
    *out = c;
    return CF_OK;
}

#endif
