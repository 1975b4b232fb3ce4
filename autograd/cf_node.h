/* The op implementer's view of the engine: tape nodes, the op enum, gradient slots, kernel helpers.
 * Users of cformer include cformer.h; files under autograd/ops, autograd/cpu and autograd/cuda include
 * this one as well. */
#ifndef CF_NODE_H
#define CF_NODE_H

#include "autograd/arena.h"
#include "autograd/cf_ctx.h"
#include "autograd/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_op {
#define CF_OP(name) CF_OP_##name,
#include "autograd/ops.def"
#undef CF_OP
    CF_OP_COUNT
} cf_op;

/* The node of a recomputed segment (autograd/recompute.h): an engine node outside the op list, with its own
 * backward (cf_node.bwd) and no kernels. */
#define CF_OP_RECOMPUTE CF_OP_COUNT

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
    /* A second output, NULL for all but a few ops (add_layer_norm's residual sum): a tensor of its own whose
     * node is this one, so gradients reach it like out's. Backward runs when either output has a gradient
     * (each of out->grad, out2->grad may then be NULL: no gradient flows into it) and always reads out2 (its
     * version is checked as out's is under CF_SAVE_OUT). The forward kernel writes it. */
    cf_tensor *out2;
    uint32_t out2_version;
    uint32_t saves;         /* bit i: backward reads in[i]; CF_SAVE_OUT: it reads out */
    cf_tensor *aux[4];      /* tensors a forward kernel keeps for backward (indices, statistics) */
    /* the node's own backward, run instead of the backend's kernel for op (engine nodes such as a recomputed
     * segment's); NULL for every op of the op list */
    cf_status (*bwd)(cf_ctx *ctx, struct cf_node *n);
    CF_ALIGNAS(16) unsigned char attr[CF_ATTR_BYTES]; /* the op's own attribute struct */
};

/* The op's attribute struct inside a node: CF_ATTR(n, struct softmax_attr)->dim. (C++ kernel files get
 * the same cast, from a const node too, as C's; the size check runs in the C frontends, which fill every
 * attribute struct.) */
#ifdef __cplusplus
#define CF_ATTR(n, type) (reinterpret_cast<type *>(const_cast<unsigned char *>((n)->attr)))
#else
#define CF_ATTR(n, type) \
    ((type *)(void *)((n)->attr + 0 * sizeof(struct { \
        _Static_assert(sizeof(type) <= CF_ATTR_BYTES, "attribute struct too large"); \
        int unused_; \
    })))
#endif

typedef cf_status (*cf_kernel_fn)(cf_ctx *ctx, cf_node *n);

/* One parameter's range of the optimizer update over the flat buffers (the rules: optim/optim.h).
 * kind: 0 SGD, 1 Adam, 2 AdamW (cf_optim_kind). slot0/slot1: momentum, or Adam's first and second
 * moments (slot0 NULL: SGD without momentum). bc1/bc2: Adam's bias corrections 1 - beta^t. */
typedef struct cf_optim_update_args {
    int kind;
    cf_dtype dtype; /* f32 or f64 */
    void *p;
    const void *g;
    void *slot0, *slot1;
    int64_t n;
    double lr, weight_decay, momentum, dampening;
    bool nesterov, first;
    double beta1, beta2, eps, bc1, bc2;
} cf_optim_update_args;

/* A backend: one forward and one backward kernel per op (NULL where it has none), its memory and the
 * optimizer's operations over flat buffers. The engine core (tensor.c, tape.c, ctx.c) and the optimizer
 * reach memory only through these, so a tensor's bytes may live where the host cannot read them.
 *
 * Memory: `alloc` gives CF_ARENA_ALIGN-aligned uninitialised bytes (NULL with the error set), `release`
 * frees them; `to_host` / `from_host` copy between this backend's memory and the host's; `fill` stores v
 * in every element of t (any strides, any dtype); `copy` writes (or, with accumulate, adds) src into dst:
 * dst's shape, src broadcast to it (missing and size-1 dims), any strides, equal dtypes (f32, f64, bf16
 * or any dtype without accumulate) or two floating dtypes (f32, f64, bf16: src converted, the mixed-precision
 * master weights' casts). All synchronous as seen from the host.
 * Optimizer: `optim_update` applies one update to one parameter's range; `sum_squares` is the sum of
 * x[i]^2 accumulated in f64 in an order fixed by n alone (never by thread count); `scale` multiplies n
 * values by s. Every entry is required except the kernel tables' NULLs. */
typedef struct cf_backend {
    const char *name;
    cf_device device;
    cf_kernel_fn fwd[CF_OP_COUNT];
    cf_kernel_fn bwd[CF_OP_COUNT];
    void *(*alloc)(size_t bytes);
    void (*release)(void *p);
    cf_status (*to_host)(void *host, const void *src, size_t bytes);
    cf_status (*from_host)(void *dst, const void *host, size_t bytes);
    cf_status (*fill)(cf_tensor *t, double v);
    cf_status (*copy)(cf_tensor *dst, const cf_tensor *src, bool accumulate);
    int (*set_threads)(int n); /* threads for host-side loops; returns the count in force */
    void (*optim_update)(const cf_optim_update_args *a);
    double (*sum_squares)(cf_dtype dt, const void *x, int64_t n);
    void (*scale)(cf_dtype dt, void *x, int64_t n, double s);
} cf_backend;

/* Backward kernels written once, from other ops, for every backend: cf_composite_bwd[op] is non-NULL
 * for the ops marked CF_COMPOSITE_BWD in the op list (see autograd/ops.def). The engine runs one when
 * the backend's own table has no backward for the op; a backend with a fused kernel keeps using it. */
extern const cf_kernel_fn cf_composite_bwd[CF_OP_COUNT];
/* The backward the engine runs for op on be: be's own, else the composite one, else NULL. */
static inline cf_kernel_fn cf_backend_bwd(const cf_backend *be, int op)
{
    return be->bwd[op] ? be->bwd[op] : cf_composite_bwd[op];
}

const cf_backend *cf_backend_for(cf_device dev); /* NULL when not built or (CUDA) no device present */
/* dev's table as built, even with no device present (for `cformer list ops`); NULL when not built. */
const cf_backend *cf_backend_table(cf_device dev);
/* The backend of t's storage (never NULL for a tensor that exists). */
const cf_backend *cf_tensor_backend(const cf_tensor *t);

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
void *cf_scratch(cf_ctx *ctx, size_t bytes); /* host arena scratch, valid until the step ends */
/* Scratch in the context's device memory (the host's on a CPU context), valid until the step ends. */
void *cf_device_scratch(cf_ctx *ctx, size_t bytes);
cf_arena *cf_ctx_arena(cf_ctx *ctx);
/* The arena of cf_device_scratch and the context's device tensors (the host's on a CPU context): a kernel
 * marks it and rewinds to hand its scratch back, as with cf_ctx_arena (a device kernel queued before the
 * rewind still reads the memory first: later allocations are used by later launches on the same stream). */
cf_arena *cf_ctx_device_arena(cf_ctx *ctx);
int cf_ctx_threads(const cf_ctx *ctx);
/* For tests: fills the next `bytes` of the context's data arena (its device's, or the host's) with
 * all-ones bytes (NaN in every float dtype) without keeping them, so the tensors allocated next start as
 * NaN and a kernel that leaves an element unwritten is caught. */
cf_status cf_ctx_poison_arena(cf_ctx *ctx, size_t bytes);
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

#ifdef __cplusplus
}
#endif

#endif
