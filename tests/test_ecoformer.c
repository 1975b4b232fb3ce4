/* EcoFormer's layers (Liu et al., NeurIPS 2022): the linear binary-code attention equals its explicit N x N
 * form (outputs and gradients, both numerators); the hash's straight-through mask (Sec. 3.2); f64
 * finite-difference gradients of the composed hash and attention; the KSH learning step lowering its loss and
 * its residual ||Y Y^T - b S0||^2 and beating a random projection in hash AUC (Sec. 3.3); the AUCs against
 * hand-computed values and chance; the hash buffers
 * surviving a checkpoint round trip; the energy counts (Sec. 4); the schedule of hash learning in the model
 * (model.hash_every: once, or every k training forwards; never in evaluation; A fixed with model.hash: random);
 * the KSH objective of cf_hash_auc against a hand count; the attention concentration (cf_attn_focus_*) and the
 * squashed-logit softmax (model.logit_bound) against hand computations. */
#include "autograd/cformer.h"
#include "layers/ecoformer.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/ecoformer/model.h"
#include "tests/check.h"
#include "tests/tmpdir.h"

#include <math.h>
#include <stdlib.h>

static cf_tensor *leaf(cf_ctx *c, int nd, const int64_t *shape, uint64_t stream)
{
    cf_tensor *x = cf_randn(c, CF_F64, nd, shape, 11, stream);
    cf_requires_grad_(x, true);
    return x;
}

