/* Neuroformer's frame branch (layers/neuroformer.h): the Conv3d patch tokens' parameters, names, shapes and
 * weight-decay groups; frames change the logits only when frame_layers > 0; the gradient of the frame
 * convolution against finite differences (f64); overfitting windows that differ only in their frames (the
 * model with frames can tell them apart, the one without cannot); token-by-token logits with the cache
 * (the frames given only at the first step) equal the full forward, and cached generation equals
 * recomputation. */
#include "layers/neuroformer.h"
#include "optim/optim.h"

#include "tests/check.h"

#include <stdlib.h>

enum { N = 6, M1 = 6, T = 6, TP = 6, B = 3, F = 4, H = 6, W = 8, C = 16 };
enum { FP = F * H * W };

static cf_neuroformer_config frame_config(int64_t frame_layers)
{
    cf_neuroformer_config c = cf_neuroformer_defaults();
    c.n_units = N, c.dt_classes = M1, c.block = T, c.prev_block = TP;
    c.dim = C, c.heads = 2, c.dropout = 0, c.beh_inputs = 0;
    c.frame_layers = frame_layers, c.frames = F, c.frame_h = H, c.frame_w = W;
    c.frame_kernel[0] = 2, c.frame_kernel[1] = 3, c.frame_kernel[2] = 4; /* 2 x 2 x 2 patches: 8 tokens + SOS */
    return c;
}

typedef struct {
    int64_t id[B * T], dt[B * T], id_t[B * T], dt_t[B * T], pid[B * TP], pdt[B * TP];
    bool pad[B * TP];
    float frames[B * FP];
} windows;

/* Three windows with the SAME spikes (current and previous) but different frames; the target of the first
 * position (the first spike's unit) is the row index, so only the frames can tell which it is. */
static void make_windows(windows *w, bool same_targets)
{
    for (int b = 0; b < B; b++) {
        int64_t seq[T + 1] = {N, same_targets ? 0 : b, 3, 4, N + 1, N + 2, N + 2};
        int64_t dseq[T + 1] = {0, 1, 2, 2, M1 + 1, M1 + 2, M1 + 2};
        for (int p = 0; p < T; p++) {
            w->id[b * T + p] = seq[p], w->dt[b * T + p] = dseq[p];
            w->id_t[b * T + p] = seq[p + 1] == N + 2 ? -100 : seq[p + 1];
            w->dt_t[b * T + p] = dseq[p + 1] == M1 + 2 ? -100 : dseq[p + 1];
        }
        int64_t prev[TP] = {N, 2, 5, N + 1, N + 2, N + 2}, pdt[TP] = {0, 1, 3, M1 + 1, M1 + 2, M1 + 2};
        for (int p = 0; p < TP; p++) w->pid[b * TP + p] = prev[p], w->pdt[b * TP + p] = pdt[p], w->pad[b * TP + p] = prev[p] == N + 2;
        for (int i = 0; i < FP; i++) w->frames[b * FP + i] = (float)sin(0.37 * i * (b + 1) + b);
    }
}

static cf_nf_inputs inputs(cf_ctx *ctx, const windows *w, bool frames)
{
    return (cf_nf_inputs){.id = cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w->id),
                          .dt = cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w->dt),
                          .prev_id = cf_from_data(ctx, CF_I64, CF_SHAPE(B, TP), w->pid),
                          .prev_dt = cf_from_data(ctx, CF_I64, CF_SHAPE(B, TP), w->pdt),
                          .prev_pad = cf_from_data(ctx, CF_BOOL, CF_SHAPE(B, TP), w->pad),
                          .frames = frames ? cf_from_data(ctx, CF_F32, CF_SHAPE(B, 1, F, H, W), w->frames) : NULL};
}

static double max_diff(const cf_tensor *a, const cf_tensor *b)
{
    double d = 0;
    for (int64_t i = 0; i < cf_numel(a); i++) d = fmax(d, fabs(cf_get_flat(a, i) - cf_get_flat(b, i)));
    return d;
}

