/* The tape: node creation and recording, and reverse-mode backward with accumulation, saved-tensor
 * version checks and gradient-final hooks. */
#include "autograd/ctx_internal.h"
#include "autograd/clock.h"
#include "autograd/ops/elementwise.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[CF_OP_COUNT + 1] = {
#define CF_OP(name) #name,
#include "autograd/ops.def"
#undef CF_OP
    NULL};

const char *cf_op_name(int op)
{
    if (op == CF_OP_RECOMPUTE) return "recompute";
    return (op >= 0 && op < CF_OP_COUNT) ? op_names[op] : "?";
}

int cf_op_lookup(const char *name)
{
    for (int i = 0; i < CF_OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0) return i;
    return -1;
}

bool cf_inputs_ok(int n, cf_tensor *const *in)
{
    for (int i = 0; i < n; i++)
        if (!in[i]) {
            if (cf_last_status() == CF_OK) cf_set_error(CF_ERR_ARG, "input %d is NULL", i);
            return false;
        }
    return true;
}

cf_node *cf_node_new(cf_ctx *ctx, cf_op op, int n_in, cf_tensor *const *in, cf_tensor *out)
{
    if (!out || !cf_inputs_ok(n_in, in)) return NULL;
    for (int i = 0; i < n_in; i++)
        if (in[i]->storage->device != out->storage->device) {
            cf_set_error(CF_ERR_DEVICE, "%s: input %d is on device %d, the output on %d", cf_op_name(op), i,
                         (int)in[i]->storage->device, (int)out->storage->device);
            return NULL;
        }
    cf_node *n = cf_arena_alloc(ctx->arena, sizeof *n + (size_t)n_in * (sizeof(cf_tensor *) + sizeof(uint32_t)));
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->op = op;
    n->n_in = n_in;
    n->index = -1;
    n->in = (cf_tensor **)(n + 1);
    n->in_version = (uint32_t *)(n->in + n_in);
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    n->out = out;
    n->saves = CF_SAVE_INPUTS | CF_SAVE_OUT;
    return n;
}

static cf_status tape_push(cf_ctx *ctx, cf_node *n)
{
    if (ctx->tape_len == ctx->tape_cap) {
        int64_t cap = ctx->tape_cap ? ctx->tape_cap * 2 : 1024;
        cf_node **t = realloc(ctx->tape, (size_t)cap * sizeof *t);
        if (!t) return cf_set_error(CF_ERR_OOM, "tape: out of memory");
        ctx->tape = t;
        ctx->tape_cap = cap;
    }
    n->index = ctx->tape_len;
    ctx->tape[ctx->tape_len++] = n;
    return CF_OK;
}

/* Inside a recomputed segment's forward (grad mode off): every tensor that requires grad and that an op reads
 * becomes an input of the segment's node, so gradients reach it and its first use is known (autograd/recompute.c). */
static void collect_grad_inputs(cf_ctx *ctx, const cf_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        cf_tensor *x = n->in[i];
        if (!x->requires_grad) continue;
        bool seen = false;
        for (int j = 0; j < ctx->rc_n && !seen; j++) seen = ctx->rc_in[j] == x;
        if (seen) continue;
        if (ctx->rc_n == ctx->rc_cap) {
            int cap = ctx->rc_cap ? 2 * ctx->rc_cap : 64;
            cf_tensor **l = realloc(ctx->rc_in, (size_t)cap * sizeof *l);
            if (!l) {
                ctx->rc_oom = true;
                return;
            }
            ctx->rc_in = l, ctx->rc_cap = cap;
        }
        ctx->rc_in[ctx->rc_n++] = x;
    }
}

cf_status cf_node_record(cf_ctx *ctx, cf_node *n)
{
    for (int i = 0; i < n->n_in; i++) n->in_version[i] = n->in[i]->storage->version;
    n->out_version = n->out->storage->version;
    if (n->out2) n->out2_version = n->out2->storage->version;
    CF_TRY(tape_push(ctx, n));
    n->out->node = n;
    n->out->requires_grad = true;
    if (n->out2) n->out2->node = n, n->out2->requires_grad = true;
    for (int i = 0; i < n->n_in; i++) {
        cf_tensor *x = n->in[i];
        if (x->requires_grad && !x->node && x->tape_gen != ctx->tape_gen) {
            x->tape_gen = ctx->tape_gen; /* first use of this leaf in this step */
            x->first_use = n->index;
        }
    }
    return CF_OK;
}