static double max_diff(const cf_tensor *a, const cf_tensor *b)
{
    double m = 0;
    for (int64_t i = 0; i < cf_numel(a); i++) m = fmax(m, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    return cf_numel(a) == cf_numel(b) ? m : INFINITY;
}
/* Backward of sum(out * r): the gradient reaches each leaf's ->grad. */

static void backward_weighted(cf_ctx *c, cf_tensor *out, cf_tensor *r)
{
    cf_backward(c, cf_sum(c, cf_mul(c, out, r), 0, NULL, false), NULL);
}

static void test_linear_equals_explicit(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    for (int compat = 0; compat < 2; compat++) {
        cf_tensor *hl = leaf(c, CF_SHAPE(2, 3, 9, 5), 1), *v1 = leaf(c, CF_SHAPE(2, 3, 9, 4), 2);
        /* codes are +-1 in use; the identity holds for any real h, which the gradient check needs */
        cf_tensor *h1 = cf_detach(c, cf_sign(c, hl, CF_SURROGATE_STE, 1));
        cf_requires_grad_(h1, true);
        cf_tensor *h2 = cf_detach(c, h1), *v2 = cf_detach(c, v1);
        cf_requires_grad_(h2, true), cf_requires_grad_(v2, true);
        cf_tensor *r = cf_randn(c, CF_F64, CF_SHAPE(2, 3, 9, 4), 5, 3);
        cf_tensor *lin = cf_binary_linear_attention(c, h1, v1, compat);
        cf_tensor *exp = cf_binary_attention_explicit(c, h2, v2, compat);
        CHECK(lin && exp);
        CHECK(max_diff(lin, exp) < 1e-12, "compat %d: forward differs by %g", compat, max_diff(lin, exp));
        backward_weighted(c, lin, r);
        backward_weighted(c, exp, r);
        CHECK(max_diff(h1->grad, h2->grad) < 1e-12, "compat %d: dh differs by %g", compat, max_diff(h1->grad, h2->grad));
        CHECK(max_diff(v1->grad, v2->grad) < 1e-12, "compat %d: dv differs by %g", compat, max_diff(v1->grad, v2->grad));
        /* the explicit form written out by hand for one query: sum_j (h_i.h_j + c) v_j / sum_j (h_i.h_j + c) */
        double num = 0, den = 0, cc = 6;
        for (int64_t j = 0; j < 9; j++) {
            double dot = 0;
            for (int64_t k = 0; k < 5; k++) dot += cf_get_flat(h1, k) * cf_get_flat(h1, j * 5 + k);
            num += (compat ? dot : dot + cc) * cf_get_flat(v1, j * 4) + (compat && j == 0 ? cc * cf_get_flat(v1, 0) : 0);
            den += dot + cc;
        }
        CHECK_NEAR(cf_get_flat(lin, 0), num / den, 1e-12);
        cf_step_reset(c);
    }
    /* the two numerators differ (the official code's c v_i against c sum_j v_j) */
    cf_tensor *h = cf_sign(c, cf_randn(c, CF_F64, CF_SHAPE(1, 1, 6, 3), 3, 1), CF_SURROGATE_STE, 1);
    cf_tensor *v = cf_randn(c, CF_F64, CF_SHAPE(1, 1, 6, 2), 3, 2);
    CHECK(max_diff(cf_binary_linear_attention(c, h, v, false), cf_binary_linear_attention(c, h, v, true)) > 1e-3);
    CHECK(!cf_binary_linear_attention(c, h, cf_randn(c, CF_F64, CF_SHAPE(1, 1, 5, 2), 3, 2), false));
    cf_ctx_free(c);
}

/* Central differences of sum(f(x) * r) against backward, f64. */
typedef cf_tensor *(*unary_fn)(cf_ctx *, cf_tensor *, const void *);

static double fd_error(cf_ctx *c, unary_fn f, const void *user, cf_tensor *x, cf_tensor *r)
{
    cf_zero_grad(x);
    backward_weighted(c, f(c, x, user), r);
    double worst = 0, eps = 1e-6;
    bool grad = cf_set_grad_enabled(c, false);
    for (int64_t i = 0; i < cf_numel(x); i++) {
        double x0 = cf_get_flat(x, i), lo, hi;
        cf_set_flat(x, i, x0 + eps);
        hi = cf_item(cf_sum(c, cf_mul(c, f(c, x, user), r), 0, NULL, false));
        cf_set_flat(x, i, x0 - eps);
        lo = cf_item(cf_sum(c, cf_mul(c, f(c, x, user), r), 0, NULL, false));
        cf_set_flat(x, i, x0);
        double fd = (hi - lo) / (2 * eps), an = cf_get_flat(x->grad, i);
        worst = fmax(worst, fabs(fd - an) / (1e-6 + fabs(fd)));
    }
    cf_set_grad_enabled(c, grad);
    return worst;
}

static cf_tensor *project_fn(cf_ctx *c, cf_tensor *x, const void *kh) { return cf_kernel_hash_project(c, kh, x); }
static cf_tensor *attn_v_fn(cf_ctx *c, cf_tensor *v, const void *h)
{
    return cf_binary_linear_attention(c, (cf_tensor *)h, v, false);
}
static cf_tensor *attn_h_fn(cf_ctx *c, cf_tensor *h, const void *v)
{
    return cf_binary_linear_attention(c, h, (cf_tensor *)v, false);
}

static void test_gradients_f64(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_kernel_hash kh;
    CHECK(cf_kernel_hash_init(&kh, ps, "hash", 2, 3, 4, 5) == CF_OK);
    for (int64_t i = 0; i < cf_numel(kh.anchors); i++) cf_set_flat(kh.anchors, i, 0.3 * sin((double)i));
    for (int64_t i = 0; i < cf_numel(kh.mu); i++) cf_set_flat(kh.mu, i, 0.1 * (double)i);
    cf_tensor *x = leaf(c, CF_SHAPE(2, 2, 6, 3), 4);
    double e = fd_error(c, project_fn, &kh, x, cf_randn(c, CF_F64, CF_SHAPE(2, 2, 6, 4), 1, 9));
    CHECK(e < 1e-5, "kernel hash projection (phi A^T, s2 not detached): relative gradient error %g", e);
    cf_tensor *h = leaf(c, CF_SHAPE(2, 2, 7, 4), 5), *v = leaf(c, CF_SHAPE(2, 2, 7, 3), 6);
    cf_tensor *r = cf_randn(c, CF_F64, CF_SHAPE(2, 2, 7, 3), 1, 10);
    e = fd_error(c, attn_v_fn, h, v, r);
    CHECK(e < 1e-5, "binary attention dv: relative error %g", e);
    /* h near +-1 keeps the (real-valued) denominator away from zero */
    for (int64_t i = 0; i < cf_numel(h); i++) cf_set_flat(h, i, cf_get_flat(h, i) > 0 ? 1 + 0.1 * cf_get_flat(h, i) : -1 + 0.1 * cf_get_flat(h, i));
    e = fd_error(c, attn_h_fn, v, h, r);
    CHECK(e < 1e-5, "binary attention dh: relative error %g", e);
    cf_params_free(ps);
    cf_ctx_free(c);
}

/* Straight-through: d sum(h * r) / d qk = d sum(y * (r where |y| <= 1)) / d qk; codes are exactly +-1. */
static void test_ste_mask(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_kernel_hash kh;
    CHECK(cf_kernel_hash_init(&kh, ps, "hash", 2, 4, 8, 6) == CF_OK);
    for (int64_t i = 0; i < cf_numel(kh.anchors); i++) cf_set_flat(kh.anchors, i, 0.5 * cos(1.7 * (double)i));
    cf_tensor *x1 = leaf(c, CF_SHAPE(2, 2, 10, 4), 1);
    cf_tensor *x2 = cf_detach(c, x1);
    cf_requires_grad_(x2, true);
    cf_tensor *r = cf_randn(c, CF_F64, CF_SHAPE(2, 2, 10, 8), 2, 2);
    cf_tensor *h = cf_kernel_hash_fwd(c, &kh, x1);
    cf_tensor *y = cf_kernel_hash_project(c, &kh, x2);
    int64_t inside = 0, ones = 0, n = cf_numel(y);
    cf_tensor *masked = cf_zeros_like(c, r);
    for (int64_t i = 0; i < n; i++) {
        double yi = cf_get_flat(y, i), hi = cf_get_flat(h, i);
        bool in = fabs(yi) <= 1;
        inside += in;
        ones += hi == (yi >= 0 ? 1.0 : -1.0);
        cf_set_flat(masked, i, in ? cf_get_flat(r, i) : 0.0);
    }
    CHECK(ones == n, "%lld of %lld codes are sign(y) in {-1, +1}", (long long)ones, (long long)n);
    CHECK(inside > 0 && inside < n, "the case must have codes on both sides of |y| = 1 (%lld of %lld inside)",
          (long long)inside, (long long)n);
    backward_weighted(c, h, r);
    backward_weighted(c, y, masked);
    CHECK(max_diff(x1->grad, x2->grad) < 1e-12, "STE gradient differs from the masked identity by %g",
          max_diff(x1->grad, x2->grad));
    /* sign(0) = +1 (the released code's torch.sign gives 0): a zero projection makes every code +1, so h.h = b */
    cf_tensor *saved = cf_detach(c, kh.proj);
    saved = cf_mul_scalar(c, saved, 1.0);
    cf_fill_(kh.proj, 0.0);
    cf_tensor *h0 = cf_kernel_hash_fwd(c, &kh, x2);
    double lo = INFINITY;
    for (int64_t i = 0; i < cf_numel(h0); i++) lo = fmin(lo, cf_get_flat(h0, i));
    CHECK(lo == 1.0, "a zero projection gave a code %g", lo);
    cf_copy_(kh.proj, saved);
    /* and not the plain identity: the mask matters */
    cf_zero_grad(x2);
    backward_weighted(c, cf_kernel_hash_project(c, &kh, x2), r);
    CHECK(max_diff(x1->grad, x2->grad) > 1e-6);
    cf_params_free(ps);
    cf_ctx_free(c);
}

/* Unit tokens around 4 cluster centres per head, so the cosine top-k are mostly a token's own cluster. */
static cf_tensor *clustered(cf_ctx *c, int64_t B, int64_t H, int64_t N, int64_t C, uint64_t seed, uint64_t noise)
{
    cf_tensor *x = cf_randn(c, CF_F64, CF_SHAPE(B, H, N, C), seed, 100 + noise);
    cf_tensor *centre = cf_randn(c, CF_F64, CF_SHAPE(H, 4, C), seed, 2);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t n = 0; n < N; n++) {
                int64_t k = (n * 7 + b) % 4, base = ((b * H + h) * N + n) * C;
                double norm = 0;
                for (int64_t d = 0; d < C; d++) {
                    double v = cf_get_flat(centre, (h * 4 + k) * C + d) + 0.8 * cf_get_flat(x, base + d);
                    cf_set_flat(x, base + d, v);
                    norm += v * v;
                }
                for (int64_t d = 0; d < C; d++) cf_set_flat(x, base + d, cf_get_flat(x, base + d) / sqrt(norm));
            }
    return x;
}

