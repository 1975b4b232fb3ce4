/* Tensor construction, geometry queries, element access and the untracked in-place writes. Memory that
 * may live on a device is reached only through its backend (cf_backend's memory entries); host memory is
 * read directly. */
#include "autograd/ctx_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cf_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i];
    }
}

static cf_status check_shape(const char *who, cf_dtype dt, int ndim, const int64_t *shape)
{
    if ((unsigned)dt >= CF_DTYPE_COUNT) return cf_set_error(CF_ERR_DTYPE, "%s: unknown dtype %d", who, (int)dt);
    if (ndim < 0 || ndim > CF_MAX_DIMS)
        return cf_set_error(CF_ERR_SHAPE, "%s: %d dims (at most %d)", who, ndim, CF_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return cf_set_error(CF_ERR_SHAPE, "%s: negative size %" PRId64 " in dim %d", who, shape[i], i);
    return CF_OK;
}

static void init_geometry(cf_tensor *t, cf_dtype dt, int ndim, const int64_t *shape)
{
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    cf_contiguous_strides(ndim, shape, t->stride);
    t->offset = 0;
    t->first_use = -1;
}

static int64_t shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* An arena tensor with data on dev (the host or the context's device). */
static cf_tensor *empty_on_device(cf_ctx *ctx, cf_device dev, cf_dtype dt, int ndim, const int64_t *shape)
{
    if (check_shape("cf_empty", dt, ndim, shape) != CF_OK) return NULL;
    size_t nbytes = (size_t)shape_numel(ndim, shape) * cf_dtype_size(dt);
    /* one allocation for the header, the storage record and (host data) the data */
    size_t head = (sizeof(cf_tensor) + sizeof(cf_storage) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1);
    unsigned char *mem = cf_arena_alloc(ctx->arena, head + (dev == CF_CPU ? nbytes : 0));
    if (!mem) return NULL;
    void *data = dev == CF_CPU ? mem + head : cf_ctx_data_alloc(ctx, dev, nbytes);
    if (!data) return NULL;
    cf_tensor *t = (cf_tensor *)mem;
    memset(t, 0, sizeof *t);
    cf_storage *s = (cf_storage *)(mem + sizeof(cf_tensor));
    *s = (cf_storage){.data = data, .nbytes = nbytes, .device = dev};
    t->storage = s;
    init_geometry(t, dt, ndim, shape);
    return t;
}

cf_tensor *cf_empty(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape)
{
    return empty_on_device(ctx, ctx->device, dt, ndim, shape);
}

cf_tensor *cf_empty_on(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, void *data, size_t bytes)
{
    unsigned char *mem = cf_arena_alloc(ctx->arena, sizeof(cf_tensor) + sizeof(cf_storage));
    if (!mem) return NULL;
    cf_tensor *t = (cf_tensor *)mem;
    memset(t, 0, sizeof *t);
    cf_storage *s = (cf_storage *)(mem + sizeof(cf_tensor));
    *s = (cf_storage){.data = data, .nbytes = bytes, .device = ctx->device};
    t->storage = s;
    init_geometry(t, dt, ndim, shape);
    return t;
}

cf_tensor *cf_zeros(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape)
{
    cf_tensor *t = cf_empty(ctx, dt, ndim, shape);
    if (!t) return NULL;
    if (t->storage->device == CF_CPU)
        memset(t->storage->data, 0, t->storage->nbytes);
    else if (ctx->backend->fill(t, 0.0) != CF_OK)
        return NULL;
    return t;
}

cf_tensor *cf_full(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, double value)
{
    cf_tensor *t = cf_empty(ctx, dt, ndim, shape);
    if (t && cf_fill_(t, value) != CF_OK) return NULL;
    return t;
}

cf_tensor *cf_empty_like(cf_ctx *ctx, const cf_tensor *t) { return cf_empty(ctx, t->dtype, t->ndim, t->shape); }
cf_tensor *cf_zeros_like(cf_ctx *ctx, const cf_tensor *t) { return cf_zeros(ctx, t->dtype, t->ndim, t->shape); }

cf_tensor *cf_from_data(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, const void *src)
{
    cf_tensor *t = cf_empty(ctx, dt, ndim, shape);
    if (!t || !t->storage->nbytes) return t;
    if (t->storage->device == CF_CPU)
        memcpy(t->storage->data, src, t->storage->nbytes);
    else if (ctx->backend->from_host(t->storage->data, src, t->storage->nbytes) != CF_OK)
        return NULL;
    return t;
}

/* Values made on the host by fill(t, i) for each flat index, then moved to the context's device. */
static cf_tensor *host_made(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape,
                            double (*value)(const void *user, int64_t i), const void *user)
{
    cf_tensor *h = empty_on_device(ctx, CF_CPU, dt, ndim, shape);
    if (!h) return NULL;
    int64_t n = cf_numel(h);
    for (int64_t i = 0; i < n; i++) cf_set_flat(h, i, value(user, i));
    return ctx->device == CF_CPU ? h : cf_tensor_to(ctx, h, ctx->device);
}

static double index_value(const void *user, int64_t i) { return (void)user, (double)i; }

cf_tensor *cf_arange(cf_ctx *ctx, cf_dtype dt, int64_t n) { return host_made(ctx, dt, 1, &n, index_value, NULL); }

typedef struct random_fill {
    cf_philox_key key;
    double lo, hi;
    bool normal;
} random_fill;

static double random_value(const void *user, int64_t i)
{
    const random_fill *r = user;
    if (r->normal) return cf_rng_normal(r->key, 0, (uint64_t)i);
    return r->lo + (r->hi - r->lo) * cf_rng_uniform(r->key, 0, (uint64_t)i);
}

cf_tensor *cf_randn(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, uint64_t seed, uint64_t stream)
{
    random_fill r = {.key = cf_rng_key(seed, stream), .normal = true};
    return host_made(ctx, dt, ndim, shape, random_value, &r);
}

cf_tensor *cf_rand(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, double lo, double hi, uint64_t seed,
                   uint64_t stream)
{
    random_fill r = {.key = cf_rng_key(seed, stream), .lo = lo, .hi = hi};
    return host_made(ctx, dt, ndim, shape, random_value, &r);
}

cf_tensor *cf_tensor_to(cf_ctx *ctx, const cf_tensor *t, cf_device dev)
{
    if (!t) return NULL;
    const cf_backend *src_be = cf_tensor_backend(t), *dst_be = dev == CF_CPU ? cf_backend_for(CF_CPU) : ctx->backend;
    if (dev != CF_CPU && dev != ctx->device) {
        cf_set_error(CF_ERR_DEVICE, "cf_tensor_to: the context is on %s and cannot hold tensors on device %d",
                     ctx->backend->name, (int)dev);
        return NULL;
    }
    const cf_tensor *src = t;
    if (!cf_is_contiguous(t)) { /* make it contiguous where it lives, then move the bytes */
        cf_tensor *c = empty_on_device(ctx, t->storage->device, t->dtype, t->ndim, t->shape);
        if (!c || src_be->copy(c, t, false) != CF_OK) return NULL;
        src = c;
    }
    cf_tensor *out = empty_on_device(ctx, dev, t->dtype, t->ndim, t->shape);
    if (!out || !out->storage->nbytes) return out;
    size_t bytes = out->storage->nbytes;
    cf_status st = CF_OK;
    if (src->storage->device == CF_CPU && dev == CF_CPU)
        memcpy(cf_data(out), cf_data(src), bytes);
    else if (src->storage->device == CF_CPU)
        st = dst_be->from_host(cf_data(out), cf_data(src), bytes);
    else if (dev == CF_CPU)
        st = src_be->to_host(cf_data(out), cf_data(src), bytes);
    else
        st = src_be->copy(out, src, false);
    return st == CF_OK ? out : NULL;
}

cf_tensor *cf_tensor_alloc(cf_dtype dt, int ndim, const int64_t *shape) { return cf_tensor_alloc_on(CF_CPU, dt, ndim, shape); }

cf_tensor *cf_tensor_alloc_on(cf_device dev, cf_dtype dt, int ndim, const int64_t *shape)
{
    if (check_shape("cf_tensor_alloc", dt, ndim, shape) != CF_OK) return NULL;
    const cf_backend *be = cf_backend_for(dev);
    if (!be) {
        cf_set_error(CF_ERR_DEVICE, "cf_tensor_alloc: device %d is not available in this build", (int)dev);
        return NULL;
    }
    size_t nbytes = (size_t)shape_numel(ndim, shape) * cf_dtype_size(dt);
    cf_tensor *t = calloc(1, sizeof *t + sizeof(cf_storage));
    void *data = NULL;
    if (t && dev == CF_CPU && posix_memalign(&data, CF_ARENA_ALIGN, nbytes ? nbytes : 1) != 0) data = NULL;
    if (t && dev != CF_CPU) data = be->alloc(nbytes ? nbytes : 1);
    if (!t || !data) {
        free(t);
        free(dev == CF_CPU ? data : NULL);
        cf_set_error(CF_ERR_OOM, "cf_tensor_alloc: out of %s memory for %zu bytes", be->name, nbytes);
        return NULL;
    }
    cf_storage *s = (cf_storage *)(t + 1);
    *s = (cf_storage){.data = data, .nbytes = nbytes, .device = dev, .owns_data = true};
    t->storage = s;
    t->persistent = true;
    init_geometry(t, dt, ndim, shape);
    if (dev == CF_CPU) {
        memset(data, 0, nbytes);
    } else if (be->fill(t, 0.0) != CF_OK) {
        cf_tensor_free(t);
        return NULL;
    }
    return t;
}

cf_tensor *cf_tensor_wrap(cf_dtype dt, int ndim, const int64_t *shape, void *data)
{
    if (check_shape("cf_tensor_wrap", dt, ndim, shape) != CF_OK) return NULL;
    cf_tensor *t = calloc(1, sizeof *t + sizeof(cf_storage));
    if (!t) {
        cf_set_error(CF_ERR_OOM, "cf_tensor_wrap: out of memory");
        return NULL;
    }
    cf_storage *s = (cf_storage *)(t + 1);
    *s = (cf_storage){.data = data, .nbytes = (size_t)shape_numel(ndim, shape) * cf_dtype_size(dt), .device = CF_CPU};
    t->storage = s;
    t->persistent = true;
    init_geometry(t, dt, ndim, shape);
    return t;
}

void cf_tensor_free(cf_tensor *t)
{
    if (!t || !t->persistent) return;
    if (t->grad && t->grad->persistent) cf_tensor_free(t->grad);
    if (t->storage && t->storage->owns_data && t->storage == (cf_storage *)(t + 1)) {
        if (t->storage->device == CF_CPU)
            free(t->storage->data);
        else
            cf_tensor_backend(t)->release(t->storage->data);
    }
    free(t);
}

int64_t cf_numel(const cf_tensor *t) { return shape_numel(t->ndim, t->shape); }

bool cf_is_contiguous(const cf_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool cf_same_shape(const cf_tensor *a, const cf_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

void *cf_data(const cf_tensor *t) { return (char *)t->storage->data + t->offset * (int64_t)cf_dtype_size(t->dtype); }

const char *cf_shape_str(const cf_tensor *t, char *buf, size_t n)
{
    if (!t) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "[");
    for (int i = 0; i < t->ndim; i++)
        k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    snprintf(buf + k, n > k ? n - k : 0, "] %s", cf_dtype_name(t->dtype));
    return buf;
}

static int64_t flat_to_offset(const cf_tensor *t, int64_t i)
{
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t sz = t->shape[d];
        off += (i % sz) * t->stride[d];
        i /= sz;
    }
    return off;
}

static double load(const void *base, cf_dtype dt, int64_t off)
{
    switch (dt) {
    case CF_F32: return ((const float *)base)[off];
    case CF_F64: return ((const double *)base)[off];
    case CF_BF16: return cf_bf16_to_f32(((const uint16_t *)base)[off]);
    case CF_F16: return cf_f16_to_f32(((const uint16_t *)base)[off]);
    case CF_I32: return ((const int32_t *)base)[off];
    case CF_I64: return (double)((const int64_t *)base)[off];
    case CF_BOOL: return ((const uint8_t *)base)[off];
    default: return NAN;
    }
}

static void store(void *base, cf_dtype dt, int64_t off, double v)
{
    switch (dt) {
    case CF_F32: ((float *)base)[off] = (float)v; break;
    case CF_F64: ((double *)base)[off] = v; break;
    case CF_BF16: ((uint16_t *)base)[off] = cf_f32_to_bf16((float)v); break;
    case CF_F16: ((uint16_t *)base)[off] = cf_f32_to_f16((float)v); break;
    case CF_I32: ((int32_t *)base)[off] = (int32_t)v; break;
    case CF_I64: ((int64_t *)base)[off] = (int64_t)v; break;
    case CF_BOOL: ((uint8_t *)base)[off] = v != 0; break;
    default: break;
    }
}

/* Element access on a device tensor moves the one element through the host (slow: for tests, checks and
 * the odd scalar, never for loops over data). */
double cf_get_flat(const cf_tensor *t, int64_t i)
{
    int64_t off = flat_to_offset(t, i);
    if (t->storage->device == CF_CPU) return load(t->storage->data, t->dtype, off);
    size_t es = cf_dtype_size(t->dtype);
    uint64_t buf = 0;
    if (cf_tensor_backend(t)->to_host(&buf, (const char *)t->storage->data + off * (int64_t)es, es) != CF_OK) return NAN;
    return load(&buf, t->dtype, 0);
}

void cf_set_flat(cf_tensor *t, int64_t i, double v)
{
    int64_t off = flat_to_offset(t, i);
    if (t->storage->device == CF_CPU) {
        store(t->storage->data, t->dtype, off, v);
        return;
    }
    size_t es = cf_dtype_size(t->dtype);
    uint64_t buf = 0;
    store(&buf, t->dtype, 0, v);
    cf_tensor_backend(t)->from_host((char *)t->storage->data + off * (int64_t)es, &buf, es);
}

double cf_item(const cf_tensor *t)
{
    if (!t || cf_numel(t) != 1) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "cf_item: expected one element, got %s", cf_shape_str(t, b, sizeof b));
        return NAN;
    }
    return cf_get_flat(t, 0);
}