cf_tensor *cf_node_finish(cf_ctx *ctx, cf_node *n)
{
    const cf_backend *be = cf_backend_for(n->out->storage->device);
    cf_kernel_fn fwd = be ? be->fwd[n->op] : NULL;
    if (!fwd) {
        cf_set_error(CF_ERR_UNSUPPORTED, "%s: no forward kernel on the %s backend", cf_op_name(n->op),
                     be ? be->name : "missing");
        return NULL;
    }
    cf_op_time *prof = cf_ctx_profile_slot(ctx, n->op);
    double t0 = prof ? cf_now() : 0;
    if (fwd(ctx, n) != CF_OK) {
        if (strncmp(cf_last_error(), cf_op_name(n->op), strlen(cf_op_name(n->op))) != 0)
            cf_error_prefix("%s: ", cf_op_name(n->op));
        return NULL;
    }
    if (prof) prof->fwd_s += cf_now() - t0, prof->fwd_calls++;
    if (ctx->rc_collecting) collect_grad_inputs(ctx, n);
    bool any = false;
    for (int i = 0; i < n->n_in; i++) any |= n->in[i]->requires_grad;
    if (!ctx->grad_enabled || !any || !cf_dtype_is_float(n->out->dtype)) return n->out;
    return cf_node_record(ctx, n) == CF_OK ? n->out : NULL;
}

cf_tensor *cf_view_raw(cf_ctx *ctx, cf_tensor *base, int ndim, const int64_t *shape, const int64_t *stride,
                       int64_t offset)
{
    cf_tensor *v = cf_arena_alloc(ctx->arena, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->dtype = base->dtype;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i], v->stride[i] = stride[i];
    v->offset = offset;
    v->storage = base->storage;
    v->first_use = -1;
    return v;
}

/* A free block big enough for bytes (the smallest such), taken off the free list; a block larger by a page or
 * more is split, its tail staying on the list, so one large dead tensor serves several smaller gradients. */
void *cf_free_block_take(cf_ctx *ctx, size_t bytes, size_t *got)
{
    int64_t best = -1;
    for (int64_t i = 0; i < ctx->n_free; i++)
        if (ctx->free_blocks[i].bytes >= bytes && (best < 0 || ctx->free_blocks[i].bytes < ctx->free_blocks[best].bytes))
            best = i;
    if (best < 0) return NULL;
    struct cf_free_block *b = &ctx->free_blocks[best];
    void *p = b->data;
    size_t take = (bytes + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1);
    if (b->bytes >= take + 4096) {
        b->data = (unsigned char *)b->data + take; /* still aligned: take is a multiple of the alignment */
        b->bytes -= take;
        *got = take;
    } else {
        *got = b->bytes;
        *b = ctx->free_blocks[--ctx->n_free];
    }
    return p;
}

/* Puts a dead block on the free list, merged with the free blocks right before and after it (split blocks
 * come back whole). */
static void release_data(cf_ctx *ctx, void *data, size_t bytes)
{
    if (bytes < 4096) return; /* small blocks are not worth tracking */
    unsigned char *lo = data, *hi = lo + bytes;
    for (int64_t i = 0; i < ctx->n_free;) {
        unsigned char *b = ctx->free_blocks[i].data, *e = b + ctx->free_blocks[i].bytes;
        if (e == lo || b == hi) {
            lo = e == lo ? b : lo, hi = b == hi ? e : hi;
            ctx->free_blocks[i] = ctx->free_blocks[--ctx->n_free];
            i = 0; /* the grown block may now touch one already passed */
        } else {
            i++;
        }
    }
    if (ctx->n_free == ctx->cap_free) {
        int64_t cap = ctx->cap_free ? 2 * ctx->cap_free : 256;
        struct cf_free_block *b = realloc(ctx->free_blocks, (size_t)cap * sizeof *b);
        if (!b) return; /* not reusing is always correct */
        ctx->free_blocks = b, ctx->cap_free = cap;
    }
    ctx->free_blocks[ctx->n_free++] = (struct cf_free_block){lo, (size_t)(hi - lo)};
}

static void release_block(cf_ctx *ctx, cf_tensor *g)
{
    if (!g->persistent) release_data(ctx, g->storage->data, g->storage->nbytes);
}

