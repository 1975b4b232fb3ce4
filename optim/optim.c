/* SGD, Adam and AdamW updates over the flat buffers, the optimizer interface's common part and its
 * replicated implementation. The update of each parameter's range (its decay flag decides the weight
 * decay), the sum of squares and the scaling are the backend's operations (cf_backend in
 * autograd/cf_node.h; the CPU's in autograd/cpu/optim_update.c). */
#include "optim/optim_internal.h"

#include "autograd/cf_node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_optim_config cf_optim_defaults(cf_optim_kind kind)
{
    cf_optim_config c = {.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if (kind == CF_OPTIM_ADAMW) c.weight_decay = 0.01;
    return c;
}

bool cf_optim_kind_parse(const char *s, cf_optim_kind *out)
{
    if (strcmp(s, "sgd") == 0) return *out = CF_OPTIM_SGD, true;
    if (strcmp(s, "adam") == 0) return *out = CF_OPTIM_ADAM, true;
    if (strcmp(s, "adamw") == 0) return *out = CF_OPTIM_ADAMW, true;
    return false;
}

/* ---- the common part of every implementation ---- */

/* The state lives where the parameters do (cf_params_to_device): zeroed bytes there (filled as bytes, a bool
 * tensor); NULL when out of memory. */
static void *slot_alloc(const cf_params *ps, size_t bytes)
{
    void *p = NULL;
    if (ps->device != CF_CPU) {
        const cf_backend *be = cf_backend_table(ps->device);
        if (!(p = be->alloc(bytes))) return NULL;
        cf_tensor t = {.dtype = CF_BOOL, .ndim = 1, .shape = {(int64_t)bytes}, .stride = {1}};
        cf_storage st = {.data = p, .nbytes = bytes, .device = ps->device};
        t.storage = &st;
        if (be->fill(&t, 0.0) != CF_OK) {
            be->release(p);
            return NULL;
        }
        return p;
    }
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return memset(p, 0, bytes);
}

static void slot_release(const cf_params *ps, void *p)
{
    if (p && ps->device != CF_CPU) cf_backend_table(ps->device)->release(p);
    else free(p);
}

cf_optimizer *cf_optim_alloc(size_t size, const cf_optim_vtable *vt, cf_params *ps, const cf_optim_config *cfg,
                             int64_t slot_elems, const char *who)
{
    if (cfg->kind != CF_OPTIM_SGD && cfg->kind != CF_OPTIM_ADAM && cfg->kind != CF_OPTIM_ADAMW) {
        cf_set_error(CF_ERR_ARG, "%s: unknown optimizer kind %d", who, (int)cfg->kind);
        return NULL;
    }
    cf_optimizer *o = calloc(1, size);
    if (!o) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory", who);
        return NULL;
    }
    o->vt = vt, o->cfg = *cfg, o->ps = ps, o->shards = 1;
    if (cfg->kind == CF_OPTIM_SGD) {
        if (cfg->momentum != 0) o->nslots = 1, o->slot_name[0] = "momentum_buffer";
    } else {
        o->nslots = 2, o->slot_name[0] = "exp_avg", o->slot_name[1] = "exp_avg_sq";
    }
    size_t bytes = (size_t)(slot_elems > 0 ? slot_elems : 1) * cf_dtype_size(ps->dtype);
    for (int i = 0; i < o->nslots; i++) {
        if (!(o->slot[i] = slot_alloc(ps, bytes))) {
            cf_set_error(CF_ERR_OOM, "%s: out of memory for %s", who, o->slot_name[i]);
            o->vt = NULL; /* the implementation added nothing yet */
            cf_optim_free(o);
            return NULL;
        }
    }
    return o;
}

cf_status cf_optim_check_slot(const cf_optimizer *o, int slot, const char *who)
{
    if (slot < 0 || slot >= o->nslots)
        return cf_set_error(CF_ERR_ARG, "%s: slot %d does not exist (the optimizer has %d)", who, slot, o->nslots);
    return CF_OK;
}

void cf_optim_free(cf_optimizer *o)
{
    if (!o) return;
    if (o->vt && o->vt->release) o->vt->release(o);
    for (int i = 0; i < 2; i++) slot_release(o->ps, o->slot[i]);
    free(o);
}

