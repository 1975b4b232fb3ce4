/* Recomputed segments: the forward without intermediates, the node whose backward reruns the segment on a
 * nested piece of tape and then rewinds the arena under it (contract: autograd/recompute.h). */
#include "autograd/ctx_internal.h"

#include <stdlib.h>
#include <string.h>

struct recompute_attr {
    cf_recompute_fn fn;
    void *user;
    int n_user;      /* in[0 .. n_user) are fn's inputs; the rest were collected from the ops it ran */
    uint64_t seed, step;
    bool training;
};

/* Both arenas' positions: the host's (headers, nodes; a CPU context's data too) and a device context's data. */
typedef struct marks {
    cf_arena_mark host, dev;
} marks;

static marks get_marks(const cf_ctx *ctx)
{
    marks m = {cf_arena_get_mark(ctx->arena), {0, 0, 0}};
    if (ctx->dev_arena) m.dev = cf_arena_get_mark(ctx->dev_arena);
    return m;
}

static void rewind_to(cf_ctx *ctx, marks m)
{
    cf_arena_rewind(ctx->arena, m.host);
    if (ctx->dev_arena) cf_arena_rewind(ctx->dev_arena, m.dev);
}

/* Whether t's bytes are freed by rewinding to m. */
static bool data_after(const cf_ctx *ctx, marks m, const cf_tensor *t)
{
    const cf_storage *s = t->storage;
    if (s->device != CF_CPU && ctx->dev_arena) return cf_arena_after_mark(ctx->dev_arena, m.dev, s->data);
    return cf_arena_after_mark(ctx->arena, m.host, s->data);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* The stash holds at least bytes (grown in the first step, kept after: no allocation in later steps). */
static cf_status stash_reserve(cf_ctx *ctx, size_t bytes)
{
    if (bytes <= ctx->rc_stash_bytes) return CF_OK;
    if (ctx->rc_stash) ctx->backend->release(ctx->rc_stash);
    ctx->rc_stash_bytes = 0;
    if (!(ctx->rc_stash = ctx->backend->alloc(bytes))) return cf_last_status();
    ctx->rc_stash_bytes = bytes;
    return CF_OK;
}

/* A contiguous header (on the caller's stack) with like's dtype and shape over data in the context's memory. */
static void view_over(cf_tensor *t, cf_storage *s, const cf_ctx *ctx, const cf_tensor *like, void *data)
{
    memset(t, 0, sizeof *t);
    *s = (cf_storage){.data = data, .nbytes = (size_t)cf_numel(like) * cf_dtype_size(like->dtype), .device = ctx->device};
    t->dtype = like->dtype;
    t->ndim = like->ndim;
    memcpy(t->shape, like->shape, sizeof t->shape);
    cf_contiguous_strides(t->ndim, t->shape, t->stride);
    t->storage = s;
    t->first_use = -1;
}

/* Copies t's values into the stash at offset (dst: copy_in) or back into t (copy_in false). */
static cf_status stash_copy(cf_ctx *ctx, cf_tensor *t, size_t offset, bool copy_in)
{
    cf_tensor v;
    cf_storage s;
    view_over(&v, &s, ctx, t, (unsigned char *)ctx->rc_stash + offset);
    return copy_in ? ctx->backend->copy(&v, t, false) : ctx->backend->copy(t, &v, false);
}

static cf_status check_device(const cf_ctx *ctx, const cf_tensor *t, const char *what)
{
    if (t->storage->device == ctx->device) return CF_OK;
    return cf_set_error(CF_ERR_DEVICE, "recompute: %s is on device %d, the context on %d", what, (int)t->storage->device,
                        (int)ctx->device);
}

static cf_status recompute_bwd(cf_ctx *ctx, cf_node *n);

/* Runs fn with grad mode off, collecting the tensors that require grad which its ops read (after in[]). */
static cf_tensor *forward_collecting(cf_ctx *ctx, cf_recompute_fn fn, void *user, int n, cf_tensor *const *in)
{
    if (ctx->rc_cap < n) {
        cf_tensor **l = realloc(ctx->rc_in, (size_t)n * sizeof *l);
        if (!l) {
            cf_set_error(CF_ERR_OOM, "recompute: out of memory");
            return NULL;
        }
        ctx->rc_in = l, ctx->rc_cap = n;
    }
    /* in[] as given (a tensor may come twice: fn reads in[i] by position); the collected ones after, once each */
    for (int i = 0; i < n; i++) ctx->rc_in[i] = in[i];
    ctx->rc_n = n;
    ctx->rc_collecting = true, ctx->rc_oom = false;
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *out = fn(ctx, user, n, in);
    cf_set_grad_enabled(ctx, prev);
    ctx->rc_collecting = false;
    if (out && ctx->rc_oom) {
        cf_set_error(CF_ERR_OOM, "recompute: out of memory");
        return NULL;
    }
    return out;
}

cf_tensor *cf_recompute(cf_ctx *ctx, cf_recompute_fn fn, void *user, int n, cf_tensor *const *in)
{
    if (!cf_inputs_ok(n, in)) return NULL;
    if (!fn) {
        cf_set_error(CF_ERR_ARG, "recompute: fn is NULL");
        return NULL;
    }
    /* nothing is recorded: evaluation, or the forward of an enclosing segment (whose ops collect as usual) */
    if (!ctx->grad_enabled) return fn(ctx, user, n, in);
    for (int i = 0; i < n; i++)
        if (check_device(ctx, in[i], "an input") != CF_OK) return NULL;
    marks m = get_marks(ctx);
    cf_tensor *out = forward_collecting(ctx, fn, user, n, in);
    if (!out || check_device(ctx, out, "the output") != CF_OK || cf_check_float("recompute", out) != CF_OK) {
        rewind_to(ctx, m);
        return NULL;
    }
    int n_all = ctx->rc_n;
    for (int i = n; i < n_all; i++)
        if (ctx->rc_in[i]->node && cf_arena_after_mark(ctx->arena, m.host, ctx->rc_in[i])) {
            rewind_to(ctx, m);
            cf_set_error(CF_ERR_STATE, "recompute: fn made a tensor that requires grad from ops recorded inside it");
            return NULL;
        }
    /* keep the output alone: through the stash, since the arena hands its memory out again */
    size_t bytes = (size_t)cf_numel(out) * cf_dtype_size(out->dtype);
    cf_tensor shape_of = *out;
    if (stash_reserve(ctx, align64(bytes ? bytes : 1)) != CF_OK || stash_copy(ctx, out, 0, true) != CF_OK) {
        rewind_to(ctx, m);
        return NULL;
    }
    rewind_to(ctx, m);
    cf_tensor *kept = cf_empty(ctx, shape_of.dtype, shape_of.ndim, shape_of.shape);
    if (!kept || stash_copy(ctx, kept, 0, false) != CF_OK) return NULL;
    bool any = false;
    for (int i = 0; i < n_all; i++) any |= ctx->rc_in[i]->requires_grad;
    if (!any) return kept;
    cf_node *node = cf_node_new(ctx, CF_OP_RECOMPUTE, n_all, ctx->rc_in, kept);
    if (!node) return NULL;
    struct recompute_attr *a = CF_ATTR(node, struct recompute_attr);
    *a = (struct recompute_attr){fn, user, n, ctx->seed, ctx->step, ctx->training};
    node->saves = CF_SAVE_INPUTS; /* fn reads them all again */
    node->bwd = recompute_bwd;
    return cf_node_record(ctx, node) == CF_OK ? kept : NULL;
}

/* Drops the free list's blocks (and the parts of blocks merged across the mark) that the rewind to m frees. */
static void prune_free_blocks(cf_ctx *ctx, marks m)
{
    for (int64_t i = 0; i < ctx->n_free;) {
        struct cf_free_block *b = &ctx->free_blocks[i];
        /* a block lies in one of the two arenas (a device context's data, or the host's) */
        if (cf_arena_after_mark(ctx->arena, m.host, b->data) ||
            (ctx->dev_arena && cf_arena_after_mark(ctx->dev_arena, m.dev, b->data)))
            b->bytes = 0;
        b->bytes = cf_arena_bytes_before_mark(ctx->arena, m.host, b->data, b->bytes);
        if (ctx->dev_arena) b->bytes = cf_arena_bytes_before_mark(ctx->dev_arena, m.dev, b->data, b->bytes);
        if (b->bytes < 4096)
            *b = ctx->free_blocks[--ctx->n_free];
        else
            i++;
    }
}

/* An input's gradient made inside the nested piece, while the arena rewinds under it. */
struct cf_rc_kept {
    cf_tensor *x;
    cf_dtype dtype;
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    void *data; /* its bytes when they stay (below the mark); else they wait in the stash at offset */
    size_t nbytes, offset;
    int64_t shape_numel;
    bool stashed;
};

/* The inputs' gradients made inside the nested piece outlive it: their headers (and, when the rewind frees
 * them, their bytes, through the stash) are made again above the mark once the arena has rewound to it. */
static cf_status rewind_keeping_grads(cf_ctx *ctx, cf_node *n, marks m)
{
    if (ctx->rc_kept_cap < n->n_in) {
        struct cf_rc_kept *k = realloc(ctx->rc_kept, (size_t)n->n_in * sizeof *k);
        if (!k) return cf_set_error(CF_ERR_OOM, "recompute: out of memory");
        ctx->rc_kept = k, ctx->rc_kept_cap = n->n_in;
    }
    int nk = 0;
    size_t need = 0;
    for (int i = 0; i < n->n_in; i++) {
        cf_tensor *x = n->in[i], *g = x->grad;
        if (!g || g->persistent || !cf_arena_after_mark(ctx->arena, m.host, g)) continue; /* header survives */
        bool seen = false;
        for (int j = 0; j < nk && !seen; j++) seen = ctx->rc_kept[j].x == x;
        if (seen) continue;
        struct cf_rc_kept *k = &ctx->rc_kept[nk++];
        *k = (struct cf_rc_kept){.x = x, .dtype = g->dtype, .ndim = g->ndim, .data = g->storage->data,
                                 .nbytes = g->storage->nbytes, .stashed = data_after(ctx, m, g), .offset = need};
        memcpy(k->shape, g->shape, sizeof k->shape);
        k->shape_numel = cf_numel(g);
        if (k->stashed) need += align64((size_t)cf_numel(g) * cf_dtype_size(g->dtype));
    }
    CF_TRY(stash_reserve(ctx, need ? need : 64));
    for (int j = 0; j < nk; j++)
        if (ctx->rc_kept[j].stashed) CF_TRY(stash_copy(ctx, ctx->rc_kept[j].x->grad, ctx->rc_kept[j].offset, true));
    prune_free_blocks(ctx, m);
    rewind_to(ctx, m);
    for (int j = 0; j < nk; j++) {
        struct cf_rc_kept *k = &ctx->rc_kept[j];
        /* bytes that must move take a dead block below the mark when one fits (the gradient this node consumed,
         * typically), so a chain of segments does not creep up the arena by one gradient each */
        size_t got = 0, bytes = (size_t)k->shape_numel * cf_dtype_size(k->dtype);
        void *blk = k->stashed ? cf_free_block_take(ctx, bytes, &got) : NULL;
        cf_tensor *g = !k->stashed ? cf_empty_on(ctx, k->dtype, k->ndim, k->shape, k->data, k->nbytes)
                       : blk       ? cf_empty_on(ctx, k->dtype, k->ndim, k->shape, blk, got)
                                   : cf_empty(ctx, k->dtype, k->ndim, k->shape);
        if (!g || (k->stashed && stash_copy(ctx, g, k->offset, false) != CF_OK)) return cf_last_status();
        k->x->grad = g;
    }
    return CF_OK;
}

/* The segment's backward: fn again on a nested piece of tape (grad mode on, the forward's RNG key and mode), the
 * output's gradient back through it, then the piece freed. */
static cf_status recompute_bwd(cf_ctx *ctx, cf_node *n)
{
    const struct recompute_attr *a = CF_ATTR(n, struct recompute_attr);
    marks m = get_marks(ctx);
    int64_t base = ctx->tape_len;
    uint64_t seed = ctx->seed, step = ctx->step;
    bool training = ctx->training;
    ctx->seed = a->seed, ctx->step = a->step, ctx->training = a->training;
    bool prev = cf_set_grad_enabled(ctx, true);
    cf_tensor *out = a->fn(ctx, a->user, a->n_user, n->in);
    cf_set_grad_enabled(ctx, prev);
    ctx->seed = seed, ctx->step = step, ctx->training = training;
    cf_status st = out ? CF_OK : cf_last_status();
    char x[128], y[128];
    if (st == CF_OK && (out->dtype != n->out->dtype || !cf_same_shape(out, n->out)))
        st = cf_set_error(CF_ERR_STATE, "recompute: the segment's output is %s again but was %s in the forward (its fn "
                          "must give the same shapes every time)", cf_shape_str(out, x, sizeof x),
                          cf_shape_str(n->out, y, sizeof y));
    if (st == CF_OK && out->node && out->node->index >= base) {
        out->grad = n->out->grad; /* handed on: the nested backward consumes it and frees its block */
        n->out->grad = NULL;
        struct cf_rc_segment outer = ctx->rc_seg;
        ctx->rc_seg.on = true, ctx->rc_seg.base = base, ctx->rc_seg.host = m.host, ctx->rc_seg.dev = m.dev;
        st = cf_tape_run(ctx, out->node->index, base);
        ctx->rc_seg = outer;
    } else if (st == CF_OK) { /* fn gave back a tensor made outside it (an input): the gradient goes straight on */
        cf_tensor *g = cf_grad_acc(ctx, out);
        st = g ? cf_tensor_backend(g)->copy(g, n->out->grad, true) : cf_last_status();
    }
    ctx->tape_len = base;
    cf_status kept = rewind_keeping_grads(ctx, n, m);
    return st != CF_OK ? st : kept;
}

void cf_set_recompute_mode(cf_ctx *ctx, cf_recompute_mode mode) { ctx->rc_mode = mode; }
cf_recompute_mode cf_recompute_mode_of(const cf_ctx *ctx) { return ctx->rc_mode; }

bool cf_recompute_mode_parse(const char *s, cf_recompute_mode *out)
{
    static const char *const names[] = {"none", "attention", "block"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) return *out = (cf_recompute_mode)i, true;
    return false;
}