static void test_names_and_shapes(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_neuroformer m;
    cf_neuroformer_config c = frame_config(1);
    c.clip_separate = true;
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    CHECK(m.frame_tokens == 9);
    cf_param *cw = cf_params_find(ps, "frame_emb.conv.weight");
    CHECK(cw && cw->value->ndim == 5 && cw->value->shape[0] == C && cw->value->shape[1] == 1 && cw->value->shape[2] == 2 &&
          cw->value->shape[3] == 3 && cw->value->shape[4] == 4);
    static const char *names[] = {"frame_emb.conv.bias", "frame_emb.ln.weight", "frame_emb.ln.bias",
                                  "frame_blocks.0.attn.query.weight", "frame_blocks.0.mlp.fc2.weight",
                                  "stim_blocks.0.attn.key.weight", "stim_blocks.0.ln_out.bias", "clip_proj_id.weight",
                                  "clip_proj_frames.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool found = cf_params_find(ps, names[i]) != NULL;
        CHECK(found);
        if (!found) fprintf(stderr, "  missing parameter %s\n", names[i]);
    }
    CHECK(!cf_params_find(ps, "clip_proj_beh.weight") && !cf_params_find(ps, "frame_blocks.1.ln1.weight"));
    /* decay: the convolution's and the blocks' weights; not biases or norms */
    CHECK(cw && cw->decay);
    CHECK(!cf_params_find(ps, "frame_emb.conv.bias")->decay);
    CHECK(!cf_params_find(ps, "frame_emb.ln.weight")->decay);
    CHECK(cf_params_find(ps, "stim_blocks.0.attn.key.weight")->decay);
    CHECK(!cf_params_find(ps, "frame_blocks.0.attn.key.bias")->decay);
    windows w;
    make_windows(&w, false);
    cf_nf_inputs in = inputs(ctx, &w, true);
    cf_nf_outputs o;
    CHECK(cf_neuroformer_forward(ctx, &m, &in, NULL, NULL, &o) == CF_OK);
    CHECK(o.frame_tokens && o.frame_tokens->shape[0] == B && o.frame_tokens->shape[1] == 9 && o.frame_tokens->shape[2] == C);
    CHECK(o.id_logits && o.id_logits->shape[2] == N + 3);
    /* errors, not crashes: no frames, frames of another size */
    in.frames = NULL;
    CHECK(cf_neuroformer_forward(ctx, &m, &in, NULL, NULL, &o) != CF_OK);
    CHECK_ERROR_HAS("no frames were given");
    in.frames = cf_zeros(ctx, CF_F32, CF_SHAPE(B, 1, F, H, W + 1));
    CHECK(cf_neuroformer_forward(ctx, &m, &in, NULL, NULL, &o) != CF_OK);
    CHECK_ERROR_HAS("expected [3, 1, 4, 6, 8]");
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    /* a kernel larger than the clip */
    ps = cf_params_new(CF_F32, 1);
    c.frame_kernel[2] = W + 1;
    CHECK(cf_neuroformer_init(&m, ps, &c) != CF_OK);
    CHECK_ERROR_HAS("frame kernel 2x3x9");
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* Frames change the logits only when the model has frame layers. */
static void test_frames_change_logits(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    windows w, w2;
    make_windows(&w, true);
    w2 = w;
    for (int i = 0; i < B * FP; i++) w2.frames[i] = -w.frames[i] + 0.3f;
    for (int layers = 0; layers <= 1; layers++) {
        cf_params *ps = cf_params_new(CF_F32, 2);
        cf_neuroformer m;
        cf_neuroformer_config c = frame_config(layers);
        CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
        cf_nf_inputs a = inputs(ctx, &w, true), b = inputs(ctx, &w2, true), none = inputs(ctx, &w, false);
        cf_nf_outputs oa, ob, on;
        CHECK(cf_neuroformer_forward(ctx, &m, &a, NULL, NULL, &oa) == CF_OK);
        CHECK(cf_neuroformer_forward(ctx, &m, &b, NULL, NULL, &ob) == CF_OK);
        double d = max_diff(oa.id_logits, ob.id_logits) + max_diff(oa.dt_logits, ob.dt_logits);
        printf("  frame_layers %d: logits change by %.3g with other frames\n", layers, d);
        if (layers == 0) {
            CHECK(d == 0);
            CHECK(cf_neuroformer_forward(ctx, &m, &none, NULL, NULL, &on) == CF_OK && max_diff(oa.id_logits, on.id_logits) == 0);
            CHECK(!cf_params_find(ps, "frame_emb.conv.weight") && !cf_params_find(ps, "clip_proj.weight"));
        } else {
            CHECK(d > 1e-4);
            /* rows with the same spikes but other frames get other logits */
            CHECK(fabs(cf_get_flat(oa.id_logits, 0) - cf_get_flat(oa.id_logits, T * (N + 3))) > 1e-5);
        }
        cf_step_reset(ctx);
        cf_neuroformer_free(&m);
        cf_params_free(ps);
    }
    cf_ctx_free(ctx);
}

/* d loss / d (frame convolution weight and bias) against central differences, in f64. */
static double loss_value(cf_ctx *ctx, const cf_neuroformer *m, const windows *w, bool backward)
{
    double fr[B * FP];
    for (int i = 0; i < B * FP; i++) fr[i] = w->frames[i];
    cf_nf_inputs in = inputs(ctx, w, false);
    in.frames = cf_from_data(ctx, CF_F64, CF_SHAPE(B, 1, F, H, W), fr);
    cf_nf_losses l;
    if (cf_neuroformer_loss(ctx, m, &in, cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w->id_t),
                            cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w->dt_t), NULL, &l) != CF_OK) {
        fprintf(stderr, "  loss: %s\n", cf_last_error());
        return NAN;
    }
    double v = cf_item(l.total);
    if (backward && cf_backward(ctx, l.total, NULL) != CF_OK) fprintf(stderr, "  backward: %s\n", cf_last_error()), v = NAN;
    return v;
}

