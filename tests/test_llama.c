/* The Llama / Mistral layers (layers/llama.h): rotary frequencies against hand-computed values (none,
 * linear, llama3), a one-token forward against scalar arithmetic, grouped-query attention against the
 * equivalent multi-head model, the sliding window's reach, an f64 finite-difference gradient check, and
 * the parameter names the Hugging Face mapping covers.
 *
 * `test_llama --logits OUTDIR TOKENS OUT` (for tests/test_llama_parity.sh): loads OUTDIR/recipe.yaml and
 * OUTDIR/model.h5 as written by `cformer import hf`, runs the tokens (rows of ids, whitespace separated) and
 * writes the logits as raw little-endian f64. `test_llama --count RECIPE` prints the parameter count of a
 * recipe's shape without building it. */
#include "tests/check.h"
#include "layers/llama.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/llama/model.h"

#include <stdlib.h>

static cf_ctx *ctx;

static cf_llama_config tiny(void)
{
    cf_llama_config c = cf_llama_defaults();
    c.vocab = 19, c.dim = 16, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.hidden = 24, c.max_seq = 64;
    return c;
}

static cf_tensor *tokens(int64_t B, int64_t T, uint64_t seed, int64_t vocab)
{
    cf_tensor *t = cf_empty(ctx, CF_I64, CF_SHAPE(B, T));
    cf_philox_key k = cf_rng_key(seed, 5);
    for (int64_t i = 0; i < B * T; i++) ((int64_t *)cf_data(t))[i] = (int64_t)(cf_rng_uniform(k, 0, (uint64_t)i) * (double)vocab);
    return t;
}

static void test_inv_freq(void)
{
    double f[2];
    CHECK(cf_rope_inv_freq(10000, 4, NULL, f) == CF_OK);
    CHECK_NEAR(f[0], 1.0, 1e-15);
    CHECK_NEAR(f[1], 0.01, 1e-15);
    cf_rope_scaling lin = {.kind = CF_ROPE_SCALE_LINEAR, .factor = 2};
    CHECK(cf_rope_inv_freq(10000, 4, &lin, f) == CF_OK);
    CHECK_NEAR(f[0], 0.5, 1e-15);
    CHECK_NEAR(f[1], 0.005, 1e-15);
    /* llama3, context 64, low 1, high 4, factor 8: wavelength 2 pi < 16 kept; 2 pi / 0.01 > 64 divided by 8 */
    cf_rope_scaling l3 = {.kind = CF_ROPE_SCALE_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
                          .original_max_pos = 64};
    CHECK(cf_rope_inv_freq(10000, 4, &l3, f) == CF_OK);
    CHECK_NEAR(f[0], 1.0, 1e-15);
    CHECK_NEAR(f[1], 0.01 / 8, 1e-15);
    /* a wavelength of 32 lies in the blended band: smooth = (64/32 - 1) / 3 = 1/3, f * (2/3 / 8 + 1/3) */
    double f2 = 2 * 3.14159265358979323846 / 32, theta = 1 / (f2 * f2);
    CHECK(cf_rope_inv_freq(theta, 4, &l3, f) == CF_OK);
    CHECK_NEAR(f[1], f2 * 5.0 / 12.0, 1e-12);
    cf_rope_scaling_kind k;
    CHECK(!cf_rope_scaling_parse("yarn", &k) && !cf_rope_scaling_parse("dynamic", &k));
    CHECK(cf_rope_scaling_parse("default", &k) && k == CF_ROPE_SCALE_NONE);
    l3.high_freq_factor = 0.5;
    CHECK(cf_rope_inv_freq(10000, 4, &l3, f) == CF_ERR_ARG, "llama3 with high_freq_factor < low_freq_factor");
    CHECK(cf_rope_inv_freq(10000, 3, NULL, f) == CF_ERR_ARG, "odd head_dim");
    /* the shared rotary op with explicit frequencies is cf_rope's */
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(1, 2, 5, 8), 0, 1);
    double inv[4];
    CHECK(cf_rope_inv_freq(500, 8, NULL, inv) == CF_OK);
    cf_tensor *a = cf_rope(ctx, x, 3, 500), *b = cf_rope_freqs(ctx, x, 3, inv);
    double err = 0;
    for (int64_t i = 0; a && b && i < cf_numel(a); i++) err = fmax(err, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    CHECK(a && b && err < 1e-14, "cf_rope vs cf_rope_freqs: %g", err);
    cf_step_reset(ctx);
}