void cf_to_f64_array(const cf_tensor *t, double *out)
{
    int64_t n = cf_numel(t);
    if (cf_is_contiguous(t) && t->dtype == CF_F64 && t->storage->device == CF_CPU) {
        memcpy(out, cf_data(t), (size_t)n * sizeof(double));
        return;
    }
    for (int64_t i = 0; i < n; i++) out[i] = cf_get_flat(t, i);
}

void cf_tensor_print(FILE *f, const char *label, const cf_tensor *t)
{
    char b[160];
    fprintf(f, "%s%s%s = [", label ? label : "", label ? " " : "", cf_shape_str(t, b, sizeof b));
    int64_t n = cf_numel(t);
    for (int64_t i = 0; i < n && i < 64; i++) fprintf(f, "%s%.6g", i ? ", " : "", cf_get_flat(t, i));
    fprintf(f, "%s]\n", n > 64 ? ", ..." : "");
}

cf_status cf_fill_(cf_tensor *t, double v)
{
    CF_TRY(cf_tensor_backend(t)->fill(t, v));
    cf_bump_version(t);
    return CF_OK;
}

/* Both f32, f64 or bf16: a backend's copy converts between them (cf_backend in cf_node.h). */
static bool float_pair(cf_dtype a, cf_dtype b)
{
    return (a == CF_F32 || a == CF_F64 || a == CF_BF16) && (b == CF_F32 || b == CF_F64 || b == CF_BF16);
}

