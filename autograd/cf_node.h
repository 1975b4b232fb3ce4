/* The op implementer's view of the engine: tape nodes, the op enum, gradient slots, kernel helpers.
 * Users of cformer include cformer.h; files under autograd/ops, autograd/cpu and autograd/cuda include
 * this one as well. */
#ifndef CF_NODE_H
#define CF_NODE_H

#include "autograd/arena.h"
#include "autograd/cf_ctx.h"
#include "autograd/rng.h"

typedef enum cf_op {
#define CF_OP(name) CF_OP_##name,
#include "autograd/ops.def"
#undef CF_OP
    CF_OP_COUNT
} cf_op;

const char *cf_op_name(int op);
/* -1 when no op has that name. */
int cf_op_lookup(const char *name);

#define CF_ATTR_BYTES 320
#define CF_SAVE_OUT (1u << 31)
#define CF_SAVE_INPUTS 0x7fffffffu

struct cf_node {
    cf_op op;
    int n_in;
    int64_t index;          /* position on the tape; -1 when not recorded */
    cf_tensor **in;
    uint32_t *in_version;   /* storage versions at record time, checked for saved tensors */
    cf_tensor *out;
    uint32_t out_version;
    uint32_t saves;         /* bit i: backward reads in[i]; CF_SAVE_OUT: it reads out */
    cf_tensor *aux[4];      /* tensors a forward kernel keeps for backward (indices, statistics) */
    _Alignas(16) unsigned char attr[CF_ATTR_BYTES]; /* the op's own attribute struct */
};

/* The op's attribute struct inside a node: CF_ATTR(n, struct softmax_attr)->dim. */
#define CF_ATTR(n, type) \
    ((type *)(void *)((n)->attr + 0 * sizeof(struct { \
        _Static_assert(sizeof(type) <= CF_ATTR_BYTES, "attribute struct too large"); \
        int unused_; \
    })))

typedef cf_status (*cf_kernel_fn)(cf_ctx *ctx, cf_node *n);

/* A backend: memory and one forward and one backward kernel per op (NULL where it has none). */
typedef struct cf_backend {
    const char *name;
    cf_device device;
    cf_kernel_fn fwd[CF_OP_COUNT];
    cf_kernel_fn bwd[CF_OP_COUNT];
} cf_backend;

const cf_backend *cf_backend_for(cf_device dev); /* NULL when not built */

/* ---- building an op ---- */
/* A node for op with these inputs and a pre-made output (arena). Checks that no input is NULL and that
 * all inputs live on one device; attributes are then filled in through CF_ATTR. */
cf_node *cf_node_new(cf_ctx *ctx, cf_op op, int n_in, cf_tensor *const *in, cf_tensor *out);
/* Runs the forward kernel and, when grad mode is on and an input requires grad, records the node.
 * Returns the output, or NULL with the error set. */
cf_tensor *cf_node_finish(cf_ctx *ctx, cf_node *n);

/* An arena tensor viewing base's storage with the given geometry; no node (callers record one). */
cf_tensor *cf_view_raw(cf_ctx *ctx, cf_tensor *base, int ndim, const int64_t *shape, const int64_t *stride,
                       int64_t offset);

/* An arena tensor header over memory the caller provides (bytes long, enough for the shape). */
cf_tensor *cf_empty_on(cf_ctx *ctx, cf_dtype dt, int ndim, const int64_t *shape, void *data, size_t bytes);

/* ---- backward helpers ---- */
static inline bool cf_needs_grad(const cf_node *n, int i) { return n->in[i]->requires_grad; }
/* t's gradient buffer to accumulate (+=) into, zero-filled when new. */
cf_tensor *cf_grad_acc(cf_ctx *ctx, cf_tensor *t);
/* t's gradient buffer; *overwrite is true when it is new and uninitialised, so the kernel may store
 * instead of accumulate (every element must then be written). */
cf_tensor *cf_grad_slot(cf_ctx *ctx, cf_tensor *t, bool *overwrite);

/* ---- misc for kernels ---- */
void *cf_scratch(cf_ctx *ctx, size_t bytes); /* arena scratch, valid until the step ends */
cf_arena *cf_ctx_arena(cf_ctx *ctx);
int cf_ctx_threads(const cf_ctx *ctx);
/* The i-th node on the tape (0 <= i < cf_tape_size). */
cf_node *cf_tape_node(cf_ctx *ctx, int64_t i);

/* ---- argument checks that set "op: ..." messages ---- */
bool cf_inputs_ok(int n, cf_tensor *const *in); /* false when any is NULL (the error is already set) */
cf_status cf_check_float(const char *op, const cf_tensor *t);
cf_status cf_check_same_dtype(const char *op, const cf_tensor *a, const cf_tensor *b);
cf_status cf_check_dtype(const char *op, const cf_tensor *t, cf_dtype want);
cf_status cf_check_ndim(const char *op, const cf_tensor *t, int min_ndim, int max_ndim);
/* Normalises a possibly negative dim; sets an error and returns -1 when out of range. */
int cf_norm_dim(const char *op, const cf_tensor *t, int dim);

#define CF_GUARD(...) \
    do { \
        cf_tensor *const guard_in_[] = {__VA_ARGS__}; \
        if (!cf_inputs_ok((int)(sizeof guard_in_ / sizeof guard_in_[0]), guard_in_)) return NULL; \
    } while (0)

#endif
