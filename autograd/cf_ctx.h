/* The per-process context: backend, step arena, tape, RNG key, grad mode. One per training thread. */
#ifndef CF_CTX_H
#define CF_CTX_H

#include "autograd/cf_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_ctx_options {
    cf_device device;      /* CF_CPU unless built with CUDA */
    int threads;           /* 0: OpenMP's default */
    uint64_t seed;         /* RNG key for dropout and friends */
    size_t arena_bytes;    /* first arena chunk; 0: 64 MiB */
} cf_ctx_options;

cf_ctx *cf_ctx_new(const cf_ctx_options *opt); /* NULL opt: defaults */
void cf_ctx_free(cf_ctx *ctx);

/* Ends a step: frees every arena tensor and tape node in O(1), increments the step counter. */
void cf_step_reset(cf_ctx *ctx);
uint64_t cf_ctx_step(const cf_ctx *ctx);
void cf_ctx_set_step(cf_ctx *ctx, uint64_t step);
uint64_t cf_ctx_seed(const cf_ctx *ctx);
void cf_ctx_set_seed(cf_ctx *ctx, uint64_t seed);
cf_device cf_ctx_device(const cf_ctx *ctx);

/* Threads used by OpenMP loops and by OpenBLAS (kept equal so they never oversubscribe). */
void cf_set_threads(cf_ctx *ctx, int n);
int cf_get_threads(const cf_ctx *ctx);

/* Training mode switches dropout/drop-path on and batch norm to batch statistics. */
void cf_set_training(cf_ctx *ctx, bool on);
bool cf_is_training(const cf_ctx *ctx);

/* Grad mode: with it off, ops record nothing. Returns the previous mode, for scopes:
 *     bool prev = cf_set_grad_enabled(ctx, false); ...; cf_set_grad_enabled(ctx, prev); */
bool cf_set_grad_enabled(cf_ctx *ctx, bool on);
bool cf_grad_enabled(const cf_ctx *ctx);

/* Per-op time, for `cformer bench train --profile`: while on, every forward and backward kernel the engine
 * runs is timed (two clock reads around it) and summed per op (cf_op_name). A recomputed segment's own node
 * is not timed: the ops it reruns are, as forwards. On a device the times are the kernels' launches unless
 * the backend waits for them. Off by default; turning it on allocates the table (once). */
typedef struct cf_op_time {
    double fwd_s, bwd_s;
    int64_t fwd_calls, bwd_calls;
} cf_op_time;
cf_status cf_ctx_profile(cf_ctx *ctx, bool on);
/* The table (CF_OP_COUNT entries, by op index; NULL when profiling was never on) and its reset. */
const cf_op_time *cf_ctx_profile_table(const cf_ctx *ctx);
void cf_ctx_profile_reset(cf_ctx *ctx);
/* The table as text, ops by total time: ms per step forward and backward and the share of wall_s (the
 * profiled steps' wall time), then the time outside ops. */
void cf_ctx_profile_print(FILE *f, const cf_ctx *ctx, int64_t steps, double wall_s);

/* Arena statistics, for tests and benchmarks of the no-malloc-in-the-loop rule. */
size_t cf_ctx_arena_used(const cf_ctx *ctx);
size_t cf_ctx_arena_high_water(const cf_ctx *ctx);
uint64_t cf_ctx_arena_system_allocs(const cf_ctx *ctx);
/* Nodes currently recorded on the tape. */
int64_t cf_tape_size(const cf_ctx *ctx);

/* ---- autograd ---- */
/* Backpropagates from root. seed: the gradient of root (NULL: root must have one element, seed 1).
 * Gradients accumulate (+=) into leaves' grad; non-leaf grads live in the arena. */
cf_status cf_backward(cf_ctx *ctx, cf_tensor *root, const cf_tensor *seed);
/* Registers a hook fired during backward when leaf's gradient is final. */
void cf_set_grad_hook(cf_tensor *leaf, cf_grad_hook hook, void *user);

#ifdef __cplusplus
}
#endif

#endif