cf_status cf_copy_(cf_tensor *dst, const cf_tensor *src)
{
    int nd;
    int64_t bshape[CF_MAX_DIMS];
    char a[128], b[128];
    if (!cf_broadcast_shapes(dst->ndim, dst->shape, src->ndim, src->shape, &nd, bshape) || nd != dst->ndim)
        return cf_set_error(CF_ERR_SHAPE, "cf_copy_: cannot copy %s into %s", cf_shape_str(src, a, sizeof a),
                            cf_shape_str(dst, b, sizeof b));
    for (int i = 0; i < nd; i++)
        if (bshape[i] != dst->shape[i])
            return cf_set_error(CF_ERR_SHAPE, "cf_copy_: cannot copy %s into %s", cf_shape_str(src, a, sizeof a),
                                cf_shape_str(dst, b, sizeof b));
    int64_t n = cf_numel(dst);
    bool host = dst->storage->device == CF_CPU && src->storage->device == CF_CPU;
    if (host && dst->dtype == src->dtype && cf_same_shape(dst, src) && cf_is_contiguous(dst) && cf_is_contiguous(src)) {
        memmove(cf_data(dst), cf_data(src), (size_t)n * cf_dtype_size(dst->dtype));
    } else if (dst->storage->device == src->storage->device && dst->storage != src->storage &&
               (dst->dtype == src->dtype || (!host && float_pair(dst->dtype, src->dtype)))) {
        /* broadcasts src's missing and size-1 dims; a device converts between floating dtypes */
        CF_TRY(cf_tensor_backend(dst)->copy(dst, src, false));
    } else if (host) {
        /* general path: broadcast src by giving it stride 0 on expanded dims */
        cf_tensor view = *src;
        int lead = dst->ndim - src->ndim;
        view.ndim = dst->ndim;
        for (int i = dst->ndim - 1; i >= 0; i--) {
            int si = i - lead;
            view.shape[i] = dst->shape[i];
            view.stride[i] = (si >= 0 && src->shape[si] == dst->shape[i]) ? src->stride[si] : 0;
        }
        for (int64_t i = 0; i < n; i++) cf_set_flat(dst, i, cf_get_flat(&view, i));
    } else {
        return cf_set_error(CF_ERR_DEVICE,
                            "cf_copy_: %s on device %d into %s on device %d: move it with cf_tensor_to and convert "
                            "it with cf_cast first",
                            cf_shape_str(src, a, sizeof a), (int)src->storage->device, cf_shape_str(dst, b, sizeof b),
                            (int)dst->storage->device);
    }
    cf_bump_version(dst);
    return CF_OK;
}

void cf_bump_version(cf_tensor *t) { t->storage->version++; }

cf_status cf_requires_grad_(cf_tensor *t, bool on)
{
    if (on && !cf_dtype_is_float(t->dtype))
        return cf_set_error(CF_ERR_DTYPE, "cf_requires_grad_: only float tensors can require grad (got %s)",
                            cf_dtype_name(t->dtype));
    if (t->node)
        return cf_set_error(CF_ERR_STATE, "cf_requires_grad_: only leaf tensors can change requires_grad");
    t->requires_grad = on;
    return CF_OK;
}

void cf_zero_grad(cf_tensor *t)
{
    if (t->grad) cf_fill_(t->grad, 0.0);
}

cf_tensor *cf_detach(cf_ctx *ctx, cf_tensor *t)
{
    if (!t) return NULL;
    cf_tensor *v = cf_view_raw(ctx, t, t->ndim, t->shape, t->stride, t->offset);
    return v;
}

bool cf_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        out[i] = da == 1 ? db : da;
    }
    *nout = n;
    return true;
}

const cf_backend *cf_tensor_backend(const cf_tensor *t) { return cf_backend_table(t->storage->device); }
