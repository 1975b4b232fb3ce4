/* Neuroformer (layers/neuroformer.h): shapes and parameter names, the key-padding mask of the history
 * cross-attention (padded previous-window tokens change nothing), the recorded attention, the loss falling
 * when overfitting a few windows, generation with the KV cache equal to recomputation, and the
 * occurrence-normalised connectivity matrix on a hand case. */
#include "data/spikes/spike_metrics.h"
#include "layers/neuroformer.h"
#include "optim/optim.h"

#include "tests/check.h"

#include <stdlib.h>

enum { N = 10, M1 = 6, T = 8, TP = 12, B = 3, K = 1 };

static cf_neuroformer_config small(void)
{
    cf_neuroformer_config c = cf_neuroformer_defaults();
    c.n_units = N, c.dt_classes = M1, c.block = T, c.prev_block = TP;
    c.dim = 16, c.heads = 2, c.dropout = 0;
    c.beh_inputs = K, c.beh_predict = true;
    return c;
}

/* Deterministic windows: current [SOS, units..., EOS, PAD...] with n_b spikes, previous likewise with pads. */
typedef struct {
    int64_t id[B * T], dt[B * T], id_t[B * T], dt_t[B * T], pid[B * TP], pdt[B * TP];
    bool pad[B * TP];
    float beh[B * K], beh_t[B];
} windows;

static void make_windows(windows *w)
{
    int ncur[B] = {3, 5, 0}, nprev[B] = {4, 9, 1};
    for (int b = 0; b < B; b++) {
        for (int p = 0; p <= T; p++) {
            int64_t id, dt;
            if (p == 0) id = N, dt = 0;
            else if (p <= ncur[b]) id = (b * 3 + p * 7) % N, dt = (p - 1) % 5;
            else if (p == ncur[b] + 1) id = N + 1, dt = M1 + 1;
            else id = N + 2, dt = M1 + 2;
            if (p < T) w->id[b * T + p] = id, w->dt[b * T + p] = dt;
            if (p > 0) w->id_t[b * T + p - 1] = id == N + 2 ? -100 : id, w->dt_t[b * T + p - 1] = dt == M1 + 2 ? -100 : dt;
        }
        for (int p = 0; p < TP; p++) {
            int64_t id, dt;
            if (p == 0) id = N, dt = 0;
            else if (p <= nprev[b]) id = (b + p * 3) % N, dt = (p - 1) / 2;
            else if (p == nprev[b] + 1) id = N + 1, dt = M1 + 1;
            else id = N + 2, dt = M1 + 2;
            w->pid[b * TP + p] = id, w->pdt[b * TP + p] = dt, w->pad[b * TP + p] = id == N + 2;
        }
        w->beh[b] = (float)(0.5 * b - 0.4);
        w->beh_t[b] = (float)(1.0 - b);
    }
}

static cf_nf_inputs inputs(cf_ctx *ctx, const windows *w, bool mask)
{
    return (cf_nf_inputs){.id = cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w->id),
                          .dt = cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w->dt),
                          .prev_id = cf_from_data(ctx, CF_I64, CF_SHAPE(B, TP), w->pid),
                          .prev_dt = cf_from_data(ctx, CF_I64, CF_SHAPE(B, TP), w->pdt),
                          .prev_pad = mask ? cf_from_data(ctx, CF_BOOL, CF_SHAPE(B, TP), w->pad) : NULL,
                          .beh = cf_from_data(ctx, CF_F32, CF_SHAPE(B, K), w->beh)};
}

