#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include "layers/params_device.h"

#include "autograd/rng.h"

#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

cf_params *cf_params_new(cf_dtype dt, uint64_t seed)
{
    if (dt != CF_F32 && dt != CF_F64) {
        cf_set_error(CF_ERR_DTYPE, "cf_params_new: parameters are f32 or f64, not %s", cf_dtype_name(dt));
        return NULL;
    }
    cf_params *ps = calloc(1, sizeof *ps);
    if (!ps) cf_set_error(CF_ERR_OOM, "cf_params_new: out of memory");
    else ps->dtype = dt, ps->compute = dt, ps->seed = seed;
    return ps;
}

cf_params *cf_params_new_shapes(cf_dtype dt, uint64_t seed)
{
    cf_params *ps = cf_params_new(dt, seed);
    if (ps) ps->shapes_only = true;
    return ps;
}

/* A shapes-only set's flat buffer: address space without backing. Pages nothing writes read as the shared zero
 * page, so a model's create costs only the few small tensors it writes itself (norm scales, tables). */
static void *reserve(size_t bytes)
{
#ifdef MAP_NORESERVE
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#else
    (void)bytes;
    return NULL;
#endif
}

void cf_params_free(cf_params *ps)
{
    if (!ps) return;
    for (int i = 0; i < ps->count; i++) {
        cf_tensor *t = ps->items[i].value;
        if (t->grad) cf_tensor_free(t->grad);
        t->grad = NULL;
        cf_tensor_free(t);
    }
    free(ps->items);
    if (ps->shapes_only) {
        if (ps->values) munmap(ps->values, (size_t)ps->cap_elems * cf_dtype_size(ps->dtype));
    } else if (ps->device != CF_CPU) {
        cf_params_device_release(ps);
    } else {
        free(ps->values);
        free(ps->grads);
    }
    free(ps);
}

void cf_params_push(cf_params *ps, const char *fmt, ...)
{
    char part[CF_PARAM_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(part, sizeof part, fmt, ap);
    va_end(ap);
    size_t n = strlen(ps->scope);
    if (ps->depth < (int)(sizeof ps->scope_len / sizeof ps->scope_len[0])) ps->scope_len[ps->depth] = n;
    ps->depth++;
    snprintf(ps->scope + n, sizeof ps->scope - n, "%s%s", n ? "." : "", part);
}

void cf_params_pop(cf_params *ps)
{
    if (ps->depth == 0) return;
    ps->depth--;
    if (ps->depth < (int)(sizeof ps->scope_len / sizeof ps->scope_len[0])) ps->scope[ps->scope_len[ps->depth]] = '\0';
}

static void repoint(cf_params *ps)
{
    size_t es = cf_dtype_size(ps->dtype);
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        p->value->storage->data = (char *)ps->values + p->offset * (int64_t)es;
        if (p->value->grad && ps->grads) p->value->grad->storage->data = (char *)ps->grads + p->offset * (int64_t)es;
    }
}

/* "[3, 4]" */
static const char *shape_text(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && len < n; i++) len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

/* The element count of a parameter's shape, overflow-checked and at most CF_PARAMS_MAX_NUMEL; the error names
 * the parameter and its shape. */
static cf_status param_numel(const char *name, int ndim, const int64_t *shape, int64_t *numel)
{
    char sh[256];
    if (ndim < 0 || ndim > CF_MAX_DIMS || (ndim > 0 && !shape))
        return cf_set_error(CF_ERR_SHAPE, "parameter %s: %d dimensions (at most %d)", name, ndim, CF_MAX_DIMS);
    int64_t n = 1;
    bool over = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return cf_set_error(CF_ERR_SHAPE, "parameter %s: negative size in shape %s", name,
                                shape_text(ndim, shape, sh, sizeof sh));
        over |= __builtin_mul_overflow(n, shape[i], &n);
    }
    if (over || n > CF_PARAMS_MAX_NUMEL)
        return cf_set_error(CF_ERR_ARG, "parameter %s %s: more than %lld elements (2^40): a model this large is refused "
                            "before anything is allocated", name, shape_text(ndim, shape, sh, sizeof sh),
                            (long long)CF_PARAMS_MAX_NUMEL);
    *numel = n;
    return CF_OK;
}