static void test_ksh_learning(void)
{
    enum { BITS = 8 };
    cf_ctx *c = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_kernel_hash ksh, rnd;
    CHECK(cf_kernel_hash_init(&ksh, ps, "ksh", 2, 8, BITS, 10) == CF_OK);
    CHECK(cf_kernel_hash_init(&rnd, ps, "rnd", 2, 8, BITS, 10) == CF_OK);
    cf_tensor *qk = clustered(c, 3, 2, 48, 8, 7, 0);
    double sf[BITS], sl[BITS], bo[BITS], bk[BITS], res[BITS + 1];
    cf_hash_learn_trace tr = {sf, sl, bo, bk, res};
    cf_hash_learn_opts o = CF_HASH_LEARN_DEFAULTS;
    o.topk = 5, o.iters = 60, o.lr = 0.5;
    CHECK(!cf_kernel_hash_learned(&ksh));
    CHECK(cf_kernel_hash_learn(&ksh, qk, &o, &tr) == CF_OK);
    CHECK(cf_kernel_hash_learned(&ksh));
    int lowered = 0;
    for (int b = 0; b < BITS; b++) {
        CHECK(sl[b] < sf[b], "bit %d: smooth KSH loss %g -> %g did not decrease", b, sf[b], sl[b]);
        CHECK(bk[b] <= bo[b], "bit %d: kept binarised loss %g above the old %g", b, bk[b], bo[b]);
        lowered += bk[b] < bo[b];
    }
    CHECK(lowered > 0, "no bit's binarised loss improved");
    CHECK(res[BITS] < res[0], "residual ||YY^T - b S0||^2 %g -> %g did not decrease", res[0], res[BITS]);
    /* the evaluation's objective on the learning batch is the learning step's last residual / b^2 */
    double ksh_eval = cf_hash_auc(qk, cf_kernel_hash_fwd(c, &ksh, qk), 5).ksh;
    CHECK(fabs(ksh_eval - res[BITS] / (BITS * BITS)) < 1e-9, "eval KSH objective %.12g, learning residual / b^2 %.12g",
          ksh_eval, res[BITS] / (BITS * BITS));
    o.learn_proj = false;
    CHECK(cf_kernel_hash_learn(&rnd, qk, &o, NULL) == CF_OK);
    /* held-out tokens of the same clusters */
    cf_tensor *test = clustered(c, 2, 2, 48, 8, 7, 1);
    cf_hash_auc_result auc_ksh = cf_hash_auc(test, cf_kernel_hash_fwd(c, &ksh, test), 5);
    cf_hash_auc_result auc_rnd = cf_hash_auc(test, cf_kernel_hash_fwd(c, &rnd, test), 5);
    /* a random kernel hash already preserves much of the similarity (it is an LSH); KSH must add to it */
    CHECK(auc_ksh.vs_bottom > 0.9 && auc_ksh.vs_bottom > auc_rnd.vs_bottom + 0.01, "hash AUC vs bottom-k: KSH %.3f, "
          "random A %.3f", auc_ksh.vs_bottom, auc_rnd.vs_bottom);
    CHECK(auc_ksh.vs_rest > auc_rnd.vs_rest + 0.01, "hash AUC vs the rest: KSH %.3f, random A %.3f", auc_ksh.vs_rest,
          auc_rnd.vs_rest);
    /* errors: more anchors than tokens */
    cf_kernel_hash big;
    CHECK(cf_kernel_hash_init(&big, ps, "big", 2, 8, 4, 100) == CF_OK);
    CHECK(cf_kernel_hash_learn(&big, qk, &o, NULL) != CF_OK);
    CHECK_ERROR_HAS("anchors 100 <= tokens 48");
    cf_params_free(ps);
    cf_ctx_free(c);
}

