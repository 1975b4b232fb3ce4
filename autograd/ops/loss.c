/* Loss frontends: option and shape checks, output allocation, node recording. Class indices are
 * checked against the class count by the forward kernel, which reads them. */
#include "autograd/ops/loss.h"

#include "autograd/ops/loss_attr.h"

#include <inttypes.h>
#include <stdio.h>

static cf_status check_reduction(const char *op, cf_reduction r)
{
    if (r != CF_REDUCTION_MEAN && r != CF_REDUCTION_SUM && r != CF_REDUCTION_NONE)
        return cf_set_error(CF_ERR_ARG, "%s: unknown reduction %d (mean, sum or none)", op, (int)r);
    return CF_OK;
}

/* x's shape without dim d. */
static int drop_dim(const cf_tensor *x, int d, int64_t *shape)
{
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d) shape[nd++] = x->shape[i];
    return nd;
}

static bool shape_is(const cf_tensor *t, int nd, const int64_t *shape)
{
    if (t->ndim != nd) return false;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}

static const char *shape_text(int nd, const int64_t *shape, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* cross_entropy and nll_loss: logits [.., C, ..] with the class dim at class_dim (-1: dim 1, or 0 for
 * a 1-D input; -2: the last dim). */
static cf_tensor *class_loss(cf_ctx *ctx, cf_op op, cf_tensor *logits, cf_tensor *target, const cf_ce_opts *opt,
                             bool class_last)
{
    CF_GUARD(logits, target);
    const char *name = class_last ? "cross_entropy_last" : cf_op_name(op);
    cf_ce_opts o = opt ? *opt : CF_CE_DEFAULTS;
    char a[128], b[128], c[128];
    CF_TRY_NULL(cf_check_float(name, logits));
    CF_TRY_NULL(check_reduction(name, o.reduction));
    if (!(o.label_smoothing >= 0 && o.label_smoothing <= 1)) {
        cf_set_error(CF_ERR_ARG, "%s: label_smoothing must be in [0, 1], got %g", name, o.label_smoothing);
        return NULL;
    }
    if (op == CF_OP_nll_loss && o.label_smoothing != 0) {
        cf_set_error(CF_ERR_ARG, "nll_loss: label_smoothing is a cross_entropy option (got %g)", o.label_smoothing);
        return NULL;
    }
    if (logits->ndim < 1) {
        cf_set_error(CF_ERR_SHAPE, "%s: logits %s need a class dim", name, cf_shape_str(logits, a, sizeof a));
        return NULL;
    }
    int cd = class_last || logits->ndim == 1 ? logits->ndim - 1 : 1;
    int64_t sshape[CF_MAX_DIMS]; /* one loss per sample: the logits' shape without the class dim */
    int snd = drop_dim(logits, cd, sshape);
    bool soft = cf_dtype_is_float(target->dtype);
    if (soft) {
        if (op == CF_OP_nll_loss) {
            cf_set_error(CF_ERR_DTYPE, "nll_loss: target %s must hold i64 class indices",
                         cf_shape_str(target, a, sizeof a));
            return NULL;
        }
        CF_TRY_NULL(cf_check_same_dtype(name, logits, target));
        if (!cf_same_shape(logits, target)) {
            cf_set_error(CF_ERR_SHAPE, "%s: probability target %s does not match logits %s", name,
                         cf_shape_str(target, a, sizeof a), cf_shape_str(logits, b, sizeof b));
            return NULL;
        }
    } else {
        if (target->dtype != CF_I64) {
            cf_set_error(CF_ERR_DTYPE, "%s: target %s must hold i64 class indices or %s probabilities", name,
                         cf_shape_str(target, a, sizeof a), cf_dtype_name(logits->dtype));
            return NULL;
        }
        if (!shape_is(target, snd, sshape)) {
            cf_set_error(CF_ERR_SHAPE, "%s: target %s does not match logits %s (expected target shape %s, the class "
                         "dim %d removed)", name, cf_shape_str(target, a, sizeof a), cf_shape_str(logits, b, sizeof b),
                         shape_text(snd, sshape, c, sizeof c), cd);
            return NULL;
        }
    }
    /* bf16 logits give an f32 loss (the sum over samples and classes carries more than bf16 holds) */
    cf_dtype odt = cf_dtype_accum(logits->dtype);
    cf_tensor *out = o.reduction == CF_REDUCTION_NONE ? cf_empty(ctx, odt, snd, sshape) : cf_empty(ctx, odt, 0, NULL);
    cf_tensor *in[2] = {logits, target};
    cf_node *n = cf_node_new(ctx, op, 2, in, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct loss_attr) = (struct loss_attr){.reduction = o.reduction,
                                                       .class_dim = cd,
                                                       .soft = soft,
                                                       .ignore_index = o.ignore_index,
                                                       .label_smoothing = o.label_smoothing,
                                                       .divisor = 1};
    /* cross_entropy reads both inputs (and keeps per-sample max and log-sum in aux[0]); nll only the target */
    n->saves = op == CF_OP_nll_loss ? 2u : 3u;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_cross_entropy(cf_ctx *ctx, cf_tensor *logits, cf_tensor *target, const cf_ce_opts *opt)
{
    return class_loss(ctx, CF_OP_cross_entropy, logits, target, opt, false);
}

cf_tensor *cf_cross_entropy_last(cf_ctx *ctx, cf_tensor *logits, cf_tensor *target, const cf_ce_opts *opt)
{
    return class_loss(ctx, CF_OP_cross_entropy, logits, target, opt, true);
}

cf_tensor *cf_nll_loss(cf_ctx *ctx, cf_tensor *logp, cf_tensor *target, const cf_ce_opts *opt)
{
    return class_loss(ctx, CF_OP_nll_loss, logp, target, opt, false);
}

/* The elementwise losses: x and y of one shape and dtype, optional weight w broadcast to x. */
static cf_tensor *pointwise_loss(cf_ctx *ctx, cf_op op, cf_tensor *x, cf_tensor *y, cf_tensor *w,
                                 cf_reduction reduction, double alpha, double gamma)
{
    const char *name = cf_op_name(op);
    char a[128], b[128];
    CF_TRY_NULL(cf_check_float(name, x));
    CF_TRY_NULL(check_reduction(name, reduction));
    CF_TRY_NULL(cf_check_same_dtype(name, x, y));
    if (!cf_same_shape(x, y)) {
        cf_set_error(CF_ERR_SHAPE, "%s: target %s does not match input %s", name, cf_shape_str(y, a, sizeof a),
                     cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    if (w) {
        CF_TRY_NULL(cf_check_same_dtype(name, x, w));
        int nd;
        int64_t s[CF_MAX_DIMS];
        if (!cf_broadcast_shapes(x->ndim, x->shape, w->ndim, w->shape, &nd, s) || !shape_is(x, nd, s)) {
            cf_set_error(CF_ERR_SHAPE, "%s: pos_weight %s does not broadcast to input %s", name,
                         cf_shape_str(w, a, sizeof a), cf_shape_str(x, b, sizeof b));
            return NULL;
        }
    }
    cf_dtype odt = cf_dtype_accum(x->dtype); /* f32 for bf16 inputs, as the class losses */
    cf_tensor *out = reduction == CF_REDUCTION_NONE ? cf_empty(ctx, odt, x->ndim, x->shape) : cf_empty(ctx, odt, 0, NULL);
    cf_tensor *in[3] = {x, y, w};
    cf_node *n = cf_node_new(ctx, op, w ? 3 : 2, in, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct loss_attr) = (struct loss_attr){.reduction = reduction, .alpha = alpha, .gamma = gamma,
                                                       .divisor = 1};
    n->saves = w ? 7u : 3u;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_mse_loss(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, cf_reduction reduction)
{
    CF_GUARD(x, y);
    return pointwise_loss(ctx, CF_OP_mse_loss, x, y, NULL, reduction, 0, 0);
}

cf_tensor *cf_l1_loss(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, cf_reduction reduction)
{
    CF_GUARD(x, y);
    return pointwise_loss(ctx, CF_OP_l1_loss, x, y, NULL, reduction, 0, 0);
}

cf_tensor *cf_bce_with_logits(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, cf_tensor *pos_weight, cf_reduction reduction)
{
    CF_GUARD(x, y);
    return pointwise_loss(ctx, CF_OP_bce_with_logits, x, y, pos_weight, reduction, 0, 0);
}

cf_tensor *cf_sigmoid_focal_loss(cf_ctx *ctx, cf_tensor *x, cf_tensor *y, double alpha, double gamma,
                                 cf_reduction reduction)
{
    CF_GUARD(x, y);
    if (!(gamma >= 0) || alpha > 1 || alpha != alpha) {
        cf_set_error(CF_ERR_ARG, "sigmoid_focal_loss: need gamma >= 0 and alpha <= 1 (alpha < 0: no weighting), "
                     "got alpha %g, gamma %g", alpha, gamma);
        return NULL;
    }
    return pointwise_loss(ctx, CF_OP_sigmoid_focal_loss, x, y, NULL, reduction, alpha, gamma);
}

/* ---- for the kernels of every backend ---- */

/* The multi-index of flat position s in t's shape, as "[i, j]". */
static const char *position(const cf_tensor *t, int64_t s, char *buf, size_t n)
{
    int64_t idx[CF_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) idx[d] = s % t->shape[d], s /= t->shape[d];
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, d ? ", " : "", idx[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

cf_status cf_loss_check_targets(const char *op, const cf_tensor *target, const int64_t *t, int64_t S, int64_t C,
                                int64_t ignore, int64_t *count)
{
    int64_t cnt = 0;
    for (int64_t s = 0; s < S; s++) {
        if (t[s] == ignore) continue;
        if (t[s] < 0 || t[s] >= C) {
            char b[128];
            return cf_set_error(CF_ERR_ARG, "%s: target %" PRId64 " at position %s is out of range for %" PRId64
                                " classes (valid: 0..%" PRId64 ", or ignore_index %" PRId64 ")", op, t[s],
                                position(target, s, b, sizeof b), C, C - 1, ignore);
        }
        cnt++;
    }
    *count = cnt;
    return CF_OK;
}