cf_tensor *cf_params_add(cf_params *ps, const char *name, int ndim, const int64_t *shape, bool decay)
{
    char full[CF_PARAM_NAME_MAX];
    int len = snprintf(full, sizeof full, "%s%s%s", ps->scope, ps->scope[0] ? "." : "", name);
    if (len >= (int)sizeof full) {
        cf_set_error(CF_ERR_ARG, "parameter name too long: %s", full);
        return NULL;
    }
    if (cf_params_find(ps, full)) {
        cf_set_error(CF_ERR_ARG, "parameter %s added twice", full);
        return NULL;
    }
    if (ps->grads || ps->device != CF_CPU) {
        cf_set_error(CF_ERR_STATE, "parameter %s added after the %s", full,
                     ps->grads ? "gradient buffer was made" : "parameters moved to a device");
        return NULL;
    }
    int64_t numel = 0;
    if (param_numel(full, ndim, shape, &numel) != CF_OK) return NULL;
    size_t es = cf_dtype_size(ps->dtype);
    /* keep each parameter 64-byte aligned inside the flat buffer */
    int64_t align = 64 / (int64_t)es, offset = (ps->total + align - 1) / align * align;
    if (numel > CF_PARAMS_MAX_NUMEL - offset) {
        char sh[256];
        cf_set_error(CF_ERR_ARG, "parameter %s %s: the model's parameters would pass %lld elements (2^40) with it: "
                     "a model this large is refused before anything is allocated", full,
                     shape_text(ndim, shape, sh, sizeof sh), (long long)CF_PARAMS_MAX_NUMEL);
        return NULL;
    }
    if (offset + numel > ps->cap_elems) {
        int64_t cap = ps->cap_elems ? ps->cap_elems : 1 << 16;
        while (cap < offset + numel) cap *= 2;
        void *nv = NULL;
        if (ps->shapes_only) { /* values are not kept: a new reservation, the old one dropped */
            if (!(nv = reserve((size_t)cap * es))) {
                cf_set_error(CF_ERR_OOM, "parameters: cannot reserve address space for %lld elements (shapes only)",
                             (long long)cap);
                return NULL;
            }
            if (ps->values) munmap(ps->values, (size_t)ps->cap_elems * es);
        } else {
            if (posix_memalign(&nv, 64, (size_t)cap * es) != 0) {
                cf_set_error(CF_ERR_OOM, "parameters: out of memory for %lld elements", (long long)cap);
                return NULL;
            }
            memset(nv, 0, (size_t)cap * es);
            if (ps->values) memcpy(nv, ps->values, (size_t)ps->total * es);
            free(ps->values);
        }
        ps->values = nv;
        ps->cap_elems = cap;
        repoint(ps);
    }
    if (ps->count == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        cf_param *it = realloc(ps->items, (size_t)cap * sizeof *it);
        if (!it) {
            cf_set_error(CF_ERR_OOM, "parameters: out of memory");
            return NULL;
        }
        ps->items = it;
        ps->cap = cap;
    }
    cf_tensor *t = cf_tensor_wrap(ps->dtype, ndim, shape, (char *)ps->values + offset * (int64_t)es);
    if (!t) return NULL;
    t->requires_grad = true;
    cf_param *p = &ps->items[ps->count++];
    memset(p, 0, sizeof *p);
    memcpy(p->name, full, (size_t)len + 1);
    p->value = t;
    p->offset = offset;
    p->numel = numel;
    p->decay = decay;
    ps->total = offset + numel;
    return t;
}

cf_param *cf_params_find(const cf_params *ps, const char *name)
{
    for (int i = 0; i < ps->count; i++)
        if (strcmp(ps->items[i].name, name) == 0) return &ps->items[i];
    return NULL;
}