/* Hand-computed AUCs: 4 unit tokens at 0, 10, 90 and 180 degrees, top-1, 2-bit codes (+,+), (+,-), (+,+),
 * (-,-). Query 0: positive token 1 (score 0) against tokens 2 (2) and 3 (-2): 1 of 2; bottom token 3: 1.
 * Query 1: positive 0, every score 0: 1 of 2 (ties), bottom 3: 0.5. Query 2: positive 1 (0) against 0 (2) and
 * 3 (-2): 1 of 2; bottom 3 (the cosine tie of 0 and 3 goes to the lower index first): 1. Query 3: positive 2
 * (-2) against 0 (-2) and 1 (0): 0.5 of 2; bottom 0: 0.5. vs_rest 3.5 / 8, vs_bottom 3 / 4. Then codes drawn
 * independently of the tokens give about 0.5, and codes equal to the tokens' own signs beat them. */
static void test_hash_auc_values(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    double deg = acos(-1.0) / 180;
    double ang[] = {0, 10 * deg, 90 * deg, 180 * deg}, codes[] = {1, 1, 1, -1, 1, 1, -1, -1};
    cf_tensor *qk = cf_empty(c, CF_F64, CF_SHAPE(1, 1, 4, 2)), *h = cf_empty(c, CF_F64, CF_SHAPE(1, 1, 4, 2));
    for (int i = 0; i < 4; i++) {
        cf_set_flat(qk, 2 * i, i == 2 ? 0 : i == 3 ? -1 : cos(ang[i])), cf_set_flat(qk, 2 * i + 1, i == 3 ? 0 : i == 2 ? 1 : sin(ang[i]));
        cf_set_flat(h, 2 * i, codes[2 * i]), cf_set_flat(h, 2 * i + 1, codes[2 * i + 1]);
    }
    cf_hash_auc_result a = cf_hash_auc(qk, h, 1);
    CHECK_NEAR(a.vs_rest, 3.5 / 8, 1e-12);
    CHECK_NEAR(a.vs_bottom, 3.0 / 4, 1e-12);
    /* KSH's objective: b S0's rows (top-1 is the token itself) are 0: +2 at 0, -2 at 3; 1: +2 at 1, -2 at 3;
     * 2: +2 at 2, -2 at 3; 3: +2 at 3, -2 at 0; symmetrised, T03 = -2, T13 = T23 = -1, T02 = 0. The code
     * products h_0.h_2 = 2, h_1.h_3 = 0, h_2.h_3 = -2 miss by 2, 1, -1 (both triangles), the rest match:
     * 2 (4 + 1 + 1) / (b^2 N^2 = 64). */
    CHECK_NEAR(a.ksh, 12.0 / 64, 1e-12);
    CHECK(isnan(cf_hash_auc(qk, h, 2).vs_rest), "2 top-k + 2 bottom-k of 3 other tokens must be refused");
    /* random codes: chance; the sign of the first 8 coordinates of clustered tokens: far above it */
    cf_tensor *x = clustered(c, 2, 2, 64, 8, 5, 0);
    cf_tensor *rnd = cf_sign(c, cf_randn(c, CF_F64, CF_SHAPE(2, 2, 64, 16), 9, 1), CF_SURROGATE_STE, 1);
    cf_hash_auc_result r = cf_hash_auc(x, rnd, 5), s = cf_hash_auc(x, cf_sign(c, x, CF_SURROGATE_STE, 1), 5);
    CHECK(fabs(r.vs_rest - 0.5) < 0.04 && fabs(r.vs_bottom - 0.5) < 0.06, "random codes: AUC %.3f / %.3f, not ~0.5",
          r.vs_rest, r.vs_bottom);
    CHECK(s.vs_rest > 0.7 && s.vs_bottom > 0.9, "sign codes: AUC %.3f / %.3f", s.vs_rest, s.vs_bottom);
    cf_ctx_free(c);
}

