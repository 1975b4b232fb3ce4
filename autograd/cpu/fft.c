/* CPU kernels of rfft and irfft through FFTW. One 1-D plan per (dtype, direction, n) is made with
 * FFTW_ESTIMATE | FFTW_UNALIGNED and cached; rows run in parallel through the new-array execute
 * functions (the only thread-safe part of FFTW), so the same plan serves any row pointer.
 *
 * The backward passes (see ops/fft.h for the maths):
 *   rfft:  gx = c2r(G'), G' = G with interior bins halved, Im of DC / Nyquist dropped (c2r sums each
 *          interior bin twice, once for its negative-frequency mirror);
 *   irfft: gX = w_k / n * r2c(g), w = 1 for DC and even-n Nyquist (Im 0), 2 for interior bins. */
#include "autograd/ops/fft_attr.h"
#include "autograd/cpu/cpu.h"

#include <fftw3.h>
#include <pthread.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { R2C, C2R };

/* FFTW's planner is not thread-safe: plans are made and destroyed under this lock only. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

#define PLAN_CACHE 64
typedef struct {
    cf_dtype dt;
    int dir;
    int n;
    void *plan; /* fftw_plan or fftwf_plan */
} plan_entry;
static plan_entry plan_cache[PLAN_CACHE];
static int plan_count;

static void *make_plan(cf_dtype dt, int dir, int n)
{
    const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED;
    size_t real = (size_t)n, cplx = (size_t)(n / 2 + 1);
    void *plan = NULL;
    /* FFTW_ESTIMATE does not touch the arrays; they only tell the planner in-place vs out-of-place */
    if (dt == CF_F64) {
        double *r = fftw_malloc(sizeof(double) * real);
        fftw_complex *c = fftw_malloc(sizeof(fftw_complex) * cplx);
        if (r && c) plan = dir == R2C ? fftw_plan_dft_r2c_1d(n, r, c, flags) : fftw_plan_dft_c2r_1d(n, c, r, flags);
        fftw_free(r);
        fftw_free(c);
    } else {
        float *r = fftwf_malloc(sizeof(float) * real);
        fftwf_complex *c = fftwf_malloc(sizeof(fftwf_complex) * cplx);
        if (r && c) plan = dir == R2C ? fftwf_plan_dft_r2c_1d(n, r, c, flags) : fftwf_plan_dft_c2r_1d(n, c, r, flags);
        fftwf_free(r);
        fftwf_free(c);
    }
    return plan;
}

/* The cached plan, or when the cache is full a new one the caller releases (*owned). */
static void *get_plan(cf_dtype dt, int dir, int n, bool *owned)
{
    void *plan = NULL;
    *owned = false;
    pthread_mutex_lock(&plan_lock);
    for (int i = 0; i < plan_count && !plan; i++)
        if (plan_cache[i].dt == dt && plan_cache[i].dir == dir && plan_cache[i].n == n) plan = plan_cache[i].plan;
    if (!plan) {
        plan = make_plan(dt, dir, n);
        if (plan && plan_count < PLAN_CACHE)
            plan_cache[plan_count++] = (plan_entry){dt, dir, n, plan};
        else
            *owned = plan != NULL;
    }
    pthread_mutex_unlock(&plan_lock);
    if (!plan)
        cf_set_error(CF_ERR_INTERNAL, "FFTW could not plan a length-%d %s transform", n, dir == R2C ? "r2c" : "c2r");
    return plan;
}

static void release_plan(cf_dtype dt, void *plan, bool owned)
{
    if (!owned) return;
    pthread_mutex_lock(&plan_lock);
    if (dt == CF_F64)
        fftw_destroy_plan(plan);
    else
        fftwf_destroy_plan(plan);
    pthread_mutex_unlock(&plan_lock);
}

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static cf_tensor *contiguous(cf_ctx *ctx, cf_tensor *x)
{
    if (cf_is_contiguous(x)) return x;
    cf_tensor *c = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    if (c) cf_cpu_copy_strided(c, x, false);
    return c;
}

/* DC, and Nyquist when n is even, stand for one bin of the full spectrum; the others for two. */
static inline bool single_bin(int64_t k, int64_t n) { return k == 0 || (n % 2 == 0 && k == n / 2); }

/* Per-thread scratch: n reals then n/2 + 1 complex values. */
#define SCRATCH_ELEMS(n) ((n) + 2 * ((n) / 2 + 1))