static double max_diff(const cf_tensor *a, const cf_tensor *b)
{
    double d = 0;
    for (int64_t i = 0; i < cf_numel(a); i++) d = fmax(d, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    return d;
}

static void test_shapes_and_names(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_neuroformer m;
    cf_neuroformer_config c = small();
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    windows w;
    make_windows(&w);
    cf_nf_inputs in = inputs(ctx, &w, true);
    cf_nf_outputs o;
    CHECK(cf_neuroformer_forward(ctx, &m, &in, NULL, NULL, &o) == CF_OK);
    CHECK(o.id_logits && o.id_logits->ndim == 3 && o.id_logits->shape[0] == B && o.id_logits->shape[1] == T &&
          o.id_logits->shape[2] == N + 3);
    CHECK(o.dt_logits && o.dt_logits->shape[2] == M1 + 3);
    CHECK(o.beh_tokens && o.beh_tokens->shape[1] == K && o.beh_tokens->shape[2] == 16);
    static const char *names[] = {"tok_emb.weight", "temp_emb.0.weight", "temp_emb_prev.2.bias", "pos_emb", "pos_emb_prev",
                                  "state_blocks.0.attn.query.weight", "hist_blocks.0.attn.key.weight",
                                  "beh_blocks.0.mlp.fc1.weight", "final_blocks.0.ln_out.weight", "head_id.weight",
                                  "head_dt.weight", "head_beh.bias", "beh_emb.weight", "clip_proj.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool found = cf_params_find(ps, names[i]) != NULL;
        CHECK(found);
        if (!found) fprintf(stderr, "  missing parameter %s\n", names[i]);
    }
    /* weight decay on the blocks' and heads' Linear weights only (the official optimiser groups) */
    CHECK(cf_params_find(ps, "hist_blocks.0.attn.key.weight")->decay);
    CHECK(cf_params_find(ps, "head_id.weight")->decay);
    CHECK(!cf_params_find(ps, "temp_emb.0.weight")->decay);
    CHECK(!cf_params_find(ps, "tok_emb.weight")->decay);
    CHECK(!cf_params_find(ps, "pos_emb")->decay);
    CHECK(!cf_params_find(ps, "hist_blocks.0.attn.key.bias")->decay);
    /* a behaviour input of the wrong width is an error, not a crash */
    in.beh = cf_zeros(ctx, CF_F32, CF_SHAPE(B, 2));
    CHECK(cf_neuroformer_forward(ctx, &m, &in, NULL, NULL, &o) != CF_OK);
    CHECK_ERROR_HAS("behaviour");
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* Changing what sits in the padded previous-window positions changes nothing with the mask, and something
 * without it (the official code's behaviour). The recorded attention puts no weight on PAD keys. */
static void test_padding_mask(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F32, 2);
    cf_neuroformer m;
    cf_neuroformer_config c = small();
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    windows w, w2;
    make_windows(&w);
    w2 = w;
    for (int i = 0; i < B * TP; i++)
        if (w2.pad[i]) w2.pid[i] = i % N, w2.pdt[i] = i % M1; /* junk behind the padding */
    cf_nf_outputs a, b, c1, c2;
    cf_nf_attn_record rec = {0};
    CHECK(cf_neuroformer_forward(ctx, &m, &(cf_nf_inputs){0}, NULL, NULL, &a) != CF_OK);
    cf_nf_inputs i1 = inputs(ctx, &w, true), i2 = inputs(ctx, &w2, true);
    CHECK(cf_neuroformer_forward(ctx, &m, &i1, NULL, &rec, &a) == CF_OK);
    CHECK(cf_neuroformer_forward(ctx, &m, &i2, NULL, NULL, &b) == CF_OK);
    CHECK(max_diff(a.id_logits, b.id_logits) == 0);
    CHECK(max_diff(a.dt_logits, b.dt_logits) == 0);
    cf_nf_inputs u1 = inputs(ctx, &w, false), u2 = inputs(ctx, &w2, false);
    CHECK(cf_neuroformer_forward(ctx, &m, &u1, NULL, NULL, &c1) == CF_OK);
    CHECK(cf_neuroformer_forward(ctx, &m, &u2, NULL, NULL, &c2) == CF_OK);
    CHECK(max_diff(c1.id_logits, c2.id_logits) > 1e-6);
    CHECK(rec.probs && rec.probs->shape[0] == B && rec.probs->shape[1] == T && rec.probs->shape[2] == TP);
    double worst_sum = 0, on_pad = 0;
    for (int b2 = 0; rec.probs && b2 < B; b2++)
        for (int q = 0; q < T; q++) {
            double s = 0;
            for (int k = 0; k < TP; k++) {
                double p = cf_get_flat(rec.probs, (b2 * T + q) * TP + k);
                s += p;
                if (w.pad[b2 * TP + k]) on_pad += p;
            }
            worst_sum = fmax(worst_sum, fabs(s - 1));
        }
    CHECK(worst_sum < 1e-5);
    CHECK(on_pad == 0);
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* AdamW on three windows: every term of the loss (ID, dt, contrastive, behaviour) falls. */
static void test_overfit(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .seed = 3});
    cf_params *ps = cf_params_new(CF_F32, 3);
    cf_neuroformer m;
    cf_neuroformer_config c = small();
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    oc.weight_decay = 0;
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    windows w;
    make_windows(&w);
    double first[4] = {0}, last[4] = {0};
    for (int step = 0; step < 80; step++) {
        cf_params_zero_grad(ps);
        cf_nf_inputs in = inputs(ctx, &w, true);
        cf_nf_losses l;
        cf_status st = cf_neuroformer_loss(ctx, &m, &in, cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w.id_t),
                                           cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w.dt_t),
                                           cf_from_data(ctx, CF_F32, CF_SHAPE(B), w.beh_t), &l);
        if (st != CF_OK || !l.clip || !l.beh || cf_backward(ctx, l.total, NULL) != CF_OK) {
            CHECK(!"loss/backward");
            fprintf(stderr, "  %s\n", cf_last_error());
            break;
        }
        double v[4] = {cf_item(l.id), cf_item(l.dt), cf_item(l.clip), cf_item(l.beh)};
        for (int i = 0; i < 4; i++) (step == 0 ? first : last)[i] = v[i];
        cf_optim_step(opt, 3e-3);
        cf_step_reset(ctx);
    }
    printf("  id %.3f -> %.3f, dt %.3f -> %.3f, clip %.3f -> %.3f, beh %.3f -> %.3f\n", first[0], last[0], first[1], last[1],
           first[2], last[2], first[3], last[3]);
    CHECK(last[0] < 0.5 * first[0]);
    CHECK(last[1] < 0.5 * first[1]);
    CHECK(last[2] < first[2]);
    CHECK(last[3] < 0.1 * first[3]);
    cf_optim_free(opt);
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* Token-by-token logits with the KV cache equal the full forward; sampled windows are identical with and
 * without the cache and do not depend on the batch a row is in. */
