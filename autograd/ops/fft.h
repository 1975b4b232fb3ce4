/* Real FFTs along the last dim (FFTW on the CPU). Complex values are a trailing dim of size 2
 * (real, imaginary), so rfft of [..., L] is [..., n/2 + 1, 2].
 *
 * Normalisation is NumPy's and PyTorch's default ("backward"): rfft is unnormalised,
 *     X[k] = sum_t x[t] exp(-2 pi i k t / n),  k = 0 .. n/2,
 * and irfft scales by 1/n, so irfft(rfft(x, n), n) == x for any n, even or odd.
 * Both are differentiable; their backward is the other transform with the weights of the Hermitian
 * half-spectrum (interior bins stand for two bins of the full spectrum; DC and, for even n, Nyquist
 * for one). */
#ifndef CF_OPS_FFT_H
#define CF_OPS_FFT_H

#include "autograd/cf_tensor.h"

/* x: [..., L] f32/f64. n: the transform length; the input is cropped or zero-padded to n
 * (n == 0: n = L). Returns [..., n/2 + 1, 2]. */
cf_tensor *cf_rfft(cf_ctx *ctx, cf_tensor *x, int64_t n);
/* X: [..., M, 2], the non-negative-frequency half of a Hermitian spectrum. n: the output length
 * (n == 0: n = 2 (M - 1)); X is cropped or zero-padded to n/2 + 1 bins. The imaginary parts of the DC
 * bin and, for even n, the Nyquist bin are ignored (they must be zero for a real signal), so their
 * gradient is zero. Returns [..., n]. */
cf_tensor *cf_irfft(cf_ctx *ctx, cf_tensor *X, int64_t n);

#endif