/* Inside a recomputed segment's backward, a storage made inside the segment dies once the last node that reads
 * it has run its backward: nothing outside the segment sees it, and nodes run from the end of the tape down,
 * so that is the reader lowest on the tape (a storage no backward reads is dead from the start). Its bytes then
 * serve the gradients still to come. The plan pairs each such storage with that position. */
typedef struct release_entry {
    cf_storage *s;
    int64_t after; /* released once the node at this position has run; hi + 1: before the first */
} release_entry;

static bool made_in_segment(const cf_ctx *ctx, const cf_storage *s)
{
    bool host = s->device == CF_CPU || !ctx->dev_arena;
    return cf_arena_after_mark(ctx->arena, ctx->rc_seg.host, s) &&
           cf_arena_after_mark(host ? ctx->arena : ctx->dev_arena, host ? ctx->rc_seg.host : ctx->rc_seg.dev, s->data);
}

static void plan_note(const cf_ctx *ctx, release_entry *plan, int64_t *n, cf_storage *s, int64_t reader)
{
    for (int64_t i = 0; i < *n; i++)
        if (plan[i].s == s) {
            if (reader < plan[i].after) plan[i].after = reader;
            return;
        }
    if (made_in_segment(ctx, s)) plan[(*n)++] = (release_entry){s, reader};
}

static int later_first(const void *a, const void *b)
{
    int64_t x = ((const release_entry *)a)->after, y = ((const release_entry *)b)->after;
    return (x < y) - (x > y);
}

static bool saves_input(const cf_node *n, int i);

/* The plan for the segment's nodes hi down to lo, latest release first; NULL (no releases) when out of memory. */
static release_entry *plan_releases(cf_ctx *ctx, int64_t hi, int64_t lo, int64_t *n_plan)
{
    int64_t cap = 0;
    for (int64_t j = lo; j <= hi; j++) cap += ctx->tape[j]->n_in + 5;
    release_entry *plan = cf_arena_alloc(ctx->arena, (size_t)cap * sizeof *plan); /* freed with the segment */
    *n_plan = 0;
    if (!plan) return NULL;
    for (int64_t j = hi; j >= lo; j--) {
        cf_node *n = ctx->tape[j];
        plan_note(ctx, plan, n_plan, n->out->storage, (n->saves & CF_SAVE_OUT) ? j : hi + 1);
        if (n->out2) plan_note(ctx, plan, n_plan, n->out2->storage, j);
        for (int i = 0; i < n->n_in; i++)
            if (saves_input(n, i)) plan_note(ctx, plan, n_plan, n->in[i]->storage, j);
        for (int k = 0; k < 4; k++)
            if (n->aux[k]) plan_note(ctx, plan, n_plan, n->aux[k]->storage, j);
    }
    qsort(plan, (size_t)*n_plan, sizeof *plan, later_first);
    return plan;
}

static cf_tensor *new_grad(cf_ctx *ctx, cf_tensor *t, bool zero)
{
    cf_tensor *g = NULL;
    if (t->persistent && !t->node) {
        g = cf_tensor_alloc_on(t->storage->device, t->dtype, t->ndim, t->shape); /* kept across steps */
    } else {
        size_t bytes = (size_t)cf_numel(t) * cf_dtype_size(t->dtype), got = 0;
        void *block = ctx->in_backward && bytes >= 4096 ? cf_free_block_take(ctx, bytes, &got) : NULL;
        if (block) {
            g = cf_empty_on(ctx, t->dtype, t->ndim, t->shape, block, got);
            if (g && zero && ctx->backend->fill(g, 0.0) != CF_OK) g = NULL;
        } else {
            g = zero ? cf_zeros(ctx, t->dtype, t->ndim, t->shape) : cf_empty(ctx, t->dtype, t->ndim, t->shape);
        }
    }
    t->grad = g;
    return g;
}

cf_tensor *cf_grad_acc(cf_ctx *ctx, cf_tensor *t)
{
    return t->grad ? t->grad : new_grad(ctx, t, true);
}

cf_tensor *cf_grad_slot(cf_ctx *ctx, cf_tensor *t, bool *overwrite)
{
    if (t->grad) {
        *overwrite = false;
        return t->grad;
    }
    /* a persistent leaf's new grad comes zeroed from cf_tensor_alloc: accumulate is as cheap */
    *overwrite = !(t->persistent && !t->node);
    return new_grad(ctx, t, false);
}

/* Whether backward reads input i: bits 0..30 of saves name inputs; an op with more inputs (a concat of many
 * tensors) saves those past the 31st only when it saves every input. */
