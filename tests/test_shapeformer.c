/* ShapeFormer's layers (layers/shapeformer.h): the Shapelet Filter picks the window a hand-computed case
 * expects and its tokens equal W1 sub + b1 - (W2 s + b2); f64 finite differences of the whole model's loss
 * against the tape's gradients (shapelet values, both Linears, token weights, the generic branch); the
 * shapelet values learn only through W2 (the picked window is data); an undiscovered model refuses to run. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/cformer.h"
#include "layers/shapeformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

enum { V = 2, T = 12, B = 3 };

static cf_shapeformer_config config(void)
{
    return (cf_shapeformer_config){.dims = V, .length = T, .classes = 2, .per_class = 1, .shapelet_max = 4, .search = 3,
                                   .es = 4, .el = 4, .heads = 2, .hidden = 6, .dropout = 0,
                                   .shapelet_branch = true, .generic_branch = true};
}

static float xs[B * V * T];

static void fill_x(void)
{
    for (int k = 0; k < B * V * T; k++) xs[k] = (float)sin(0.7 * k) * 0.5f;
    /* row 0, dim 1: the shapelet (1, 3, 1) planted at 6 */
    xs[(0 * V + 1) * T + 6] = 1, xs[(0 * V + 1) * T + 7] = 3, xs[(0 * V + 1) * T + 8] = 1;
}

static cf_status setup(cf_shapeformer *m, cf_params *ps)
{
    cf_shapeformer_config c = config();
    CF_TRY(cf_shapeformer_init(m, ps, &c));
    /* shapelet 0 from row 0, dim 1, [6, 9); shapelet 1 from row 1, dim 0, [2, 6) */
    cf_shapelet sh[2] = {{0, 1, 6, 9, 0, 0.5, 0}, {1, 0, 2, 6, 1, 0.25, 0}};
    return cf_shapeformer_set_shapelets(m, sh, xs, B);
}

static void test_filter_values(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .seed = 1});
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_shapeformer m;
    CHECK(setup(&m, ps) == CF_OK);
    CHECK(cf_get_flat(m.geometry, 3) == 3 && cf_get_flat(m.geometry, 7) == 4 && cf_get_flat(m.values, 1) == 3);
    CHECK(cf_get_flat(m.values, 3) == 0, "zero beyond the shapelet's length");
    CHECK_NEAR(cf_get_flat(m.sw, 0), 2 * exp(10) / (exp(10) + exp(5)), 1e-9); /* softmax(20 IG) M */
    CHECK_NEAR(cf_get_flat(m.ce, 0), sqrt(8.0) + 1e-3, 1e-9);
    cf_tensor *x = cf_from_data(ctx, CF_F32, CF_SHAPE(B, V, T), xs);
    cf_tensor *u = cf_shapelet_filter(ctx, &m, x);
    CHECK(u && u->ndim == 3 && u->shape[0] == B && u->shape[1] == 2 && u->shape[2] == 4);
    /* row 0, shapelet 0 finds its own window (distance 0): u = W1 s + b1 - W2 s - b2 */
    for (int e = 0; u && e < 4; e++) {
        double want = cf_get_flat(m.b1, e) - cf_get_flat(m.b2, e);
        for (int t = 0; t < 3; t++)
            want += (cf_get_flat(m.w1, e * 4 + t) - cf_get_flat(m.w2, e * 4 + t)) * cf_get_flat(m.values, t);
        CHECK_NEAR(cf_get_flat(u, e), want, 1e-9);
    }
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* The summed cross-entropy of the model on xs, for the finite differences. */
static double loss_value(cf_ctx *ctx, cf_shapeformer *m, bool backward)
{
    cf_tensor *x = cf_from_data(ctx, CF_F32, CF_SHAPE(B, V, T), xs);
    int64_t y[B] = {0, 1, 1};
    cf_tensor *logits = cf_shapeformer_logits(ctx, m, x);
    if (!logits) return NAN;
    cf_tensor *l = cf_cross_entropy(ctx, logits, cf_from_data(ctx, CF_I64, CF_SHAPE(B), y), NULL);
    double v = cf_item(l);
    if (backward) cf_backward(ctx, l, NULL);
    cf_step_reset(ctx);
    return v;
}

static void test_gradients(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .seed = 1});
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_shapeformer m;
    CHECK(setup(&m, ps) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    cf_set_training(ctx, false); /* batch norm with running statistics: a deterministic function */
    cf_params_zero_grad(ps);
    loss_value(ctx, &m, true);
    const char *names[] = {"shapelets.values", "shapelets.l1.weight", "shapelets.l2.bias", "shapelets.sw",
                           "shapelets.pos.start.weight", "shapelet_encoder.attn.q.weight", "generic.conv1.weight",
                           "generic.conv2.weight", "generic.pe", "head.weight"};
    int worst_ok = 1;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        cf_param *p = cf_params_find(ps, names[k]);
        CHECK(p != NULL, "%s", names[k]);
        if (!p) continue;
        double *v = (double *)cf_data(p->value);
        for (int64_t i = 0; i < p->numel && i < 12; i += 1 + p->numel / 7) {
            double keep = v[i], eps = 1e-6;
            v[i] = keep + eps;
            double up = loss_value(ctx, &m, false);
            v[i] = keep - eps;
            double down = loss_value(ctx, &m, false);
            v[i] = keep;
            double fd = (up - down) / (2 * eps), an = cf_get_flat(p->value->grad, i);
            bool ok = fabs(fd - an) <= 1e-6 + 1e-4 * fabs(fd);
            worst_ok &= ok;
            CHECK(ok, "%s[%lld]: finite difference %.9g, tape %.9g", names[k], (long long)i, fd, an);
        }
    }
    /* shapelet values beyond a shapelet's length get no gradient (the zero padding stays zero) */
    CHECK(cf_get_flat(m.values->grad, 3) == 0);
    CHECK(worst_ok);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

static void test_undiscovered(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .seed = 1});
    cf_params *ps = cf_params_new(CF_F32, 5);
    cf_shapeformer m;
    cf_shapeformer_config c = config();
    CHECK(cf_shapeformer_init(&m, ps, &c) == CF_OK);
    CHECK(!cf_shapeformer_has_shapelets(&m));
    CHECK(cf_shapeformer_logits(ctx, &m, cf_from_data(ctx, CF_F32, CF_SHAPE(B, V, T), xs)) == NULL);
    CHECK_ERROR_HAS("never discovered");
    cf_shapelet longer[2] = {{0, 1, 0, 9, 0, 0.5, 0}, {1, 0, 2, 6, 1, 0.25, 0}};
    CHECK(cf_shapeformer_set_shapelets(&m, longer, xs, B) != CF_OK);
    CHECK_ERROR_HAS("shapelet 0 is 9 long, more than model.shapelet_max (4)");
    c.generic_branch = c.shapelet_branch = false;
    cf_shapeformer m2;
    CHECK(cf_shapeformer_init(&m2, ps, &c) != CF_OK);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

int main(void)
{
    fill_x();
    test_filter_values();
    test_gradients();
    test_undiscovered();
    TEST_MAIN_END();
}
