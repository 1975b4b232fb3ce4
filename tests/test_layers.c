/* Layers and the GPT model: state_dict names, the KV cache against recomputation, RoPE's relative-position
 * property, pre/post-LN and SwiGLU variants training, cached generation against uncached. */
#include "tests/check.h"
#include "layers/gpt.h"
#include "optim/optim.h"
#include "recipes/gpt/model.h"

#include <stdlib.h>

static cf_ctx *ctx;

static cf_gpt_config tiny(void)
{
    cf_gpt_config c = cf_gpt_defaults();
    c.vocab = 31, c.seq = 24, c.dim = 32, c.layers = 2, c.heads = 4, c.hidden = 64;
    return c;
}

static cf_tensor *tokens(int64_t B, int64_t T, uint64_t seed, int64_t vocab)
{
    cf_tensor *t = cf_empty(ctx, CF_I64, CF_SHAPE(B, T));
    cf_philox_key k = cf_rng_key(seed, 3);
    for (int64_t i = 0; i < B * T; i++) ((int64_t *)cf_data(t))[i] = (int64_t)(cf_rng_uniform(k, 0, (uint64_t)i) * (double)vocab);
    return t;
}

static void test_state_dict_names(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_gpt m;
    cf_gpt_config c = tiny();
    CHECK(cf_gpt_init(&m, ps, &c) == CF_OK);
    const char *names[] = {"wte.weight", "wpe.weight", "blocks.0.ln1.weight", "blocks.0.attn.qkv.weight",
                           "blocks.0.attn.proj.bias", "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "ln_f.weight",
                           "head.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool found = cf_params_find(ps, names[i]) != NULL;
        if (!found) fprintf(stderr, "missing parameter %s\n", names[i]);
        CHECK(found);
    }
    cf_param *qkv = cf_params_find(ps, "blocks.0.attn.qkv.weight");
    CHECK(qkv && qkv->value->shape[0] == 3 * 32 && qkv->value->shape[1] == 32); /* Linear: [out, in] */
    CHECK(!cf_params_find(ps, "blocks.blocks.1.ln1.weight"));
    cf_gpt_free(&m);
    cf_params_free(ps);
}

/* Logits of the last position: full recomputation vs feeding the tokens one at a time through the cache. */
static void check_cache(cf_gpt_config c, const char *label)
{
    cf_params *ps = cf_params_new(CF_F64, 2);
    cf_gpt m;
    CHECK(cf_gpt_init(&m, ps, &c) == CF_OK);
    bool prev = cf_set_grad_enabled(ctx, false);
    int64_t T = 10;
    cf_tensor *tok = tokens(1, T, 5, c.vocab);
    cf_tensor *full = cf_gpt_logits(ctx, &m, tok, NULL);
    cf_kv_cache caches[2];
    for (int l = 0; l < 2; l++) cf_kv_cache_init(&caches[l], CF_F64, 1, c.kv_heads ? c.kv_heads : c.heads, T, c.dim / c.heads);
    /* the prefix in one call, then one token at a time */
    cf_tensor *pre = cf_slice(ctx, tok, 1, 0, 4, 1), *inc = NULL;
    inc = cf_gpt_logits(ctx, &m, cf_contiguous(ctx, pre), caches);
    double err = 0;
    for (int64_t t = 0; t < 4; t++)
        for (int64_t v = 0; v < c.vocab; v++) err = fmax(err, fabs(cf_get_flat(inc, t * c.vocab + v) - cf_get_flat(full, t * c.vocab + v)));
    for (int64_t t = 4; t < T; t++) {
        inc = cf_gpt_logits(ctx, &m, cf_contiguous(ctx, cf_slice(ctx, tok, 1, t, t + 1, 1)), caches);
        for (int64_t v = 0; v < c.vocab; v++) err = fmax(err, fabs(cf_get_flat(inc, v) - cf_get_flat(full, t * c.vocab + v)));
    }
    if (err > 1e-10) fprintf(stderr, "%s: cached logits differ by %g\n", label, err);
    CHECK(err <= 1e-10);
    for (int l = 0; l < 2; l++) cf_kv_cache_free(&caches[l]);
    cf_set_grad_enabled(ctx, prev);
    cf_step_reset(ctx);
    cf_gpt_free(&m);
    cf_params_free(ps);
}

