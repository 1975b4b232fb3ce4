/* The context's fields, shared by the engine's own files (tensor.c, ctx.c, tape.c). */
#ifndef CF_CTX_INTERNAL_H
#define CF_CTX_INTERNAL_H

#include "autograd/cf_node.h"

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
};

/* Data for an arena tensor on dev (the host's or the context's own device); NULL with the error set. */
void *cf_ctx_data_alloc(cf_ctx *ctx, cf_device dev, size_t bytes);

#endif
