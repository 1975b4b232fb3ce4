// CUDA kernels of rfft and irfft (autograd/ops/fft.def) with the CPU's semantics (autograd/cpu/fft.c, the
// maths in autograd/ops/fft.h): the transforms go through autograd/cuda/fft.h (cuFFT, or FFTW under the
// emulator) on scratch rows from the step arena; these kernels crop or zero-pad the rows to the transform
// length and apply the Hermitian half-spectrum's weights, one thread per element (coalesced, no atomics).
//
//   rfft   forward   x [rows, L] -> pad/crop to [rows, n] -> r2c -> y [rows, m, 2]          (m = n/2 + 1)
//          backward  G' = G, interior bins halved, Im of DC/Nyquist 0 -> c2r -> gx (+)= first min(L, n)
//   irfft  forward   X [rows, M, 2] -> pad/crop to m bins, / n, Im of DC/Nyquist 0 -> c2r -> y [rows, n]
//          backward  g -> r2c -> gX (+)= w_k / n of the first min(M, m) bins (w 1 for DC/Nyquist, Im 0; 2 else)
// The transforms run in the arithmetic type cf_acc_t<S>: f32 and f64 tensors in their own dtype, bf16 tensors in
// f32 (cuFFT's 16-bit transforms, through cufftXt, take power-of-two lengths only and keep 16-bit
// intermediates): the crop/pad and weighing kernels widen bf16 into the f32 scratch rows, and one more pass
// rounds a transform's f32 result into a bf16 output.
#include "autograd/cuda/fft.h"
#include "autograd/cuda/kernels/launch.h"
#include "autograd/ops/fft_attr.h"

// dst[r, t] (+)= src[r, t] for t < Ls, else 0 (dst rows of Ld, src rows of Ls; the storage types may differ)
template <typename Src, typename S>
__global__ void fit_rows(const Src *src, int64_t Ls, S *dst, int64_t Ld, int64_t rows, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, rows * Ld)
    {
        int64_t r = i / Ld, t = i % Ld;
        A v = t < Ls ? cf_ld(src + r * Ls + t) : (A)0;
        cf_st(dst + i, acc ? cf_ld(dst + i) + v : v);
    }
}

// dst[r, k] (+)= w_k src[r, k] for bins k < Ms, else 0 (rows of Md and Ms complex values); w_k = w1 for
// DC and (even n) Nyquist, whose imaginary part becomes 0, and w2 for the interior bins (storage types may differ)
template <typename Src, typename S>
__global__ void weigh_bins(const Src *src, int64_t Ms, S *dst, int64_t Md, int64_t rows, int64_t n, cf_acc_t<S> w1,
                           cf_acc_t<S> w2, bool acc)
{
    typedef cf_acc_t<S> A;
    CF_GRID_STRIDE(i, rows * Md * 2)
    {
        int64_t part = i % 2, k = (i / 2) % Md, r = i / (2 * Md);
        bool one = k == 0 || (n % 2 == 0 && k == n / 2);
        A v = 0;
        if (k < Ms && !(one && part == 1)) v = (one ? w1 : w2) * cf_ld(src + (r * Ms + k) * 2 + part);
        cf_st(dst + i, acc ? cf_ld(dst + i) + v : v);
    }
}

// t itself when contiguous, else a contiguous copy on the device
static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *t)
{
    if (cf_is_contiguous(t)) return t;
    cf_tensor *c = cf_empty(ctx, t->dtype, t->ndim, t->shape);
    return c && cf_cuda_copy(c, t, false) == CF_OK ? c : NULL;
}

// A scratch vector of count elements of dt on the device (step arena)
static cf_tensor *scratch(cf_ctx *ctx, cf_dtype dt, int64_t count) { return cf_empty(ctx, dt, 1, &count); }

// The dtype the transform runs in for storage dt (cf_acc_t's): f32 for bf16
static cf_dtype fft_dtype(cf_dtype dt) { return dt == CF_BF16 ? CF_F32 : dt; }

// The transform's output for t: t itself when it has the transform's dtype, else an f32 scratch of its size
// that narrow() then rounds into t
static cf_tensor *wide_out(cf_ctx *ctx, cf_tensor *t)
{
    return fft_dtype(t->dtype) == t->dtype ? t : scratch(ctx, fft_dtype(t->dtype), cf_numel(t));
}

// t (contiguous) = its f32 result w, when wide_out gave a scratch
static cf_status narrow(const char *what, cf_tensor *t, const cf_tensor *w)
{
    if (w == t) return CF_OK;
    int64_t count = cf_numel(t);
    CF_KERNEL_RUN(what, count, (fit_rows<float, __nv_bfloat16>), (const float *)cf_data(w), count,
                  (__nv_bfloat16 *)cf_data(t), count, (int64_t)1, false);
    return CF_OK;
}

static int64_t fft_n(const cf_node *n) { return CF_ATTR(n, struct fft_attr)->n; }