static void test_cache(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    cf_params *ps = cf_params_new(CF_F32, 4);
    cf_neuroformer m;
    cf_neuroformer_config c = small();
    c.state_layers = 2, c.final_layers = 2;
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    /* larger random weights than the init, so the logits are far from uniform */
    for (int i = 0; i < ps->count; i++) cf_init_normal(ps, ps->items[i].value, 0, 0.3);
    windows w;
    make_windows(&w);
    cf_nf_inputs in = inputs(ctx, &w, true);
    cf_nf_outputs full;
    CHECK(cf_neuroformer_forward(ctx, &m, &in, NULL, NULL, &full) == CF_OK);
    cf_nf_cache cache;
    CHECK(cf_nf_cache_init(&cache, &m, B) == CF_OK);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        cf_nf_inputs step = in;
        step.id = cf_slice(ctx, in.id, 1, t, t + 1, 1);
        step.dt = cf_slice(ctx, in.dt, 1, t, t + 1, 1);
        cf_nf_outputs o;
        if (cf_neuroformer_forward(ctx, &m, &step, &cache, NULL, &o) != CF_OK) {
            CHECK(!"cached forward");
            break;
        }
        for (int b = 0; b < B; b++)
            for (int v = 0; v < N + 3; v++)
                worst = fmax(worst, fabs(cf_get_flat(o.id_logits, b * (N + 3) + v) - cf_get_flat(full.id_logits, (b * T + t) * (N + 3) + v)));
    }
    CHECK(worst < 1e-4);
    CHECK(cf_nf_cache_len(&cache) == T);
    cf_step_reset(ctx);
    int64_t ids[2][B * (T - 1)], dts[2][B * (T - 1)], n[2][B], id1[T - 1], dt1[T - 1], n1;
    uint64_t keys[B] = {11, 12, 13};
    for (int pass = 0; pass < 2; pass++) {
        cf_nf_sample_opts so = {.temperature = 1.0, .top_p = 0.95, .seed = 5, .use_cache = pass == 0, .dt_max = 4};
        CHECK(cf_neuroformer_generate(ctx, &m, B, w.pid, w.pdt, w.pad, w.beh, NULL, keys, &so, pass == 0 ? &cache : NULL, ids[pass],
                                      dts[pass], n[pass]) == CF_OK);
    }
    bool same = true, dt_ok = true, some = false;
    for (int b = 0; b < B; b++) {
        same &= n[0][b] == n[1][b];
        some |= n[0][b] > 0;
        for (int j = 0; j < n[0][b] && j < T - 1; j++) {
            same &= ids[0][b * (T - 1) + j] == ids[1][b * (T - 1) + j] && dts[0][b * (T - 1) + j] == dts[1][b * (T - 1) + j];
            dt_ok &= dts[0][b * (T - 1) + j] <= 4 && ids[0][b * (T - 1) + j] < N;
        }
    }
    CHECK(same);
    CHECK(dt_ok);
    CHECK(some);
    /* row 1 alone gives what it gave in the batch */
    cf_nf_sample_opts so = {.temperature = 1.0, .top_p = 0.95, .seed = 5, .use_cache = true, .dt_max = 4};
    CHECK(cf_neuroformer_generate(ctx, &m, 1, w.pid + TP, w.pdt + TP, w.pad + TP, w.beh + K, NULL, keys + 1, &so, &cache, id1, dt1, &n1) == CF_OK);
    CHECK(n1 == n[0][1]);
    for (int j = 0; j < n1 && n1 == n[0][1]; j++) CHECK(id1[j] == ids[0][(T - 1) + j] && dt1[j] == dts[0][(T - 1) + j]);
    cf_nf_cache_free(&cache);
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* Two windows by hand: A[target, source] sums the attention of target queries on source tokens, the counts
 * count occurrences, and the normalisation divides by their product. */
