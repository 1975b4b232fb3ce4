/* How matmul and linear hand their operands to a GEMM, shared by every backend's kernels (the CPU's
 * autograd/cpu/matmul.c, the CUDA backend's autograd/cuda/kernels/matmul.cu) so that both read the same
 * views the same way. Plain C, readable by C++.
 *
 * A GEMM reads a matrix row-major with a leading dimension (the stride between rows), or transposed. An
 * operand whose last two dims have such a layout goes to GEMM as it is (a transposed view becomes a
 * transpose flag); anything else is copied once (each backend makes its own copy). */
#ifndef CF_OPS_MATMUL_GEOM_H
#define CF_OPS_MATMUL_GEOM_H

#include "autograd/cf_tensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct mm_ref {
    const void *p; /* first element of the matrix for batch 0 */
    int64_t ld;
    bool trans;
} mm_ref;

/* How GEMM can read the [R, C] matrix in t's last two dims, if at all. */
static inline bool mm_view(const cf_tensor *t, mm_ref *m)
{
    int nd = t->ndim;
    int64_t R = t->shape[nd - 2], C = t->shape[nd - 1], sr = t->stride[nd - 2], sc = t->stride[nd - 1];
    m->p = cf_data(t), m->ld = 1, m->trans = false;
    if ((sc == 1 || C == 1) && (sr >= (C > 1 ? C : 1) || R == 1)) {
        m->trans = false;
        m->ld = R == 1 ? (C > 1 ? C : 1) : (sr > 1 ? sr : 1);
        if (m->ld < C) m->ld = C;
        return true;
    }
    if ((sr == 1 || R == 1) && (sc >= (R > 1 ? R : 1) || C == 1)) {
        m->trans = true;
        m->ld = C == 1 ? (R > 1 ? R : 1) : (sc > 1 ? sc : 1);
        if (m->ld < R) m->ld = R;
        return true;
    }
    return false;
}

/* Whether a's batch dims and rows fold into one [batch*M, K] row-major matrix (leading dim a's row stride). */
static inline bool mm_folds(const cf_tensor *a)
{
    int nd = a->ndim;
    if (a->stride[nd - 1] != 1 && a->shape[nd - 1] != 1) return false;
    int64_t expect = a->stride[nd - 2] * a->shape[nd - 2];
    for (int d = nd - 3; d >= 0; d--) {
        if (a->shape[d] != 1 && a->stride[d] != expect) return false;
        expect *= a->shape[d];
    }
    return a->stride[nd - 2] >= a->shape[nd - 1];
}

/* The rows of t seen as [rows, last dim]. */
static inline int64_t mm_rows(const cf_tensor *t)
{
    int64_t r = 1;
    for (int d = 0; d < t->ndim - 1; d++) r *= t->shape[d];
    return r;
}

/* True when t's batch dims (all but the last two) broadcast against out's (some stride is 0). */
static inline bool mm_batch_broadcast(const cf_tensor *t, const cf_tensor *out)
{
    if (t->ndim != out->ndim) return true;
    for (int d = 0; d < t->ndim - 2; d++)
        if (t->shape[d] != out->shape[d]) return true;
    return false;
}

/* linear's input x [..., in] as rows: whether GEMM reads it as it is, and its row stride. */
static inline bool mm_rows_ready(const cf_tensor *x) { return x->ndim >= 2 ? mm_folds(x) : x->stride[0] == 1; }
static inline int64_t mm_row_stride(const cf_tensor *x) { return x->ndim >= 2 ? x->stride[x->ndim - 2] : x->shape[0]; }

#endif
