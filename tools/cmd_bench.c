/* `cformer bench ops`: the core ops timed against baselines measured in the same run. */
#include "autograd/cformer.h"
#include "tools/cli.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds per call: repeat until min_time has passed, report the best of 3 such rounds. */
typedef void (*bench_fn)(void *user);
static double time_it(bench_fn fn, void *user, double min_time)
{
    fn(user); /* warm-up: page faults, arena growth, plan creation */
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        int iters = 0;
        double t0 = cf_now(), t;
        do {
            fn(user);
            iters++;
            t = cf_now() - t0;
        } while (t < min_time);
        if (t / iters < best) best = t / iters;
    }
    return best;
}

typedef struct {
    cf_ctx *ctx;
    cf_tensor *a, *b, *c;
    int64_t n;
    size_t bytes;
    void *src, *dst;
} bench_args;

static void run_sgemm(void *u)
{
    bench_args *a = u;
    int n = (int)a->n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, cf_data(a->a), n, cf_data(a->b), n, 0.0f,
                cf_data(a->c), n);
}

static void run_matmul(void *u)
{
    bench_args *a = u;
    cf_matmul(a->ctx, a->a, a->b);
    cf_step_reset(a->ctx);
}

static void run_memcpy(void *u)
{
    bench_args *a = u;
    memcpy(a->dst, a->src, a->bytes);
}

static void run_add(void *u)
{
    bench_args *a = u;
    cf_add(a->ctx, a->a, a->b);
    cf_step_reset(a->ctx);
}

static void run_softmax(void *u)
{
    bench_args *a = u;
    cf_softmax(a->ctx, a->a, -1);
    cf_step_reset(a->ctx);
}

static void run_layer_norm(void *u)
{
    bench_args *a = u;
    cf_layer_norm(a->ctx, a->a, 1, a->b, a->c, 1e-5);
    cf_step_reset(a->ctx);
}

typedef struct {
    cf_ctx *ctx;
    cf_tensor *q, *k, *v;
    cf_sdpa_opts o;
} attn_args;

static void run_attention(void *u)
{
    attn_args *a = u;
    cf_tensor *y = cf_sdpa(a->ctx, a->q, a->k, a->v, &a->o);
    cf_backward(a->ctx, y, a->v); /* seed: any tensor of the output's shape (Dv == D, Tq == Tk) */
    cf_step_reset(a->ctx);
}

static void bench_attention(cf_ctx *ctx)
{
    printf("\nattention fwd+bwd (f32, B 1, H 4, D 64)   ms      GFLOP/s (visible area)\n");
    int64_t Ts[] = {1024, 4096};
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 2; i++) {
            int64_t T = Ts[i];
            attn_args a = {.ctx = ctx};
            a.q = cf_tensor_alloc(CF_F32, CF_SHAPE(1, 4, T, 64));
            a.k = cf_tensor_alloc(CF_F32, CF_SHAPE(1, 4, T, 64));
            a.v = cf_tensor_alloc(CF_F32, CF_SHAPE(1, 4, T, 64));
            cf_tensor *r = cf_randn(ctx, CF_F32, CF_SHAPE(1, 4, T, 64), 3, 1);
            cf_copy_(a.q, r), cf_copy_(a.k, r), cf_copy_(a.v, r);
            cf_step_reset(ctx);
            a.q->requires_grad = a.k->requires_grad = a.v->requires_grad = true;
            a.o.mask = m == 0 ? CF_SDPA_CAUSAL : CF_SDPA_WINDOW;
            a.o.window = 256;
            double visible = m == 0 ? (double)T * (T + 1) / 2 : (double)T * 256 - 256.0 * 255 / 2;
            double flops = 4.0 * 14 * 64 * visible; /* fwd 4 D + bwd 10 D per visible pair, 4 heads */
            double t = time_it(run_attention, &a, 0.3);
            printf("  %-8s T = %-5lld                     %8.1f   %8.1f\n", m == 0 ? "causal" : "window", (long long)T,
                   t * 1e3, flops / t * 1e-9);
            cf_tensor_free(a.q), cf_tensor_free(a.k), cf_tensor_free(a.v);
        }
    printf("  (window 256: cost grows linearly in T; causal: quadratically)\n");
}

