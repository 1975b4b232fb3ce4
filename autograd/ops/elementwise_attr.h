/* Attributes shared by the elementwise ops' frontends and kernels. */
#ifndef CF_ELEMENTWISE_ATTR_H
#define CF_ELEMENTWISE_ATTR_H

/* a, b: the op's scalar parameters (clamp bounds, softplus beta/threshold, scale/shift, exponent,
 * fill value). */
struct ew_attr {
    double a, b;
};

#endif
