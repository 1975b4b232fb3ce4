/* `cformer bench norm`: the fused residual add + LayerNorm op (add_layer_norm) against the two ops it replaces
 * (add, then layer_norm), forward + backward, at transformer shapes, both measured in the same run.
 *
 * Each iteration builds what a pre-norm block builds: s = x + r and y = layer_norm(s) with weight and bias,
 * then backward with a gradient on y (the seed) and one already on s (left there as the next sub-block's
 * residual add would leave it), so dL/dx = dL/dr = dL/ds + layer_norm'(dL/dy) and the parameter gradients.
 * x and r are activations (fresh gradient buffers each step), weight and bias parameters (accumulated). */
#include "autograd/cf_node.h"
#include "autograd/cformer.h"
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    cf_ctx *ctx;
    cf_tensor *x, *r, *w, *b, *gy, *gs;
    bool fused;
} addln_args;

/* t's data as a step tensor that requires grad: its gradient is a fresh buffer each step, as an activation's */
static cf_tensor *activation(cf_ctx *ctx, cf_tensor *t)
{
    cf_tensor *v = cf_view_raw(ctx, t, t->ndim, t->shape, t->stride, t->offset);
    if (v) v->requires_grad = true;
    return v;
}

static cf_status addln_step(addln_args *a)
{
    cf_tensor *s = NULL, *y, *x = activation(a->ctx, a->x), *r = activation(a->ctx, a->r);
    if (a->fused) {
        y = cf_add_layer_norm(a->ctx, x, r, a->w, a->b, 1e-5, &s);
    } else {
        s = cf_add(a->ctx, x, r);
        y = cf_layer_norm(a->ctx, s, 1, a->w, a->b, 1e-5);
    }
    cf_tensor *g = y ? cf_grad_acc(a->ctx, s) : NULL;
    cf_status st = g ? cf_copy_(g, a->gs) : cf_last_status();
    if (st == CF_OK) st = cf_backward(a->ctx, y, a->gy);
    cf_step_reset(a->ctx);
    return st;
}

/* Seconds per iteration: the best of `rounds` rounds of at least min_time each. */
static double time_step(addln_args *a, int rounds, double min_time, cf_status *st)
{
    *st = addln_step(a); /* warm-up: arena growth, page faults */
    double best = 1e30;
    for (int k = 0; k < rounds && *st == CF_OK; k++) {
        int iters = 0;
        double t0 = cf_now(), t;
        do {
            *st = addln_step(a);
            iters++;
            t = cf_now() - t0;
        } while (t < min_time && *st == CF_OK);
        if (t / iters < best) best = t / iters;
    }
    return best;
}

int cf_cmd_bench_norm(int argc, char **argv)
{
    int64_t threads = 0, repeat = 3;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            if (!cf_cli_int("bench norm", argv[i], argv[i + 1], 0, CF_MAX_THREADS, &threads)) return 2;
            i++;
        } else if (i + 1 < argc && strcmp(argv[i], "--repeat") == 0) {
            if (!cf_cli_int("bench norm", argv[i], argv[i + 1], 1, 100, &repeat)) return 2;
            i++;
        } else {
            fprintf(stderr, "usage: cformer bench norm [--threads N] [--repeat R]\n");
            return 2;
        }
    }
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = (int)threads, .arena_bytes = 256u << 20});
    if (!ctx) {
        fprintf(stderr, "cformer bench norm: %s\n", cf_last_error());
        return 1;
    }
    printf("cformer bench norm: %d threads; add + layer_norm vs add_layer_norm, forward + backward, f32\n",
           cf_get_threads(ctx));
    printf("shape           repeat   add+layer_norm ms   add_layer_norm ms   speed-up\n");
    const int64_t shapes[][2] = {{16 * 128, 256}, {8 * 512, 768}};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        int64_t M = shapes[k][0], D = shapes[k][1];
        addln_args a = {.ctx = ctx};
        cf_tensor **leaves[] = {&a.x, &a.r, &a.w, &a.b, &a.gy, &a.gs};
        for (int j = 0; j < 6; j++) {
            bool vec = j == 2 || j == 3;
            int64_t shape[2] = {M, D};
            cf_tensor *t = cf_tensor_alloc(CF_F32, vec ? 1 : 2, vec ? shape + 1 : shape);
            cf_tensor *v = cf_randn(ctx, CF_F32, t->ndim, t->shape, 11, (uint64_t)j);
            cf_copy_(t, v);
            if (j == 2 || j == 3) cf_requires_grad_(t, true); /* the parameters; x and r: activation() */
            *leaves[j] = t;
        }
        cf_step_reset(ctx);
        for (int rep = 0; rep < repeat && rc == 0; rep++) { /* alternating: drift on a shared machine hits both */
            cf_status st1, st2;
            a.fused = false;
            double t0 = time_step(&a, 3, 0.2, &st1);
            a.fused = true;
            double t1 = time_step(&a, 3, 0.2, &st2);
            if (st1 != CF_OK || st2 != CF_OK) {
                fprintf(stderr, "cformer bench norm: %s\n", cf_last_error());
                rc = 1;
                break;
            }
            printf("[%5lld, %4lld]   %4d   %14.3f      %14.3f        %.2fx\n", (long long)M, (long long)D, rep + 1,
                   t0 * 1e3, t1 * 1e3, t0 / t1);
            cf_zero_grad(a.w), cf_zero_grad(a.b);
        }
        for (int j = 0; j < 6; j++) cf_tensor_free(*leaves[j]);
    }
    cf_ctx_free(ctx);
    return rc;
}
