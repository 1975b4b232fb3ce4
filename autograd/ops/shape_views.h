/* The geometry of the shape ops' data movement, shared by every backend's kernels (autograd/cpu/shape.c,
 * autograd/cuda/kernels/shape.cu): stack tensor headers viewing part of a tensor's storage, which the
 * backend's copy (or sum) then moves. Each returns a header over the same storage; it never escapes the
 * kernel that made it. Readable by C and C++. */
#ifndef CF_SHAPE_VIEWS_H
#define CF_SHAPE_VIEWS_H

#include "autograd/ops/shape_attr.h"

/* base's storage with geometry g */
static inline cf_tensor cf_view_with_geom(const cf_tensor *base, const cf_geom *g)
{
    cf_tensor t = *base;
    t.ndim = g->ndim;
    for (int i = 0; i < g->ndim; i++) t.shape[i] = g->shape[i], t.stride[i] = g->stride[i];
    t.offset = g->offset;
    return t;
}

/* The part of t (concat's out-shaped tensor, or its gradient) that input i of concat node n occupies. */
static inline cf_tensor cf_concat_part(const cf_tensor *t, const cf_node *n, int i)
{
    int d = CF_ATTR(n, struct shape_attr)->dim;
    int64_t at = 0;
    for (int k = 0; k < i; k++) at += n->in[k]->shape[d];
    cf_tensor v = *t;
    v.offset += at * t->stride[d];
    v.shape[d] = n->in[i]->shape[d];
    return v;
}

/* The interior of pad's out-shaped t: where the input lands. */
static inline cf_tensor cf_pad_interior(const cf_tensor *t, const struct shape_attr *a)
{
    cf_tensor v = *t;
    for (int d = 0; d < t->ndim; d++) {
        v.offset += a->pads[2 * d] * t->stride[d];
        v.shape[d] = t->shape[d] - a->pads[2 * d] - a->pads[2 * d + 1];
    }
    return v;
}

/* t narrowed to [start, start + len) along dim d */
static inline cf_tensor cf_narrowed(const cf_tensor *t, int d, int64_t start, int64_t len)
{
    cf_tensor v = *t;
    v.offset += start * t->stride[d];
    v.shape[d] = len;
    return v;
}

/* repeat: each dim i with reps r > 1 and size s > 1 becomes two dims (r, s) so that the tiling is a
 * broadcast (stride 0 over r) of x into a reshaped out. reduce: x's split view gets size 1 on the
 * repeated dims (the backward's sum target). */
typedef struct cf_repeat_views {
    cf_tensor out, x;
} cf_repeat_views;

static inline cf_repeat_views cf_repeat_split(const cf_tensor *out, const cf_tensor *x, const struct shape_attr *a,
                                              bool reduce)
{
    cf_repeat_views v = {*out, *x};
    int nd = 0, lead = a->ndim - x->ndim;
    for (int i = 0; i < a->ndim; i++) {
        int64_t s = i >= lead ? x->shape[i - lead] : 1, r = a->shape[i];
        int64_t xs = i >= lead ? x->stride[i - lead] : 0, os = out->stride[i];
        if (r != 1 && s != 1) {
            v.out.shape[nd] = r, v.out.stride[nd] = s * os;
            v.x.shape[nd] = reduce ? 1 : r, v.x.stride[nd] = 0;
            nd++;
            v.out.shape[nd] = s, v.out.stride[nd] = os;
            v.x.shape[nd] = s, v.x.stride[nd] = xs;
            nd++;
        } else {
            v.out.shape[nd] = r * s, v.out.stride[nd] = os;
            v.x.shape[nd] = (reduce && s == 1) ? 1 : r * s, v.x.stride[nd] = s == 1 ? 0 : xs;
            nd++;
        }
    }
    v.out.ndim = v.x.ndim = nd;
    return v;
}

#endif
