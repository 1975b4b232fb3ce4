/* Broadcast iteration geometry shared by every backend: the CPU kernels walk it row by row, a CUDA
 * kernel receives it by value and maps a flat index to each operand's offset (cf_iter_offsets). Plain
 * data, readable by C and C++. cf_iter_init is host code (autograd/cpu/iter.c). */
#ifndef CF_ITER_H
#define CF_ITER_H

#include "autograd/cf_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry of up to CF_ITER_MAX operands walked together over one shape (operand 0 is usually the output).
 * Broadcast dims have stride 0; adjacent dims that are contiguous in every operand are merged. */
#define CF_ITER_MAX 6
typedef struct cf_iter {
    int ndim;
    int nops;
    int64_t shape[CF_MAX_DIMS];
    int64_t stride[CF_ITER_MAX][CF_MAX_DIMS];
    int64_t numel;
} cf_iter;

/* Operands are viewed against shape (ndim, shape): each operand's shape must broadcast to it. */
void cf_iter_init(cf_iter *it, int ndim, const int64_t *shape, int nops, const cf_tensor *const *ops);
/* Element offsets (relative to each operand's cf_data) of the first element of row r, where a row is
 * the innermost dim it->shape[ndim-1]. */
static inline void cf_iter_row(const cf_iter *it, int64_t r, int64_t *off)
{
    for (int k = 0; k < it->nops; k++) off[k] = 0;
    for (int d = it->ndim - 2; d >= 0; d--) {
        int64_t i = r % it->shape[d];
        r /= it->shape[d];
        for (int k = 0; k < it->nops; k++) off[k] += i * it->stride[k][d];
    }
}
static inline int64_t cf_iter_inner(const cf_iter *it) { return it->ndim ? it->shape[it->ndim - 1] : 1; }
static inline int64_t cf_iter_rows(const cf_iter *it)
{
    int64_t inner = cf_iter_inner(it);
    return inner ? it->numel / inner : 0;
}

#ifdef __cplusplus
}
#endif

#endif
