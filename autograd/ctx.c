/* Context lifetime, step reset, modes and the arena statistics. */
#include "autograd/ctx_internal.h"

#include <stdlib.h>
#include <string.h>

cf_ctx *cf_ctx_new(const cf_ctx_options *opt)
{
    cf_ctx_options o = opt ? *opt : (cf_ctx_options){0};
    const cf_backend *be = cf_backend_for(o.device);
    if (!be) {
        cf_set_error(CF_ERR_DEVICE, "cf_ctx_new: device %d is not available in this build", (int)o.device);
        return NULL;
    }
    cf_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        cf_set_error(CF_ERR_OOM, "cf_ctx_new: out of memory");
        return NULL;
    }
    ctx->arena = cf_arena_new(o.arena_bytes ? o.arena_bytes : (64u << 20));
    if (!ctx->arena) {
        free(ctx);
        cf_set_error(CF_ERR_OOM, "cf_ctx_new: out of memory for the step arena");
        return NULL;
    }
    if (be->device != CF_CPU) {
        ctx->dev_arena = cf_arena_new_with(o.arena_bytes ? o.arena_bytes : (64u << 20), be->alloc, be->release);
        if (!ctx->dev_arena) {
            cf_arena_free(ctx->arena);
            free(ctx);
            cf_set_error(CF_ERR_OOM, "cf_ctx_new: out of %s memory for the step arena", be->name);
            return NULL;
        }
    }
    ctx->device = o.device;
    ctx->backend = be;
    ctx->seed = o.seed;
    ctx->grad_enabled = true;
    ctx->training = true;
    ctx->tape_gen = 1;
    cf_set_threads(ctx, o.threads);
    return ctx;
}

void cf_ctx_free(cf_ctx *ctx)
{
    if (!ctx) return;
    cf_arena_free(ctx->arena);
    cf_arena_free(ctx->dev_arena);
    free(ctx->tape);
    free(ctx->free_blocks);
    free(ctx->rc_in);
    free(ctx->rc_kept);
    free(ctx->profile);
    if (ctx->rc_stash) ctx->backend->release(ctx->rc_stash);
    free(ctx);
}

cf_status cf_ctx_profile(cf_ctx *ctx, bool on)
{
    if (on && !ctx->profile && !(ctx->profile = calloc(CF_OP_COUNT, sizeof *ctx->profile)))
        return cf_set_error(CF_ERR_OOM, "cf_ctx_profile: out of memory");
    ctx->profiling = on; /* the table stays readable after */
    return CF_OK;
}

const cf_op_time *cf_ctx_profile_table(const cf_ctx *ctx) { return ctx->profile; }

void cf_ctx_profile_reset(cf_ctx *ctx)
{
    if (ctx->profile) memset(ctx->profile, 0, CF_OP_COUNT * sizeof *ctx->profile);
}

cf_op_time *cf_ctx_profile_slot(cf_ctx *ctx, int op)
{
    return ctx->profiling && op >= 0 && op < CF_OP_COUNT ? &ctx->profile[op] : NULL;
}

void cf_step_reset(cf_ctx *ctx)
{
    cf_arena_reset(ctx->arena);
    if (ctx->dev_arena) cf_arena_reset(ctx->dev_arena);
    ctx->tape_len = 0;
    ctx->tape_gen++;
    ctx->step++;
}

uint64_t cf_ctx_step(const cf_ctx *ctx) { return ctx->step; }
void cf_ctx_set_step(cf_ctx *ctx, uint64_t step) { ctx->step = step; }
uint64_t cf_ctx_seed(const cf_ctx *ctx) { return ctx->seed; }
void cf_ctx_set_seed(cf_ctx *ctx, uint64_t seed) { ctx->seed = seed; }
cf_device cf_ctx_device(const cf_ctx *ctx) { return ctx->device; }

void cf_set_threads(cf_ctx *ctx, int n)
{
    ctx->threads = ctx->backend->set_threads(n);
}

int cf_get_threads(const cf_ctx *ctx) { return ctx->threads; }
int cf_ctx_threads(const cf_ctx *ctx) { return ctx->threads; }

void cf_set_training(cf_ctx *ctx, bool on) { ctx->training = on; }
bool cf_is_training(const cf_ctx *ctx) { return ctx->training; }

bool cf_set_grad_enabled(cf_ctx *ctx, bool on)
{
    bool prev = ctx->grad_enabled;
    ctx->grad_enabled = on;
    return prev;
}

bool cf_grad_enabled(const cf_ctx *ctx) { return ctx->grad_enabled; }

size_t cf_ctx_arena_used(const cf_ctx *ctx) { return cf_arena_used(ctx->arena); }
size_t cf_ctx_arena_high_water(const cf_ctx *ctx) { return cf_arena_high_water(ctx->arena); }
uint64_t cf_ctx_arena_system_allocs(const cf_ctx *ctx) { return cf_arena_system_allocs(ctx->arena); }
int64_t cf_tape_size(const cf_ctx *ctx) { return ctx->tape_len; }

void *cf_scratch(cf_ctx *ctx, size_t bytes) { return cf_arena_alloc(ctx->arena, bytes); }
void *cf_device_scratch(cf_ctx *ctx, size_t bytes) { return cf_ctx_data_alloc(ctx, ctx->device, bytes); }

void *cf_ctx_data_alloc(cf_ctx *ctx, cf_device dev, size_t bytes)
{
    if (dev == CF_CPU) return cf_arena_alloc(ctx->arena, bytes);
    if (dev == ctx->device && ctx->dev_arena) return cf_arena_alloc(ctx->dev_arena, bytes);
    cf_set_error(CF_ERR_DEVICE, "the context on %s cannot hold tensors on device %d", ctx->backend->name, (int)dev);
    return NULL;
}
cf_arena *cf_ctx_arena(cf_ctx *ctx) { return ctx->arena; }
cf_arena *cf_ctx_device_arena(cf_ctx *ctx) { return ctx->dev_arena ? ctx->dev_arena : ctx->arena; }

cf_node *cf_tape_node(cf_ctx *ctx, int64_t i) { return (i >= 0 && i < ctx->tape_len) ? ctx->tape[i] : NULL; }

cf_status cf_ctx_poison_arena(cf_ctx *ctx, size_t bytes)
{
    cf_arena *a = ctx->dev_arena ? ctx->dev_arena : ctx->arena;
    cf_arena_mark m = cf_arena_get_mark(a);
    int64_t n = (int64_t)(bytes / 4);
    void *p = cf_arena_alloc(a, (size_t)n * 4);
    cf_tensor *t = p ? cf_empty_on(ctx, CF_I32, 1, &n, p, (size_t)n * 4) : NULL;
    cf_status st = t ? ctx->backend->fill(t, -1.0) : cf_last_status(); /* all bits set: NaN as f32, f64, bf16 */
    cf_arena_rewind(a, m);
    return st;
}
