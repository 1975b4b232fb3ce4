/* cformer tensors: dtype, shape, strides and storage; persistent or step-arena owned. */
#ifndef CF_TENSOR_H
#define CF_TENSOR_H

#include "autograd/cf_base.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_ctx cf_ctx;
typedef struct cf_node cf_node;
typedef struct cf_tensor cf_tensor;

/* The bytes behind one or more tensors (views share it). The version counter is bumped by every
 * in-place write, so backward can tell that a tensor it saved has changed. */
typedef struct cf_storage {
    void *data;
    size_t nbytes;
    cf_device device;
    uint32_t version;
    bool owns_data; /* persistent storage that frees its data with the tensor */
} cf_storage;

/* Called once per backward when a leaf's gradient is final (no later node adds to it). */
typedef void (*cf_grad_hook)(cf_tensor *leaf, void *user);

struct cf_tensor {
    cf_dtype dtype;
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    int64_t stride[CF_MAX_DIMS]; /* in elements */
    int64_t offset;              /* in elements from storage->data */
    cf_storage *storage;
    cf_tensor *grad;  /* same shape and dtype, contiguous; persistent for persistent leaves */
    cf_node *node;    /* the tape node that produced it; NULL for leaves */
    bool requires_grad;
    bool persistent;  /* allocated with cf_tensor_alloc/_wrap, freed by cf_tensor_free */
    /* leaf bookkeeping for the gradient-final hook */
    uint64_t tape_gen;
    int64_t first_use;
    cf_grad_hook hook;
    void *hook_user;
};

/* CF_SHAPE(2, 3) expands to the (ndim, shape) argument pair that the constructors take. */
#define CF_SHAPE(...) \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

/* ---- step-arena tensors: valid until cf_step_reset(ctx) ---- */
cf_tensor *cf_empty(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape);
cf_tensor *cf_zeros(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape);
cf_tensor *cf_full(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, double value);
cf_tensor *cf_empty_like(cf_ctx *ctx, const cf_tensor *t);
cf_tensor *cf_zeros_like(cf_ctx *ctx, const cf_tensor *t);
/* Copies n = numel elements of dtype dt from src (row-major). */
cf_tensor *cf_from_data(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, const void *src);
/* Values start, start+1, ... (any dtype). */
cf_tensor *cf_arange(cf_ctx *ctx, cf_dtype dt, int64_t n);
/* Standard normal / uniform [lo, hi) values from the counter-based RNG keyed by (seed, stream). */
cf_tensor *cf_randn(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, uint64_t seed, uint64_t stream);
cf_tensor *cf_rand(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, double lo, double hi, uint64_t seed,
                   uint64_t stream);

/* ---- persistent tensors: parameters, optimizer state, data held across steps ---- */
cf_tensor *cf_tensor_alloc(cf_dtype dt, int ndim, const int64_t *shape); /* zero-filled, host memory */
/* The same in dev's memory (CF_CPU: cf_tensor_alloc); NULL with an error when dev is not available. */
cf_tensor *cf_tensor_alloc_on(cf_device dev, cf_dtype dt, int ndim, const int64_t *shape);
/* Wraps memory the caller owns (e.g. a slice of a flat parameter buffer); not freed by cf_tensor_free. */
cf_tensor *cf_tensor_wrap(cf_dtype dt, int ndim, const int64_t *shape, void *data);
void cf_tensor_free(cf_tensor *t); /* also frees its persistent grad */

/* ---- queries ---- */
int64_t cf_numel(const cf_tensor *t);
bool cf_is_contiguous(const cf_tensor *t);
bool cf_same_shape(const cf_tensor *a, const cf_tensor *b);
void *cf_data(const cf_tensor *t); /* pointer to element 0 (offset applied) */
/* "[2, 3, 4] f32" into buf; returns buf. */
const char *cf_shape_str(const cf_tensor *t, char *buf, size_t n);
/* Element at logical flat index i (row-major over shape, strides honoured), as double. */
double cf_get_flat(const cf_tensor *t, int64_t i);
void cf_set_flat(cf_tensor *t, int64_t i, double v);
double cf_item(const cf_tensor *t); /* single-element tensor's value; NaN with an error otherwise */
/* Copies all elements in logical order into out (numel doubles). */
void cf_to_f64_array(const cf_tensor *t, double *out);
void cf_tensor_print(FILE *f, const char *label, const cf_tensor *t);

/* ---- in-place, not recorded on the tape (optimizers, initialisers, data loading) ---- */
cf_status cf_fill_(cf_tensor *t, double v);
/* dst = src with dtype conversion; src broadcast to dst's shape. */
cf_status cf_copy_(cf_tensor *dst, const cf_tensor *src);
/* Marks a write that bypassed the API (e.g. a kernel writing through cf_data). */
void cf_bump_version(cf_tensor *t);
cf_status cf_requires_grad_(cf_tensor *t, bool on);
void cf_zero_grad(cf_tensor *t);
/* A view sharing t's storage with no history: gradients do not flow through it. */
cf_tensor *cf_detach(cf_ctx *ctx, cf_tensor *t);

/* ---- host <-> device ----
 * A contiguous copy of t's values in dev's memory (an arena tensor: valid until the step ends), with no
 * history (gradients do not flow through it; mark it requires_grad to make it a leaf). dev is CF_CPU or
 * the context's own device; t may live on either. */
cf_tensor *cf_tensor_to(cf_ctx *ctx, const cf_tensor *t, cf_device dev);

/* Row-major strides for a contiguous tensor of this shape. */
void cf_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);
/* NumPy broadcasting of two shapes; false when they do not broadcast. */
bool cf_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif
