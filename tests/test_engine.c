/* The engine itself: tensors and views, broadcasting, the arena, the tape's rules (accumulation, no-grad,
 * detach, hooks, in-place detection), dtype conversion and error messages. */
#include "autograd/cf_node.h"
#include "autograd/cformer.h"
#include "tests/check.h"

static cf_ctx *ctx;

static void test_views_share_storage(void)
{
    cf_tensor *x = cf_arange(ctx, CF_F32, 24);
    cf_tensor *v = cf_reshape(ctx, x, CF_SHAPE(2, 3, 4));
    CHECK(v && v->storage == x->storage);
    cf_tensor *t = cf_transpose(ctx, v, 0, 2); /* [4, 3, 2] */
    CHECK(t && t->storage == x->storage && !cf_is_contiguous(t));
    CHECK(t->shape[0] == 4 && t->shape[1] == 3 && t->shape[2] == 2);
    /* t[i][j][k] = v[k][j][i] = 12k + 4j + i */
    CHECK_NEAR(cf_get_flat(t, 1 * 6 + 2 * 2 + 1), 12 * 1 + 4 * 2 + 1, 0);
    cf_tensor *s = cf_slice(ctx, v, 2, 1, 4, 2); /* last dim: 1, 3 */
    CHECK(s && s->shape[2] == 2 && cf_get_flat(s, 1) == 3 && cf_get_flat(s, 2) == 5);
    cf_tensor *c = cf_contiguous(ctx, t);
    CHECK(c && cf_is_contiguous(c) && c->storage != x->storage);
    for (int i = 0; i < 24; i++) CHECK(cf_get_flat(c, i) == cf_get_flat(t, i));
    /* reshape of a non-contiguous view copies instead of aliasing wrongly */
    cf_tensor *r = cf_reshape(ctx, t, CF_SHAPE(24));
    CHECK(r && cf_get_flat(r, 1) == cf_get_flat(t, 1) && cf_get_flat(r, 5) == cf_get_flat(t, 5));
    cf_tensor *e = cf_expand(ctx, cf_reshape(ctx, cf_arange(ctx, CF_F32, 3), CF_SHAPE(3, 1)), CF_SHAPE(2, 3, 4));
    CHECK(e && e->stride[0] == 0 && e->stride[2] == 0 && cf_get_flat(e, 23) == 2);
    cf_tensor *u = cf_unfold(ctx, cf_arange(ctx, CF_F32, 7), 0, 3, 2); /* windows [0..2], [2..4], [4..6] */
    CHECK(u && u->shape[0] == 3 && u->shape[1] == 3 && cf_get_flat(u, 3) == 2 && cf_get_flat(u, 8) == 6);
    /* squeezing a size-1 dim out of a strided view stays a view */
    cf_tensor *p5 = cf_permute(ctx, cf_reshape(ctx, x, CF_SHAPE(2, 3, 1, 4)), (int[]){2, 0, 3, 1}); /* [1,2,4,3] */
    cf_tensor *sq = cf_reshape(ctx, p5, CF_SHAPE(2, 4, 3));
    CHECK(sq && sq->storage == x->storage && cf_get_flat(sq, 5) == cf_get_flat(p5, 5));
    cf_tensor *parts[3];
    CHECK(cf_split(ctx, x, 0, 3, (int64_t[]){4, 8, 12}, parts) == CF_OK);
    CHECK(parts[2]->shape[0] == 12 && cf_get_flat(parts[2], 0) == 12);
}

static void test_broadcasting(void)
{
    cf_tensor *a = cf_reshape(ctx, cf_arange(ctx, CF_F64, 6), CF_SHAPE(2, 1, 3));
    cf_tensor *b = cf_reshape(ctx, cf_arange(ctx, CF_F64, 4), CF_SHAPE(4, 1));
    cf_tensor *y = cf_add(ctx, a, b);
    CHECK(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 4 && y->shape[2] == 3);
    /* y[i][j][k] = (3i + k) + j */
    CHECK(cf_get_flat(y, 1 * 12 + 2 * 3 + 1) == 3 + 1 + 2);
    cf_tensor *z = cf_mul(ctx, y, cf_full(ctx, CF_F64, 0, NULL, 2.0)); /* 0-dim scalar */
    CHECK(z && cf_get_flat(z, 23) == 2 * cf_get_flat(y, 23));
}