static void set_all(cf_tensor *t, const double *v)
{
    for (int64_t i = 0; i < cf_numel(t); i++) cf_set_flat(t, i, v[i]);
}

static double rms_scale(double a, double b, double eps) { return 1 / sqrt((a * a + b * b) / 2 + eps); }

/* One token through a one-layer model with dim 2, one head of 2, hidden 1: at position 0 RoPE is the
 * identity and attention returns v, so every step is scalar arithmetic. */
static void test_one_token_values(void)
{
    cf_params *ps = cf_params_new(CF_F64, 1);
    cf_llama_config c = cf_llama_defaults();
    c.vocab = 3, c.dim = 2, c.layers = 1, c.heads = 1, c.hidden = 1, c.norm_eps = 1e-6, c.tie = true;
    cf_llama m;
    CHECK(cf_llama_init(&m, ps, &c) == CF_OK);
    cf_llama_layer *l = &m.layers[0];
    set_all(m.embed.weight, (double[]){1, 2, 3, -1, 0.5, 0.25});
    set_all(l->attn_norm.weight, (double[]){1, 2});
    set_all(l->mlp_norm.weight, (double[]){0.5, 1});
    set_all(m.norm.weight, (double[]){2, 1});
    set_all(l->q.weight, (double[]){9, 9, 9, 9}); /* irrelevant for one token */
    set_all(l->k.weight, (double[]){7, 7, 7, 7});
    set_all(l->v.weight, (double[]){1, 0, 0, 2});
    set_all(l->o.weight, (double[]){0, 1, 1, 0});
    set_all(l->mlp.gate.weight, (double[]){1, 1});
    set_all(l->mlp.fc1.weight, (double[]){2, -1});
    set_all(l->mlp.fc2.weight, (double[]){1, -1});
    int64_t id = 1;
    cf_tensor *tok = cf_from_data(ctx, CF_I64, CF_SHAPE(1, 1), &id);
    cf_tensor *lg = cf_llama_logits(ctx, &m, tok, NULL);
    /* by hand: h = (3, -1) */
    double e = 1e-6, h0 = 3, h1 = -1, s = rms_scale(h0, h1, e);
    double a0 = h0 * s * 1, a1 = h1 * s * 2;
    double v0 = a0, v1 = 2 * a1;   /* v = Wv a */
    h0 += v1, h1 += v0;            /* o swaps */
    s = rms_scale(h0, h1, e);
    double m0 = h0 * s * 0.5, m1 = h1 * s * 1;
    double g = m0 + m1, u = 2 * m0 - m1, act = g / (1 + exp(-g)) * u;
    h0 += act, h1 -= act;
    s = rms_scale(h0, h1, e);
    double n0 = h0 * s * 2, n1 = h1 * s;
    double want[3] = {n0 * 1 + n1 * 2, n0 * 3 - n1 * 1, n0 * 0.5 + n1 * 0.25};
    for (int v = 0; v < 3; v++) CHECK(lg && fabs(cf_get_flat(lg, v) - want[v]) < 1e-12, "logit %d: %g vs %g", v, lg ? cf_get_flat(lg, v) : NAN, want[v]);
    cf_step_reset(ctx);
    cf_llama_free(&m);
    cf_params_free(ps);
}

