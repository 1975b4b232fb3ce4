/* Shape op frontends: views record a node whose output shares the input's storage; copies allocate. */
#include "autograd/ops/shape.h"

#include "autograd/ops/shape_attr.h"

#include <inttypes.h>
#include <string.h>

void cf_view_geometry(cf_op op, const struct shape_attr *a, const cf_geom *src, cf_geom *dst)
{
    *dst = *src;
    switch (op) {
    case CF_OP_reshape:
        dst->ndim = a->ndim;
        for (int i = 0; i < a->ndim; i++) dst->shape[i] = a->shape[i];
        if (!cf_reshape_strides(src, a->ndim, a->shape, dst->stride))
            cf_contiguous_strides(a->ndim, a->shape, dst->stride); /* unreachable: cf_reshape checked */
        break;
    case CF_OP_transpose: {
        int d0 = a->dims[0], d1 = a->dims[1];
        dst->shape[d0] = src->shape[d1], dst->shape[d1] = src->shape[d0];
        dst->stride[d0] = src->stride[d1], dst->stride[d1] = src->stride[d0];
        break;
    }
    case CF_OP_permute:
        for (int i = 0; i < src->ndim; i++) {
            dst->shape[i] = src->shape[a->dims[i]];
            dst->stride[i] = src->stride[a->dims[i]];
        }
        break;
    case CF_OP_expand: {
        int lead = a->ndim - src->ndim;
        dst->ndim = a->ndim;
        for (int i = 0; i < a->ndim; i++) {
            int si = i - lead;
            dst->shape[i] = a->shape[i];
            dst->stride[i] = (si >= 0 && src->shape[si] == a->shape[i]) ? src->stride[si] : 0;
        }
        break;
    }
    case CF_OP_slice:
        dst->offset += a->start * src->stride[a->dim];
        dst->shape[a->dim] = a->size;
        dst->stride[a->dim] = src->stride[a->dim] * a->step;
        break;
    case CF_OP_unfold:
        dst->shape[a->dim] = (src->shape[a->dim] - a->size) / a->step + 1;
        dst->stride[a->dim] = src->stride[a->dim] * a->step;
        dst->shape[src->ndim] = a->size;
        dst->stride[src->ndim] = src->stride[a->dim];
        dst->ndim = src->ndim + 1;
        break;
    default: break;
    }
}

static cf_tensor *make_view(cf_ctx *ctx, cf_op op, cf_tensor *x, const struct shape_attr *a)
{
    cf_geom src = cf_geom_of(x), dst;
    cf_view_geometry(op, a, &src, &dst);
    cf_tensor *out = cf_view_raw(ctx, x, dst.ndim, dst.shape, dst.stride, dst.offset);
    cf_node *n = cf_node_new(ctx, op, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct shape_attr) = *a;
    n->saves = 0; /* views read no values in backward */
    return cf_node_finish(ctx, n);
}

/* Strides that view src's elements in the new shape without moving them, when such strides exist:
 * each run of new dims must cover a run of src dims that are contiguous with one another (size-1 dims
 * fit anywhere). A contiguous src always has them. */
