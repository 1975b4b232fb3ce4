// The CUDA backend's optimizer operations over flat buffers (cf_backend's optim_update, sum_squares and
// scale): the CPU's formulas (autograd/cpu/optim_update.c) in the same operand order, one thread per
// element. The sum of squares adds fixed blocks of CF_SS_BLOCK elements in a fixed tree order and the
// block partials on the host in block order, so it depends on n alone, as on the CPU.
#include "autograd/cuda/cuda_api.h"
#include "autograd/cuda/kernels/launch.h"

#include <math.h>
#include <stdlib.h>

template <typename T>
__global__ void sgd_kernel(T *p, const T *g, T *buf, int64_t n, T lr, T wd, T mom, T damp1, bool nesterov, bool first)
{
    CF_GRID_STRIDE(i, n)
    {
        T d = g[i] + wd * p[i];
        if (buf) {
            buf[i] = first ? d : mom * buf[i] + damp1 * d;
            d = nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

template <typename T>
__global__ void adam_kernel(T *p, const T *g, T *m, T *v, int64_t n, T step, T rbc2, T shrink, T l2, T b1, T b1c, T b2,
                            T b2c, T eps)
{
    CF_GRID_STRIDE(i, n)
    {
        T gi = g[i] + l2 * p[i];
        m[i] = b1 * m[i] + b1c * gi;
        v[i] = b2 * v[i] + b2c * gi * gi;
        p[i] = p[i] * shrink - step * m[i] / (sqrt(v[i]) * rbc2 + eps);
    }
}

template <typename T> static cf_status update(const cf_optim_update_args *a)
{
    if (a->kind == 0) {
        CF_KERNEL_RUN("sgd", a->n, sgd_kernel<T>, (T *)a->p, (const T *)a->g, (T *)a->slot0, a->n, (T)a->lr,
                      (T)a->weight_decay, (T)a->momentum, (T)(1 - a->dampening), a->nesterov, a->first);
        return CF_OK;
    }
    bool decoupled = a->kind == 2;
    T step = (T)(a->lr / a->bc1), rbc2 = (T)(1.0 / sqrt(a->bc2));
    T shrink = decoupled ? (T)(1 - a->lr * a->weight_decay) : (T)1, l2 = decoupled ? (T)0 : (T)a->weight_decay;
    CF_KERNEL_RUN("adam", a->n, adam_kernel<T>, (T *)a->p, (const T *)a->g, (T *)a->slot0, (T *)a->slot1, a->n, step,
                  rbc2, shrink, l2, (T)a->beta1, (T)(1 - a->beta1), (T)a->beta2, (T)(1 - a->beta2), (T)a->eps);
    return CF_OK;
}

extern "C" void cf_cuda_optim_update(const cf_optim_update_args *a)
{
    if (a->dtype == CF_F32)
        update<float>(a);
    else
        update<double>(a);
}

#define CF_SS_BLOCK 16384

// One block of CF_BLOCK_THREADS threads per CF_SS_BLOCK elements: strided partial sums, then a tree.
template <typename T> __global__ void sum_squares_kernel(const T *x, int64_t n, double *partial)
{
    CF_SHARED(double, s, CF_BLOCK_THREADS);
    int64_t lo = (int64_t)blockIdx.x * CF_SS_BLOCK, hi = lo + CF_SS_BLOCK < n ? lo + CF_SS_BLOCK : n;
    double acc = 0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) acc += (double)x[i] * (double)x[i];
    s[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// Device and host buffers for the partials, grown as needed and kept: clipping runs every step, and the
// training loop allocates nothing after its first step.
static double *partials_dev, *partials_host;
static int64_t partials_cap;

static bool reserve_partials(int64_t nb)
{
    if (nb <= partials_cap) return true;
    char err[256];
    void *d = NULL;
    double *h = (double *)malloc(sizeof(double) * (size_t)nb);
    if (!h || cf_cuda_malloc(&d, sizeof(double) * (size_t)nb, err, sizeof err) != 0) {
        free(h);
        cf_set_error(CF_ERR_OOM, "cuda sum of squares: %s", h ? err : "out of host memory");
        return false;
    }
    cf_cuda_free(partials_dev);
    free(partials_host);
    partials_dev = (double *)d, partials_host = h, partials_cap = nb;
    return true;
}

template <typename T> static double sum_squares(const T *x, int64_t n)
{
    int64_t nb = (n + CF_SS_BLOCK - 1) / CF_SS_BLOCK;
    if (nb == 0) return 0;
    if (!reserve_partials(nb)) return NAN;
    CF_LAUNCH(sum_squares_kernel<T>, (unsigned)nb, CF_BLOCK_THREADS, 0, x, n, partials_dev);
    char err[256];
    if (CF_CUDA_CHECK_LAUNCH(err, sizeof err) ||
        cf_cuda_copy_d2h(partials_host, partials_dev, sizeof(double) * (size_t)nb, err, sizeof err) != 0) {
        cf_set_error(CF_ERR_DEVICE, "cuda sum of squares: %s", err);
        return NAN;
    }
    double total = 0;
    for (int64_t b = 0; b < nb; b++) total += partials_host[b];
    return total;
}

extern "C" double cf_cuda_sum_squares(cf_dtype dt, const void *x, int64_t n)
{
    return dt == CF_F32 ? sum_squares((const float *)x, n) : sum_squares((const double *)x, n);
}

template <typename T> __global__ void scale_kernel(T *x, int64_t n, T s)
{
    CF_GRID_STRIDE(i, n) x[i] *= s;
}

template <typename T> static cf_status scale(T *x, int64_t n, T s)
{
    CF_KERNEL_RUN("scale", n, scale_kernel<T>, x, n, s);
    return CF_OK;
}

extern "C" void cf_cuda_scale(cf_dtype dt, void *x, int64_t n, double s)
{
    if (dt == CF_F32)
        scale((float *)x, n, (float)s);
    else
        scale((double *)x, n, s);
}
