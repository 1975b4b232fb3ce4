/* Attributes shared by the index ops' frontends and kernels. */
#ifndef CF_INDEX_ATTR_H
#define CF_INDEX_ATTR_H

/* The ops' inputs: embedding (weight, ids); index_select / gather (x, idx); scatter_add / index_add
 * (x, idx, src). Index tensors are contiguous-or-not CF_I64 of the shapes the frontends checked. */
struct index_attr {
    int dim;      /* normalised (non-negative); 0 for embedding */
    double alpha; /* index_add */
};

#endif
