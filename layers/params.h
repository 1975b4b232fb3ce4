/* Model parameters: one flat buffer of values and one of gradients, with a name table.
 *
 * Names are hierarchical and match a PyTorch state_dict ("blocks.3.attn.qkv.weight"); they are the
 * checkpoint and export keys. Every parameter tensor is a view into the flat value buffer and its grad a
 * view into the flat gradient buffer, so an all-reduce bucket, a ZeRO shard or a checkpoint dataset is a
 * slice, and zeroing all gradients is one memset. */
#ifndef CF_PARAMS_H
#define CF_PARAMS_H

#include "autograd/cformer.h"

#define CF_PARAM_NAME_MAX 160
/* The most elements a model's parameters may hold in all (2^40: 4 TiB of f32). A parameter whose shape's
 * product overflows or passes it, or that would take the total past it, is refused by cf_params_add with
 * its name and shape in the message, before anything is allocated. */
#define CF_PARAMS_MAX_NUMEL (INT64_C(1) << 40)

typedef struct cf_param {
    char name[CF_PARAM_NAME_MAX];
    cf_tensor *value; /* persistent, requires grad (unless frozen), view of the flat buffer */
    int64_t offset;   /* in elements, into the flat buffers */
    int64_t numel;
    bool decay;       /* in the weight-decay group */
} cf_param;

typedef struct cf_params {
    cf_dtype dtype;
    cf_param *items;
    int count, cap;
    void *values; /* flat, `total` elements of dtype, in `device`'s memory */
    void *grads;  /* flat, allocated by cf_params_grads, in `device`'s memory */
    cf_device device; /* CF_CPU until cf_params_to_device */
    void *host;       /* on a device: the host mirror of values (cf_params_values_host) */
    cf_dtype compute; /* the parameter tensors' dtype: dtype, or bf16 working copies (cf_params_set_compute) */
    void *work, *work_grads; /* the working copies' flat buffers (compute != dtype) */
    int64_t total, cap_elems;
    uint64_t seed;
    bool shapes_only; /* cf_params_new_shapes */
    char scope[CF_PARAM_NAME_MAX];
    int depth;
    size_t scope_len[32]; /* length of scope before each push, so pop restores it exactly */
} cf_params;

cf_params *cf_params_new(cf_dtype dt, uint64_t seed);
/* A set that records every parameter's name, shape, offset and decay flag, and gives the values no memory: the
 * flat buffer is address space reserved without backing (Linux MAP_NORESERVE), so building a model in it costs
 * only what its create writes itself besides the initialisers (norm scales, position tables), whatever the
 * model's size. `cformer recipe check` counts a recipe's parameters this way. The values are unspecified
 * (cf_init_normal and cf_init_uniform skip them; a growing buffer does not keep them) and nothing may train,
 * save or move them: cf_params_grads and cf_params_to_device refuse such a set. Where address space cannot be
 * reserved, cf_params_add fails with CF_ERR_OOM. */
cf_params *cf_params_new_shapes(cf_dtype dt, uint64_t seed);
void cf_params_free(cf_params *ps);

/* Name scope for the next adds: push("blocks.%d", 3) then add("attn.qkv.weight"). */
void cf_params_push(cf_params *ps, const char *fmt, ...) CF_PRINTF(2, 3);
void cf_params_pop(cf_params *ps);

/* Adds a zero-initialised parameter named scope + "." + name. Its tensor stays valid (the storage is
 * re-pointed if the flat buffer grows). Duplicate names, a negative size and a size past
 * CF_PARAMS_MAX_NUMEL are errors (NULL). */
cf_tensor *cf_params_add(cf_params *ps, const char *name, int ndim, const int64_t *shape, bool decay);
cf_param *cf_params_find(const cf_params *ps, const char *name);
/* Allocates the flat gradient buffer (zeroed) and attaches each parameter's grad as a view of it. */
cf_status cf_params_grads(cf_params *ps);
void cf_params_zero_grad(cf_params *ps);
int64_t cf_params_numel(const cf_params *ps);
/* CF_OK when every value is finite; else an error naming the first parameter with a NaN or infinity, its
 * count of non-finite values, and `what` (e.g. the checkpoint's path). */
cf_status cf_params_check_finite(cf_params *ps, const char *what);

/* ---- parameters on a device ----
 * cf_params_to_device moves the flat buffers to dev's memory (values copied, gradients allocated there when
 * they exist on the host) and re-points every parameter tensor and gradient at them: ps->values and
 * ps->grads are then device pointers, which the backend's kernels, the optimizer's update and the gradient
 * norm use as they are. Host code reaches the values only through the mirror:
 *
 *     const float *v = cf_params_values_host(ps);   // a host copy, refreshed by every call
 *     float *w = cf_params_values_host(ps); ...write w...; cf_params_values_upload(ps);
 *
 * On the host (CF_CPU) cf_params_values_host returns ps->values and the upload does nothing. Moving is done
 * once, after the model has added every parameter (no parameter may be added after it) and before the
 * optimizer is made (its state is allocated where the parameters are). Moving back is not supported. */
cf_status cf_params_to_device(cf_params *ps, cf_device dev);
void *cf_params_values_host(cf_params *ps); /* NULL with the error set when the copy fails */
cf_status cf_params_values_upload(cf_params *ps); /* refreshes the working copies too (below) */

/* ---- mixed precision: bf16 working copies of f32 master weights (on a device) ----
 * cf_params_set_compute(ps, CF_BF16), after cf_params_to_device and cf_params_grads: every parameter tensor
 * the model reads, and its gradient, becomes a bf16 view of a working buffer, while ps->values and ps->grads
 * keep the f32 master (what the optimizer, clipping, checkpoints and the host mirror see). A step:
 *
 *     cf_params_zero_grad(ps);                  // master and working gradients
 *     loss = ...; cf_backward(ctx, loss, NULL);
 *     cf_params_collect_grads(ps);              // after each backward: master += f32(working); working = 0
 *     ...clip, cf_optim_step...;
 *     cf_params_refresh(ps);                    // working = bf16(master)
 *
 * With compute == dtype (the default) collect and refresh do nothing. */
cf_status cf_params_set_compute(cf_params *ps, cf_dtype compute);
cf_status cf_params_collect_grads(cf_params *ps);
cf_status cf_params_refresh(cf_params *ps);

/* Deterministic initialisers: the stream is a hash of the parameter's name, so a value does not depend
 * on the order in which a model was built. */
cf_status cf_init_normal(cf_params *ps, cf_tensor *t, double mean, double std);
cf_status cf_init_uniform(cf_params *ps, cf_tensor *t, double lo, double hi);
cf_status cf_init_constant(cf_tensor *t, double v);
uint64_t cf_name_hash(const char *s);

#endif
