/* AlgoFormer's looped transformer (layers/algoformer.h), in f64:
 *  - weight tying: T loops of ONE block give the same output as an unrolled copy of T separate blocks holding the
 *    same values, and the shared block's gradient is the sum of the copies' gradients (Gao et al., 2024,
 *    Section 3; the tape must accumulate, never overwrite), the other parameters' gradients are equal;
 *  - the loop window (Yang et al., ICLR 2024, Section 4): with window W < T the output is unchanged, the shared
 *    block's gradient is the sum over the LAST W copies only, and ReadIn / pre get the gradient of the
 *    unrolled copy whose first T - W outputs are detached (the injection path only);
 *  - hand-computed iterates: with the loop block's residual branches zeroed it is the identity, so H_t = t E
 *    with input injection (H_0 = 0) and H_t = E without;
 *  - the config is refused with a named reason: window outside [1, T], a window without injection. */
#include "autograd/cformer.h"
#include "layers/algoformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cf_ctx *ctx;

static cf_algoformer_config small(int64_t loops, int64_t window, bool inject)
{
    cf_algoformer_config c = cf_algoformer_defaults();
    c.input_dim = 3, c.dim = 8, c.heads = 2, c.hidden = 16, c.pre = 1, c.loop = 1, c.post = 1;
    c.loops = loops, c.window = window, c.inject = inject, c.positions = 9, c.init_std = 0.3;
    return c;
}

static bool starts_with(const char *s, const char *head) { return strncmp(s, head, strlen(head)) == 0; }

/* sum(y * r) for a fixed r, so every output position carries a different weight */
static cf_tensor *objective(cf_tensor *y)
{
    cf_tensor *r = cf_randn(ctx, CF_F64, 2, y->shape, 77, 5);
    return cf_sum(ctx, cf_mul(ctx, y, r), CF_ALL_DIMS, false);
}

static double max_diff(const double *a, const double *b, int64_t n)
{
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

/* Compares the looped model (loops T, window W) with the unrolled copy: same loss, loop gradient = the sum over
 * copies j >= T - W, the other gradients equal (the unrolled graph detaches H after copy T - W - 1). */
static void check_tied(int64_t T, int64_t W)
{
    cf_algoformer_config c = small(T, W, true);
    cf_params *ps = cf_params_new(CF_F64, 11), *cp = cf_params_new(CF_F64, 12);
    cf_algoformer m;
    CHECK(cf_algoformer_init(&m, ps, &c) == CF_OK, "init: %s", cf_last_error());
    cf_block *copies = calloc((size_t)T, sizeof *copies);
    for (int64_t j = 0; j < T; j++) {
        char name[32];
        snprintf(name, sizeof name, "copy.%lld", (long long)j);
        CHECK(cf_block_init(&copies[j], cp, name, &m.loop[0].cfg) == CF_OK);
    }
    /* the copies hold the loop block's values, parameter by parameter (the same init order) */
    int first = -1, per = 0;
    for (int i = 0; i < ps->count; i++)
        if (starts_with(ps->items[i].name, "loop.0.")) first = first < 0 ? i : first, per++;
    CHECK(per > 0 && cp->count == per * T, "%d loop params, %d copy params", per, cp->count);
    for (int i = 0; i < cp->count; i++) cf_copy_(cp->items[i].value, ps->items[first + i % per].value);
    cf_params_grads(ps), cf_params_grads(cp);
    cf_tensor *z = cf_tensor_alloc(CF_F64, CF_SHAPE(2, 7, 3));
    cf_copy_(z, cf_randn(ctx, CF_F64, CF_SHAPE(2, 7, 3), 3, 1));

    cf_tensor *ys[1];
    CHECK(cf_algoformer_forward(ctx, &m, z, 1, ys) == 1, "forward: %s", cf_last_error());
    cf_tensor *l1 = objective(ys[0]);
    double loss1 = cf_item(l1);
    CHECK(cf_backward(ctx, l1, NULL) == CF_OK);
    int64_t total = cf_params_numel(ps);
    double *g1 = malloc((size_t)total * sizeof *g1);
    memcpy(g1, ps->grads, (size_t)total * sizeof *g1);
    cf_step_reset(ctx);
    cf_params_zero_grad(ps);

    cf_tensor *e = cf_algoformer_embed(ctx, &m, z), *h = cf_zeros_like(ctx, e);
    for (int64_t j = 0; j < T; j++) {
        h = cf_block_fwd(ctx, &copies[j], cf_add(ctx, h, e), NULL, NULL, NULL, NULL);
        if (j == T - W - 1) h = cf_detach(ctx, h);
    }
    cf_tensor *l2 = objective(cf_algoformer_head(ctx, &m, h));
    double loss2 = cf_item(l2);
    CHECK(cf_backward(ctx, l2, NULL) == CF_OK);
    CHECK(fabs(loss1 - loss2) < 1e-12 * fmax(1, fabs(loss1)), "T %lld W %lld: loss %.17g vs unrolled %.17g",
          (long long)T, (long long)W, loss1, loss2);

    const double *g2 = ps->grads, *gc = cp->grads;
    double worst_other = 0, worst_loop = 0, early = 0, loop_norm = 0;
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        if (!starts_with(p->name, "loop.0.")) {
            worst_other = fmax(worst_other, max_diff(g1 + p->offset, g2 + p->offset, p->numel));
            continue;
        }
        for (int64_t k = 0; k < p->numel; k++) {
            double sum = 0;
            for (int64_t j = T - W; j < T; j++) sum += gc[cp->items[j * per + (i - first)].offset + k];
            worst_loop = fmax(worst_loop, fabs(g1[p->offset + k] - sum));
            loop_norm = fmax(loop_norm, fabs(sum));
        }
        for (int64_t j = 0; j < T - W; j++)
            for (int64_t k = 0; k < p->numel; k++) early = fmax(early, fabs(gc[cp->items[j * per + (i - first)].offset + k]));
    }
    CHECK(loop_norm > 1e-6, "the loop gradient is zero: the test would prove nothing");
    CHECK(worst_loop < 1e-10, "T %lld W %lld: loop gradient differs from the sum over the last %lld copies by %g",
          (long long)T, (long long)W, (long long)W, worst_loop);
    CHECK(worst_other < 1e-10, "T %lld W %lld: non-loop gradients differ by %g", (long long)T, (long long)W, worst_other);
    CHECK(early == 0, "the detached copies got gradient %g", early);
    cf_step_reset(ctx);
    free(g1);
    cf_tensor_free(z);
    free(copies);
    cf_algoformer_free(&m);
    cf_params_free(ps);
    cf_params_free(cp);
}