void cf_optim_scale_grads(cf_optimizer *o, double s) { o->vt->scale_grads(o, s); }
cf_status cf_optim_clip_grad_norm(cf_optimizer *o, double max_norm, double *norm)
{
    return o->vt->clip_grad_norm(o, max_norm, norm);
}
cf_status cf_optim_step(cf_optimizer *o, double lr) { return o->vt->step(o, lr); }
int64_t cf_optim_steps_taken(const cf_optimizer *o) { return o->t; }
void cf_optim_set_steps_taken(cf_optimizer *o, int64_t t) { o->t = t; }
int cf_optim_shards(const cf_optimizer *o) { return o->shards; }
int cf_optim_slot_count(const cf_optimizer *o) { return o->nslots; }
const char *cf_optim_slot_name(const cf_optimizer *o, int i) { return i >= 0 && i < o->nslots ? o->slot_name[i] : NULL; }

cf_status cf_optim_slot_read(cf_optimizer *o, int i, void *full)
{
    cf_status s = cf_optim_check_slot(o, i, "cf_optim_slot_read");
    return s != CF_OK ? s : o->vt->slot_read(o, i, full);
}

cf_status cf_optim_slot_write(cf_optimizer *o, int i, const void *full)
{
    cf_status s = cf_optim_check_slot(o, i, "cf_optim_slot_write");
    if (s == CF_OK && !full) s = cf_set_error(CF_ERR_ARG, "cf_optim_slot_write: NULL buffer for slot %d", i);
    return s != CF_OK ? s : o->vt->slot_write(o, i, full);
}

/* The backend that owns the flat buffers (cf_params_to_device moves them): the update, the sum of squares and
 * the scaling run there. */
static const cf_backend *params_backend(const cf_params *ps) { return cf_backend_table(ps->device); }

/* Parameter k's part of [lo, hi) into [*a, *e); false when it has none or is frozen (no update). */
static bool update_part(const cf_params *ps, int k, int64_t lo, int64_t hi, int64_t *a, int64_t *e)
{
    const cf_param *pr = &ps->items[k];
    *a = pr->offset > lo ? pr->offset : lo;
    *e = pr->offset + pr->numel < hi ? pr->offset + pr->numel : hi;
    return *e > *a && pr->value->requires_grad;
}

static double param_decay(const cf_optim_config *c, const cf_param *pr)
{
    return (pr->decay || c->decay_all) ? c->weight_decay : 0.0;
}

int cf_optim_update_range(const cf_optim_config *c, cf_params *ps, void *const *slots, int64_t slot_base, int64_t lo,
                          int64_t hi, double lr, int64_t t)
{
    bool first = t == 1;
    double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
    bool has_slots = slots && slots[0];
    const cf_backend *be = params_backend(ps);
    size_t es = cf_dtype_size(ps->dtype);
    int launches = 0;
    for (int k = 0; k < ps->count;) {
        int64_t a, e, a2, e2;
        if (!update_part(ps, k, lo, hi, &a, &e)) { /* outside the range, or frozen */
            k++;
            continue;
        }
        /* one call for the run of neighbours that are trainable, in range and decayed alike: the update is
         * elementwise, and the alignment padding between them (zero values, gradients and state) stays zero */
        double wd = param_decay(c, &ps->items[k]);
        int j = k + 1;
        while (j < ps->count && update_part(ps, j, lo, hi, &a2, &e2) && param_decay(c, &ps->items[j]) == wd)
            e = e2, j++;
        k = j;
        int64_t s = a - slot_base;
        cf_optim_update_args u = {
            .kind = (int)c->kind,
            .dtype = ps->dtype,
            .p = (char *)ps->values + (size_t)a * es,
            .g = (const char *)ps->grads + (size_t)a * es,
            .slot0 = has_slots ? (char *)slots[0] + (size_t)s * es : NULL,
            .slot1 = has_slots && c->kind != CF_OPTIM_SGD ? (char *)slots[1] + (size_t)s * es : NULL,
            .n = e - a,
            .lr = lr,
            .weight_decay = wd,
            .momentum = c->momentum,
            .dampening = c->dampening,
            .nesterov = c->nesterov,
            .first = first,
            .beta1 = c->beta1,
            .beta2 = c->beta2,
            .eps = c->eps,
            .bc1 = bc1,
            .bc2 = bc2,
        };
        be->optim_update(&u);
        launches++;
    }
    return launches;
}

/* ---- the replicated implementation: the whole state on every process ---- */

static void replicated_scale_grads(cf_optimizer *o, double s) { cf_scale_grads(o->ps, s); }