static void test_gradient(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_neuroformer m;
    cf_neuroformer_config c = frame_config(1); /* contrastive on: the (id, frames) pair is in the loss */
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    windows w;
    make_windows(&w, false);
    double base = loss_value(ctx, &m, &w, true);
    CHECK(isfinite(base));
    double *wv = cf_data(m.frame_conv_w), *bv = cf_data(m.frame_conv_b);
    double *wg = cf_data(m.frame_conv_w->grad), *bg = cf_data(m.frame_conv_b->grad);
    cf_step_reset(ctx);
    bool prev = cf_set_grad_enabled(ctx, false);
    double worst = 0, eps = 1e-6;
    int64_t idx[] = {0, 7, 23, 95, 200, 383};
    for (int k = 0; k < 8; k++) {
        bool is_bias = k >= 6;
        double *p = is_bias ? bv + (k - 6) * 5 : wv + idx[k];
        double g = is_bias ? bg[(k - 6) * 5] : wg[idx[k]], keep = *p;
        *p = keep + eps;
        double up = loss_value(ctx, &m, &w, false);
        cf_step_reset(ctx);
        *p = keep - eps;
        double down = loss_value(ctx, &m, &w, false);
        cf_step_reset(ctx);
        *p = keep;
        double fd = (up - down) / (2 * eps), err = fabs(fd - g) / fmax(1e-6, fabs(fd) + fabs(g));
        worst = fmax(worst, err);
        CHECK(g != 0);
    }
    cf_set_grad_enabled(ctx, prev);
    printf("  worst relative error of the frame convolution's gradient: %.2g\n", worst);
    CHECK(worst < 1e-5);
    /* every frame parameter gets a gradient */
    for (int i = 0; i < ps->count; i++) {
        const cf_param *p = &ps->items[i];
        if (strncmp(p->name, "frame_", 6) && strncmp(p->name, "stim_", 5)) continue;
        double n2 = 0;
        const double *g = (const double *)cf_data(p->value->grad);
        for (int64_t j = 0; j < p->numel; j++) n2 += g[j] * g[j];
        if (n2 == 0) fprintf(stderr, "  no gradient for %s\n", p->name);
        CHECK(n2 > 0);
    }
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

/* AdamW on three windows whose spikes are the same and whose first targets differ: only the frames tell them
 * apart, so the model with frames drives the ID loss far below the one without (which cannot beat guessing
 * among the three at the first position); the contrastive term falls too. */
static double overfit(int64_t frame_layers, double *clip_first, double *clip_last)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1, .seed = 3});
    cf_params *ps = cf_params_new(CF_F32, 3);
    cf_neuroformer m;
    cf_neuroformer_config c = frame_config(frame_layers);
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    oc.weight_decay = 0;
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    windows w;
    make_windows(&w, false);
    double last = NAN;
    for (int step = 0; step < 120; step++) {
        cf_params_zero_grad(ps);
        cf_nf_inputs in = inputs(ctx, &w, true);
        cf_nf_losses l;
        if (cf_neuroformer_loss(ctx, &m, &in, cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w.id_t),
                                cf_from_data(ctx, CF_I64, CF_SHAPE(B, T), w.dt_t), NULL, &l) != CF_OK ||
            cf_backward(ctx, l.total, NULL) != CF_OK) {
            CHECK(!"loss/backward");
            fprintf(stderr, "  %s\n", cf_last_error());
            break;
        }
        last = cf_item(l.id);
        if (l.clip && clip_first && step == 0) *clip_first = cf_item(l.clip);
        if (l.clip && clip_last) *clip_last = cf_item(l.clip);
        cf_optim_step(opt, 5e-3);
        cf_step_reset(ctx);
    }
    cf_optim_free(opt);
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
    return last;
}

static void test_overfit_needs_frames(void)
{
    double c0 = NAN, c1 = NAN;
    double with = overfit(1, &c0, &c1), without = overfit(0, NULL, NULL);
    /* 4 targets per window, one of them (the first) ambiguous without the frames: at best log(3) / 4 */
    printf("  ID loss after 120 steps: %.4f with frames, %.4f without (floor %.4f); contrastive %.3f -> %.3f\n", with,
           without, log(3.0) / 4, c0, c1);
    CHECK(without > 0.8 * log(3.0) / 4);
    CHECK(with < 0.3 * without);
    CHECK(c1 < c0);
}

