/* Declarations of the CUDA kernels named in kernels.def (C linkage, readable by C and C++), and the
 * backend's memory and optimizer entries implemented in the .cu files of autograd/cuda/. */
#ifndef CF_CUDA_KERNELS_H
#define CF_CUDA_KERNELS_H

#include "autograd/cf_node.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_CUDA_OP(name) \
    cf_status cf_cuda_##name##_fwd(cf_ctx *ctx, cf_node *n); \
    cf_status cf_cuda_##name##_bwd(cf_ctx *ctx, cf_node *n);
#define CF_CUDA_FWD(name) cf_status cf_cuda_##name##_fwd(cf_ctx *ctx, cf_node *n);
#include "autograd/cuda/kernels/kernels.def"
#undef CF_CUDA_FWD
#undef CF_CUDA_OP

/* memory.cu */
cf_status cf_cuda_fill(cf_tensor *t, double v);
cf_status cf_cuda_copy(cf_tensor *dst, const cf_tensor *src, bool accumulate);
/* kernels/shape.cu: dst (=, or += unless overwrite) src summed over the dims dst broadcasts along;
 * x's gradient slot receives g (x's shape, or broadcasting to it) the same way */
cf_status cf_cuda_sum_to(cf_tensor *dst, const cf_tensor *src, bool overwrite);
cf_status cf_cuda_accum_grad(cf_ctx *ctx, cf_tensor *x, const cf_tensor *g);
/* optim.cu */
void cf_cuda_optim_update(const cf_optim_update_args *a);
double cf_cuda_sum_squares(cf_dtype dt, const void *x, int64_t n);
void cf_cuda_scale(cf_dtype dt, void *x, int64_t n, double s);

#ifdef __cplusplus
}
#endif

#endif
