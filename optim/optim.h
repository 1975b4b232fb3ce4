/* Optimizers over the flat parameter buffers, learning-rate schedules and gradient clipping. */
#ifndef CF_OPTIM_H
#define CF_OPTIM_H

#include "layers/params.h"

typedef enum cf_optim_kind { CF_OPTIM_SGD, CF_OPTIM_ADAM, CF_OPTIM_ADAMW } cf_optim_kind;

typedef struct cf_optim_config {
    cf_optim_kind kind;
    double lr;
    double weight_decay; /* AdamW: decoupled; SGD and Adam: L2 added to the gradient */
    double momentum;     /* SGD */
    double dampening;    /* SGD */
    bool nesterov;       /* SGD */
    double beta1, beta2, eps; /* Adam, AdamW */
    /* Apply weight decay to every parameter, not only to those added with decay = true
     * (PyTorch applies it to all; recipes usually exclude biases, norms and embeddings). */
    bool decay_all;
} cf_optim_config;

/* PyTorch's defaults for each kind (lr 1e-3, betas (0.9, 0.999), eps 1e-8, AdamW decay 0.01). */
cf_optim_config cf_optim_defaults(cf_optim_kind kind);
/* "sgd", "adam", "adamw" */
bool cf_optim_kind_parse(const char *s, cf_optim_kind *out);

/* An optimizer: update rule, state slots and step count behind one interface with two
 * implementations, so a training loop is written once:
 *   replicated (cf_optim_new below): every process holds the whole state and updates every parameter
 *     from the whole gradient buffer;
 *   ZeRO-1 sharded (cf_zero_new, distributed/zero.h): each rank holds its shard of the state, updates
 *     its slice of the parameters from its shard of the averaged gradients, then all-gathers them.
 * Both apply the same element-wise formulas in the same order, so their parameters agree bit for bit.
 *
 *     cf_optimizer *opt = zero ? cf_zero_new(ddp, &cfg) : cf_optim_new(ps, &cfg);
 *     each step, after backward (and cf_ddp_finish):
 *         cf_optim_scale_grads(opt, 1.0 / accum);          // average the micro-batches
 *         cf_optim_clip_grad_norm(opt, max_norm, &norm);   // the global norm, before clipping
 *         cf_optim_step(opt, lr);
 *     checkpoint: for each slot i < cf_optim_slot_count(opt): cf_optim_slot_read(opt, i, full) on every
 *     rank (rank 0 gets the full buffer) and save; on resume load full, cf_optim_slot_write(opt, i, full),
 *     then cf_optim_set_steps_taken.
 * Calls that may communicate return a cf_status; with several ranks an error must end the job
 * (cf_pg_abort), since the other ranks may be waiting in the same collective. */
typedef struct cf_optimizer cf_optimizer;

/* The replicated optimizer; allocates ps's gradient buffer if needed. State buffers are allocated here,
 * once, laid out like the parameters' flat buffer. NULL with the error set for an unknown kind. */
cf_optimizer *cf_optim_new(cf_params *ps, const cf_optim_config *cfg);
/* Either implementation; NULL is a no-op. */
void cf_optim_free(cf_optimizer *opt);

/* Multiplies the gradients by s (gradient accumulation averages micro-batches with this). */
void cf_optim_scale_grads(cf_optimizer *opt, double s);
/* *norm (norm may be NULL) = the global L2 norm of the gradients (accumulated in f64); when max_norm > 0
 * they are scaled so it is at most max_norm (cf_clip_grad_norm's rule). Sharded: one scalar all-reduce,
 * so every rank calls it and gets the same norm. */
cf_status cf_optim_clip_grad_norm(cf_optimizer *opt, double max_norm, double *norm);
/* One update from the gradients in ps->grads with learning rate lr (the schedule's value). Sharded:
 * ends with the parameter all-gather (every rank calls it). */
cf_status cf_optim_step(cf_optimizer *opt, double lr);
int64_t cf_optim_steps_taken(const cf_optimizer *opt);
void cf_optim_set_steps_taken(cf_optimizer *opt, int64_t t);
/* Ranks the state is split over: 1 for the replicated optimizer, the world size for ZeRO-1. */
int cf_optim_shards(const cf_optimizer *opt);

/* The update itself over the elements [lo, hi) of the flat buffers, step number t (1-based), each
 * parameter's part with its own decay flag. slots[i] holds state for elements from slot_base on (the
 * whole buffer: 0; a ZeRO shard: its first element). The replicated step is this over everything.
 * Neighbouring parameters that are trainable and have the same weight decay go to the backend as one
 * update over their span, padding included (it stays zero: the update of zero values, gradients and state
 * is zero); the update is elementwise, so this is bit for bit the per-parameter result. Returns the number
 * of backend updates (kernel launches on a device) it made. */
int cf_optim_update_range(const cf_optim_config *cfg, cf_params *ps, void *const *slots, int64_t slot_base, int64_t lo,
                          int64_t hi, double lr, int64_t t);

/* Named state slots ("exp_avg", "exp_avg_sq", "momentum_buffer"; SGD without momentum has none), for
 * checkpoints. A full buffer is ps->total elements of the parameters' dtype in the layout of ps->values
 * (padding between parameters zero). Slot i out of range: CF_ERR_ARG naming it. */
int cf_optim_slot_count(const cf_optimizer *opt);
const char *cf_optim_slot_name(const cf_optimizer *opt, int i);
/* Copies slot i into full. Sharded: a collective gather to rank 0 (every rank calls it; full may be NULL
 * on the other ranks). Replicated: full NULL copies nothing (so ranks other than 0 may pass NULL too). */
cf_status cf_optim_slot_read(cf_optimizer *opt, int i, void *full);
/* Sets slot i from a full buffer every calling rank holds (sharded: each rank copies its shard; no
 * communication). */
cf_status cf_optim_slot_write(cf_optimizer *opt, int i, const void *full);
/* The replicated optimizer's slot i in place (a full buffer); NULL for a sharded one or a bad i. */
void *cf_optim_slot_data(cf_optimizer *opt, int i);

/* The replicated optimizer's gradient calls, on a whole cf_params (no optimizer needed): scales all
 * gradients so their global L2 norm is at most max_norm (if max_norm > 0); returns the norm before
 * clipping (accumulated in f64). */
double cf_clip_grad_norm(cf_params *ps, double max_norm);
/* Multiplies every gradient by s (gradient accumulation averages micro-batches with this). */
void cf_scale_grads(cf_params *ps, double s);

typedef enum cf_schedule_kind { CF_SCHED_CONSTANT, CF_SCHED_COSINE, CF_SCHED_LINEAR, CF_SCHED_INV_SQRT } cf_schedule_kind;

typedef struct cf_schedule {
    cf_schedule_kind kind;
    int64_t warmup_steps;   /* linear warm-up from 0 */
    int64_t total_steps;    /* cosine / linear reach the floor here */
    double min_lr_ratio;    /* floor as a fraction of the base lr */
} cf_schedule;

bool cf_schedule_kind_parse(const char *s, cf_schedule_kind *out);
/* The learning rate at `step` (0-based) for base learning rate `base`. */
double cf_schedule_lr(const cf_schedule *s, double base, int64_t step);

#endif