/* cf_attn_focus_* against hand-computed weights. */
static void test_attn_focus_values(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    /* binary, b = 1 (c = 2), codes +1 +1 -1 -1: every query's weights are 3 3 1 1 (in some order) / 8 */
    cf_tensor *h = cf_empty(c, CF_F64, CF_SHAPE(1, 1, 4, 1));
    for (int i = 0; i < 4; i++) cf_set_flat(h, i, i < 2 ? 1 : -1);
    cf_attn_focus f = cf_attn_focus_binary(h, 1, 2);
    CHECK_NEAR(f.top_small, 3.0 / 8, 1e-12);
    CHECK_NEAR(f.top_large, 6.0 / 8, 1e-12);
    CHECK_NEAR(f.entropy, -(2 * 3.0 / 8 * log(3.0 / 8) + 2 * 1.0 / 8 * log(1.0 / 8)), 1e-12);
    CHECK_NEAR(f.uniform, log(4.0), 1e-12);
    CHECK_NEAR(f.peak, log(3.0), 1e-12); /* sorted 3 3 1 1: the third largest is the median */
    CHECK_NEAR(cf_attn_focus_binary(h, 1, 9).top_large, 1.0, 1e-12); /* k beyond N: all the mass */
    /* softmax, C = 1 (scale 1): query ln 3 on keys 1 0 0 gives 3 1 1 / 5; query 0 gives uniform thirds */
    cf_tensor *q = cf_empty(c, CF_F64, CF_SHAPE(1, 1, 2, 1)), *k = cf_empty(c, CF_F64, CF_SHAPE(1, 1, 3, 1));
    cf_set_flat(q, 0, log(3.0)), cf_set_flat(q, 1, 0);
    cf_set_flat(k, 0, 1), cf_set_flat(k, 1, 0), cf_set_flat(k, 2, 0);
    f = cf_attn_focus_softmax(q, k, 0, 1, 2);
    CHECK_NEAR(f.top_small, (3.0 / 5 + 1.0 / 3) / 2, 1e-12);
    CHECK_NEAR(f.top_large, (4.0 / 5 + 2.0 / 3) / 2, 1e-12);
    CHECK_NEAR(f.entropy, (-(3.0 / 5 * log(3.0 / 5) + 2.0 / 5 * log(1.0 / 5)) + log(3.0)) / 2, 1e-12);
    CHECK_NEAR(f.uniform, log(3.0), 1e-12);
    CHECK_NEAR(f.peak, log(3.0) / 2, 1e-12);
    /* squashed logits, bound 4 ln 2: sigmoid(ln 3) = 3/4 and sigmoid(0) = 1/2 give exp(3 ln 2) = 8 against
     * exp(2 ln 2) = 4 and 4, so 1/2 1/4 1/4; the second query stays uniform */
    f = cf_attn_focus_softmax(q, k, 4 * log(2.0), 1, 2);
    CHECK_NEAR(f.top_small, (1.0 / 2 + 1.0 / 3) / 2, 1e-12);
    CHECK_NEAR(f.top_large, (3.0 / 4 + 2.0 / 3) / 2, 1e-12);
    CHECK_NEAR(f.entropy, (1.5 * log(2.0) + log(3.0)) / 2, 1e-12);
    CHECK_NEAR(f.peak, log(2.0) / 2, 1e-12);
    cf_tensor *k2 = cf_zeros(c, CF_F64, CF_SHAPE(1, 1, 3, 2));
    CHECK(isnan(cf_attn_focus_softmax(q, k2, 0, 1, 2).top_small), "q and k of different head sizes must be refused");
    CHECK(isnan(cf_attn_focus_binary(h, 0, 2).top_small), "k = 0 must be refused");
    cf_ctx_free(c);
}

