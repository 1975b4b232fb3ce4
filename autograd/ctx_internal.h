/* The context's fields, shared by the engine's own files (tensor.c, ctx.c, tape.c). */
#ifndef CF_CTX_INTERNAL_H
#define CF_CTX_INTERNAL_H

#include "autograd/cf_node.h"
#include "autograd/recompute.h"

struct cf_ctx {
    cf_device device;
    const cf_backend *backend;
    cf_arena *arena;      /* host: tensor headers, tape nodes, host scratch, and the data of a CPU context */
    cf_arena *dev_arena;  /* the data of a device context's tensors (one device allocation, reset per
                           * step); NULL on the CPU, whose data shares `arena` */
    cf_node **tape;
    int64_t tape_len, tape_cap;
    uint64_t tape_gen; /* bumped at every reset, so leaves' first-use marks from old steps are ignored */
    uint64_t step;
    uint64_t seed;
    int threads;
    bool grad_enabled;
    bool training;
    /* During backward, the arena blocks of gradients already consumed (their node has run): new
     * gradients reuse them, so backward needs memory for the gradients alive at once, not for all. */
    struct cf_free_block {
        void *data;
        size_t bytes;
    } *free_blocks;
    int64_t n_free, cap_free;
    bool in_backward;
    /* Recomputed segments (autograd/recompute.c): while a segment's forward runs, rc_in[0..rc_n) collects
     * the tensors that require grad which its ops read (the segment node's inputs); rc_stash holds tensors'
     * bytes (in the context's device memory) while the arena rewinds under them; the layers' policy. */
    bool rc_collecting, rc_oom;
    cf_tensor **rc_in;
    int rc_n, rc_cap;
    void *rc_stash;
    size_t rc_stash_bytes;
    struct cf_rc_kept *rc_kept; /* the inputs' gradients kept across a rewind */
    int rc_kept_cap;
    cf_recompute_mode rc_mode;
    /* the innermost segment whose backward runs: its first node on the tape and the arenas' marks under it */
    struct cf_rc_segment {
        bool on;
        int64_t base;
        cf_arena_mark host, dev;
    } rc_seg;
    cf_op_time *profile; /* per op (cf_ctx_profile): NULL until profiling is first turned on */
    bool profiling;
};

/* The profile entry of op while profiling is on (cf_ctx_profile), else NULL. */
cf_op_time *cf_ctx_profile_slot(cf_ctx *ctx, int op);

/* Records an op's node whose output is computed (grad mode on, an input requiring grad): input versions, the
 * tape, the output's history and the leaves' first use. */
cf_status cf_node_record(cf_ctx *ctx, cf_node *n);
/* Backward over the tape's nodes hi down to lo: each node with an output gradient runs its backward, its consumed
 * gradient goes to the free list, and leaves' hooks fire. cf_backward runs it from the root to 0, and a
 * recomputed segment over its own nodes. */
cf_status cf_tape_run(cf_ctx *ctx, int64_t hi, int64_t lo);

/* During backward: a free block of at least bytes (*got: its size), taken off the free list; NULL when none fits. */
void *cf_free_block_take(cf_ctx *ctx, size_t bytes, size_t *got);

/* Data for an arena tensor on dev (the host's or the context's own device); NULL with the error set. */
void *cf_ctx_data_alloc(cf_ctx *ctx, cf_device dev, size_t bytes);

#endif
