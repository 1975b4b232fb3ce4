/* One element of the elementwise losses (mse_loss, l1_loss, bce_with_logits, sigmoid_focal_loss), written
 * once for every backend: CF_LOSS_ELEM(NAME, T, QUAL) defines
 *
 *     static inline QUAL T NAME(int kind, const struct loss_attr *a, T x, T y, T w, bool grad, T *dx, T *dy, T *dw)
 *
 * returning the loss of prediction x against target y (w: bce's pos_weight, else 1) and, when grad is
 * set, its derivatives by x, y and w. The includer defines EXP, LOG1P, POW and FABS for T (the CPU: expf
 * or exp...; CUDA C++: the overloaded exp...) and QUAL (nothing in C, __device__ in a .cu file). */
#ifndef CF_LOSS_ELEM_H
#define CF_LOSS_ELEM_H

#include "autograd/ops/loss_attr.h"

enum { L_MSE, L_L1, L_BCE, L_FOCAL };

#define CF_LOSS_ELEM(NAME, T, QUAL) \
    static inline QUAL T NAME(int kind, const struct loss_attr *a, T x, T y, T w, bool grad, T *dx, T *dy, T *dw) \
    { \
        switch (kind) { \
        case L_MSE: { \
            T d = x - y; \
            if (grad) *dx = 2 * d, *dy = -2 * d; \
            return d * d; \
        } \
        case L_L1: { \
            T d = x - y, sg = d > 0 ? (T)1 : (d < 0 ? (T)-1 : (T)0); \
            if (grad) *dx = sg, *dy = -sg; \
            return FABS(d); \
        } \
        case L_BCE: { \
            T sp = LOG1P(EXP(-FABS(x))) + (x < 0 ? -x : (T)0); /* softplus(-x) */ \
            T lw = 1 + (w - 1) * y; \
            if (grad) { \
                T sneg = 1 / (1 + EXP(x)); /* sigmoid(-x) */ \
                *dx = (1 - y) - lw * sneg; \
                *dy = -x + (w - 1) * sp; \
                *dw = y * sp; \
            } \
            return (1 - y) * x + lw * sp; \
        } \
        default: { /* L_FOCAL */ \
            T sp = LOG1P(EXP(-FABS(x))) + (x < 0 ? -x : (T)0); \
            T ce = (1 - y) * x + sp; \
            T s = 1 / (1 + EXP(-x)), sm = 1 / (1 + EXP(x)); /* sigmoid(x), 1 - sigmoid(x) */ \
            T qv = s * (1 - y) + sm * y;                   /* 1 - p_t */ \
            T gam = (T)a->gamma, wf = POW(qv, gam); \
            bool weighted = a->alpha >= 0; \
            T at = weighted ? (T)a->alpha * y + (1 - (T)a->alpha) * (1 - y) : (T)1; \
            if (grad) { \
                /* d(1 - p_t)/dx = -s sm (2y - 1);  d(1 - p_t)/dy = sm - s */ \
                T dwq = (gam != 0 && qv > 0) ? ce * gam * POW(qv, gam - 1) : (T)0; \
                *dx = at * ((s - y) * wf + dwq * (-s * sm * (2 * y - 1))); \
                T dat = weighted ? 2 * (T)a->alpha - 1 : (T)0; \
                *dy = dat * ce * wf + at * (-x * wf + dwq * (sm - s)); \
            } \
            return at * ce * wf; \
        } \
        } \
    }

#endif