/* Softmax attention with squashed logits (model.logit_bound): the layer's output is softmax(bound * sigmoid(q k^T
 * / sqrt(C))) v, written here with q, k, v read back from the probe and v's own linear map. */
static void test_bounded_softmax(void)
{
    cf_ctx *c = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_eco_attention a;
    cf_eco_attention_config cfg = {.dim = 4, .heads = 1, .logit_bound = 1.5};
    CHECK(cf_eco_attention_init(&a, ps, "attn", &cfg) == CF_OK, "%s", cf_last_error());
    cf_tensor *x = cf_randn(c, CF_F64, CF_SHAPE(1, 5, 4), 3, 1);
    cf_eco_probe probe = {0};
    cf_tensor *out = cf_eco_attention_fwd(c, &a, x, NULL, &probe);
    cf_tensor *v = cf_linear_fwd(c, &a.v, x); /* [1, 5, 4], one head */
    CHECK(out && probe.q && probe.k && v);
    double worst = 0, ratio = 0;
    for (int64_t i = 0; i < 5 && out; i++) {
        double w[5], den = 0, mix[4] = {0};
        for (int64_t j = 0; j < 5; j++) {
            double s = 0;
            for (int64_t d = 0; d < 4; d++) s += cf_get_flat(probe.q, i * 4 + d) * cf_get_flat(probe.k, j * 4 + d);
            w[j] = exp(1.5 / (1 + exp(-s / 2))), den += w[j];
        }
        for (int64_t j = 0; j < 5; j++)
            for (int64_t d = 0; d < 4; d++) mix[d] += w[j] / den * cf_get_flat(v, j * 4 + d);
        for (int64_t j = 0; j < 5; j++)
            for (int64_t l = 0; l < 5; l++) ratio = fmax(ratio, w[j] / w[l]);
        for (int64_t e = 0; e < 4; e++) { /* out = proj(mix) */
            double y = cf_get_flat(a.proj.bias, e);
            for (int64_t d = 0; d < 4; d++) y += cf_get_flat(a.proj.weight, e * 4 + d) * mix[d];
            worst = fmax(worst, fabs(y - cf_get_flat(out, i * 4 + e)));
        }
    }
    CHECK(worst < 1e-12, "bounded softmax differs from the hand computation by %g", worst);
    CHECK(ratio < exp(1.5), "weight ratio %g above e^1.5", ratio);
    cf_ctx_free(c);
    cf_params_free(ps);
}

/* The model's hash schedule on a 16-token classifier: each training forward sees a new batch; records, after
 * every forward, whether layer 0's A and anchors changed. */
static void run_schedule(const char *extra, const bool *train, int calls, bool *proj_moved, bool *anchors_moved)
{
    char text[512];
    snprintf(text, sizeof text, "model:\n  type: ecoformer\n  dim: 8\n  heads: 2\n  layers: 1\n  bits: 4\n"
                                "  anchors: 4\n  topk: 2\n  hash_iters: 20\n  hash_lr: 0.5\n%s", extra);
    cf_recipe *r = cf_recipe_parse(text, "schedule.yaml");
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_data_info info = {.vocab = 4, .seq = 16};
    cf_model *m = r && ps ? cf_ecoformer_model.create(r, ps, &info) : NULL;
    CHECK(m != NULL, "create (%s): %s", extra, cf_last_error());
    if (!m) return;
    cf_eco_classifier *net = cf_eco_classifier_of(m);
    cf_kernel_hash *kh = &net->attn[0].hash;
    cf_ctx *c = cf_ctx_new(NULL);
    bool prev = cf_set_grad_enabled(c, false);
    double before[2][64];
    for (int k = 0; k < calls; k++) {
        for (int64_t i = 0; i < 2 * 4 * 4; i++) before[0][i] = cf_get_flat(kh->proj, i);
        for (int64_t i = 0; i < 2 * 4 * 4; i++) before[1][i] = cf_get_flat(kh->anchors, i);
        cf_set_training(c, train[k]);
        cf_tensor *px = cf_rand(c, CF_F32, CF_SHAPE(3, 16), 0, 1, 21, (uint64_t)k);
        CHECK(cf_eco_classifier_logits(c, net, px, NULL) != NULL, "forward %d: %s", k, cf_last_error());
        proj_moved[k] = anchors_moved[k] = false;
        for (int64_t i = 0; i < 2 * 4 * 4; i++) proj_moved[k] |= cf_get_flat(kh->proj, i) != before[0][i];
        for (int64_t i = 0; i < 2 * 4 * 4; i++) anchors_moved[k] |= cf_get_flat(kh->anchors, i) != before[1][i];
        cf_step_reset(c);
    }
    cf_set_grad_enabled(c, prev);
    cf_ctx_free(c);
    m->vt->free(m);
    cf_params_free(ps);
    cf_recipe_free(r);
}

