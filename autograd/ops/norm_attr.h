/* Attributes shared by the norm ops' frontends and kernels. */
#ifndef CF_NORM_ATTR_H
#define CF_NORM_ATTR_H

#include "autograd/cf_node.h"

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

/* The fused add_layer_norm / add_rms_norm's backward, on every backend: the gradient buffers of x (gx, acc: add
 * into it), r (gr, acc2) and, when y has a gradient, weight and bias (accumulated); NULL where none is needed. */
typedef struct cf_add_norm_grads {
    cf_tensor *gx, *gr, *gw, *gb;
    bool acc, acc2;
} cf_add_norm_grads;

static inline cf_status cf_add_norm_grads_of(cf_ctx *ctx, const cf_node *n, cf_add_norm_grads *g)
{
    const struct norm_attr *a = CF_ATTR(n, struct norm_attr);
    bool ow = false, dy = n->out->grad != NULL;
    g->gx = g->gr = g->gw = g->gb = NULL;
    g->acc = g->acc2 = false;
    if (cf_needs_grad(n, 0)) {
        if (!(g->gx = cf_grad_slot(ctx, n->in[0], &ow))) return cf_last_status();
        g->acc = !ow;
    }
    if (cf_needs_grad(n, 1)) {
        if (!(g->gr = cf_grad_slot(ctx, n->in[1], &ow))) return cf_last_status();
        g->acc2 = !ow;
    }
    if (dy && a->iw > 0 && cf_needs_grad(n, a->iw) && !(g->gw = cf_grad_acc(ctx, n->in[a->iw]))) return cf_last_status();
    if (dy && a->ib > 0 && cf_needs_grad(n, a->ib) && !(g->gb = cf_grad_acc(ctx, n->in[a->ib]))) return cf_last_status();
    return CF_OK;
}

#endif
