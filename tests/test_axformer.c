/* AxFormer: topk_softmax against hand-computed rows (ties, k >= len, the gradient outside the kept entries),
 * the encoder's removal semantics (a removed head equals zeroed W_O columns; removing every block leaves the
 * embedding), counted FLOPs against the formula, switches surviving a checkpoint, and the synlang task's labels. */
#include "autograd/cformer.h"
#include "autograd/ops/hardattn.h"
#include "data/synlang/synlang.h"
#include "layers/axformer.h"
#include "recipes/checkpoint/checkpoint.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <stdio.h>

static cf_tensor *vec(cf_ctx *ctx, cf_dtype dt, int64_t n, const double *v)
{
    cf_tensor *t = cf_empty(ctx, dt, CF_SHAPE(n));
    for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, v[i]);
    return t;
}

static void test_topk_softmax_values(cf_ctx *ctx)
{
    for (int d = 0; d < 2; d++) {
        cf_dtype dt = d ? CF_F64 : CF_F32;
        double tol = d ? 1e-12 : 1e-6;
        /* [1, 3, 2, 0], k 2: softmax over {3, 2} */
        cf_tensor *p = cf_topk_softmax(ctx, vec(ctx, dt, 4, (double[]){1, 3, 2, 0}), 2);
        double a = exp(3.0) / (exp(3.0) + exp(2.0));
        CHECK_NEAR(cf_get_flat(p, 0), 0, tol);
        CHECK_NEAR(cf_get_flat(p, 1), a, tol);
        CHECK_NEAR(cf_get_flat(p, 2), 1 - a, tol);
        CHECK_NEAR(cf_get_flat(p, 3), 0, tol);
        /* ties: the lower index first, exactly k kept */
        p = cf_topk_softmax(ctx, vec(ctx, dt, 4, (double[]){1, 1, 1, 0}), 2);
        CHECK_NEAR(cf_get_flat(p, 0), 0.5, tol);
        CHECK_NEAR(cf_get_flat(p, 1), 0.5, tol);
        CHECK_NEAR(cf_get_flat(p, 2), 0, tol);
        /* k 1 is the argmax one-hot; k >= len is the softmax */
        p = cf_topk_softmax(ctx, vec(ctx, dt, 3, (double[]){-1, 5, 4}), 1);
        CHECK_NEAR(cf_get_flat(p, 1), 1, tol);
        cf_tensor *x = vec(ctx, dt, 3, (double[]){0.5, -2, 1});
        cf_tensor *s = cf_softmax(ctx, x, -1);
        p = cf_topk_softmax(ctx, x, 7);
        for (int i = 0; i < 3; i++) CHECK_NEAR(cf_get_flat(p, i), cf_get_flat(s, i), tol);
        cf_step_reset(ctx);
    }
    CHECK(cf_topk_softmax(ctx, vec(ctx, CF_F32, 3, (double[]){1, 2, 3}), 0) == NULL);
    CHECK_ERROR_HAS("k = 0");
    cf_step_reset(ctx);
}

/* d/dx sum(w * topk_softmax(x, 2)) is zero at the entries outside the top 2, and equals the softmax gradient
 * over the kept pair: p_j (w_j - sum_i w_i p_i). */
static void test_topk_softmax_grad(cf_ctx *ctx)
{
    cf_tensor *x = vec(ctx, CF_F64, 4, (double[]){1, 3, 2, 0});
    cf_requires_grad_(x, true);
    cf_tensor *w = vec(ctx, CF_F64, 4, (double[]){5, 1, -1, 7});
    cf_tensor *y = cf_sum(ctx, cf_mul(ctx, cf_topk_softmax(ctx, x, 2), w), 0, NULL, false);
    CHECK(cf_backward(ctx, y, NULL) == CF_OK);
    double a = exp(3.0) / (exp(3.0) + exp(2.0)), mean = a * 1 + (1 - a) * -1;
    CHECK_NEAR(cf_get_flat(x->grad, 0), 0, 1e-12);
    CHECK_NEAR(cf_get_flat(x->grad, 3), 0, 1e-12);
    CHECK_NEAR(cf_get_flat(x->grad, 1), a * (1 - mean), 1e-12);
    CHECK_NEAR(cf_get_flat(x->grad, 2), (1 - a) * (-1 - mean), 1e-12);
    cf_step_reset(ctx);
}

static const cf_axf_config tiny = {.vocab = 11, .seq = 6, .dim = 8, .heads = 2, .hidden = 16, .layers = 2};

static cf_tensor *ids_of(cf_ctx *ctx)
{
    int64_t v[12] = {1, 3, 4, 5, 6, 7, 1, 10, 9, 8, 3, 3};
    return cf_from_data(ctx, CF_I64, CF_SHAPE(2, 6), v);
}

