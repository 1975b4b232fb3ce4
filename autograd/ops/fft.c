/* Frontends of rfft and irfft: shape checks and the transform length. */
#include "autograd/ops/fft.h"

#include "autograd/cf_node.h"
#include "autograd/ops/fft_attr.h"

#include <limits.h>

static cf_tensor *fft_op(cf_ctx *ctx, cf_op op, cf_tensor *x, int64_t n, int ndim, const int64_t *shape)
{
    cf_tensor *out = cf_empty(ctx, x->dtype, ndim, shape);
    cf_node *node = cf_node_new(ctx, op, 1, &x, out);
    if (!node) return NULL;
    CF_ATTR(node, struct fft_attr)->n = n;
    node->saves = 0; /* linear: backward reads only the output's gradient */
    return cf_node_finish(ctx, node);
}

static bool length_ok(const char *op, int64_t n, const cf_tensor *x)
{
    char b[128];
    if (n < 1 || n > INT_MAX) {
        cf_set_error(CF_ERR_ARG, "%s: transform length n = %lld must be in [1, %d] (input %s)", op, (long long)n,
                     INT_MAX, cf_shape_str(x, b, sizeof b));
        return false;
    }
    return true;
}

cf_tensor *cf_rfft(cf_ctx *ctx, cf_tensor *x, int64_t n)
{
    CF_GUARD(x);
    CF_TRY_NULL(cf_check_float("rfft", x));
    CF_TRY_NULL(cf_check_ndim("rfft", x, 1, CF_MAX_DIMS - 1));
    if (n < 0) {
        cf_set_error(CF_ERR_ARG, "rfft: n = %lld is negative (0 means the input length)", (long long)n);
        return NULL;
    }
    if (n == 0) n = x->shape[x->ndim - 1];
    if (!length_ok("rfft", n, x)) return NULL;
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = n / 2 + 1;
    shape[x->ndim] = 2;
    return fft_op(ctx, CF_OP_rfft, x, n, x->ndim + 1, shape);
}

cf_tensor *cf_irfft(cf_ctx *ctx, cf_tensor *X, int64_t n)
{
    char b[128];
    CF_GUARD(X);
    CF_TRY_NULL(cf_check_float("irfft", X));
    if (X->ndim < 2 || X->shape[X->ndim - 1] != 2) {
        cf_set_error(CF_ERR_SHAPE, "irfft: expected a complex input [..., bins, 2], got %s",
                     cf_shape_str(X, b, sizeof b));
        return NULL;
    }
    if (n < 0) {
        cf_set_error(CF_ERR_ARG, "irfft: n = %lld is negative (0 means 2 (bins - 1))", (long long)n);
        return NULL;
    }
    if (n == 0) n = 2 * (X->shape[X->ndim - 2] - 1);
    if (!length_ok("irfft", n, X)) return NULL;
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < X->ndim - 2; i++) shape[i] = X->shape[i];
    shape[X->ndim - 2] = n;
    return fft_op(ctx, CF_OP_irfft, X, n, X->ndim - 1, shape);
}
