/* Attributes of the shape ops, and the view geometry shared by forward (applied to the input) and
 * backward (applied to the input's gradient buffer, so the output's gradient lands in place). */
#ifndef CF_SHAPE_ATTR_H
#define CF_SHAPE_ATTR_H

#include "autograd/cf_node.h"

typedef struct cf_geom {
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    int64_t stride[CF_MAX_DIMS];
    int64_t offset;
} cf_geom;

struct shape_attr {
    int ndim;                 /* reshape / expand target rank */
    int64_t shape[CF_MAX_DIMS];
    int dims[CF_MAX_DIMS];    /* transpose: dims[0..1]; permute: the permutation */
    int dim;                  /* slice / unfold / concat / roll */
    int64_t start, step, size; /* slice: start, step, size = length; unfold: size, step; roll: start = shift */
    int64_t pads[2 * CF_MAX_DIMS]; /* pad: (before, after) per dim, first dim first */
    double value;
};

static inline cf_geom cf_geom_of(const cf_tensor *t)
{
    cf_geom g; /* field by field: readable by C++ kernel files too */
    g.ndim = t->ndim, g.offset = t->offset;
    for (int i = 0; i < CF_MAX_DIMS; i++)
        g.shape[i] = i < t->ndim ? t->shape[i] : 1, g.stride[i] = i < t->ndim ? t->stride[i] : 0;
    return g;
}

#ifdef __cplusplus
extern "C" {
#endif
/* Strides viewing src in a new shape without copying; false when the elements do not allow it. */
bool cf_reshape_strides(const cf_geom *src, int ndim, const int64_t *shape, int64_t *stride);
/* The output geometry of view op `op` on src. */
void cf_view_geometry(cf_op op, const struct shape_attr *a, const cf_geom *src, cf_geom *dst);
#ifdef __cplusplus
}
#endif

#endif