extern "C" cf_status cf_cuda_rfft_fwd(cf_ctx *ctx, cf_node *n)
{
    int64_t N = fft_n(n), m = N / 2 + 1;
    cf_tensor *x = contiguous(ctx, n->in[0]), *y = n->out;
    if (!x) return cf_last_status();
    int64_t L = x->shape[x->ndim - 1], rows = cf_numel(y) / (2 * m);
    if (rows == 0) return CF_OK;
    cf_dtype ft = fft_dtype(x->dtype);
    cf_tensor *buf = scratch(ctx, ft, rows * N), *yw = wide_out(ctx, y);
    if (!buf || !yw) return cf_last_status();
    CF_FLOAT_SWITCH("rfft", x->dtype,
                    CF_KERNEL_RUN("rfft", rows * N, (fit_rows<S, cf_acc_t<S>>), (const S *)cf_data(x), L,
                                  (cf_acc_t<S> *)cf_data(buf), N, rows, false));
    CF_TRY(cf_cuda_fft(ft, CF_CUDA_FFT_R2C, N, rows, cf_data(buf), cf_data(yw)));
    return narrow("rfft", y, yw);
}

extern "C" cf_status cf_cuda_rfft_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    int64_t N = fft_n(n), m = N / 2 + 1;
    cf_tensor *x = n->in[0];
    int64_t L = x->shape[x->ndim - 1], rows = cf_numel(n->out) / (2 * m);
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite), *G = contiguous(ctx, n->out->grad);
    if (!gx || !G) return cf_last_status();
    if (rows == 0 || L == 0) return CF_OK;
    cf_dtype ft = fft_dtype(x->dtype);
    cf_tensor *c = scratch(ctx, ft, rows * m * 2), *out = scratch(ctx, ft, rows * N);
    if (!c || !out) return cf_last_status();
    CF_FLOAT_SWITCH("rfft backward", x->dtype, {
        typedef cf_acc_t<S> A;
        CF_KERNEL_RUN("rfft backward", rows * m * 2, (weigh_bins<S, A>), (const S *)cf_data(G), m, (A *)cf_data(c), m,
                      rows, N, (A)1, (A)0.5, false);
        CF_TRY(cf_cuda_fft(ft, CF_CUDA_FFT_C2R, N, rows, cf_data(c), cf_data(out)));
        CF_KERNEL_RUN("rfft backward", rows * L, (fit_rows<A, S>), (const A *)cf_data(out), N, (S *)cf_data(gx), L,
                      rows, !overwrite);
    });
    return CF_OK;
}

extern "C" cf_status cf_cuda_irfft_fwd(cf_ctx *ctx, cf_node *n)
{
    int64_t N = fft_n(n), m = N / 2 + 1;
    cf_tensor *X = contiguous(ctx, n->in[0]), *y = n->out;
    if (!X) return cf_last_status();
    int64_t M = X->shape[X->ndim - 2], rows = cf_numel(y) / N;
    if (rows == 0) return CF_OK;
    cf_dtype ft = fft_dtype(X->dtype);
    cf_tensor *c = scratch(ctx, ft, rows * m * 2), *yw = wide_out(ctx, y);
    if (!c || !yw) return cf_last_status();
    CF_FLOAT_SWITCH("irfft", X->dtype, {
        typedef cf_acc_t<S> A;
        A scale = (A)1 / (A)N; // irfft's 1/n, applied to the spectrum: the transform is linear
        CF_KERNEL_RUN("irfft", rows * m * 2, (weigh_bins<S, A>), (const S *)cf_data(X), M, (A *)cf_data(c), m, rows, N,
                      scale, scale, false);
    });
    CF_TRY(cf_cuda_fft(ft, CF_CUDA_FFT_C2R, N, rows, cf_data(c), cf_data(yw)));
    return narrow("irfft", y, yw);
}

extern "C" cf_status cf_cuda_irfft_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    int64_t N = fft_n(n), m = N / 2 + 1;
    cf_tensor *X = n->in[0];
    int64_t M = X->shape[X->ndim - 2], rows = cf_numel(n->out) / N;
    bool overwrite;
    cf_tensor *gX = cf_grad_slot(ctx, X, &overwrite), *g = n->out->grad;
    if (!gX) return cf_last_status();
    if (rows == 0 || M == 0) return CF_OK;
    cf_dtype ft = fft_dtype(X->dtype);
    cf_tensor *buf = cf_empty(ctx, ft, g->ndim, g->shape), *c = scratch(ctx, ft, rows * m * 2);
    if (!buf || !c) return cf_last_status();
    if (ft == g->dtype) {
        CF_TRY(cf_cuda_copy(buf, g, false)); // the transform may overwrite its input; also makes g contiguous
    } else { // bf16: widened into the f32 scratch, row by row from a contiguous g
        cf_tensor *gc = contiguous(ctx, g);
        if (!gc) return cf_last_status();
        CF_KERNEL_RUN("irfft backward", rows * N, (fit_rows<__nv_bfloat16, float>),
                      (const __nv_bfloat16 *)cf_data(gc), N, (float *)cf_data(buf), N, rows, false);
    }
    CF_TRY(cf_cuda_fft(ft, CF_CUDA_FFT_R2C, N, rows, cf_data(buf), cf_data(c)));
    CF_FLOAT_SWITCH("irfft backward", X->dtype, {
        typedef cf_acc_t<S> A;
        CF_KERNEL_RUN("irfft backward", rows * M * 2, (weigh_bins<A, S>), (const A *)cf_data(c), m, (S *)cf_data(gX), M,
                      rows, N, (A)1 / (A)N, (A)2 / (A)N, !overwrite);
    });
    return CF_OK;
}