static void test_kv_cache(void)
{
    cf_gpt_config c = tiny();
    check_cache(c, "learned positions");
    c.pos = CF_POS_ROPE, c.norm = CF_NORM_RMS, c.mlp = CF_MLP_SWIGLU, c.bias = false, c.kv_heads = 2;
    check_cache(c, "rope + rms + swiglu + grouped-query");
    c.pos = CF_POS_SINUSOIDAL, c.kv_heads = 0, c.tie = true;
    check_cache(c, "sinusoidal + tied head");
}

/* <rope(q, m), rope(k, n)> depends only on m - n. */
static void test_rope_relative(void)
{
    cf_tensor *q = cf_randn(ctx, CF_F64, CF_SHAPE(1, 1, 1, 8), 1, 1), *k = cf_randn(ctx, CF_F64, CF_SHAPE(1, 1, 1, 8), 1, 2);
    double d[2];
    int64_t offs[2][2] = {{3, 1}, {10, 8}};
    for (int i = 0; i < 2; i++) {
        cf_tensor *a = cf_rope(ctx, q, offs[i][0], 10000), *b = cf_rope(ctx, k, offs[i][1], 10000);
        d[i] = 0;
        for (int j = 0; j < 8; j++) d[i] += cf_get_flat(a, j) * cf_get_flat(b, j);
    }
    CHECK_NEAR(d[0], d[1], 1e-12);
    cf_step_reset(ctx);
}

/* Each variant overfits one batch: the loss falls by half in 60 AdamW steps. */
static void check_trains(cf_gpt_config c, const char *label)
{
    cf_params *ps = cf_params_new(CF_F32, 3);
    cf_gpt m;
    CHECK(cf_gpt_init(&m, ps, &c) == CF_OK);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    cf_tensor *tok = cf_tensor_alloc(CF_I64, CF_SHAPE(2, 12)), *tgt = cf_tensor_alloc(CF_I64, CF_SHAPE(2, 12));
    for (int i = 0; i < 24; i++) ((int64_t *)cf_data(tok))[i] = (i * 7) % c.vocab, ((int64_t *)cf_data(tgt))[i] = (i * 7 + 3) % c.vocab;
    double first = 0, last = 0;
    for (int s = 0; s < 60; s++) {
        cf_params_zero_grad(ps);
        cf_tensor *loss = cf_gpt_loss(ctx, &m, tok, tgt);
        if (!loss || cf_backward(ctx, loss, NULL) != CF_OK) {
            fprintf(stderr, "%s: %s\n", label, cf_last_error());
            CHECK(false);
            break;
        }
        last = cf_item(loss);
        if (s == 0) first = last;
        cf_optim_step(opt, 3e-3);
        cf_step_reset(ctx);
    }
    if (!(last < first * 0.5)) fprintf(stderr, "%s: loss %g -> %g\n", label, first, last);
    CHECK(last < first * 0.5);
    cf_tensor_free(tok), cf_tensor_free(tgt);
    cf_optim_free(opt);
    cf_gpt_free(&m);
    cf_params_free(ps);
}

static void test_variants_train(void)
{
    cf_gpt_config c = tiny();
    check_trains(c, "pre-LN gelu learned");
    c.prenorm = false;
    check_trains(c, "post-LN");
    c.prenorm = true, c.pos = CF_POS_ROPE, c.norm = CF_NORM_RMS, c.mlp = CF_MLP_SWIGLU, c.bias = false;
    check_trains(c, "rope rms swiglu");
    c.dropout = 0.1;
    check_trains(c, "with dropout");
}