static void test_hash_schedule(void)
{
    enum { K = 7 };
    /* forward 1 is in evaluation mode: it must not learn, and does not count on the hash_every clock */
    const bool train[K] = {false, true, true, true, true, true, true};
    struct { const char *extra; bool proj[K], anchors[K]; } cases[] = {
        /* the released schedule: learned on the first training forward, then frozen */
        {"", {0, 1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0, 0}},
        /* every 2 training forwards: training forwards 0, 2, 4 relearn */
        {"  hash_every: 2\n", {0, 1, 0, 1, 0, 1, 0}, {0, 1, 0, 1, 0, 1, 0}},
        /* the random-hash ablation: anchors and mu learned, A never moves */
        {"  hash: random\n", {0, 0, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0, 0}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        bool proj[K], anchors[K];
        run_schedule(cases[t].extra, train, K, proj, anchors);
        for (int k = 0; k < K; k++) {
            CHECK(proj[k] == cases[t].proj[k], "'%s' forward %d: A %s", cases[t].extra, k,
                  proj[k] ? "moved" : "did not move");
            CHECK(anchors[k] == cases[t].anchors[k], "'%s' forward %d: anchors %s", cases[t].extra, k,
                  anchors[k] ? "moved" : "did not move");
        }
    }
}

static void test_checkpoint_round_trip(void)
{
#ifdef CF_HAVE_HDF5
    if (!test_dir_make("ecoformer")) {
        CHECK(0, "no scratch directory");
        return;
    }
    cf_ctx *c = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F32, 1), *back = cf_params_new(CF_F32, 2);
    cf_kernel_hash kh, kb;
    CHECK(cf_kernel_hash_init(&kh, ps, "blocks.0.attn.hash", 2, 8, 6, 10) == CF_OK);
    CHECK(cf_kernel_hash_init(&kb, back, "blocks.0.attn.hash", 2, 8, 6, 10) == CF_OK);
    cf_hash_learn_opts o = CF_HASH_LEARN_DEFAULTS;
    o.topk = 4;
    CHECK(cf_kernel_hash_learn(&kh, cf_cast(c, clustered(c, 2, 2, 32, 8, 3, 0), CF_F32), &o, NULL) == CF_OK);
    CHECK(max_diff(kh.proj, kb.proj) > 0 && max_diff(kh.anchors, kb.anchors) > 0);
    const char *path = tmp_path("hash.h5");
    CHECK(cf_checkpoint_save(path, ps, 0, NULL, NULL, NULL) == CF_OK);
    CHECK(cf_checkpoint_load(path, back, 0, NULL, NULL, NULL) == CF_OK);
    CHECK(max_diff(kh.anchors, kb.anchors) == 0 && max_diff(kh.mu, kb.mu) == 0 && max_diff(kh.proj, kb.proj) == 0);
    CHECK(cf_kernel_hash_learned(&kb), "the learned flag did not survive: a resumed run would relearn");
    CHECK(!kb.proj->requires_grad && !kb.anchors->requires_grad && !kb.mu->requires_grad);
    cf_params_free(ps), cf_params_free(back);
    cf_ctx_free(c);
    test_rmtree(test_dir);
#endif
}

