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

typedef struct cf_optimizer cf_optimizer;

/* State buffers are allocated here, once, laid out like the parameters' flat buffer. */
cf_optimizer *cf_optim_new(cf_params *ps, const cf_optim_config *cfg);
void cf_optim_free(cf_optimizer *opt);
/* One update from the gradients in ps->grads with learning rate lr (the schedule's value). */
cf_status cf_optim_step(cf_optimizer *opt, double lr);
int64_t cf_optim_steps_taken(const cf_optimizer *opt);
/* The update itself over the elements [lo, hi) of the flat buffers, step number t (1-based), each
 * parameter's part with its own decay flag. slots[i] holds state for elements from slot_base on (the
 * whole buffer: 0; a ZeRO shard: its first element). cf_optim_step is this over everything. */
void cf_optim_update_range(const cf_optim_config *cfg, cf_params *ps, void *const *slots, int64_t slot_base, int64_t lo,
                           int64_t hi, double lr, int64_t t);
void cf_optim_set_steps_taken(cf_optimizer *opt, int64_t t);

/* Named state slots ("exp_avg", "exp_avg_sq", "momentum_buffer"), for checkpoints: each buffer has the
 * parameters' flat layout and dtype. */
int cf_optim_slot_count(const cf_optimizer *opt);
const char *cf_optim_slot_name(const cf_optimizer *opt, int i);
void *cf_optim_slot_data(cf_optimizer *opt, int i);

/* Scales all gradients so their global L2 norm is at most max_norm (if max_norm > 0); returns the norm
 * before clipping (accumulated in f64). */
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