static bool saves_input(const cf_node *n, int i)
{
    return i < 31 ? (n->saves >> i) & 1u : (n->saves & CF_SAVE_INPUTS) == CF_SAVE_INPUTS;
}

static cf_status check_saved(const cf_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        if (!saves_input(n, i)) continue;
        if (n->in[i]->storage->version != n->in_version[i])
            return cf_set_error(CF_ERR_STATE,
                                "backward of %s: input %d was modified in place after it was saved "
                                "(version %u, now %u); clone it before writing to it",
                                cf_op_name(n->op), i, n->in_version[i], n->in[i]->storage->version);
    }
    if ((n->saves & CF_SAVE_OUT) && n->out->storage->version != n->out_version)
        return cf_set_error(CF_ERR_STATE,
                            "backward of %s: its output was modified in place after it was saved "
                            "(version %u, now %u)",
                            cf_op_name(n->op), n->out_version, n->out->storage->version);
    if (n->out2 && n->out2->storage->version != n->out2_version)
        return cf_set_error(CF_ERR_STATE,
                            "backward of %s: its second output was modified in place after it was saved "
                            "(version %u, now %u)",
                            cf_op_name(n->op), n->out2_version, n->out2->storage->version);
    return CF_OK;
}

/* root's gradient += seed (NULL: += 1), on root's device through its backend. */
static cf_status seed_root(cf_ctx *ctx, cf_tensor *root, const cf_tensor *seed)
{
    char a[128], b[128];
    if (!seed && cf_numel(root) != 1)
        return cf_set_error(CF_ERR_SHAPE, "cf_backward: root %s is not a scalar; pass a seed gradient",
                            cf_shape_str(root, a, sizeof a));
    if (seed && !cf_same_shape(root, seed))
        return cf_set_error(CF_ERR_SHAPE, "cf_backward: seed %s does not match root %s", cf_shape_str(seed, a, sizeof a),
                            cf_shape_str(root, b, sizeof b));
    cf_tensor *g = cf_grad_acc(ctx, root);
    if (!g) return cf_last_status();
    const cf_tensor *s = seed;
    if (!s) {
        s = cf_full(ctx, g->dtype, g->ndim, g->shape, 1.0);
    } else {
        if (s->storage->device != g->storage->device) s = cf_tensor_to(ctx, s, g->storage->device);
        if (s && s->dtype != g->dtype) s = cf_cast(ctx, (cf_tensor *)s, g->dtype); /* grad mode is off: unrecorded */
    }
    if (!s) return cf_last_status();
    return cf_tensor_backend(g)->copy(g, s, true);
}

static void fire_hooks(cf_ctx *ctx, const cf_node *n)
{
    for (int i = 0; i < n->n_in; i++) {
        cf_tensor *x = n->in[i];
        if (x->hook && !x->node && x->tape_gen == ctx->tape_gen && x->first_use == n->index) {
            x->first_use = -2; /* fire once even if the leaf is in[] twice */
            x->hook(x, x->hook_user);
        }
    }
}

cf_status cf_tape_run(cf_ctx *ctx, int64_t hi, int64_t lo)
{
    cf_status st = CF_OK;
    int64_t n_plan = 0, next = 0;
    release_entry *plan = ctx->rc_seg.on && lo == ctx->rc_seg.base ? plan_releases(ctx, hi, lo, &n_plan) : NULL;
    for (int64_t i = hi; i >= lo && st == CF_OK; i--) {
        for (; next < n_plan && plan[next].after > i; next++) release_data(ctx, plan[next].s->data, plan[next].s->nbytes);
        cf_node *n = ctx->tape[i];
        if (n->out->grad || (n->out2 && n->out2->grad)) {
            st = check_saved(n);
            if (st != CF_OK) break;
            const cf_backend *be = cf_backend_for(n->out->storage->device);
            cf_kernel_fn bwd = n->bwd ? n->bwd : be ? cf_backend_bwd(be, n->op) : NULL;
            if (!bwd) {
                st = cf_set_error(CF_ERR_UNSUPPORTED, "backward of %s: no kernel on the %s backend", cf_op_name(n->op),
                                  be ? be->name : "missing");
                break;
            }
            cf_op_time *prof = n->bwd ? NULL : cf_ctx_profile_slot(ctx, n->op); /* a segment's ops time themselves */
            double t0 = prof ? cf_now() : 0;
            st = bwd(ctx, n);
            if (prof) prof->bwd_s += cf_now() - t0, prof->bwd_calls++;
            if (st != CF_OK) {
                if (!n->bwd) cf_error_prefix("backward of %s: ", cf_op_name(n->op));
                break;
            }
            /* consumed: as in PyTorch, a non-leaf keeps no grad after backward, so a second backward in
             * the same step (another loss) does not push this one through the graph again; its memory
             * serves the gradients still to come (a recomputed segment's node has handed it on already) */
            if (n->out->grad) release_block(ctx, n->out->grad);
            n->out->grad = NULL;
            if (n->out2 && n->out2->grad) release_block(ctx, n->out2->grad);
            if (n->out2) n->out2->grad = NULL;
        }
        fire_hooks(ctx, n);
    }
    return st;
}

