// The plan cache and execution of autograd/cuda/fft.h: cuFFT under nvcc, FFTW under the SIMT emulator.
#include "autograd/cuda/fft.h"
#include "autograd/cuda/kernels/launch.h"

#include <limits.h>
#include <pthread.h>

#if defined(__CUDACC__)
#include <cufft.h>
typedef cufftHandle fft_plan;
#else
#include <fftw3.h>
typedef void *fft_plan; // fftw_plan or fftwf_plan
#endif

namespace {

struct plan_entry {
    cf_dtype dt;
    cf_cuda_fft_dir dir;
    int n, batch;
    fft_plan plan;
    unsigned long long used; // the clock at its last use (0: a free slot)
};

pthread_mutex_t fft_lock = PTHREAD_MUTEX_INITIALIZER;
plan_entry plans[CF_CUDA_FFT_PLANS];
unsigned long long fft_clock;

const char *dir_name(cf_cuda_fft_dir dir) { return dir == CF_CUDA_FFT_R2C ? "r2c" : "c2r"; }

#if defined(__CUDACC__)

// A new plan for `batch` rows of length n: real rows n apart, complex rows n/2 + 1 apart
cf_status make_plan(cf_dtype dt, cf_cuda_fft_dir dir, int n, int batch, void *in, void *out, fft_plan *p)
{
    (void)in, (void)out;
    int m = n / 2 + 1, len = n;
    bool r2c = dir == CF_CUDA_FFT_R2C;
    cufftType type = dt == CF_F64 ? (r2c ? CUFFT_D2Z : CUFFT_Z2D) : (r2c ? CUFFT_R2C : CUFFT_C2R);
    cufftResult r = cufftPlanMany(p, 1, &len, NULL, 1, r2c ? n : m, NULL, 1, r2c ? m : n, type, batch);
    if (r != CUFFT_SUCCESS)
        return cf_set_error(CF_ERR_DEVICE, "cuFFT could not plan %d length-%d %s transforms of %s (cufftResult %d)",
                            batch, n, dir_name(dir), cf_dtype_name(dt), (int)r);
    return CF_OK;
}

void destroy_plan(const plan_entry &e)
{
    cudaStreamSynchronize(0); // its work may still be queued
    cufftDestroy(e.plan);
}

cf_status execute(const plan_entry &e, void *in, void *out)
{
    cufftResult r;
    if (e.dir == CF_CUDA_FFT_R2C)
        r = e.dt == CF_F64 ? cufftExecD2Z(e.plan, (cufftDoubleReal *)in, (cufftDoubleComplex *)out)
                           : cufftExecR2C(e.plan, (cufftReal *)in, (cufftComplex *)out);
    else
        r = e.dt == CF_F64 ? cufftExecZ2D(e.plan, (cufftDoubleComplex *)in, (cufftDoubleReal *)out)
                           : cufftExecC2R(e.plan, (cufftComplex *)in, (cufftReal *)out);
    if (r != CUFFT_SUCCESS)
        return cf_set_error(CF_ERR_DEVICE, "cuFFT %s of %d length-%d rows failed (cufftResult %d)", dir_name(e.dir),
                            e.batch, e.n, (int)r);
    return CF_OK;
}

#else

// FFTW_ESTIMATE reads no data while planning, so the (protected) device arrays only tell it the layout;
// FFTW_UNALIGNED lets the new-array execute functions take any rows later.
cf_status make_plan(cf_dtype dt, cf_cuda_fft_dir dir, int n, int batch, void *in, void *out, fft_plan *p)
{
    const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED;
    int m = n / 2 + 1, len = n;
    bool r2c = dir == CF_CUDA_FFT_R2C;
    if (dt == CF_F64)
        *p = r2c ? (void *)fftw_plan_many_dft_r2c(1, &len, batch, (double *)in, NULL, 1, n, (fftw_complex *)out, NULL,
                                                  1, m, flags)
                 : (void *)fftw_plan_many_dft_c2r(1, &len, batch, (fftw_complex *)in, NULL, 1, m, (double *)out, NULL,
                                                  1, n, flags);
    else
        *p = r2c ? (void *)fftwf_plan_many_dft_r2c(1, &len, batch, (float *)in, NULL, 1, n, (fftwf_complex *)out, NULL,
                                                   1, m, flags)
                 : (void *)fftwf_plan_many_dft_c2r(1, &len, batch, (fftwf_complex *)in, NULL, 1, m, (float *)out, NULL,
                                                   1, n, flags);
    if (!*p)
        return cf_set_error(CF_ERR_INTERNAL, "FFTW could not plan %d length-%d %s transforms of %s", batch, n,
                            dir_name(dir), cf_dtype_name(dt));
    return CF_OK;
}

void destroy_plan(const plan_entry &e)
{
    if (e.dt == CF_F64)
        fftw_destroy_plan((fftw_plan)e.plan);
    else
        fftwf_destroy_plan((fftwf_plan)e.plan);
}

// The transform as a kernel of one thread: the emulator opens device memory for a launch only. The plan
// travels as an integer (a pointer argument must be device memory).
__global__ void fftw_kernel(uintptr_t plan, int f64, int r2c, void *in, void *out)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    if (f64 && r2c) fftw_execute_dft_r2c((fftw_plan)plan, (double *)in, (fftw_complex *)out);
    if (f64 && !r2c) fftw_execute_dft_c2r((fftw_plan)plan, (fftw_complex *)in, (double *)out);
    if (!f64 && r2c) fftwf_execute_dft_r2c((fftwf_plan)plan, (float *)in, (fftwf_complex *)out);
    if (!f64 && !r2c) fftwf_execute_dft_c2r((fftwf_plan)plan, (fftwf_complex *)in, (float *)out);
}