bool cf_reshape_strides(const cf_geom *src, int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t numel = 1;
    for (int i = 0; i < src->ndim; i++) numel *= src->shape[i];
    if (src->ndim == 0 || numel == 0) {
        cf_contiguous_strides(ndim, shape, stride);
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk_base = src->stride[src->ndim - 1], tensor_numel = 1, view_numel = 1;
    for (int d = src->ndim - 1; d >= 0; d--) {
        tensor_numel *= src->shape[d];
        if (d == 0 || (src->shape[d - 1] != 1 && src->stride[d - 1] != tensor_numel * chunk_base)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                stride[view_d] = view_numel * chunk_base;
                view_numel *= shape[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base = src->stride[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

static bool viewable(const cf_tensor *x, int ndim, const int64_t *shape)
{
    int64_t stride[CF_MAX_DIMS];
    cf_geom g = cf_geom_of(x);
    return cf_reshape_strides(&g, ndim, shape, stride);
}

cf_tensor *cf_reshape(cf_ctx *ctx, cf_tensor *x, int ndim, const int64_t *shape)
{
    CF_GUARD(x);
    char b[128];
    if (ndim < 0 || ndim > CF_MAX_DIMS) {
        cf_set_error(CF_ERR_SHAPE, "reshape: %d dims (at most %d)", ndim, CF_MAX_DIMS);
        return NULL;
    }
    struct shape_attr a = {.ndim = ndim};
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        a.shape[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) {
                cf_set_error(CF_ERR_SHAPE, "reshape: more than one -1 in the target shape");
                return NULL;
            }
            infer = i;
        } else if (shape[i] < 0) {
            cf_set_error(CF_ERR_SHAPE, "reshape: negative size %" PRId64, shape[i]);
            return NULL;
        } else {
            known *= shape[i];
        }
    }
    int64_t n = cf_numel(x);
    if (infer >= 0) a.shape[infer] = known ? n / known : 0;
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) total *= a.shape[i];
    if (total != n) {
        char t[160];
        size_t k = 0;
        k += (size_t)snprintf(t + k, sizeof t - k, "[");
        for (int i = 0; i < ndim && k < sizeof t; i++) k += (size_t)snprintf(t + k, sizeof t - k, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (k < sizeof t) snprintf(t + k, sizeof t - k, "]");
        cf_set_error(CF_ERR_SHAPE, "reshape: cannot view %s (%" PRId64 " elements) as %s", cf_shape_str(x, b, sizeof b), n, t);
        return NULL;
    }
    if (!viewable(x, ndim, a.shape)) x = cf_contiguous(ctx, x);
    if (!x) return NULL;
    return make_view(ctx, CF_OP_reshape, x, &a);
}

cf_tensor *cf_flatten(cf_ctx *ctx, cf_tensor *x, int start_dim, int end_dim)
{
    CF_GUARD(x);
    int s = cf_norm_dim("flatten", x, start_dim), e = cf_norm_dim("flatten", x, end_dim);
    if (s < 0 || e < 0) return NULL;
    int64_t shape[CF_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < s; i++) shape[nd++] = x->shape[i];
    int64_t m = 1;
    for (int i = s; i <= e; i++) m *= x->shape[i];
    shape[nd++] = m;
    for (int i = e + 1; i < x->ndim; i++) shape[nd++] = x->shape[i];
    return cf_reshape(ctx, x, nd, shape);
}

cf_tensor *cf_unsqueeze(cf_ctx *ctx, cf_tensor *x, int dim)
{
    CF_GUARD(x);
    int d = dim < 0 ? dim + x->ndim + 1 : dim;
    if (d < 0 || d > x->ndim || x->ndim >= CF_MAX_DIMS) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "unsqueeze: dim %d out of range for %s", dim, cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0, j = 0; i <= x->ndim; i++) shape[i] = (i == d) ? 1 : x->shape[j++];
    return cf_reshape(ctx, x, x->ndim + 1, shape);
}

cf_tensor *cf_squeeze(cf_ctx *ctx, cf_tensor *x, int dim)
{
    CF_GUARD(x);
    int d = cf_norm_dim("squeeze", x, dim);
    if (d < 0) return NULL;
    if (x->shape[d] != 1) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "squeeze: dim %d of %s is not 1", dim, cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0, j = 0; i < x->ndim; i++)
        if (i != d) shape[j++] = x->shape[i];
    return cf_reshape(ctx, x, x->ndim - 1, shape);
}

cf_tensor *cf_transpose(cf_ctx *ctx, cf_tensor *x, int dim0, int dim1)
{
    CF_GUARD(x);
    int d0 = cf_norm_dim("transpose", x, dim0), d1 = cf_norm_dim("transpose", x, dim1);
    if (d0 < 0 || d1 < 0) return NULL;
    struct shape_attr a = {.dims = {d0, d1}};
    return make_view(ctx, CF_OP_transpose, x, &a);
}

cf_tensor *cf_permute(cf_ctx *ctx, cf_tensor *x, const int *perm)
{
    CF_GUARD(x);
    struct shape_attr a = {0};
    bool seen[CF_MAX_DIMS] = {false};
    for (int i = 0; i < x->ndim; i++) {
        int d = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
        if (d < 0 || d >= x->ndim || seen[d]) {
            char b[128];
            cf_set_error(CF_ERR_SHAPE, "permute: entry %d (%d) is not a permutation of the dims of %s", i, perm[i],
                         cf_shape_str(x, b, sizeof b));
            return NULL;
        }
        seen[d] = true;
        a.dims[i] = d;
    }
    return make_view(ctx, CF_OP_permute, x, &a);
}

cf_tensor *cf_expand(cf_ctx *ctx, cf_tensor *x, int ndim, const int64_t *shape)
{
    CF_GUARD(x);
    char b[128];
    if (ndim < x->ndim || ndim > CF_MAX_DIMS) {
        cf_set_error(CF_ERR_SHAPE, "expand: cannot expand %s to %d dims", cf_shape_str(x, b, sizeof b), ndim);
        return NULL;
    }
    struct shape_attr a = {.ndim = ndim};
    int lead = ndim - x->ndim;
    for (int i = 0; i < ndim; i++) {
        int si = i - lead;
        int64_t want = shape[i] == -1 && si >= 0 ? x->shape[si] : shape[i];
        if (want < 0 || (si >= 0 && x->shape[si] != 1 && x->shape[si] != want)) {
            cf_set_error(CF_ERR_SHAPE, "expand: dim %d of %s (size %" PRId64 ") cannot expand to %" PRId64, si,
                         cf_shape_str(x, b, sizeof b), si >= 0 ? x->shape[si] : 1, want);
            return NULL;
        }
        a.shape[i] = want;
    }
    return make_view(ctx, CF_OP_expand, x, &a);
}

cf_tensor *cf_slice(cf_ctx *ctx, cf_tensor *x, int dim, int64_t start, int64_t end, int64_t step)
{
    CF_GUARD(x);
    int d = cf_norm_dim("slice", x, dim);
    if (d < 0) return NULL;
    if (step <= 0) {
        cf_set_error(CF_ERR_ARG, "slice: step must be positive, got %" PRId64, step);
        return NULL;
    }
    int64_t n = x->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (end > n) end = n;
    if (start > n) start = n;
    int64_t len = end > start ? (end - start + step - 1) / step : 0;
    struct shape_attr a = {.dim = d, .start = start, .step = step, .size = len};
    return make_view(ctx, CF_OP_slice, x, &a);
}

cf_tensor *cf_narrow(cf_ctx *ctx, cf_tensor *x, int dim, int64_t start, int64_t length)
{
    CF_GUARD(x);
    int d = cf_norm_dim("narrow", x, dim);
    if (d < 0) return NULL;
    if (start < 0 || length < 0 || start + length > x->shape[d]) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "narrow: [%" PRId64 ", %" PRId64 ") out of range of dim %d of %s", start,
                     start + length, dim, cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    return cf_slice(ctx, x, d, start, start + length, 1);
}

cf_tensor *cf_unfold(cf_ctx *ctx, cf_tensor *x, int dim, int64_t size, int64_t step)
{
    CF_GUARD(x);
    int d = cf_norm_dim("unfold", x, dim);
    if (d < 0) return NULL;
    char b[128];
    if (x->ndim >= CF_MAX_DIMS || size <= 0 || step <= 0 || size > x->shape[d]) {
        cf_set_error(CF_ERR_SHAPE, "unfold: windows of %" PRId64 " step %" PRId64 " do not fit dim %d of %s", size,
                     step, dim, cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    struct shape_attr a = {.dim = d, .size = size, .step = step};
    return make_view(ctx, CF_OP_unfold, x, &a);
}

cf_tensor *cf_contiguous(cf_ctx *ctx, cf_tensor *x)
{
    CF_GUARD(x);
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, CF_OP_contiguous, 1, &x, out);
    if (!n) return NULL;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_concat(cf_ctx *ctx, int nx, cf_tensor *const *xs, int dim)
{
    if (nx <= 0) {
        cf_set_error(CF_ERR_ARG, "concat: no inputs");
        return NULL;
    }
    if (!cf_inputs_ok(nx, xs)) return NULL;
    int d = cf_norm_dim("concat", xs[0], dim);
    if (d < 0) return NULL;
    int64_t shape[CF_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < nx; i++) {
        char a[128], b[128];
        bool ok = xs[i]->ndim == xs[0]->ndim && xs[i]->dtype == xs[0]->dtype;
        for (int k = 0; ok && k < xs[0]->ndim; k++)
            if (k != d && xs[i]->shape[k] != xs[0]->shape[k]) ok = false;
        if (!ok) {
            cf_set_error(CF_ERR_SHAPE, "concat: input %d %s does not match input 0 %s outside dim %d", i,
                         cf_shape_str(xs[i], a, sizeof a), cf_shape_str(xs[0], b, sizeof b), d);
            return NULL;
        }
        shape[d] += xs[i]->shape[d];
    }
    cf_tensor *out = cf_empty(ctx, xs[0]->dtype, xs[0]->ndim, shape);
    cf_node *n = cf_node_new(ctx, CF_OP_concat, nx, xs, out);
    if (!n) return NULL;
    CF_ATTR(n, struct shape_attr)->dim = d;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}

cf_status cf_split(cf_ctx *ctx, cf_tensor *x, int dim, int n, const int64_t *sizes, cf_tensor **out)
{
    if (!x) return cf_last_status();
    int d = cf_norm_dim("split", x, dim);
    if (d < 0) return CF_ERR_SHAPE;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += sizes[i];
    if (total != x->shape[d]) {
        char b[128];
        return cf_set_error(CF_ERR_SHAPE, "split: sizes sum to %" PRId64 " but dim %d of %s has %" PRId64, total, dim,
                            cf_shape_str(x, b, sizeof b), x->shape[d]);
    }
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        out[i] = cf_slice(ctx, x, d, at, at + sizes[i], 1);
        if (!out[i]) return cf_last_status();
        at += sizes[i];
    }
    return CF_OK;
}

cf_status cf_chunk(cf_ctx *ctx, cf_tensor *x, int dim, int n, cf_tensor **out)
{
    if (!x) return cf_last_status();
    int d = cf_norm_dim("chunk", x, dim);
    if (d < 0) return CF_ERR_SHAPE;
    if (n <= 0 || x->shape[d] % n != 0) {
        char b[128];
        return cf_set_error(CF_ERR_SHAPE, "chunk: dim %d of %s does not split into %d equal chunks", dim,
                            cf_shape_str(x, b, sizeof b), n);
    }
    int64_t sizes[64];
    if (n > 64) return cf_set_error(CF_ERR_ARG, "chunk: at most 64 chunks");
    for (int i = 0; i < n; i++) sizes[i] = x->shape[d] / n;
    return cf_split(ctx, x, d, n, sizes, out);
}

cf_tensor *cf_pad(cf_ctx *ctx, cf_tensor *x, int npairs, const int64_t *pads, double value)
{
    CF_GUARD(x);
    char b[128];
    if (npairs < 0 || npairs > x->ndim) {
        cf_set_error(CF_ERR_SHAPE, "pad: %d (before, after) pairs for %s", npairs, cf_shape_str(x, b, sizeof b));
        return NULL;
    }
    struct shape_attr a = {.value = value};
    int64_t shape[CF_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    for (int p = 0; p < npairs; p++) {
        int d = x->ndim - 1 - p;
        if (pads[2 * p] < 0 || pads[2 * p + 1] < 0) {
            cf_set_error(CF_ERR_ARG, "pad: negative padding on dim %d", d);
            return NULL;
        }
        a.pads[2 * d] = pads[2 * p];
        a.pads[2 * d + 1] = pads[2 * p + 1];
        shape[d] += pads[2 * p] + pads[2 * p + 1];
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, shape);
    cf_node *n = cf_node_new(ctx, CF_OP_pad, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct shape_attr) = a;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_roll(cf_ctx *ctx, cf_tensor *x, int64_t shift, int dim)
{
    CF_GUARD(x);
    int d = cf_norm_dim("roll", x, dim);
    if (d < 0) return NULL;
    int64_t len = x->shape[d];
    struct shape_attr a = {.dim = d, .start = len ? ((shift % len) + len) % len : 0};
    cf_tensor *out = cf_empty(ctx, x->dtype, x->ndim, x->shape);
    cf_node *n = cf_node_new(ctx, CF_OP_roll, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct shape_attr) = a;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}

cf_tensor *cf_repeat(cf_ctx *ctx, cf_tensor *x, int nreps, const int64_t *reps)
{
    CF_GUARD(x);
    char b[128];
    if (nreps < x->ndim || nreps > CF_MAX_DIMS) {
        cf_set_error(CF_ERR_SHAPE, "repeat: %d repeat counts for %s (need %d to %d)", nreps,
                     cf_shape_str(x, b, sizeof b), x->ndim, CF_MAX_DIMS);
        return NULL;
    }
    struct shape_attr a = {.ndim = nreps};
    int64_t shape[CF_MAX_DIMS];
    int lead = nreps - x->ndim, split = 0;
    for (int i = 0; i < nreps; i++) {
        int64_t s = i >= lead ? x->shape[i - lead] : 1;
        if (reps[i] < 0) {
            cf_set_error(CF_ERR_ARG, "repeat: negative count %" PRId64, reps[i]);
            return NULL;
        }
        a.shape[i] = reps[i];
        shape[i] = s * reps[i];
        split += (reps[i] != 1 && s != 1);
    }
    if (nreps + split > CF_MAX_DIMS) {
        cf_set_error(CF_ERR_SHAPE, "repeat: %s repeated on %d dims needs more than %d dims internally",
                     cf_shape_str(x, b, sizeof b), split, CF_MAX_DIMS);
        return NULL;
    }
    cf_tensor *out = cf_empty(ctx, x->dtype, nreps, shape);
    cf_node *n = cf_node_new(ctx, CF_OP_repeat, 1, &x, out);
    if (!n) return NULL;
    *CF_ATTR(n, struct shape_attr) = a;
    n->saves = 0;
    return cf_node_finish(ctx, n);
}