static cf_status replicated_clip_grad_norm(cf_optimizer *o, double max_norm, double *norm)
{
    double n = cf_clip_grad_norm(o->ps, max_norm);
    if (norm) *norm = n;
    return CF_OK;
}

static cf_status replicated_step(cf_optimizer *o, double lr)
{
    o->t++;
    cf_optim_update_range(&o->cfg, o->ps, o->slot, 0, 0, o->ps->total, lr, o->t);
    for (int k = 0; k < o->ps->count; k++) cf_bump_version(o->ps->items[k].value);
    return CF_OK;
}

static cf_status replicated_slot_read(cf_optimizer *o, int i, void *full)
{
    size_t bytes = (size_t)o->ps->total * cf_dtype_size(o->ps->dtype);
    if (!full) return CF_OK;
    if (o->ps->device != CF_CPU) return cf_backend_table(o->ps->device)->to_host(full, o->slot[i], bytes);
    memcpy(full, o->slot[i], bytes);
    return CF_OK;
}

static cf_status replicated_slot_write(cf_optimizer *o, int i, const void *full)
{
    size_t bytes = (size_t)o->ps->total * cf_dtype_size(o->ps->dtype);
    if (o->ps->device != CF_CPU) return cf_backend_table(o->ps->device)->from_host(o->slot[i], full, bytes);
    memcpy(o->slot[i], full, bytes);
    return CF_OK;
}

static const cf_optim_vtable replicated_vt = {
    .scale_grads = replicated_scale_grads,
    .clip_grad_norm = replicated_clip_grad_norm,
    .step = replicated_step,
    .slot_read = replicated_slot_read,
    .slot_write = replicated_slot_write,
};

cf_optimizer *cf_optim_new(cf_params *ps, const cf_optim_config *cfg)
{
    if (cf_params_grads(ps) != CF_OK) return NULL;
    return cf_optim_alloc(sizeof(cf_optimizer), &replicated_vt, ps, cfg, ps->total, "optimizer");
}

void *cf_optim_slot_data(cf_optimizer *o, int i)
{
    return o->vt == &replicated_vt && o->ps->device == CF_CPU && i >= 0 && i < o->nslots ? o->slot[i] : NULL;
}

double cf_optim_sum_squares(cf_dtype dt, const void *x, int64_t n)
{
    return cf_backend_table(CF_CPU)->sum_squares(dt, x, n);
}

double cf_clip_grad_norm(cf_params *ps, double max_norm)
{
    if (!ps->grads) return 0;
    double ss = params_backend(ps)->sum_squares(ps->dtype, ps->grads, ps->total);
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) cf_scale_grads(ps, max_norm / (norm + 1e-6));
    return norm;
}

void cf_scale_grads(cf_params *ps, double s)
{
    if (ps->grads) params_backend(ps)->scale(ps->dtype, ps->grads, ps->total, s);
}

bool cf_schedule_kind_parse(const char *s, cf_schedule_kind *out)
{
    static const struct {
        const char *name;
        cf_schedule_kind kind;
    } names[] = {{"constant", CF_SCHED_CONSTANT}, {"cosine", CF_SCHED_COSINE}, {"linear", CF_SCHED_LINEAR},
                 {"inv_sqrt", CF_SCHED_INV_SQRT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) return *out = names[i].kind, true;
    return false;
}

double cf_schedule_lr(const cf_schedule *s, double base, int64_t step)
{
    double floor_lr = base * s->min_lr_ratio;
    if (s->warmup_steps > 0 && step < s->warmup_steps) return base * (double)(step + 1) / (double)s->warmup_steps;
    int64_t w = s->warmup_steps > 0 ? s->warmup_steps : 0;
    double span = (double)(s->total_steps - w), done = (double)(step - w);
    double frac = span > 0 ? fmin(1.0, fmax(0.0, done / span)) : 1.0;
    switch (s->kind) {
    case CF_SCHED_COSINE: return floor_lr + (base - floor_lr) * 0.5 * (1 + cos(3.14159265358979323846 * frac));
    case CF_SCHED_LINEAR: return floor_lr + (base - floor_lr) * (1 - frac);
    case CF_SCHED_INV_SQRT: {
        /* continuous with the warm-up: base at step w - 1, then base * sqrt(w / (step + 1)) */
        double ref = (double)(w > 0 ? w : 1);
        return fmax(floor_lr, base * sqrt(ref / fmax(ref, (double)(step + 1))));
    }
    default: return base;
    }
}
