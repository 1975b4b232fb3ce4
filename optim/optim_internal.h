/* For implementers of the optimizer interface (optim.h), not for its users.
 *
 * An implementation embeds struct cf_optimizer as its FIRST member, so a pointer to it is a
 * cf_optimizer * and back:
 *
 *     typedef struct sharded { cf_optimizer base; int64_t lo, hi; } sharded;
 *     static const cf_optim_vtable sharded_vt = {.scale_grads = ..., .release = ...};
 *     sharded *s = (sharded *)cf_optim_alloc(sizeof *s, &sharded_vt, ps, cfg, hi - lo, "cf_sharded_new");
 *     if (!s) return NULL;              // error set; nothing to free
 *     s->lo = lo, s->hi = hi;
 *     return &s->base;
 *
 * The common part holds what every optimizer shares: the config, the parameters, the slot names the
 * kind implies, the step count, and the slot buffers (whatever range of the flat buffer this
 * implementation keeps: all of it, or a shard). The generic calls of optim.h check their arguments
 * (slot indices) before they reach the table. */
#ifndef CF_OPTIM_INTERNAL_H
#define CF_OPTIM_INTERNAL_H

#include "optim/optim.h"

typedef struct cf_optim_vtable {
    /* Multiplies the gradients this optimizer updates from by s. */
    void (*scale_grads)(cf_optimizer *o, double s);
    /* Global L2 norm of those gradients into *norm (norm may be NULL); scales them so the norm is at
     * most max_norm when max_norm > 0 (cf_clip_grad_norm's rule). */
    cf_status (*clip_grad_norm)(cf_optimizer *o, double max_norm, double *norm);
    /* One update with learning rate lr; increments o->t first (the update's step number is 1-based). */
    cf_status (*step)(cf_optimizer *o, double lr);
    /* Slot i (valid: checked by the caller) as a full flat buffer; see cf_optim_slot_read / _write. */
    cf_status (*slot_read)(cf_optimizer *o, int i, void *full);
    cf_status (*slot_write)(cf_optimizer *o, int i, const void *full);
    /* Frees what the implementation added to the common part (may be NULL); cf_optim_free then frees
     * the slot buffers and the object. */
    void (*release)(cf_optimizer *o);
} cf_optim_vtable;

struct cf_optimizer {
    const cf_optim_vtable *vt;
    cf_optim_config cfg;
    cf_params *ps;
    int nslots;               /* SGD with momentum: 1; SGD without: 0; Adam(W): 2 */
    const char *slot_name[2]; /* "momentum_buffer"; "exp_avg", "exp_avg_sq" */
    void *slot[2];            /* slot_elems elements of ps->dtype each, zeroed, 64-byte aligned */
    int64_t t;                /* updates taken */
    int shards;               /* ranks the state is split over (1: every rank holds all of it) */
};

/* Allocates `size` bytes (>= sizeof(cf_optimizer)) zeroed, fills the common part for cfg's kind
 * (shards = 1) and the slot buffers of slot_elems elements. NULL with the error set (prefixed by
 * `who`) for an unknown kind or out of memory. */
cf_optimizer *cf_optim_alloc(size_t size, const cf_optim_vtable *vt, cf_params *ps, const cf_optim_config *cfg,
                             int64_t slot_elems, const char *who);
/* CF_OK when slot is one of o's slots, else CF_ERR_ARG naming `who`, the slot and how many there are. */
cf_status cf_optim_check_slot(const cf_optimizer *o, int slot, const char *who);
/* The sum of x[i]^2 over n f32 or f64 values, accumulated in f64 in an order fixed by n alone (blocks of
 * 16384 added in block order), so a clipping decision never depends on the thread count. */
double cf_optim_sum_squares(cf_dtype dt, const void *x, int64_t n);

#endif
