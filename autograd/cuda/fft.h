/* The CUDA backend's real FFTs: batches of 1-D transforms on device memory, for rfft and irfft
 * (autograd/cuda/kernels/fft.cu). cuFFT under nvcc (R2C/C2R, D2Z/Z2D for f64), FFTW under the SIMT emulator
 * (CF_CUDA_EMU: the same transforms, run as a one-thread kernel so they see device memory as kernels do).
 *
 * Layouts (contiguous, row after row; complex values interleaved re, im, m = n/2 + 1):
 *   r2c: in [batch, n] reals      -> out [batch, m] complex,  X[k] = sum_t x[t] exp(-2 pi i k t / n)
 *   c2r: in [batch, m] complex    -> out [batch, n] reals,    x[t] = sum over the FULL Hermitian spectrum of
 *        X[k] exp(+2 pi i k t / n), i.e. interior bins count twice. The imaginary parts of DC and (even n)
 *        Nyquist must be 0 (a real signal's): what the libraries make of others differs.
 * Both are unnormalised (cuFFT's and FFTW's convention): c2r(r2c(x)) == n x. The ops apply the 1/n of
 * irfft and the Hermitian weights of the backward passes themselves (see autograd/ops/fft.h).
 * Either transform may overwrite its input (cuFFT's and FFTW's c2r do): pass a scratch copy. in != out.
 *
 * Length 1 is a copy kernel (X[0] = x[0]), no library call. Plans are cached by (dtype, n, batch, direction), at most CF_CUDA_FFT_PLANS, the least recently used
 * replaced; a batch too large for the libraries' int sizes runs in chunks. Thread safety: one lock around
 * planning and execution, so host threads may share it; under the emulator the FFTW planner is also used
 * by the CPU backend's kernels (autograd/cpu/fft.c, behind their own lock), so the two backends must not
 * make plans from two threads at once. Execution is asynchronous on the device, in stream order with the
 * kernels (the default stream); the emulator runs it to completion.
 *
 *     CF_TRY(cf_cuda_fft(CF_F32, CF_CUDA_FFT_R2C, n, rows, scratch_in, out));  // out: rows x (n/2+1) x 2 floats
 */
#ifndef CF_CUDA_FFT_H
#define CF_CUDA_FFT_H

#include "autograd/cf_base.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CF_CUDA_FFT_PLANS 16

typedef enum { CF_CUDA_FFT_R2C, CF_CUDA_FFT_C2R } cf_cuda_fft_dir;

/* dt: CF_F32 or CF_F64; n >= 1; batch >= 0 (0: nothing). in, out: device memory of the sizes above.
 * Errors (a dtype without a transform, a failed plan or launch) are returned as cf_status with the text. */
cf_status cf_cuda_fft(cf_dtype dt, cf_cuda_fft_dir dir, int64_t n, int64_t batch, void *in, void *out);

#ifdef __cplusplus
}
#endif

#endif