static void test_connectivity_normalisation(void)
{
    enum { n = 3, tq = 3, tp = 4 };
    double A[n * n] = {0}, nt[n] = {0}, ns[n] = {0};
    /* window 1: targets [1, 2, EOS]; past tokens [SOS, 0, 0, EOS] */
    const float att1[tq * tp] = {0.1f, 0.5f, 0.3f, 0.1f, 0.2f, 0.2f, 0.2f, 0.4f, 0.25f, 0.25f, 0.25f, 0.25f};
    const int64_t tg1[tq] = {1, 2, n + 1}, prev1[tp] = {n, 0, 0, n + 1};
    /* window 2: targets [1, PAD(-100), -100]; past tokens [SOS, 2, PAD, PAD] */
    const float att2[tq * tp] = {0.5f, 0.5f, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
    const int64_t tg2[tq] = {1, -100, -100}, prev2[tp] = {n, 2, n + 2, n + 2};
    cf_nf_accumulate_attention(att1, tg1, tq, prev1, tp, n, A, nt, ns);
    cf_nf_accumulate_attention(att2, tg2, tq, prev2, tp, n, A, nt, ns);
    CHECK_NEAR(A[1 * n + 0], 0.8, 1e-6); /* target 1 on the two tokens of unit 0 */
    CHECK_NEAR(A[2 * n + 0], 0.4, 1e-6);
    CHECK_NEAR(A[1 * n + 2], 0.5, 1e-6); /* window 2 */
    CHECK_NEAR(A[0 * n + 0], 0, 0);
    CHECK_NEAR(nt[1], 2, 0);
    CHECK_NEAR(nt[2], 1, 0);
    CHECK_NEAR(nt[0], 0, 0);
    CHECK_NEAR(ns[0], 2, 0);
    CHECK_NEAR(ns[2], 1, 0);
    CHECK(cf_attention_normalize(A, nt, ns, n) == CF_OK);
    CHECK_NEAR(A[1 * n + 0], 0.8 / (2 * 2), 1e-6);
    CHECK_NEAR(A[2 * n + 0], 0.4 / (1 * 2), 1e-6);
    CHECK_NEAR(A[1 * n + 2], 0.5 / (2 * 1), 1e-6);
    CHECK_NEAR(A[1 * n + 1], 0, 0); /* unit 1 never in the past: 0, not NaN */
}

int main(void)
{
    RUN(test_shapes_and_names);
    RUN(test_padding_mask);
    RUN(test_overfit);
    RUN(test_cache);
    RUN(test_connectivity_normalisation);
    TEST_MAIN_END();
}