cf_status cf_backward(cf_ctx *ctx, cf_tensor *root, const cf_tensor *seed)
{
    if (!root) return cf_last_status() != CF_OK ? cf_last_status() : cf_set_error(CF_ERR_ARG, "cf_backward: root is NULL");
    if (!root->requires_grad)
        return cf_set_error(CF_ERR_STATE, "cf_backward: the root does not require grad (no recorded history)");
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_status st = seed_root(ctx, root, seed);
    if (st != CF_OK) {
        cf_set_grad_enabled(ctx, prev);
        return st;
    }
    if (!root->node) {
        cf_set_grad_enabled(ctx, prev);
        if (root->hook) root->hook(root, root->hook_user);
        return CF_OK;
    }
    ctx->in_backward = true;
    ctx->n_free = 0;
    st = cf_tape_run(ctx, root->node->index, 0);
    ctx->in_backward = false;
    ctx->n_free = 0;
    cf_set_grad_enabled(ctx, prev);
    return st;
}

void cf_set_grad_hook(cf_tensor *leaf, cf_grad_hook hook, void *user)
{
    leaf->hook = hook;
    leaf->hook_user = user;
}

/* ---- argument checks ---- */

/* f32 and f64 everywhere; bf16 (f32 arithmetic) on the CUDA backend, whose kernel says by name if it lacks it */
cf_status cf_check_float(const char *op, const cf_tensor *t)
{
    char b[128];
    if (t->dtype == CF_BF16 && t->storage->device != CF_CPU) return CF_OK;
    if (t->dtype != CF_F32 && t->dtype != CF_F64)
        return cf_set_error(CF_ERR_DTYPE, "%s: expected an f32 or f64 tensor%s, got %s", op,
                            t->dtype == CF_BF16 ? " (bf16 only on the CUDA backend)" : "", cf_shape_str(t, b, sizeof b));
    return CF_OK;
}

cf_status cf_check_same_dtype(const char *op, const cf_tensor *a, const cf_tensor *b)
{
    char x[128], y[128];
    if (a->dtype != b->dtype)
        return cf_set_error(CF_ERR_DTYPE, "%s: dtypes differ: %s and %s", op, cf_shape_str(a, x, sizeof x),
                            cf_shape_str(b, y, sizeof y));
    return CF_OK;
}

cf_status cf_check_dtype(const char *op, const cf_tensor *t, cf_dtype want)
{
    char b[128];
    if (t->dtype != want)
        return cf_set_error(CF_ERR_DTYPE, "%s: expected %s, got %s", op, cf_dtype_name(want), cf_shape_str(t, b, sizeof b));
    return CF_OK;
}

cf_status cf_check_ndim(const char *op, const cf_tensor *t, int min_ndim, int max_ndim)
{
    char b[128];
    if (t->ndim < min_ndim || t->ndim > max_ndim) {
        if (min_ndim == max_ndim)
            return cf_set_error(CF_ERR_SHAPE, "%s: expected %d dims, got %s", op, min_ndim, cf_shape_str(t, b, sizeof b));
        return cf_set_error(CF_ERR_SHAPE, "%s: expected %d to %d dims, got %s", op, min_ndim, max_ndim,
                            cf_shape_str(t, b, sizeof b));
    }
    return CF_OK;
}

int cf_norm_dim(const char *op, const cf_tensor *t, int dim)
{
    char b[128];
    int d = dim < 0 ? dim + t->ndim : dim;
    if (d < 0 || d >= t->ndim) {
        cf_set_error(CF_ERR_SHAPE, "%s: dim %d out of range for %s", op, dim, cf_shape_str(t, b, sizeof b));
        return -1;
    }
    return d;
}