static void test_bad_shapes_and_dtypes(void)
{
    cf_tensor *a = cf_zeros(ctx, CF_F32, CF_SHAPE(2, 3)), *b = cf_zeros(ctx, CF_F32, CF_SHAPE(4));
    CHECK(cf_add(ctx, a, b) == NULL);
    CHECK_ERROR_HAS("add");
    CHECK_ERROR_HAS("[2, 3]");
    CHECK_ERROR_HAS("[4]");
    cf_tensor *m = cf_zeros(ctx, CF_F32, CF_SHAPE(3, 5));
    CHECK(cf_matmul(ctx, m, a) == NULL);
    CHECK_ERROR_HAS("matmul");
    CHECK_ERROR_HAS("[3, 5]");
    cf_tensor *d = cf_zeros(ctx, CF_F64, CF_SHAPE(2, 3));
    CHECK(cf_mul(ctx, a, d) == NULL);
    CHECK_ERROR_HAS("dtypes differ");
    cf_tensor *i = cf_zeros(ctx, CF_I64, CF_SHAPE(2));
    CHECK(cf_exp(ctx, i) == NULL);
    CHECK_ERROR_HAS("exp: expected an f32 or f64 tensor");
    CHECK(cf_reshape(ctx, a, CF_SHAPE(4, 2)) == NULL);
    CHECK_ERROR_HAS("cannot view [2, 3] f32 (6 elements) as [4, 2]");
    /* NULL propagates through chained calls, keeping the first error */
    CHECK(cf_exp(ctx, cf_add(ctx, a, b)) == NULL);
    CHECK_ERROR_HAS("add");
    CHECK(cf_transpose(ctx, a, 0, 5) == NULL);
    CHECK_ERROR_HAS("dim 5 out of range");
}

static void test_accumulation_and_reuse(void)
{
    cf_tensor *w = cf_tensor_alloc(CF_F64, CF_SHAPE(3));
    cf_fill_(w, 2.0);
    w->requires_grad = true;
    /* y = sum(w * w + w) via a matmul with ones: w used three times */
    cf_tensor *y = cf_add(ctx, cf_mul(ctx, w, w), w);
    cf_tensor *s = cf_matmul(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(3), 1.0));
    CHECK(cf_backward(ctx, s, NULL) == CF_OK);
    CHECK(w->grad && cf_get_flat(w->grad, 0) == 2 * 2 + 1);
    /* a second backward (next step) accumulates into the persistent leaf grad */
    cf_step_reset(ctx);
    y = cf_mul_scalar(ctx, w, 3.0);
    s = cf_matmul(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(3), 1.0));
    CHECK(cf_backward(ctx, s, NULL) == CF_OK);
    CHECK(cf_get_flat(w->grad, 2) == 5 + 3);
    cf_zero_grad(w);
    CHECK(cf_get_flat(w->grad, 2) == 0);
    cf_tensor_free(w);
    cf_step_reset(ctx);
}

static void test_no_grad_and_detach(void)
{
    cf_tensor *x = cf_full(ctx, CF_F32, CF_SHAPE(2), 1.0);
    x->requires_grad = true;
    int64_t before = cf_tape_size(ctx);
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *y = cf_exp(ctx, x);
    cf_set_grad_enabled(ctx, prev);
    CHECK(y && !y->requires_grad && cf_tape_size(ctx) == before);
    cf_tensor *d = cf_detach(ctx, x);
    CHECK(d && !d->requires_grad && d->storage == x->storage);
    cf_tensor *z = cf_exp(ctx, d);
    CHECK(z && !z->requires_grad);
    CHECK(cf_backward(ctx, z, NULL) != CF_OK);
    CHECK_ERROR_HAS("does not require grad");
    cf_step_reset(ctx);
}

static int hook_calls;
static double hook_seen;
static void hook(cf_tensor *leaf, void *user)
{
    (void)user;
    hook_calls++;
    hook_seen = cf_get_flat(leaf->grad, 0);
}

static void test_grad_final_hook(void)
{
    cf_tensor *w = cf_tensor_alloc(CF_F64, CF_SHAPE(1));
    cf_fill_(w, 3.0);
    w->requires_grad = true;
    cf_set_grad_hook(w, hook, NULL);
    hook_calls = 0;
    /* w is used by two nodes; the hook must fire once, after both added their part */
    cf_tensor *a = cf_mul_scalar(ctx, w, 2.0);
    cf_tensor *b = cf_exp(ctx, cf_mul_scalar(ctx, a, 0.0));
    cf_tensor *c = cf_add(ctx, cf_mul(ctx, a, b), cf_mul_scalar(ctx, w, 5.0));
    CHECK(cf_backward(ctx, c, NULL) == CF_OK);
    CHECK(hook_calls == 1);
    CHECK_NEAR(hook_seen, 2.0 + 5.0, 1e-12);
    cf_tensor_free(w);
    cf_step_reset(ctx);
}