static void test_generation_cache_matches(void)
{
    cf_params *ps = cf_params_new(CF_F32, 4);
    cf_gpt m;
    cf_gpt_config c = tiny();
    cf_gpt_init(&m, ps, &c);
    int64_t prompt[3] = {1, 2, 3}, a[40], b[40];
    /* 30 new tokens run past seq = 24: the context slides */
    for (int greedy = 0; greedy < 2; greedy++) {
        cf_sample_opts o = {.temperature = greedy ? 0 : 1.0, .top_k = 8, .top_p = 0.9, .seed = 11, .use_cache = true};
        CHECK(cf_gpt_generate(ctx, &m, prompt, 3, 30, &o, a) == CF_OK);
        o.use_cache = false;
        CHECK(cf_gpt_generate(ctx, &m, prompt, 3, 30, &o, b) == CF_OK);
        CHECK(memcmp(a, b, sizeof a[0] * 33) == 0);
        for (int i = 0; i < 33; i++) CHECK(a[i] >= 0 && a[i] < c.vocab);
    }
    cf_gpt_free(&m);
    cf_params_free(ps);
}

/* The relative bias is a function of j - i only, and gets a gradient through the sdpa bias. */
static void test_relative_bias(void)
{
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_relative_bias rb;
    CHECK(cf_relative_bias_init(&rb, ps, "rel", 16, 2, 64, true) == CF_OK);
    cf_tensor *b = cf_relative_bias_fwd(ctx, &rb, 6, 6);
    CHECK(b && b->shape[0] == 1 && b->shape[1] == 2 && b->shape[2] == 6 && b->shape[3] == 6);
    for (int h = 0; h < 2; h++)
        for (int i = 1; i < 6; i++)
            for (int j = 1; j < 6; j++) CHECK(cf_get_flat(b, (h * 6 + i) * 6 + j) == cf_get_flat(b, (h * 6 + i - 1) * 6 + j - 1));
    CHECK(cf_relative_bucket(3, 32, 128, true) != cf_relative_bucket(-3, 32, 128, true));
    CHECK(cf_relative_bucket(1000, 32, 128, true) == 31 && cf_relative_bucket(5, 32, 128, false) == 0);
    cf_params_grads(ps);
    cf_tensor *q = cf_randn(ctx, CF_F64, CF_SHAPE(1, 2, 6, 4), 1, 1);
    cf_tensor *y = cf_sdpa(ctx, q, q, q, &(cf_sdpa_opts){.bias = b});
    CHECK(y && cf_backward(ctx, y, cf_randn(ctx, CF_F64, CF_SHAPE(1, 2, 6, 4), 1, 3)) == CF_OK);
    double gsum = 0;
    for (int64_t i = 0; i < 32; i++) gsum += fabs(cf_get_flat(rb.weight->grad, i));
    CHECK(gsum > 0);
    cf_step_reset(ctx);
    cf_params_free(ps);
}

static void test_conv_block(void)
{
    cf_params *ps = cf_params_new(CF_F32, 6);
    cf_conv_block cb;
    CHECK(cf_conv_block_init(&cb, ps, "stem", 3, 8, 3, 2, 1, CF_ACT_RELU) == CF_OK);
    CHECK(cf_params_find(ps, "stem.conv.weight") && cf_params_find(ps, "stem.bn.bias"));
    cf_tensor *x = cf_randn(ctx, CF_F32, CF_SHAPE(2, 3, 8, 8), 1, 2);
    cf_tensor *y = cf_conv_block_fwd(ctx, &cb, x);
    CHECK(y && y->shape[1] == 8 && y->shape[2] == 4 && y->shape[3] == 4);
    double mn = 0;
    for (int64_t i = 0; i < cf_numel(y); i++) mn = fmin(mn, cf_get_flat(y, i));
    CHECK(mn >= 0);                                /* relu */
    CHECK(cf_get_flat(cb.running_var, 0) != 1.0); /* training updated the running stats */
    CHECK(cf_conv_block_init(&cb, ps, "bad", 3, 8, 3, 1, 2, CF_ACT_RELU) != CF_OK);
    CHECK_ERROR_HAS("groups");
    cf_conv_block_free(&cb);
    cf_step_reset(ctx);
    cf_params_free(ps);
}

int main(void)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.seed = 1});
    RUN(test_state_dict_names);
    RUN(test_kv_cache);
    RUN(test_rope_relative);
    RUN(test_variants_train);
    RUN(test_generation_cache_matches);
    RUN(test_relative_bias);
    RUN(test_conv_block);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
