/* Attributes shared by the loss frontends and kernels. */
#ifndef CF_LOSS_ATTR_H
#define CF_LOSS_ATTR_H

#include "autograd/cf_node.h"
#include "autograd/ops/loss.h"

struct loss_attr {
    cf_reduction reduction;
    int class_dim;          /* cross_entropy / nll_loss: the class dim of the logits */
    bool soft;              /* cross_entropy: probability targets instead of class indices */
    int64_t ignore_index;
    double label_smoothing;
    double alpha, gamma;    /* focal loss */
    double divisor;         /* set by forward: what mean divides by (1 for sum and none) */
};

#ifdef __cplusplus
extern "C" {
#endif
/* Checks every class index t[0..S) (host memory) against C classes, serially so that the first bad one is
 * reported with its position in target's shape; counts the indices other than ignore. */
cf_status cf_loss_check_targets(const char *op, const cf_tensor *target, const int64_t *t, int64_t S, int64_t C,
                                int64_t ignore, int64_t *count);
#ifdef __cplusplus
}
#endif

#endif
