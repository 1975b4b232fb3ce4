/* LMUFormer's model (recipes/lmuformer): for every variant, with scaled batch-norm weights so that the
 * spiking model's neurons fire, the logits of the frame-by-frame stream (carried convolution frames, LIF
 * membranes, LMU memory, feature sum) equal the whole-sequence logits at every frame, in f64 (< 1e-10) and
 * f32 (< 1e-4); the carried state has the same size after N and after 2N frames; the per-frame logits are
 * not all equal (the spiking model's neurons fire, so the test sees the LIF state). */
#include "autograd/cformer.h"
#include "recipes/lmuformer/internal.h"
#include "tests/check.h"

#include <math.h>
#include <string.h>

static cf_ctx *ctx;

/* batch-norm weight 3 and bias 1.2: every LIF layer sees inputs around its threshold and fires (at the
 * initial weights the firing dies out after two layers) */
static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void boost_bn(cf_params *ps)
{
    for (int i = 0; i < ps->count; i++) {
        const char *n = ps->items[i].name;
        if (!strstr(n, "bn")) continue;
        if (ends_with(n, ".weight")) cf_fill_(ps->items[i].value, 3.0);
        if (ends_with(n, ".bias")) cf_fill_(ps->items[i].value, 1.2);
    }
}

static void check_variant(const char *variant, cf_dtype dt)
{
    char text[512];
    snprintf(text, sizeof text, "model:\n  type: lmuformer\n  variant: %s\n  dim: 8\n  memory: 8\n  theta: 12\n"
                                "  causal: true\n", variant);
    cf_recipe *r = cf_recipe_parse(text, "test.yaml");
    cf_params *ps = cf_params_new(dt, 3);
    cf_data_info info = {.vocab = 5, .units = 6, .frames = 20};
    cf_model *m = r && ps ? cf_lmuformer_model.create(r, ps, &info) : NULL;
    CHECK(m != NULL, "%s: create: %s", variant, cf_last_error());
    if (!m) return;
    boost_bn(ps);
    cf_lmuf *lm = &((cf_lmuf_model *)m)->net;
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_set_training(ctx, false);
    int64_t B = 3, N = 20, C = 5;
    cf_tensor *x = cf_tensor_alloc(dt, CF_SHAPE(B, 6, N));
    cf_copy_(x, cf_mul_scalar(ctx, cf_randn(ctx, CF_F64, CF_SHAPE(B, 6, N), 9, 1), 2.0));
    cf_lmuf_pass p = {ctx, lm, NULL, 0, 0};
    cf_tensor *whole = cf_lmuf_logits_all(&p, x); /* [B, N, C] */
    double ref[3 * 20 * 5];
    for (int64_t i = 0; whole && i < B * N * C; i++) ref[i] = cf_get_flat(whole, i);
    cf_step_reset(ctx);
    cf_lmuf_stream s = {0};
    double diff = 0, spread = 0;
    int64_t bytes_n = 0;
    for (int64_t t = 0; whole && t < 2 * N; t++) {
        cf_lmuf_pass q = {ctx, lm, &s, 0, 0};
        cf_tensor *lg = cf_lmuf_logits_all(&q, cf_contiguous(ctx, cf_narrow(ctx, x, 2, t % N, 1)));
        if (!lg) {
            diff = INFINITY;
            break;
        }
        for (int64_t b = 0; t < N && b < B; b++)
            for (int64_t k = 0; k < C; k++) {
                double v = cf_get_flat(lg, b * C + k), w = ref[(b * N + t) * C + k];
                diff = fmax(diff, fabs(v - w));
                spread = fmax(spread, fabs(w - ref[b * N * C + k])); /* against frame 0 */
            }
        if (t == N - 1) bytes_n = cf_lmuf_stream_bytes(&s);
        cf_step_reset(ctx);
    }
    double tol = dt == CF_F64 ? 1e-10 : 1e-4;
    CHECK(whole && diff < tol, "%s %s: streamed vs whole logits max |diff| %.3g", variant, cf_dtype_name(dt), diff);
    CHECK(bytes_n > 0 && bytes_n == cf_lmuf_stream_bytes(&s), "%s: state bytes %lld after N, %lld after 2N", variant,
          (long long)bytes_n, (long long)cf_lmuf_stream_bytes(&s));
    CHECK(spread > 1e-3, "%s: the logits do not change over the frames (%.3g)", variant, spread);
    cf_lmuf_stream_free(&s);
    cf_set_grad_enabled(ctx, prev);
    cf_tensor_free(x);
    m->vt->free(m);
    cf_params_free(ps);
    cf_recipe_free(r);
}

static void test_streaming_equals_whole(void)
{
    const char *variants[3] = {"lmuformer", "spiking", "lmu_only"};
    for (int v = 0; v < 3; v++) {
        check_variant(variants[v], CF_F64);
        check_variant(variants[v], CF_F32);
    }
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    if (!ctx) return 1;
    RUN(test_streaming_equals_whole);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
