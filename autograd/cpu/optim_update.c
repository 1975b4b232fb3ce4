/* The CPU backend's optimizer operations over flat buffers (cf_backend's optim_update, sum_squares and
 * scale): SGD, Adam and AdamW updates of one parameter's range, which vectorise and split big ranges
 * across threads; the sum of squares in an order fixed by the length alone. */
#include "autograd/cpu/cpu.h"

#include <math.h>

#define UPDATE_KERNELS(T) \
    static void sgd_##T(T *restrict p, const T *restrict g, T *restrict buf, int64_t n, double lr, double wd, \
                        double mom, double damp, bool nesterov, bool first) \
    { \
        _Pragma("omp parallel for simd if (n > 65536)") for (int64_t i = 0; i < n; i++) \
        { \
            T d = g[i] + (T)wd * p[i]; \
            if (buf) { \
                buf[i] = first ? d : (T)mom * buf[i] + (T)(1 - damp) * d; \
                d = nesterov ? d + (T)mom * buf[i] : buf[i]; \
            } \
            p[i] -= (T)lr * d; \
        } \
    } \
    static void adam_##T(T *restrict p, const T *restrict g, T *restrict m, T *restrict v, int64_t n, double lr, \
                         double wd, bool decoupled, double b1, double b2, double eps, double bc1, double bc2) \
    { \
        T step = (T)(lr / bc1), rbc2 = (T)(1.0 / sqrt(bc2)); \
        T shrink = decoupled ? (T)(1 - lr * wd) : (T)1, l2 = decoupled ? (T)0 : (T)wd; \
        _Pragma("omp parallel for simd if (n > 65536)") for (int64_t i = 0; i < n; i++) \
        { \
            T gi = g[i] + l2 * p[i]; \
            m[i] = (T)b1 * m[i] + (T)(1 - b1) * gi; \
            v[i] = (T)b2 * v[i] + (T)(1 - b2) * gi * gi; \
            p[i] = p[i] * shrink - step * m[i] / (sqrt(v[i]) * rbc2 + (T)eps); \
        } \
    }
UPDATE_KERNELS(float)
UPDATE_KERNELS(double)

void cf_cpu_optim_update(const cf_optim_update_args *a)
{
    if (a->dtype == CF_F32) {
        if (a->kind == 0)
            sgd_float(a->p, a->g, a->slot0, a->n, a->lr, a->weight_decay, a->momentum, a->dampening, a->nesterov,
                      a->first);
        else
            adam_float(a->p, a->g, a->slot0, a->slot1, a->n, a->lr, a->weight_decay, a->kind == 2, a->beta1, a->beta2,
                       a->eps, a->bc1, a->bc2);
    } else {
        if (a->kind == 0)
            sgd_double(a->p, a->g, a->slot0, a->n, a->lr, a->weight_decay, a->momentum, a->dampening, a->nesterov,
                       a->first);
        else
            adam_double(a->p, a->g, a->slot0, a->slot1, a->n, a->lr, a->weight_decay, a->kind == 2, a->beta1,
                        a->beta2, a->eps, a->bc1, a->bc2);
    }
}

#define SS_BLOCK 16384 /* elements summed in order into one partial */
#define SS_PASS 256    /* partials per parallel pass, added in order after it */

double cf_cpu_sum_squares(cf_dtype dt, const void *x, int64_t n)
{
    double total = 0;
    for (int64_t p0 = 0; p0 < n; p0 += (int64_t)SS_BLOCK * SS_PASS) {
        double part[SS_PASS];
        int64_t nb = (n - p0 + SS_BLOCK - 1) / SS_BLOCK;
        if (nb > SS_PASS) nb = SS_PASS;
        #pragma omp parallel for if (n > 65536)
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = p0 + b * SS_BLOCK, hi = lo + SS_BLOCK < n ? lo + SS_BLOCK : n;
            double s = 0;
            if (dt == CF_F32) {
                const float *g = x;
                #pragma omp simd reduction(+ : s)
                for (int64_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
            } else {
                const double *g = x;
                #pragma omp simd reduction(+ : s)
                for (int64_t i = lo; i < hi; i++) s += g[i] * g[i];
            }
            part[b] = s;
        }
        for (int64_t b = 0; b < nb; b++) total += part[b];
    }
    return total;
}

void cf_cpu_scale(cf_dtype dt, void *x, int64_t n, double s)
{
    if (dt == CF_F32) {
        float *g = x, fs = (float)s;
        #pragma omp parallel for simd if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] *= fs;
    } else {
        double *g = x;
        #pragma omp parallel for simd if (n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] *= s;
    }
}