static double max_diff(const cf_tensor *a, const cf_tensor *b)
{
    double m = 0;
    for (int64_t i = 0; i < cf_numel(a); i++) m = fmax(m, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    return m;
}

/* Removing head 1 of layer 0 (it is never multiplied) equals keeping it with its W_O columns zeroed. */
static void test_head_removal(cf_ctx *ctx)
{
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_axformer m;
    CHECK(cf_axf_init(&m, ps, &tiny) == CF_OK);
    cf_tensor *ids = ids_of(ctx);
    double f_full = 0, f_cut = 0;
    CHECK(cf_axf_set(&m, CF_AXF_HEAD, 0, 1, 0) == CF_OK);
    cf_tensor *removed = cf_axf_fwd(ctx, &m, ids, &f_cut);
    CHECK(cf_axf_set(&m, CF_AXF_HEAD, 0, 1, 1) == CF_OK);
    cf_tensor *full = cf_axf_fwd(ctx, &m, ids, &f_full);
    cf_tensor *wo = m.layer[0].proj.weight; /* [dim, dim]: columns 4..7 are head 1's */
    for (int64_t r = 0; r < 8; r++)
        for (int64_t c = 4; c < 8; c++) cf_set_flat(wo, r * 8 + c, 0);
    cf_tensor *zeroed = cf_axf_fwd(ctx, &m, ids, NULL);
    CHECK(removed && zeroed && max_diff(removed, zeroed) < 1e-12, "removed head differs from zeroed W_O columns");
    CHECK(max_diff(full, zeroed) > 1e-6, "zeroing head 1 changed nothing: the test cannot tell");
    /* one head of 2 in layer 0: its q/k/v/o projections and its attention are not counted */
    double B = 2, T = 6, Dh = 4, D = 8;
    CHECK_NEAR(f_full - f_cut, 2 * B * T * (3 * Dh * D + 2 * T * Dh + Dh * D), 1e-6);
    cf_step_reset(ctx);
    cf_params_free(ps);
}

/* Every block removed leaves LN(tok + pos); the FLOPs of the full model follow the formula. */
static void test_block_removal_and_flops(cf_ctx *ctx)
{
    cf_params *ps = cf_params_new(CF_F64, 4);
    cf_axformer m;
    CHECK(cf_axf_init(&m, ps, &tiny) == CF_OK);
    cf_tensor *ids = ids_of(ctx);
    double f = 0, B = 2, T = 6, D = 8, H = 16;
    cf_axf_fwd(ctx, &m, ids, &f);
    CHECK_NEAR(f, 2 * (2 * B * T * (4 * D * D + 2 * T * D) + 4 * B * T * D * H), 1e-6);
    cf_tensor *emb = cf_norm_fwd(ctx, &m.ln_emb, cf_add(ctx, cf_embedding_fwd(ctx, &m.tok, ids),
                                                       cf_slice(ctx, m.pos.weight, 0, 0, 6, 1)));
    CHECK(cf_axf_set(&m, CF_AXF_ATTN, 0, 0, 0) == CF_OK && cf_axf_set(&m, CF_AXF_FFN, 0, 0, 0) == CF_OK);
    CHECK(cf_axf_set(&m, CF_AXF_LAYER, 1, 0, 0) == CF_OK);
    f = 0;
    cf_tensor *h = cf_axf_fwd(ctx, &m, ids, &f);
    CHECK(h && max_diff(h, emb) < 1e-12, "a model with every block removed is not the embedding");
    CHECK_NEAR(f, 0, 0);
    CHECK(cf_axf_active_params(&m) == (11 + 6) * 8 + 16);
    CHECK(cf_axf_set(&m, CF_AXF_HEAD, 2, 0, 0) != CF_OK);
    CHECK(cf_axf_set(&m, CF_AXF_FFN, 0, 0, 0.5) != CF_OK);
    cf_step_reset(ctx);
    cf_params_free(ps);
}

/* The switches are parameters: a checkpoint carries them into a fresh model. */
static void test_switches_in_checkpoint(void)
{
#ifdef CF_HAVE_HDF5
    cf_params *a = cf_params_new(CF_F32, 1), *b = cf_params_new(CF_F32, 2);
    cf_axformer ma, mb;
    CHECK(cf_axf_init(&ma, a, &tiny) == CF_OK && cf_axf_init(&mb, b, &tiny) == CF_OK);
    cf_axf_set(&ma, CF_AXF_LAYER, 1, 0, 0);
    cf_axf_set(&ma, CF_AXF_HEAD, 0, 1, 0);
    cf_axf_set(&ma, CF_AXF_HARD, 0, 0, 4);
    const char *path = tmp_path("axf.h5");
    CHECK(cf_checkpoint_save(path, a, 0, NULL, NULL, NULL) == CF_OK);
    CHECK(cf_checkpoint_load(path, b, 0, NULL, NULL, NULL) == CF_OK);
    CHECK(cf_axf_get(&mb, CF_AXF_LAYER, 1, 0) == 0 && cf_axf_get(&mb, CF_AXF_HEAD, 0, 1) == 0);
    CHECK(cf_axf_get(&mb, CF_AXF_HARD, 0, 0) == 4 && cf_axf_get(&mb, CF_AXF_HEAD, 0, 0) == 1);
    CHECK(!ma.layer_mask->requires_grad && !ma.hard_k->requires_grad, "switches must be frozen");
    cf_params_free(a), cf_params_free(b);
#endif
}

/* Labels: the planted pattern and its absence. */
static void test_synlang_labels(void)
{
    CHECK(cf_synlang_label((int32_t[]){5, 2, 7, 7, 1, 9}, 6) == 1);
    CHECK(cf_synlang_label((int32_t[]){5, 2, 7, 7, 7, 1}, 6) == 0);
    CHECK(cf_synlang_label((int32_t[]){1, 5, 7, 2, 9, 9}, 6) == 0);
    int32_t w[63];
    for (int label = 0; label < 2; label++)
        for (uint64_t i = 0; i < 50; i++) {
            cf_synlang_sentence(w, 200, 63, 9, i, label);
            CHECK(cf_synlang_label(w, 63) == label);
        }
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx || !test_dir_make("axformer")) return 1;
#define RUN_CTX(t) \
    do { \
        int before_ = check_failed; \
        t(ctx); \
        printf("%-40s %s\n", #t, check_failed == before_ ? "ok" : "FAILED"); \
    } while (0)
    RUN_CTX(test_topk_softmax_values);
    RUN_CTX(test_topk_softmax_grad);
    RUN_CTX(test_head_removal);
    RUN_CTX(test_block_removal_and_flops);
    RUN(test_switches_in_checkpoint);
    RUN(test_synlang_labels);
    cf_ctx_free(ctx);
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