/* zeroes the loop block's attention output and MLP output projections: the block is the identity */
static void identity_loop(cf_params *ps)
{
    for (int i = 0; i < ps->count; i++) {
        const char *n = ps->items[i].name;
        if (starts_with(n, "loop.") && (strstr(n, "attn.proj.") || strstr(n, "mlp.fc2."))) cf_fill_(ps->items[i].value, 0);
    }
}

static void check_iterates(bool inject)
{
    int64_t T = 5;
    cf_algoformer_config c = small(T, inject ? 3 : T, inject);
    cf_params *ps = cf_params_new(CF_F64, 4);
    cf_algoformer m;
    CHECK(cf_algoformer_init(&m, ps, &c) == CF_OK, "init: %s", cf_last_error());
    identity_loop(ps);
    cf_tensor *z = cf_randn(ctx, CF_F64, CF_SHAPE(2, 5, 3), 8, 2), *hs[5];
    cf_tensor *e = cf_algoformer_embed(ctx, &m, z);
    int keep = (int)c.window, n = cf_algoformer_iterates(ctx, &m, e, keep, hs);
    CHECK(n == keep, "kept %d of %d", n, keep);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double t = inject ? (double)(T - keep + 1 + i) : 1.0; /* H_t = t E, or E */
        for (int64_t k = 0; k < cf_numel(e); k++) worst = fmax(worst, fabs(cf_get_flat(hs[i], k) - t * cf_get_flat(e, k)));
    }
    CHECK(worst < 1e-12, "inject %d: iterates differ from the hand-computed t E by %g", inject, worst);
    cf_step_reset(ctx);
    cf_algoformer_free(&m);
    cf_params_free(ps);
}

static void check_refused(cf_algoformer_config c, const char *what)
{
    cf_params *ps = cf_params_new(CF_F64, 1);
    cf_algoformer m;
    CHECK(cf_algoformer_init(&m, ps, &c) == CF_ERR_ARG, "%s accepted", what);
    CHECK(strstr(cf_last_error(), what) != NULL, "message '%s' does not name %s", cf_last_error(), what);
    cf_params_free(ps);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    check_tied(3, 3);
    check_tied(4, 4);
    check_tied(5, 2);
    check_tied(4, 1);
    check_iterates(true);
    check_iterates(false);
    check_refused(small(4, 5, true), "window");
    check_refused(small(4, 0, true), "window");
    check_refused(small(4, 2, false), "injection");
    cf_algoformer_config c = small(4, 4, true);
    c.heads = 3;
    check_refused(c, "divisible");
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