static void test_inplace_detection(void)
{
    cf_tensor *x = cf_full(ctx, CF_F64, CF_SHAPE(3), 0.5);
    x->requires_grad = true;
    cf_tensor *y = cf_exp(ctx, x); /* exp saves its output */
    cf_tensor *z = cf_mul_scalar(ctx, y, 2.0);
    cf_fill_(y, 7.0);              /* modifies the saved output */
    CHECK(cf_backward(ctx, z, cf_full(ctx, CF_F64, CF_SHAPE(3), 1.0)) != CF_OK);
    CHECK_ERROR_HAS("exp");
    CHECK_ERROR_HAS("modified in place");
    /* ops that save nothing are unaffected */
    cf_step_reset(ctx);
    x = cf_full(ctx, CF_F64, CF_SHAPE(3), 0.5);
    x->requires_grad = true;
    y = cf_add(ctx, x, x);
    z = cf_mul_scalar(ctx, y, 2.0);
    cf_fill_(x, 1.0);
    CHECK(cf_backward(ctx, z, cf_full(ctx, CF_F64, CF_SHAPE(3), 1.0)) == CF_OK);
    CHECK(cf_get_flat(x->grad, 0) == 4.0);
    cf_step_reset(ctx);
}

static void test_arena_steady_state(void)
{
    cf_tensor *w = cf_tensor_alloc(CF_F32, CF_SHAPE(64, 64));
    w->requires_grad = true;
    uint64_t allocs_after_first = 0;
    for (int step = 0; step < 5; step++) {
        cf_tensor *x = cf_full(ctx, CF_F32, CF_SHAPE(32, 64), 0.01 * step);
        cf_tensor *h = x;
        for (int l = 0; l < 20; l++) h = cf_gelu(ctx, cf_linear(ctx, h, w, NULL)); /* overflows the first chunk */
        CHECK(cf_backward(ctx, h, cf_full(ctx, CF_F32, CF_SHAPE(32, 64), 1.0)) == CF_OK);
        cf_step_reset(ctx);
        if (step == 1) allocs_after_first = cf_ctx_arena_system_allocs(ctx);
    }
    /* after the arena has merged its chunks once, steps make no system allocation */
    CHECK(cf_ctx_arena_system_allocs(ctx) == allocs_after_first);
    cf_tensor_free(w);
}

static void test_half_conversions(void)
{
    float vals[] = {0.0f, 1.0f, -2.5f, 3.14159f, 65504.0f, 1e-5f, -1e-8f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        float v = vals[i];
        CHECK_NEAR(cf_bf16_to_f32(cf_f32_to_bf16(v)), v, fabs(v) * 1.0 / 128);
        CHECK_NEAR(cf_f16_to_f32(cf_f32_to_f16(v)), v, fabs(v) * 1.0 / 1024 + 6e-8);
    }
    CHECK(cf_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(cf_f32_to_f16(1.0f) == 0x3c00);
    CHECK(isinf(cf_f16_to_f32(cf_f32_to_f16(1e6f))));
    cf_tensor *x = cf_full(ctx, CF_F32, CF_SHAPE(4), 1.5);
    cf_tensor *h = cf_cast(ctx, x, CF_BF16);
    CHECK(h && h->dtype == CF_BF16 && cf_get_flat(h, 3) == 1.5);
    cf_tensor *back = cf_cast(ctx, h, CF_F32);
    CHECK(back && cf_get_flat(back, 0) == 1.5);
}

static void test_two_losses_one_step(void)
{
    /* two backward passes over a shared trunk in one step: each adds its own gradient once */
    cf_tensor *x = cf_full(ctx, CF_F64, CF_SHAPE(1), 2.0);
    x->requires_grad = true;
    cf_tensor *h = cf_mul_scalar(ctx, x, 3.0);
    cf_tensor *l1 = cf_mul_scalar(ctx, h, 1.0), *l2 = cf_mul_scalar(ctx, h, 10.0);
    CHECK(cf_backward(ctx, l1, NULL) == CF_OK);
    CHECK(cf_backward(ctx, l2, NULL) == CF_OK);
    CHECK_NEAR(cf_get_flat(x->grad, 0), 3.0 + 30.0, 1e-12);
    cf_step_reset(ctx);
}

static void test_seed_gradient(void)
{
    cf_tensor *x = cf_full(ctx, CF_F64, CF_SHAPE(2, 2), 1.0);
    x->requires_grad = true;
    cf_tensor *y = cf_mul_scalar(ctx, x, 3.0);
    CHECK(cf_backward(ctx, y, NULL) != CF_OK);
    CHECK_ERROR_HAS("not a scalar");
    CHECK(cf_backward(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(4), 1.0)) != CF_OK);
    CHECK_ERROR_HAS("does not match");
    CHECK(cf_backward(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(2, 2), 2.0)) == CF_OK);
    CHECK(cf_get_flat(x->grad, 3) == 6.0);
    cf_step_reset(ctx);
}