static void test_energy_counts(void)
{
    /* Sec. 4 formulas by hand for H = 1, N = 4, C = 2, b = 3, m = 5 */
    cf_attn_cost e = cf_ecoformer_attn_cost(1, 4, 2, 3, 5);
    CHECK_NEAR(e.adds, 2 * 4 * 5 * 2 + 4 * 5 * 3 + 4 * 3 + 4 * 3 * 2 + (4 * 3 * 2 + 4 * 2) + 4 * 3, 0);
    CHECK_NEAR(e.muls, 2 * 4 * 5 + 4 * 5 * 3 + (4 * 3 + 4) + 4 * 2, 0);
    CHECK_NEAR(e.energy_pj, 3.7 * e.muls + 0.9 * e.adds, 1e-9);
    cf_attn_cost s = cf_softmax_attn_cost(2, 4, 2);
    CHECK_NEAR(s.adds, 2 * 16 * 4, 0);
    CHECK_NEAR(s.muls, 2 * 16 * 4 + 2 * 16, 0);
    /* linear against quadratic: doubling N doubles EcoFormer's count and quadruples softmax's */
    CHECK_NEAR(cf_ecoformer_attn_cost(2, 2048, 32, 16, 25).energy_pj / cf_ecoformer_attn_cost(2, 1024, 32, 16, 25).energy_pj, 2, 1e-12);
    CHECK_NEAR(cf_softmax_attn_cost(2, 2048, 32).energy_pj / cf_softmax_attn_cost(2, 1024, 32).energy_pj, 4, 1e-12);
}

/* model.pos_init: sincos2d fills the learned positions with the 2-D table (row in channels [0, D/2), column
 * in [D/2, D), sin/cos pairs of frequencies 10000^(-2i/(D/2))); normal keeps N(0, pos_std); a non-square
 * sequence is refused naming the key. */
static cf_model *pos_model(const char *extra, int64_t seq, cf_params **ps, cf_recipe **r)
{
    char text[256];
    snprintf(text, sizeof text, "model:\n  type: ecoformer\n  attention: softmax\n  dim: 8\n  heads: 2\n  layers: 1\n%s",
             extra);
    *r = cf_recipe_parse(text, "pos.yaml");
    *ps = cf_params_new(CF_F64, 3);
    cf_data_info info = {.vocab = 4, .seq = seq};
    return *r && *ps ? cf_ecoformer_model.create(*r, *ps, &info) : NULL;
}

static void test_pos_init(void)
{
    cf_params *ps;
    cf_recipe *r;
    cf_model *m = pos_model("  pos_init: sincos2d\n", 16, &ps, &r);
    CHECK(m != NULL, "create sincos2d: %s", cf_last_error());
    if (m) {
        const cf_tensor *pos = cf_eco_classifier_of(m)->pos;
        double worst = 0;
        for (int64_t t = 0; t < 16; t++)
            for (int part = 0; part < 2; part++)
                for (int i = 0; i < 2; i++) {
                    double coord = (double)(part ? t % 4 : t / 4), a = coord * pow(10000.0, -2.0 * i / 4.0);
                    double want[2] = {sin(a), cos(a)};
                    for (int k = 0; k < 2; k++)
                        worst = fmax(worst, fabs(cf_get_flat(pos, t * 8 + part * 4 + 2 * i + k) - want[k]));
                }
        CHECK(worst < 1e-12, "sincos2d table off by %g", worst);
        m->vt->free(m);
    }
    cf_params_free(ps), cf_recipe_free(r);
    m = pos_model("  pos_std: 0.5\n", 16, &ps, &r);
    CHECK(m != NULL, "create normal: %s", cf_last_error());
    if (m) {
        const cf_tensor *pos = cf_eco_classifier_of(m)->pos;
        double ss = 0;
        for (int64_t i = 0; i < 128; i++) ss += cf_get_flat(pos, i) * cf_get_flat(pos, i);
        CHECK(fabs(sqrt(ss / 128) - 0.5) < 0.1, "pos_std 0.5 gave rms %g", sqrt(ss / 128));
        m->vt->free(m);
    }
    cf_params_free(ps), cf_recipe_free(r);
    m = pos_model("  pos_init: sincos2d\n", 15, &ps, &r);
    CHECK(m == NULL && strstr(cf_last_error(), "model.pos_init"), "15 tokens with sincos2d: %s",
          m ? "accepted" : cf_last_error());
    if (m) m->vt->free(m);
    cf_params_free(ps), cf_recipe_free(r);
}

int main(void)
{
    RUN(test_linear_equals_explicit);
    RUN(test_gradients_f64);
    RUN(test_ste_mask);
    RUN(test_ksh_learning);
    RUN(test_hash_auc_values);
    RUN(test_attn_focus_values);
    RUN(test_bounded_softmax);
    RUN(test_hash_schedule);
    RUN(test_checkpoint_round_trip);
    RUN(test_energy_counts);
    RUN(test_pos_init);
    TEST_MAIN_END();
}
