/* Attributes of the reduction ops, and the vectorised exp that the softmax and cross-entropy kernels
 * share. */
#ifndef CF_REDUCE_ATTR_H
#define CF_REDUCE_ATTR_H

#include "../cf_node.h"

#include <math.h>

struct reduce_attr {
    uint32_t mask;     /* sum/mean/var/max/min/logsumexp: bit d set when dim d of the input is reduced */
    bool keepdim;
    int dim;           /* cumsum, softmax, log_softmax: the (normalised) dim */
    double correction; /* var */
};

/* With these declarations GCC turns expf/exp inside `#pragma omp simd` loops into glibc's libmvec
 * vector calls (_ZGV*_expf), which glibc's own math.h only declares under -ffast-math. libm.so pulls
 * libmvec in as needed. Elsewhere the loops stay scalar but correct. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
extern float expf(float) __attribute__((__simd__("notinbranch")));
extern double exp(double) __attribute__((__simd__("notinbranch")));
#endif

#endif