#define FFT_KERNELS(T, PFX) \
    /* y[rows, m, 2] = rfft of x[rows, L] at length n */ \
    static void rfft_rows_##T(PFX##_plan p, const T *x, T *y, int64_t rows, int64_t L, int64_t n, T *scratch) \
    { \
        int64_t m = n / 2 + 1, keep = L < n ? L : n; \
        _Pragma("omp parallel if (rows > 1 && rows * n > CF_PAR_MIN)") \
        { \
            T *buf = scratch + (size_t)thread_id() * SCRATCH_ELEMS(n); \
            _Pragma("omp for") for (int64_t r = 0; r < rows; r++) \
            { \
                const T *xr = x + r * L; \
                T *in = buf; \
                if (L == n) { \
                    in = (T *)xr; /* out-of-place r2c preserves its input */ \
                } else { \
                    memcpy(buf, xr, sizeof(T) * (size_t)keep); \
                    for (int64_t t = keep; t < n; t++) buf[t] = 0; \
                } \
                PFX##_execute_dft_r2c(p, in, (PFX##_complex *)(y + r * m * 2)); \
            } \
        } \
    } \
    /* gx[rows, L] (+)= c2r of the weighted G[rows, m, 2] (elements t >= n get 0) */ \
    static void rfft_back_##T(PFX##_plan p, const T *G, T *gx, int64_t rows, int64_t L, int64_t n, T *scratch, \
                              bool acc) \
    { \
        int64_t m = n / 2 + 1, keep = L < n ? L : n; \
        _Pragma("omp parallel if (rows > 1 && rows * n > CF_PAR_MIN)") \
        { \
            T *out = scratch + (size_t)thread_id() * SCRATCH_ELEMS(n), *c = out + n; \
            _Pragma("omp for") for (int64_t r = 0; r < rows; r++) \
            { \
                const T *g = G + r * m * 2; \
                for (int64_t k = 0; k < m; k++) { \
                    bool one = single_bin(k, n); \
                    T w = one ? (T)1 : (T)0.5; \
                    c[2 * k] = w * g[2 * k]; \
                    c[2 * k + 1] = one ? (T)0 : w * g[2 * k + 1]; \
                } \
                PFX##_execute_dft_c2r(p, (PFX##_complex *)c, out); \
                T *d = gx + r * L; \
                if (acc) { \
                    for (int64_t t = 0; t < keep; t++) d[t] += out[t]; \
                } else { \
                    memcpy(d, out, sizeof(T) * (size_t)keep); \
                    for (int64_t t = keep; t < L; t++) d[t] = 0; \
                } \
            } \
        } \
    } \
    /* y[rows, n] = irfft of X[rows, M, 2] at length n */ \
    static void irfft_rows_##T(PFX##_plan p, const T *X, T *y, int64_t rows, int64_t M, int64_t n, T *scratch) \
    { \
        int64_t m = n / 2 + 1, keep = M < m ? M : m; \
        T scale = (T)1 / (T)n; \
        _Pragma("omp parallel if (rows > 1 && rows * n > CF_PAR_MIN)") \
        { \
            T *c = scratch + (size_t)thread_id() * SCRATCH_ELEMS(n) + n; \
            _Pragma("omp for") for (int64_t r = 0; r < rows; r++) \
            { \
                memcpy(c, X + r * M * 2, sizeof(T) * 2 * (size_t)keep); \
                for (int64_t k = keep; k < m; k++) c[2 * k] = c[2 * k + 1] = 0; \
                c[1] = 0; /* Im of DC and Nyquist: not part of a real signal's spectrum */ \
                if (n % 2 == 0) c[2 * (n / 2) + 1] = 0; \
                T *yr = y + r * n; \
                PFX##_execute_dft_c2r(p, (PFX##_complex *)c, yr); \
                for (int64_t t = 0; t < n; t++) yr[t] *= scale; \
            } \
        } \
    } \
    /* gX[rows, M, 2] (+)= w_k / n * r2c(g[rows, n]) (bins k >= n/2 + 1 get 0) */ \
    static void irfft_back_##T(PFX##_plan p, const T *g, T *gX, int64_t rows, int64_t M, int64_t n, T *scratch, \
                               bool acc) \
    { \
        int64_t m = n / 2 + 1, keep = M < m ? M : m; \
        _Pragma("omp parallel if (rows > 1 && rows * n > CF_PAR_MIN)") \
        { \
            T *c = scratch + (size_t)thread_id() * SCRATCH_ELEMS(n) + n; \
            _Pragma("omp for") for (int64_t r = 0; r < rows; r++) \
            { \
                PFX##_execute_dft_r2c(p, (T *)(g + r * n), (PFX##_complex *)c); \
                T *d = gX + r * M * 2; \
                for (int64_t k = 0; k < keep; k++) { \
                    bool one = single_bin(k, n); \
                    T w = (one ? (T)1 : (T)2) / (T)n; \
                    T re = w * c[2 * k], im = one ? (T)0 : w * c[2 * k + 1]; \
                    if (acc) \
                        d[2 * k] += re, d[2 * k + 1] += im; \
                    else \
                        d[2 * k] = re, d[2 * k + 1] = im; \
                } \
                if (!acc) \
                    for (int64_t k = keep; k < M; k++) d[2 * k] = d[2 * k + 1] = 0; \
            } \
        } \
    }