cf_status cf_params_grads(cf_params *ps)
{
    if (ps->grads) return CF_OK;
    if (ps->shapes_only) return cf_set_error(CF_ERR_STATE, "parameters: a shapes-only set has no gradients");
    size_t es = cf_dtype_size(ps->dtype);
    if (ps->device != CF_CPU) {
        CF_TRY(cf_params_device_grads(ps));
    } else {
        if (posix_memalign(&ps->grads, 64, (size_t)(ps->total ? ps->total : 1) * es) != 0) {
            ps->grads = NULL;
            return cf_set_error(CF_ERR_OOM, "parameters: out of memory for gradients");
        }
        memset(ps->grads, 0, (size_t)ps->total * es);
    }
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        cf_tensor *v = p->value;
        v->grad = cf_tensor_wrap(ps->dtype, v->ndim, v->shape, (char *)ps->grads + p->offset * (int64_t)es);
        if (!v->grad) return cf_last_status();
        v->grad->storage->device = ps->device;
    }
    return CF_OK;
}

void cf_params_zero_grad(cf_params *ps)
{
    if (!ps->grads) return;
    if (ps->device != CF_CPU) cf_params_device_zero_grads(ps); /* and the working copies' */
    else memset(ps->grads, 0, (size_t)ps->total * cf_dtype_size(ps->dtype));
}

int64_t cf_params_numel(const cf_params *ps)
{
    int64_t n = 0;
    for (int i = 0; i < ps->count; i++) n += ps->items[i].numel;
    return n;
}

uint64_t cf_name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const char *name_of(const cf_params *ps, const cf_tensor *t)
{
    for (int i = 0; i < ps->count; i++)
        if (ps->items[i].value == t) return ps->items[i].name;
    return "";
}

cf_status cf_init_normal(cf_params *ps, cf_tensor *t, double mean, double std)
{
    if (ps->shapes_only) return CF_OK;
    cf_philox_key key = cf_rng_key(ps->seed, cf_name_hash(name_of(ps, t)));
    int64_t n = cf_numel(t);
    for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, mean + std * cf_rng_normal(key, 0, (uint64_t)i));
    cf_bump_version(t);
    return CF_OK;
}

cf_status cf_init_uniform(cf_params *ps, cf_tensor *t, double lo, double hi)
{
    if (ps->shapes_only) return CF_OK;
    cf_philox_key key = cf_rng_key(ps->seed, cf_name_hash(name_of(ps, t)));
    int64_t n = cf_numel(t);
    for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, lo + (hi - lo) * cf_rng_uniform(key, 0, (uint64_t)i));
    cf_bump_version(t);
    return CF_OK;
}

cf_status cf_init_constant(cf_tensor *t, double v) { return cf_fill_(t, v); }

cf_status cf_params_check_finite(cf_params *ps, const char *what)
{
    const void *values = ps && ps->count ? cf_params_values_host(ps) : NULL;
    if (ps && ps->count && !values) return cf_last_status();
    for (int i = 0; ps && i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        int64_t bad = 0;
        if (ps->dtype == CF_F64) {
            const double *v = (const double *)values + p->offset;
            for (int64_t k = 0; k < p->numel; k++) bad += !isfinite(v[k]);
        } else if (ps->dtype == CF_F32) {
            const float *v = (const float *)values + p->offset;
            for (int64_t k = 0; k < p->numel; k++) bad += !isfinite(v[k]);
        } else {
            for (int64_t k = 0; k < p->numel; k++) bad += !isfinite(cf_get_flat(p->value, k));
        }
        if (bad)
            return cf_set_error(CF_ERR_STATE, "%s: parameter %s holds %lld non-finite value%s (NaN or infinity) of %lld",
                                what ? what : "parameters", p->name, (long long)bad, bad == 1 ? "" : "s", (long long)p->numel);
    }
    return CF_OK;
}