cf_status execute(const plan_entry &e, void *in, void *out)
{
    CF_LAUNCH(fftw_kernel, 1, 1, 0, (uintptr_t)e.plan, (int)(e.dt == CF_F64), (int)(e.dir == CF_CUDA_FFT_R2C), in, out);
    char err[256];
    if (CF_CUDA_CHECK_LAUNCH(err, sizeof err))
        return cf_set_error(CF_ERR_DEVICE, "FFTW %s of %d length-%d rows: %s", dir_name(e.dir), e.batch, e.n, err);
    return CF_OK;
}

#endif

// The cached plan for the key, made (in the least recently used slot) when missing; under fft_lock
cf_status get_plan(cf_dtype dt, cf_cuda_fft_dir dir, int n, int batch, void *in, void *out, plan_entry **e)
{
    plan_entry *victim = &plans[0];
    for (int i = 0; i < CF_CUDA_FFT_PLANS; i++) {
        plan_entry *p = &plans[i];
        if (p->used && p->dt == dt && p->dir == dir && p->n == n && p->batch == batch) {
            p->used = ++fft_clock;
            *e = p;
            return CF_OK;
        }
        if (p->used < victim->used) victim = p;
    }
    fft_plan fresh;
    CF_TRY(make_plan(dt, dir, n, batch, in, out, &fresh));
    if (victim->used) destroy_plan(*victim);
    victim->dt = dt, victim->dir = dir, victim->n = n, victim->batch = batch, victim->plan = fresh;
    victim->used = ++fft_clock;
    *e = victim;
    return CF_OK;
}

// Length 1 without a library: X[0] = x[0] (no imaginary part) and back
template <typename S> __global__ void length_one(const S *in, S *out, int64_t batch, bool r2c)
{
    CF_GRID_STRIDE(b, batch)
    {
        if (r2c)
            out[2 * b] = in[b], out[2 * b + 1] = 0;
        else
            out[b] = in[2 * b];
    }
}

} // namespace

extern "C" cf_status cf_cuda_fft(cf_dtype dt, cf_cuda_fft_dir dir, int64_t n, int64_t batch, void *in, void *out)
{
    if (dt != CF_F32 && dt != CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "cuda fft: no transform for %s data", cf_dtype_name(dt));
    if (n < 1 || n > INT_MAX / 4 || batch < 0)
        return cf_set_error(CF_ERR_ARG, "cuda fft: length %lld and batch %lld out of range", (long long)n,
                            (long long)batch);
    if (n == 1) {
        bool r2c = dir == CF_CUDA_FFT_R2C;
        if (dt == CF_F64)
            CF_KERNEL_RUN("cuda fft", batch, length_one<double>, (const double *)in, (double *)out, batch, r2c);
        else
            CF_KERNEL_RUN("cuda fft", batch, length_one<float>, (const float *)in, (float *)out, batch, r2c);
        return CF_OK;
    }
    int64_t m = n / 2 + 1, esz = (int64_t)cf_dtype_size(dt);
    int64_t in_row = esz * (dir == CF_CUDA_FFT_R2C ? n : 2 * m), out_row = esz * (dir == CF_CUDA_FFT_R2C ? 2 * m : n);
    int64_t chunk = INT_MAX / (2 * m + n); // rows per execution: element counts stay within int
    if (chunk < 1) chunk = 1;
    cf_status st = CF_OK;
    pthread_mutex_lock(&fft_lock);
    for (int64_t b0 = 0; b0 < batch && st == CF_OK; b0 += chunk) {
        int64_t nb = batch - b0 < chunk ? batch - b0 : chunk;
        char *i = (char *)in + b0 * in_row, *o = (char *)out + b0 * out_row;
        plan_entry *e;
        st = get_plan(dt, dir, (int)n, (int)nb, i, o, &e);
        if (st == CF_OK) st = execute(*e, i, o);
    }
    pthread_mutex_unlock(&fft_lock);
    return st;
}