FFT_KERNELS(double, fftw)
FFT_KERNELS(float, fftwf)

/* A plan and per-thread scratch for length n. */
typedef struct {
    void *plan;
    bool owned;
    void *scratch;
} fft_setup;

static cf_status setup(cf_ctx *ctx, cf_dtype dt, int dir, int64_t n, fft_setup *s)
{
    s->scratch = cf_scratch(ctx, (size_t)max_threads() * (size_t)SCRATCH_ELEMS(n) * cf_dtype_size(dt));
    if (!s->scratch) return cf_last_status();
    s->plan = get_plan(dt, dir, (int)n, &s->owned);
    return s->plan ? CF_OK : cf_last_status();
}

cf_status cf_cpu_rfft_fwd(cf_ctx *ctx, cf_node *n)
{
    int64_t N = CF_ATTR(n, struct fft_attr)->n;
    cf_tensor *x = contiguous(ctx, n->in[0]);
    if (!x) return cf_last_status();
    int64_t L = x->shape[x->ndim - 1], rows = cf_numel(n->out) / (2 * (N / 2 + 1));
    if (rows == 0) return CF_OK;
    fft_setup s;
    CF_TRY(setup(ctx, x->dtype, R2C, N, &s));
    if (x->dtype == CF_F64)
        rfft_rows_double(s.plan, cf_data(x), cf_data(n->out), rows, L, N, s.scratch);
    else
        rfft_rows_float(s.plan, cf_data(x), cf_data(n->out), rows, L, N, s.scratch);
    release_plan(x->dtype, s.plan, s.owned);
    return CF_OK;
}

cf_status cf_cpu_rfft_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    int64_t N = CF_ATTR(n, struct fft_attr)->n;
    cf_tensor *x = n->in[0];
    int64_t L = x->shape[x->ndim - 1], rows = cf_numel(n->out) / (2 * (N / 2 + 1));
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    if (rows == 0 || L == 0) return CF_OK;
    fft_setup s;
    CF_TRY(setup(ctx, x->dtype, C2R, N, &s));
    if (x->dtype == CF_F64)
        rfft_back_double(s.plan, cf_data(n->out->grad), cf_data(gx), rows, L, N, s.scratch, !overwrite);
    else
        rfft_back_float(s.plan, cf_data(n->out->grad), cf_data(gx), rows, L, N, s.scratch, !overwrite);
    release_plan(x->dtype, s.plan, s.owned);
    return CF_OK;
}

cf_status cf_cpu_irfft_fwd(cf_ctx *ctx, cf_node *n)
{
    int64_t N = CF_ATTR(n, struct fft_attr)->n;
    cf_tensor *X = contiguous(ctx, n->in[0]);
    if (!X) return cf_last_status();
    int64_t M = X->shape[X->ndim - 2], rows = cf_numel(n->out) / N;
    if (rows == 0) return CF_OK;
    fft_setup s;
    CF_TRY(setup(ctx, X->dtype, C2R, N, &s));
    if (X->dtype == CF_F64)
        irfft_rows_double(s.plan, cf_data(X), cf_data(n->out), rows, M, N, s.scratch);
    else
        irfft_rows_float(s.plan, cf_data(X), cf_data(n->out), rows, M, N, s.scratch);
    release_plan(X->dtype, s.plan, s.owned);
    return CF_OK;
}

cf_status cf_cpu_irfft_bwd(cf_ctx *ctx, cf_node *n)
{
    if (!cf_needs_grad(n, 0)) return CF_OK;
    int64_t N = CF_ATTR(n, struct fft_attr)->n;
    cf_tensor *X = n->in[0];
    int64_t M = X->shape[X->ndim - 2], rows = cf_numel(n->out) / N;
    bool overwrite;
    cf_tensor *gX = cf_grad_slot(ctx, X, &overwrite);
    if (!gX) return cf_last_status();
    if (rows == 0 || M == 0) return CF_OK;
    fft_setup s;
    CF_TRY(setup(ctx, X->dtype, R2C, N, &s));
    if (X->dtype == CF_F64)
        irfft_back_double(s.plan, cf_data(n->out->grad), cf_data(gX), rows, M, N, s.scratch, !overwrite);
    else
        irfft_back_float(s.plan, cf_data(n->out->grad), cf_data(gX), rows, M, N, s.scratch, !overwrite);
    release_plan(X->dtype, s.plan, s.owned);
    return CF_OK;
}