static double max_diff(cf_tensor *a, cf_tensor *b)
{
    double err = 0;
    for (int64_t i = 0; i < cf_numel(a); i++) err = fmax(err, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    return err;
}

/* kv_heads 2 for 4 query heads equals the multi-head model whose key/value head 2j and 2j+1 are copies
 * of grouped head j (Hugging Face's repeat_kv: query head i reads kv head i / 2). */
static void test_gqa_equals_repeated_mha(void)
{
    cf_params *pg = cf_params_new(CF_F64, 3), *pm = cf_params_new(CF_F64, 3);
    cf_llama_config c = tiny(), cm = tiny();
    cm.kv_heads = 4;
    cf_llama g, m;
    CHECK(cf_llama_init(&g, pg, &c) == CF_OK && cf_llama_init(&m, pm, &cm) == CF_OK);
    int64_t Dh = g.cfg.head_dim, D = c.dim;
    for (int i = 0; i < pg->count; i++) {
        cf_param *p = &pg->items[i], *q = cf_params_find(pm, p->name);
        bool kv = strstr(p->name, ".attn.k.") || strstr(p->name, ".attn.v.");
        for (int64_t r = 0; r < cf_numel(q->value) / D; r++) {
            int64_t src = kv ? ((r / Dh) / 2) * Dh + r % Dh : r; /* full head h <- grouped head h / 2 */
            for (int64_t j = 0; j < D; j++) cf_set_flat(q->value, r * D + j, cf_get_flat(p->value, src * D + j));
        }
        if (q->value->ndim == 1) for (int64_t j = 0; j < cf_numel(q->value); j++) cf_set_flat(q->value, j, cf_get_flat(p->value, j));
    }
    cf_tensor *tok = tokens(2, 9, 4, c.vocab);
    double err = max_diff(cf_llama_logits(ctx, &g, tok, NULL), cf_llama_logits(ctx, &m, tok, NULL));
    CHECK(err < 1e-12, "grouped-query vs repeated multi-head: %g", err);
    cf_step_reset(ctx);
    cf_llama_free(&g), cf_llama_free(&m);
    cf_params_free(pg), cf_params_free(pm);
}

/* One layer with window W: the logits at t depend on tokens t - W + 1 .. t only. */
static void test_sliding_window_reach(void)
{
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_llama_config c = tiny();
    c.layers = 1, c.sliding_window = 4;
    cf_llama m;
    CHECK(cf_llama_init(&m, ps, &c) == CF_OK);
    int64_t T = 12, p = 3;
    cf_tensor *a = tokens(1, T, 6, c.vocab), *b = cf_empty(ctx, CF_I64, CF_SHAPE(1, T));
    memcpy(cf_data(b), cf_data(a), (size_t)T * sizeof(int64_t));
    ((int64_t *)cf_data(b))[p] = (((int64_t *)cf_data(a))[p] + 1) % c.vocab;
    cf_tensor *la = cf_llama_logits(ctx, &m, a, NULL), *lb = cf_llama_logits(ctx, &m, b, NULL);
    for (int64_t t = 0; t < T; t++) {
        double d = 0;
        for (int64_t v = 0; v < c.vocab; v++) d = fmax(d, fabs(cf_get_flat(la, t * c.vocab + v) - cf_get_flat(lb, t * c.vocab + v)));
        bool sees = t >= p && t - p < c.sliding_window;
        CHECK(sees ? d > 1e-9 : d == 0, "position %lld: change %g (token %lld changed, window %lld)", (long long)t, d,
              (long long)p, (long long)c.sliding_window);
    }
    cf_step_reset(ctx);
    cf_llama_free(&m);
    cf_params_free(ps);
}

/* Backward through every layer against central differences of the loss, f64, several entries of every
 * parameter (tied head, scaled rope, window, GQA all on). */
static void test_gradcheck(void)
{
    cf_params *ps = cf_params_new(CF_F64, 7);
    cf_llama_config c = tiny();
    c.tie = true, c.sliding_window = 3;
    c.rope_scaling = (cf_rope_scaling){.kind = CF_ROPE_SCALE_LLAMA3, .factor = 4, .low_freq_factor = 1,
                                       .high_freq_factor = 4, .original_max_pos = 16};
    cf_llama m;
    CHECK(cf_llama_init(&m, ps, &c) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    cf_tensor *tok = cf_tensor_alloc(CF_I64, CF_SHAPE(2, 6)), *tgt = cf_tensor_alloc(CF_I64, CF_SHAPE(2, 6));
    cf_philox_key k = cf_rng_key(8, 1);
    for (int64_t i = 0; i < 12; i++) {
        ((int64_t *)cf_data(tok))[i] = (int64_t)(cf_rng_uniform(k, 0, (uint64_t)i) * (double)c.vocab);
        ((int64_t *)cf_data(tgt))[i] = (int64_t)(cf_rng_uniform(k, 1, (uint64_t)i) * (double)c.vocab);
    }
#define LOSS() cf_cross_entropy_last(ctx, cf_llama_logits(ctx, &m, tok, NULL), tgt, NULL)
    cf_params_zero_grad(ps);
    cf_tensor *l = LOSS();
    CHECK(l && cf_backward(ctx, l, NULL) == CF_OK);
    cf_step_reset(ctx);
    double worst = 0;
    int checked = 0;
    for (int i = 0; i < ps->count; i++) {
        cf_param *p = &ps->items[i];
        for (int64_t j = 0; j < p->numel; j += p->numel / 3 + 1) {
            double *w = (double *)ps->values + p->offset + j, keep = *w, h = 1e-5;
            *w = keep + h;
            double up = cf_item(LOSS());
            cf_step_reset(ctx);
            *w = keep - h;
            double down = cf_item(LOSS());
            cf_step_reset(ctx);
            *w = keep;
            double num = (up - down) / (2 * h), ana = ((double *)ps->grads)[p->offset + j];
            double err = fabs(num - ana) / (1e-4 + fabs(num) + fabs(ana)); /* FD noise ~1e-11 */
            if (err > worst) worst = err;
            if (err > 1e-5) fprintf(stderr, "  %s[%lld]: numeric %.9g analytic %.9g\n", p->name, (long long)j, num, ana);
            checked++;
        }
    }
#undef LOSS
    CHECK(worst < 1e-5 && checked > 30, "gradient check: worst relative error %g over %d entries", worst, checked);
    cf_tensor_free(tok), cf_tensor_free(tgt);
    cf_llama_free(&m);
    cf_params_free(ps);
}

static void test_names(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_llama_config c = tiny();
    cf_llama m;
    CHECK(cf_llama_init(&m, ps, &c) == CF_OK);
    CHECK(ps->count == 2 + 9 * 2 + 1, "untied: embed, head, norm, 9 per layer (%d)", ps->count);
    char hf[CF_PARAM_NAME_MAX], other[CF_PARAM_NAME_MAX];
    for (int i = 0; i < ps->count; i++) {
        CHECK(cf_llama_hf_name(ps->items[i].name, hf, sizeof hf), "%s has a Hugging Face name", ps->items[i].name);
        for (int j = 0; j < i; j++)
            CHECK(!(cf_llama_hf_name(ps->items[j].name, other, sizeof other) && strcmp(hf, other) == 0), "%s twice", hf);
    }
    CHECK(cf_llama_hf_name("layers.1.mlp.fc1.weight", hf, sizeof hf) && strcmp(hf, "model.layers.1.mlp.up_proj.weight") == 0);
    CHECK(cf_llama_hf_name("layers.0.attn.k.weight", hf, sizeof hf) && strcmp(hf, "model.layers.0.self_attn.k_proj.weight") == 0);
    CHECK(!cf_llama_hf_name("layers.0.attn.qkv.weight", hf, sizeof hf) && !cf_llama_hf_name("wte.weight", hf, sizeof hf));
    cf_param *q = cf_params_find(ps, "layers.0.attn.k.weight");
    CHECK(q && q->value->shape[0] == 2 * 4 && q->value->shape[1] == 16, "k is [kv_heads * head_dim, dim]");
    cf_llama_free(&m);
    cf_params_free(ps);
    ps = cf_params_new(CF_F32, 1);
    c.tie = true, c.head_dim = 6; /* head_dim other than dim / heads (Mistral Nemo's shape) */
    CHECK(cf_llama_init(&m, ps, &c) == CF_OK);
    CHECK(!cf_params_find(ps, "head.weight") && cf_params_find(ps, "layers.0.attn.q.weight")->value->shape[0] == 24);
    CHECK(cf_llama_param_count(&m.cfg) == cf_params_numel(ps), "counted %lld, built %lld",
          (long long)cf_llama_param_count(&m.cfg), (long long)cf_params_numel(ps));
    cf_llama_free(&m);
    cf_params_free(ps);
    c.kv_heads = 3;
    CHECK(cf_llama_config_check(&c) == CF_ERR_ARG, "kv_heads that do not divide heads");
}

/* ---- --logits: an imported checkpoint on given tokens ---- */
static int logits_mode(const char *dir, const char *tokens_path, const char *out_path)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/recipe.yaml", dir);
    cf_recipe *r = cf_recipe_load(path);
    cf_llama_config c;
    if (!r || cf_llama_config_from_recipe(r, &c) != CF_OK) return fprintf(stderr, "%s\n", cf_last_error()), 1;
    cf_params *ps = cf_params_new(CF_F32, 0);
    cf_llama m;
    snprintf(path, sizeof path, "%s/model.h5", dir);
    if (cf_llama_init(&m, ps, &c) != CF_OK || cf_checkpoint_load(path, ps, 0, NULL, NULL, NULL) != CF_OK)
        return fprintf(stderr, "%s\n", cf_last_error()), 1;
    FILE *f = fopen(tokens_path, "r");
    int64_t ids[4096], n = 0, rows = 0;
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        for (long long v; n < 4096 && (v = strtoll(p, &end, 10), end != p); p = end) ids[n++] = v;
        rows += p != line;
    }
    if (f) fclose(f);
    if (!rows) return fprintf(stderr, "%s: no tokens\n", tokens_path), 1;
    cf_tensor *tok = cf_from_data(ctx, CF_I64, CF_SHAPE(rows, n / rows), ids);
    cf_tensor *lg = cf_llama_logits(ctx, &m, tok, NULL);
    FILE *o = fopen(out_path, "wb");
    for (int64_t i = 0; lg && o && i < cf_numel(lg); i++) {
        double v = cf_get_flat(lg, i);
        fwrite(&v, sizeof v, 1, o);
    }
    int rc = lg && o && fclose(o) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "logits: %s\n", cf_last_error());
    cf_llama_free(&m);
    cf_params_free(ps);
    cf_recipe_free(r);
    return rc;
}

int main(int argc, char **argv)
{
    ctx = cf_ctx_new(&(cf_ctx_options){.seed = 1});
    if (argc == 3 && strcmp(argv[1], "--count") == 0) {
        cf_recipe *r = cf_recipe_load(argv[2]);
        cf_llama_config c;
        int rc = r && cf_llama_config_from_recipe(r, &c) == CF_OK && cf_llama_config_check(&c) == CF_OK ? 0 : 1;
        if (rc == 0) printf("%lld\n", (long long)cf_llama_param_count(&c));
        else fprintf(stderr, "%s\n", cf_last_error());
        cf_recipe_free(r);
        cf_ctx_free(ctx);
        return rc;
    }
    if (argc == 5 && strcmp(argv[1], "--logits") == 0) {
        int rc = logits_mode(argv[2], argv[3], argv[4]);
        cf_ctx_free(ctx);
        return rc;
    }
    test_inv_freq();
    test_one_token_values();
    test_gqa_equals_repeated_mha();
    test_sliding_window_reach();
    test_names();
    test_gradcheck();
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
