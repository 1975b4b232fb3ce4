/* Attributes shared by the norm ops' frontends and kernels. */
#ifndef CF_NORM_ATTR_H
#define CF_NORM_ATTR_H

#include <stdbool.h>

/* in[0] is x (add_layer_norm / add_rms_norm: in[1] is the residual r, and n->out2 the sum s = x + r, which
 * backward reads in place of x); the optional inputs follow in the order weight, bias, running_mean, running_var, each
 * only when given, so their slots are recorded here (-1 when absent).
 * Kernels keep aux[0] = mean (absent for rms_norm), aux[1] = 1/std, aux[2] = a contiguous copy of x
 * when x was not contiguous (NULL otherwise). */
struct norm_attr {
    double eps;
    double momentum; /* batch_norm */
    int norm_ndim;   /* layer_norm: how many trailing dims are normalised */
    int groups;      /* group_norm */
    int iw, ib, irm, irv;
    bool training;   /* batch_norm: batch statistics (and the running-stat update) */
};

#endif