/* An op with more inputs than the saved-input bit mask has (a concat of 40 tensors): backward must neither shift
 * past the mask (UBSan catches that) nor skip the inputs beyond it. */
static void test_many_inputs(void)
{
    cf_tensor *xs[40];
    for (int i = 0; i < 40; i++) {
        xs[i] = cf_full(ctx, CF_F64, CF_SHAPE(2), (double)i);
        xs[i]->requires_grad = true;
    }
    cf_tensor *y = cf_sum(ctx, cf_mul(ctx, cf_concat(ctx, 40, xs, 0), cf_concat(ctx, 40, xs, 0)), 0, NULL, false);
    CHECK(y && cf_backward(ctx, y, NULL) == CF_OK);
    for (int i = 0; i < 40; i++) CHECK(xs[i]->grad && cf_get_flat(xs[i]->grad, 1) == 2.0 * i);
    cf_step_reset(ctx);
}

/* cf_add_into: a + b over a's bytes (values, the gradient of add), a node that saved a fails at backward, and
 * the cases it cannot write over fall back to a fresh tensor. */
static void add_into_operands(cf_tensor **w, cf_tensor **v)
{
    *w = cf_from_data(ctx, CF_F64, CF_SHAPE(2, 3), (const double[]){1, 2, 3, 4, 5, 6});
    *v = cf_from_data(ctx, CF_F64, CF_SHAPE(3), (const double[]){10, 20, 30});
    (*w)->requires_grad = (*v)->requires_grad = true;
}

static void test_add_into(void)
{
    cf_tensor *w, *v;
    add_into_operands(&w, &v);
    cf_tensor *a = cf_mul_scalar(ctx, w, 2.0); /* 2 4 6 8 10 12 */
    cf_tensor *y = cf_add_into(ctx, a, v);
    CHECK(y && y->storage == a->storage && y->node && y->node->op == CF_OP_add_into);
    const double want[] = {12, 24, 36, 18, 30, 42};
    for (int i = 0; i < 6 && y; i++) CHECK(cf_get_flat(y, i) == want[i]);
    cf_tensor *loss = cf_sum(ctx, cf_mul(ctx, y, y), 0, NULL, false);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK);
    /* d/dw = 2 * 2y, d/dv = sum over rows of 2y */
    for (int i = 0; i < 6 && w->grad; i++) CHECK(cf_get_flat(w->grad, i) == 4 * want[i]);
    CHECK(v->grad && cf_get_flat(v->grad, 0) == 2 * (12 + 18) && cf_get_flat(v->grad, 2) == 2 * (36 + 42));
    cf_step_reset(ctx);
    /* a saved by another node: writing over it is caught at backward */
    add_into_operands(&w, &v);
    a = cf_mul_scalar(ctx, w, 2.0);
    cf_tensor *sq = cf_mul(ctx, a, a); /* saves a */
    y = cf_add_into(ctx, a, v);
    loss = cf_sum(ctx, cf_add(ctx, sq, y), 0, NULL, false);
    CHECK(loss && cf_backward(ctx, loss, NULL) == CF_ERR_STATE);
    CHECK_ERROR_HAS("modified in place");
    cf_step_reset(ctx);
    /* leaves, and shapes a cannot hold, get a fresh tensor */
    add_into_operands(&w, &v);
    y = cf_add_into(ctx, w, v);
    CHECK(y && y->storage != w->storage && cf_get_flat(w, 0) == 1 && cf_get_flat(y, 0) == 11);
    cf_tensor *row = cf_mul_scalar(ctx, v, 1.0);
    y = cf_add_into(ctx, row, cf_mul_scalar(ctx, w, 1.0));
    CHECK(y && y->ndim == 2 && y->storage != row->storage && cf_get_flat(y, 5) == 36);
    cf_step_reset(ctx);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.threads = 2, .arena_bytes = 1 << 20});
    if (!ctx) return 1;
    RUN(test_views_share_storage);
    RUN(test_broadcasting);
    RUN(test_bad_shapes_and_dtypes);
    RUN(test_accumulation_and_reuse);
    RUN(test_no_grad_and_detach);
    RUN(test_grad_final_hook);
    RUN(test_inplace_detection);
    RUN(test_arena_steady_state);
    RUN(test_half_conversions);
    RUN(test_seed_gradient);
    RUN(test_two_losses_one_step);
    RUN(test_many_inputs);
    RUN(test_add_into);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
