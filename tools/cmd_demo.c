/* `cformer demo`: the quickstart job, the demo of the first paper of recipes/papers.def that has one.
 * `--mlp` is the first demo: a small MLP on a generated regression task, using nothing but the engine,
 * parameters and optimizer. */
#include "autograd/cformer.h"
#include "autograd/clock.h"
#include "tools/cli.h"
#include "optim/optim.h"
#include "recipes/run/paper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    cf_tensor *w1, *b1, *w2, *b2, *w3, *b3;
} mlp;

static mlp build(cf_params *ps, int hidden)
{
    mlp m;
    m.w1 = cf_params_add(ps, "fc1.weight", CF_SHAPE(hidden, 2), true);
    m.b1 = cf_params_add(ps, "fc1.bias", CF_SHAPE(hidden), false);
    m.w2 = cf_params_add(ps, "fc2.weight", CF_SHAPE(hidden, hidden), true);
    m.b2 = cf_params_add(ps, "fc2.bias", CF_SHAPE(hidden), false);
    m.w3 = cf_params_add(ps, "fc3.weight", CF_SHAPE(1, hidden), true);
    m.b3 = cf_params_add(ps, "fc3.bias", CF_SHAPE(1), false);
    cf_init_normal(ps, m.w1, 0, 1.0 / sqrt(2.0));
    cf_init_normal(ps, m.w2, 0, 1.0 / sqrt(hidden));
    cf_init_normal(ps, m.w3, 0, 1.0 / sqrt(hidden));
    return m;
}

/* target: f(x, y) = sin(3x) cos(2y) + 0.3 x y, inputs uniform in [-1, 1] */
static void make_batch(cf_tensor *x, cf_tensor *y, uint64_t seed, uint64_t step)
{
    cf_philox_key key = cf_rng_key(seed, 17);
    int64_t n = x->shape[0];
    float *xp = cf_data(x), *yp = cf_data(y);
    for (int64_t i = 0; i < n; i++) {
        float a = (float)(2 * cf_rng_uniform(key, step, (uint64_t)(2 * i)) - 1);
        float b = (float)(2 * cf_rng_uniform(key, step, (uint64_t)(2 * i + 1)) - 1);
        xp[2 * i] = a, xp[2 * i + 1] = b;
        yp[i] = sinf(3 * a) * cosf(2 * b) + 0.3f * a * b;
    }
    cf_bump_version(x);
    cf_bump_version(y);
}

static cf_tensor *forward_loss(cf_ctx *ctx, const mlp *m, cf_tensor *x, cf_tensor *y)
{
    cf_tensor *h = cf_gelu(ctx, cf_linear(ctx, x, m->w1, m->b1));
    h = cf_gelu(ctx, cf_linear(ctx, h, m->w2, m->b2));
    cf_tensor *pred = cf_linear(ctx, h, m->w3, m->b3);
    cf_tensor *d = cf_reshape(ctx, cf_sub(ctx, pred, y), CF_SHAPE(-1));
    /* mean squared error as (d . d) / n */
    return cf_mul_scalar(ctx, cf_matmul(ctx, d, d), 1.0 / (double)y->shape[0]);
}

static void progress(int step, int steps, double loss, double elapsed, bool tty)
{
    if (tty) {
        int width = 30, done = (int)((double)width * step / steps);
        char bar[64];
        memset(bar, '#', (size_t)done);
        memset(bar + done, '.', (size_t)(width - done));
        bar[width] = '\0';
        double eta = step ? elapsed / step * (steps - step) : 0;
        printf("\r[%s] step %4d/%d  loss %.5f  eta %4.1fs", bar, step, steps, loss, eta);
        fflush(stdout);
    } else {
        printf("step %4d/%d  loss %.5f  elapsed %.1fs\n", step, steps, loss, elapsed);
    }
}

static int mlp_demo(int steps)
{
    int batch = 256, hidden = 64;
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.seed = 1});
    cf_params *ps = cf_params_new(CF_F32, 1);
    if (!ctx || !ps) goto fail;
    mlp m = build(ps, hidden);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    cf_tensor *x = cf_tensor_alloc(CF_F32, CF_SHAPE(batch, 2)), *y = cf_tensor_alloc(CF_F32, CF_SHAPE(batch, 1));
    if (!opt || !x || !y) goto fail;
    cf_schedule sched = {.kind = CF_SCHED_COSINE, .warmup_steps = 20, .total_steps = steps, .min_lr_ratio = 0.05};
    bool tty = isatty(fileno(stdout));
    printf("cformer demo: MLP with %lld parameters, batch %d, %d steps, %d threads\n", (long long)cf_params_numel(ps),
           batch, steps, cf_get_threads(ctx));
    double t0 = cf_now(), first = 0, ema = 0;
    for (int s = 0; s < steps; s++) {
        make_batch(x, y, 1, (uint64_t)s);
        cf_params_zero_grad(ps);
        cf_tensor *loss = forward_loss(ctx, &m, x, y);
        if (!loss || cf_backward(ctx, loss, NULL) != CF_OK) goto fail;
        double l = cf_item(loss);
        cf_clip_grad_norm(ps, 1.0);
        cf_optim_step(opt, cf_schedule_lr(&sched, 3e-3, s));
        cf_step_reset(ctx);
        ema = s ? 0.9 * ema + 0.1 * l : l;
        if (s == 0) first = l;
        if (s % 50 == 0 || s == steps - 1) progress(s + 1, steps, ema, cf_now() - t0, tty);
    }
    if (tty) printf("\n");
    printf("loss %.5f -> %.5f in %.2fs (%.1f steps/s)\n", first, ema, cf_now() - t0, steps / (cf_now() - t0));
    cf_tensor_free(x);
    cf_tensor_free(y);
    cf_optim_free(opt);
    cf_params_free(ps);
    cf_ctx_free(ctx);
    return 0;
fail:
    fprintf(stderr, "cformer demo: %s\n", cf_last_error());
    return 1;
}

int cf_cmd_demo(int argc, char **argv)
{
    bool mlp = false;
    int64_t steps = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mlp") == 0) mlp = true;
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            if (!cf_cli_int("demo", argv[i], argv[i + 1], 1, 1000000, &steps)) return 2;
            i++;
        }
    }
    const cf_paper *p = NULL;
    for (int i = 0; i < cf_paper_count() && !p; i++)
        if (cf_paper_at(i)->demo) p = cf_paper_at(i);
    if (cf_cli_wants_help(argc, argv)) {
        if (p) {
            int rc = p->demo(argc, argv);
            if (rc) return rc;
            printf("\n");
        }
        printf("usage: cformer demo --mlp [--steps N]\n\n"
               "  --mlp      the first demo instead: a 2-64-64-1 MLP with AdamW on a generated regression task\n");
        return 0;
    }
    if (mlp) return mlp_demo((int)steps);
    if (!p) {
        fprintf(stderr, "cformer demo: no paper has a demo (recipes/papers.def); try --mlp\n");
        return 2;
    }
    return p->demo(argc, argv);
}