static void bench_matmul(cf_ctx *ctx)
{
    printf("\nmatmul (f32, square n x n x n)      ours GFLOP/s   cblas_sgemm GFLOP/s   ratio\n");
    int64_t sizes[] = {512, 1024, 2048};
    for (int i = 0; i < 3; i++) {
        int64_t n = sizes[i];
        bench_args a = {.ctx = ctx, .n = n};
        a.a = cf_randn(ctx, CF_F32, CF_SHAPE(n, n), 1, 1);
        a.b = cf_randn(ctx, CF_F32, CF_SHAPE(n, n), 1, 2);
        a.c = cf_empty(ctx, CF_F32, CF_SHAPE(n, n));
        /* keep the operands alive across the resets inside run_matmul: persistent copies */
        cf_tensor *pa = cf_tensor_alloc(CF_F32, CF_SHAPE(n, n)), *pb = cf_tensor_alloc(CF_F32, CF_SHAPE(n, n)),
                  *pc = cf_tensor_alloc(CF_F32, CF_SHAPE(n, n));
        cf_copy_(pa, a.a), cf_copy_(pb, a.b);
        cf_step_reset(ctx);
        a.a = pa, a.b = pb, a.c = pc;
        double flops = 2.0 * (double)n * n * n, tmin = n >= 2048 ? 1.0 : 0.3;
        double t_blas = time_it(run_sgemm, &a, tmin), t_ours = time_it(run_matmul, &a, tmin);
        printf("  n = %-5lld                           %8.1f       %8.1f            %.2fx\n", (long long)n,
               flops / t_ours * 1e-9, flops / t_blas * 1e-9, t_blas / t_ours);
        cf_tensor_free(pa), cf_tensor_free(pb), cf_tensor_free(pc);
    }
}

static void bench_bandwidth(cf_ctx *ctx)
{
    int64_t rows = 4096, cols = 1024;
    bench_args a = {.ctx = ctx};
    a.a = cf_tensor_alloc(CF_F32, CF_SHAPE(rows, cols));
    a.b = cf_tensor_alloc(CF_F32, CF_SHAPE(rows, cols));
    cf_fill_(a.a, 1.0), cf_fill_(a.b, 2.0);
    a.bytes = (size_t)(rows * cols) * sizeof(float);
    a.src = malloc(a.bytes), a.dst = malloc(a.bytes);
    memset(a.src, 1, a.bytes), memset(a.dst, 0, a.bytes);
    double t_copy = time_it(run_memcpy, &a, 0.3);
    double bw_copy = 2.0 * (double)a.bytes / t_copy * 1e-9; /* read + write */
    printf("\nmemory-bound ops (f32, [4096, 1024])   GB/s     memcpy GB/s   ratio\n");
    double t_add = time_it(run_add, &a, 0.3), bw_add = 3.0 * (double)a.bytes / t_add * 1e-9;
    printf("  add (read 2, write 1)               %7.1f     %7.1f       %.2fx\n", bw_add, bw_copy, bw_add / bw_copy);
    double t_sm = time_it(run_softmax, &a, 0.3), bw_sm = 2.0 * (double)a.bytes / t_sm * 1e-9;
    printf("  softmax (read 1, write 1)           %7.1f     %7.1f       %.2fx\n", bw_sm, bw_copy, bw_sm / bw_copy);
    cf_tensor *w = cf_tensor_alloc(CF_F32, CF_SHAPE(cols)), *b = cf_tensor_alloc(CF_F32, CF_SHAPE(cols));
    cf_fill_(w, 1.0);
    bench_args ln = a;
    ln.b = w, ln.c = b;
    double t_ln = time_it(run_layer_norm, &ln, 0.3), bw_ln = 2.0 * (double)a.bytes / t_ln * 1e-9;
    printf("  layer_norm (read 1, write 1)        %7.1f     %7.1f       %.2fx\n", bw_ln, bw_copy, bw_ln / bw_copy);
    cf_tensor_free(w), cf_tensor_free(b);
    free(a.src), free(a.dst);
    cf_tensor_free(a.a), cf_tensor_free(a.b);
}

int cf_cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return cf_cmd_bench_train(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "loader") == 0) return cf_cmd_bench_loader(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "norm") == 0) return cf_cmd_bench_norm(argc - 1, argv + 1);
    if (cf_cli_wants_help(argc, argv) || argc < 2) {
        printf("usage: cformer bench ops [--threads N]\n       cformer bench train RECIPE [--steps N]\n       cformer bench loader RECIPE [--batches N]\n       cformer bench norm [--threads N] [--repeat R]\n\nTimes matmul against raw cblas_sgemm, memory-bound ops against\n"
               "memcpy of the same bytes, and fused attention; every baseline is measured in the same run.\n");
        return argc < 2 ? 2 : 0;
    }
    int64_t threads = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) { /* the range of train.threads */
            if (!cf_cli_int("bench", argv[i], argv[i + 1], 0, CF_MAX_THREADS, &threads)) return 2;
            i++;
        } else {
            fprintf(stderr, "cformer bench: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(argv[1], "ops") != 0) {
        fprintf(stderr, "cformer bench: unknown benchmark '%s' (try: ops)\n", argv[1]);
        return 2;
    }
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = (int)threads, .arena_bytes = 256u << 20});
    if (!ctx) {
        fprintf(stderr, "cformer bench: %s\n", cf_last_error());
        return 1;
    }
    printf("cformer bench ops: %d threads (OpenMP and OpenBLAS)\n", cf_get_threads(ctx));
    bench_matmul(ctx);
    bench_bandwidth(ctx);
    bench_attention(ctx);
    cf_ctx_free(ctx);
    return 0;
}