/* Token-by-token logits with the cache (frames given at the first step only) equal the full forward, and
 * generation with the cache equals recomputation, whatever the batch a row is in. */
static void test_cache(void)
{
    cf_ctx *ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    cf_params *ps = cf_params_new(CF_F32, 4);
    cf_neuroformer m;
    cf_neuroformer_config c = frame_config(2);
    c.hist_layers = 2;
    CHECK(cf_neuroformer_init(&m, ps, &c) == CF_OK);
    for (int i = 0; i < ps->count; i++) cf_init_normal(ps, ps->items[i].value, 0, 0.3);
    windows w;
    make_windows(&w, false);
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
        if (t > 0) step.frames = NULL; /* their keys and values are in the cache */
        cf_nf_outputs o;
        if (cf_neuroformer_forward(ctx, &m, &step, &cache, NULL, &o) != CF_OK) {
            CHECK(!"cached forward");
            fprintf(stderr, "  %s\n", cf_last_error());
            break;
        }
        CHECK((t == 0) == (o.frame_tokens != NULL));
        for (int b = 0; b < B; b++)
            for (int v = 0; v < N + 3; v++)
                worst = fmax(worst, fabs(cf_get_flat(o.id_logits, b * (N + 3) + v) - cf_get_flat(full.id_logits, (b * T + t) * (N + 3) + v)));
    }
    printf("  cached vs full logits: %.2g\n", worst);
    CHECK(worst < 1e-4);
    CHECK(cache.stim[0].len == 9 && cache.hist[1].len == TP);
    /* a cache past position 0 without the frames' keys cannot make them */
    cf_nf_cache_clear(&cache);
    cache.state[0].len = 1;
    cf_nf_inputs late = in;
    late.id = cf_slice(ctx, in.id, 1, 1, 2, 1), late.dt = cf_slice(ctx, in.dt, 1, 1, 2, 1);
    cf_nf_outputs o;
    CHECK(cf_neuroformer_forward(ctx, &m, &late, &cache, NULL, &o) != CF_OK);
    CHECK_ERROR_HAS("SOS");
    cf_step_reset(ctx);
    int64_t ids[2][B * (T - 1)], dts[2][B * (T - 1)], n[2][B], id1[T - 1], dt1[T - 1], n1;
    uint64_t keys[B] = {21, 22, 23};
    for (int pass = 0; pass < 2; pass++) {
        cf_nf_sample_opts so = {.temperature = 1.0, .top_p = 0.95, .seed = 5, .use_cache = pass == 0, .dt_max = 4};
        CHECK(cf_neuroformer_generate(ctx, &m, B, w.pid, w.pdt, w.pad, NULL, w.frames, keys, &so, pass == 0 ? &cache : NULL,
                                      ids[pass], dts[pass], n[pass]) == CF_OK);
    }
    bool same = true, some = false;
    for (int b = 0; b < B; b++) {
        same &= n[0][b] == n[1][b];
        some |= n[0][b] > 0;
        for (int j = 0; j < n[0][b] && j < T - 1; j++)
            same &= ids[0][b * (T - 1) + j] == ids[1][b * (T - 1) + j] && dts[0][b * (T - 1) + j] == dts[1][b * (T - 1) + j];
    }
    CHECK(same);
    CHECK(some);
    cf_nf_sample_opts so = {.temperature = 1.0, .top_p = 0.95, .seed = 5, .use_cache = true, .dt_max = 4};
    CHECK(cf_neuroformer_generate(ctx, &m, 1, w.pid + TP, w.pdt + TP, w.pad + TP, NULL, w.frames + FP, keys + 1, &so, &cache,
                                  id1, dt1, &n1) == CF_OK);
    CHECK(n1 == n[0][1]);
    for (int j = 0; j < n1 && n1 == n[0][1]; j++) CHECK(id1[j] == ids[0][(T - 1) + j] && dt1[j] == dts[0][(T - 1) + j]);
    /* frames are required */
    CHECK(cf_neuroformer_generate(ctx, &m, B, w.pid, w.pdt, w.pad, NULL, NULL, keys, &so, &cache, ids[0], dts[0], n[0]) != CF_OK);
    cf_nf_cache_free(&cache);
    cf_neuroformer_free(&m);
    cf_params_free(ps);
    cf_ctx_free(ctx);
}

int main(void)
{
    RUN(test_names_and_shapes);
    RUN(test_frames_change_logits);
    RUN(test_gradient);
    RUN(test_overfit_needs_frames);
    RUN(test_cache);
    TEST_MAIN_END();
}
