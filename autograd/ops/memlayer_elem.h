/* One chunk of MemoryFormer's hash (ops/memlayer.h has the formulas), written once for every backend:
 * CF_MEMLAYER_CHUNK(NAME, T, QUAL) defines
 *
 *     static inline QUAL T NAME(const T *z, int64_t tau, bool code, T t, int64_t *h, T gw, T *dz, bool acc)
 *
 * returning the weight of the chunk z[0..tau) (code: the CF_MEMWEIGHT_CODE weight S P, else P; t the
 * temperature), its row bits in *h when h is not NULL, and when dz is not NULL gw * dw/dz stored into dz
 * (added when acc). The includer provides exp and fabs for T (C: <tgmath.h>; CUDA C++: the overloaded ones)
 * and QUAL (nothing in C, __device__ in a .cu file). */
#ifndef CF_MEMLAYER_ELEM_H
#define CF_MEMLAYER_ELEM_H

#include <stdbool.h>
#include <stdint.h>

#define CF_MEMLAYER_CHUNK(NAME, T, QUAL) \
    static inline QUAL T NAME(const T *z, int64_t tau, bool code, T t, int64_t *h, T gw, T *dz, bool acc) \
    { \
        T S = 0, P = 1; \
        int64_t code_bits = 0; \
        for (int64_t j = 0; j < tau; j++) { \
            T a = fabs(z[j]); \
            code_bits = (code_bits << 1) | (z[j] >= 0); \
            S += a; \
            P *= (T)1 / ((T)1 + exp((T)-2 * a / t)); \
        } \
        if (h) *h = code_bits; \
        if (dz) \
            for (int64_t j = 0; j < tau; j++) { \
                T e = exp((T)-2 * fabs(z[j]) / t), rest = e / ((T)1 + e); /* 1 - s_j */ \
                T da = code ? P * ((T)1 + S * (T)2 / t * rest) : P * (T)2 / t * rest; \
                T sg = z[j] > 0 ? (T)1 : (z[j] < 0 ? (T)-1 : (T)0); \
                T v = gw * sg * da; \
                dz[j] = acc ? dz[j] + v : v; \
            } \
        return code ? S * P : P; \
    }

#endif
