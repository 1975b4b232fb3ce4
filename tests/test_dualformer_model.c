/* The Searchformer / Dualformer model: presets and parameter names, RoPE's rotate-half layout against the
 * official interleaved pairs, the grouped loss against one padded pass (value and gradient), the KV-cache
 * decoder against full recomputation, batched sampling against a reference sampler that recomputes the
 * whole prefix (and its independence of the batching), mode forcing and the plan ban, a tiny model that
 * overfits a few mazes and solves them in slow and fast mode (checked by data/mazes/maze.h's checker), and the
 * recipe adapters (model.type: searchformer, data.type: mazes with generation, evaluate, the JSON). */
#include "tests/check.h"
#include "data/mazes/maze.h"
#include "layers/dualformer.h"
#include "optim/optim.h"
#include "recipes/dualformer/model.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static cf_ctx *ctx;
static char tmpdir[256];

static cf_dualformer_config tiny(int64_t vocab, int64_t layers)
{
    cf_dualformer_config c;
    cf_dualformer_preset("cpu", vocab, &c);
    c.enc_dim = c.dec_dim = 32;
    c.enc_heads = c.dec_heads = 4;
    c.enc_layers = c.dec_layers = layers;
    c.enc_hidden = c.dec_hidden = 64;
    return c;
}

static cf_tensor *rand_tokens(int64_t B, int64_t T, uint64_t seed, int64_t lo, int64_t hi)
{
    cf_tensor *t = cf_empty(ctx, CF_I64, CF_SHAPE(B, T));
    cf_philox_key k = cf_rng_key(seed, 11);
    for (int64_t i = 0; i < B * T; i++)
        ((int64_t *)cf_data(t))[i] = lo + (int64_t)(cf_rng_uniform(k, 0, (uint64_t)i) * (double)(hi - lo));
    return t;
}

/* padding of row b starts at S - b (row 0 unpadded) */
static cf_tensor *pad_mask(int64_t B, int64_t S)
{
    cf_tensor *p = cf_empty(ctx, CF_BOOL, CF_SHAPE(B, S));
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < S; s++) ((uint8_t *)cf_data(p))[b * S + s] = s >= S - b;
    return p;
}

static void test_presets(void)
{
    CHECK(cf_dualformer_ffn_hidden(192) == 512);
    CHECK(cf_dualformer_ffn_hidden(384) == 1024);
    CHECK(cf_dualformer_ffn_hidden(768) == 2048);
    CHECK(cf_dualformer_ffn_hidden(96) == 256);
    cf_dualformer_config c;
    CHECK(cf_dualformer_preset("m-s", 100, &c) == CF_OK && c.enc_dim == 384 && c.dec_layers == 8 && c.dec_heads == 4);
    CHECK(cf_dualformer_preset("l", 100, &c) == CF_OK && c.enc_layers == 9 && c.dec_hidden == 2048);
    CHECK(cf_dualformer_preset("xl", 100, &c) == CF_ERR_ARG);
    CHECK_ERROR_HAS("s, m-s, l, cpu");
    CHECK(cf_dualformer_preset("cpu", cf_maze_vocab_size(7, 7), &c) == CF_OK);
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_dualformer m;
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
    CHECK(cf_params_numel(ps) == 554400); /* ~0.5 M, cformer's small CPU size */
    const char *names[] = {"encoder.embed.weight", "encoder.blocks.1.attn.qkv.weight", "encoder.blocks.0.mlp.gate.weight",
                           "encoder.norm.weight", "encoder.proj.weight", "decoder.blocks.1.cross.kv.weight",
                           "decoder.blocks.0.ln_cross.weight", "decoder.norm.weight", "decoder.head.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool found = cf_params_find(ps, names[i]) != NULL;
        if (!found) fprintf(stderr, "missing parameter %s\n", names[i]);
        CHECK(found);
    }
    CHECK(!cf_params_find(ps, "decoder.blocks.0.attn.qkv.bias")); /* no biases */
    CHECK(!cf_params_find(ps, "encoder.blocks.0.ln1.bias"));
    cf_dualformer_free(&m);
    cf_params_free(ps);
    c.enc_heads = 5;
    ps = cf_params_new(CF_F32, 1);
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_ERR_ARG);
    cf_dualformer_free(&m);
    cf_params_free(ps);
}

/* The official interleaved RoPE (pairs 2i, 2i+1) equals cf_rope (pairs i, i + Dh/2) on channels permuted
 * 2i -> i, 2i+1 -> i + Dh/2: the deviation documented in layers/dualformer.h costs nothing. */
static void test_rope_layout(void)
{
    int64_t T = 6, Dh = 8, half = Dh / 2;
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(1, 1, T, Dh), 3, 4);
    cf_tensor *xp = cf_empty(ctx, CF_F64, CF_SHAPE(1, 1, T, Dh));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            cf_set_flat(xp, t * Dh + i, cf_get_flat(x, t * Dh + 2 * i));
            cf_set_flat(xp, t * Dh + i + half, cf_get_flat(x, t * Dh + 2 * i + 1));
        }
    int64_t off = 3;
    cf_tensor *y = cf_rope(ctx, xp, off, 10000.0);
    double err = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double a = (double)(t + off) * pow(10000.0, -2.0 * (double)i / (double)Dh);
            double x0 = cf_get_flat(x, t * Dh + 2 * i), x1 = cf_get_flat(x, t * Dh + 2 * i + 1);
            double y0 = x0 * cos(a) - x1 * sin(a), y1 = x0 * sin(a) + x1 * cos(a); /* interleaved rotation */
            err = fmax(err, fabs(cf_get_flat(y, t * Dh + i) - y0));
            err = fmax(err, fabs(cf_get_flat(y, t * Dh + i + half) - y1));
        }
    CHECK(err < 1e-12);
    cf_step_reset(ctx);
}

/* With encoder_padding_mask a prompt's encoding does not depend on how much padding its batch gives it (the
 * recipes' default); without it (the official code) it does. */
static void test_encoder_padding(void)
{
    int64_t V = 20, S = 6, extra = 3;
    for (int masked = 0; masked < 2; masked++) {
        cf_params *ps = cf_params_new(CF_F64, 5);
        cf_dualformer m;
        cf_dualformer_config c = tiny(V, 2);
        c.encoder_padding_mask = masked;
        CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
        cf_tensor *src = rand_tokens(1, S + extra, 7, 1, V);
        cf_tensor *pad_short = cf_zeros(ctx, CF_BOOL, CF_SHAPE(1, S)), *pad_long = cf_zeros(ctx, CF_BOOL, CF_SHAPE(1, S + extra));
        for (int64_t s = S; s < S + extra; s++) ((uint8_t *)cf_data(pad_long))[s] = 1;
        cf_tensor *a = cf_dualformer_encode(ctx, &m, cf_contiguous(ctx, cf_slice(ctx, src, 1, 0, S, 1)), pad_short);
        cf_tensor *b = cf_dualformer_encode(ctx, &m, src, pad_long);
        CHECK(a && b);
        double diff = 0;
        for (int64_t s = 0; a && b && s < S; s++)
            for (int64_t d = 0; d < a->shape[2]; d++) {
                double x = ((const double *)cf_data(a))[s * a->shape[2] + d], y = ((const double *)cf_data(b))[s * b->shape[2] + d];
                diff = fmax(diff, fabs(x - y));
            }
        if (masked) CHECK(diff < 1e-12);
        else CHECK(diff > 1e-6);
        cf_step_reset(ctx);
        cf_dualformer_free(&m);
        cf_params_free(ps);
    }
}

/* groups > 1 gives the same loss and gradients as one padded pass; both reductions match a direct
 * computation from the logits. */
static void test_loss_groups(void)
{
    int64_t V = 20, B = 5, S = 7, T = 9;
    cf_params *ps = cf_params_new(CF_F64, 4);
    cf_dualformer m;
    cf_dualformer_config c = tiny(V, 2);
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
    CHECK(cf_params_grads(ps) == CF_OK);
    cf_tensor *src = cf_tensor_alloc(CF_I64, CF_SHAPE(B, S)), *pad = cf_tensor_alloc(CF_BOOL, CF_SHAPE(B, S));
    cf_tensor *tin = cf_tensor_alloc(CF_I64, CF_SHAPE(B, T)), *tout = cf_tensor_alloc(CF_I64, CF_SHAPE(B, T));
    cf_copy_(src, rand_tokens(B, S, 1, 1, V));
    cf_copy_(pad, pad_mask(B, S));
    cf_copy_(tin, rand_tokens(B, T, 2, 1, V));
    cf_copy_(tout, rand_tokens(B, T, 3, 1, V));
    static const int64_t lens[5] = {9, 3, 6, 1, 4}; /* targets per row; the rest ignored */
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = lens[b]; t < T; t++) ((int64_t *)cf_data(tout))[b * T + t] = -100, ((int64_t *)cf_data(tin))[b * T + t] = 0;
    cf_step_reset(ctx);

    /* direct: per-token CE from the full padded pass */
    cf_tensor *logits = cf_dualformer_decode(ctx, &m, tin, cf_dualformer_encode(ctx, &m, src, pad), pad);
    cf_ce_opts none = CF_CE_DEFAULTS;
    none.reduction = CF_REDUCTION_NONE;
    cf_tensor *ce = cf_cross_entropy_last(ctx, logits, tout, &none);
    double seq = 0, tok = 0, n = 0;
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t t = 0; t < lens[b]; t++) s += cf_get_flat(ce, b * T + t);
        seq += s / (double)lens[b] / (double)B, tok += s, n += (double)lens[b];
    }
    tok /= n;
    cf_step_reset(ctx);

    int64_t nv = cf_params_numel(ps);
    double *g1 = malloc((size_t)nv * sizeof *g1);
    static const int groups[3] = {1, 2, 5};
    for (int k = 0; k < 3; k++) {
        cf_params_zero_grad(ps);
        cf_tensor *l = cf_dualformer_loss(ctx, &m, src, pad, tin, tout, true, groups[k]);
        CHECK(l && fabs(cf_item(l) - seq) < 1e-12);
        CHECK(cf_backward(ctx, l, NULL) == CF_OK);
        const double *g = ps->grads;
        if (k == 0) memcpy(g1, g, (size_t)nv * sizeof *g1);
        double err = 0, mag = 0;
        for (int64_t i = 0; i < nv; i++) err = fmax(err, fabs(g[i] - g1[i])), mag = fmax(mag, fabs(g1[i]));
        if (err > 1e-12) fprintf(stderr, "groups %d: gradients differ by %g\n", groups[k], err);
        CHECK(err <= 1e-12 && mag > 0);
        cf_step_reset(ctx);
        l = cf_dualformer_loss(ctx, &m, src, pad, tin, tout, false, groups[k]);
        CHECK(l && fabs(cf_item(l) - tok) < 1e-12);
        cf_step_reset(ctx);
    }
    free(g1);
    cf_tensor_free(src), cf_tensor_free(pad), cf_tensor_free(tin), cf_tensor_free(tout);
    cf_dualformer_free(&m);
    cf_params_free(ps);
}

/* Decoding through the cache (a 2-token prefill, then one token per call) gives the logits of the full
 * teacher-forced pass, for every position and row. */
static void test_cache_equals_full(void)
{
    int64_t V = 20, B = 3, S = 7, T = 9;
    cf_params *ps = cf_params_new(CF_F64, 5);
    cf_dualformer m;
    cf_dualformer_config c = tiny(V, 2);
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_tensor *src = rand_tokens(B, S, 7, 1, V), *pad = pad_mask(B, S), *tok = rand_tokens(B, T, 8, 1, V);
    cf_tensor *mem = cf_dualformer_encode(ctx, &m, src, pad);
    cf_tensor *full = cf_dualformer_decode(ctx, &m, tok, mem, pad);
    cf_dualformer_cache cache;
    CHECK(cf_dualformer_cache_init(&cache, &m, B, S, T) == CF_OK);
    CHECK(cf_dualformer_cache_start(ctx, &m, &cache, mem, pad) == CF_OK);
    double err = 0;
    for (int64_t t = 0; t < T;) {
        int64_t n = t == 0 ? 2 : 1;
        cf_tensor *part = cf_contiguous(ctx, cf_slice(ctx, tok, 1, t, t + n, 1));
        cf_tensor *inc = cf_dualformer_step(ctx, &m, &cache, part);
        CHECK(inc && inc->shape[1] == n);
        if (!inc) break;
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < n; i++)
                for (int64_t v = 0; v < V; v++)
                    err = fmax(err, fabs(cf_get_flat(inc, (b * n + i) * V + v) - cf_get_flat(full, (b * T + t + i) * V + v)));
        t += n;
    }
    if (err > 1e-10) fprintf(stderr, "cached logits differ by %g\n", err);
    CHECK(err <= 1e-10);
    CHECK(cache.self[0].len == T);
    /* a full cache refuses another token */
    CHECK(!cf_dualformer_step(ctx, &m, &cache, cf_contiguous(ctx, cf_slice(ctx, tok, 1, 0, 1, 1))));
    CHECK_ERROR_HAS("KV cache");
    cf_dualformer_cache_free(&cache);
    cf_set_grad_enabled(ctx, prev);
    cf_step_reset(ctx);
    cf_dualformer_free(&m);
    cf_params_free(ps);
}

/* The reference sampler: for one row, recompute the whole decoder over the prefix every step and draw with
 * the same uniforms cf_dualformer_sample documents. */
static void reference_sample(const cf_dualformer *m, const int64_t *src_row, const uint8_t *pad_row, int64_t S,
                             int64_t task_id, int j, const cf_dualformer_sample_opts *o, int64_t *out)
{
    int64_t V = m->cfg.vocab, seq[64];
    int64_t n = 1, pos = 0;
    seq[0] = 1;
    if (o->first_token >= 0) seq[n++] = o->first_token, out[pos++] = o->first_token;
    cf_philox_key key = cf_rng_key(o->seed, (uint64_t)task_id);
    while (pos < o->max_len) {
        cf_tensor *s = cf_from_data(ctx, CF_I64, CF_SHAPE(1, S), src_row);
        cf_tensor *p = cf_from_data(ctx, CF_BOOL, CF_SHAPE(1, S), pad_row);
        cf_tensor *tok = cf_from_data(ctx, CF_I64, CF_SHAPE(1, n), seq);
        cf_tensor *lg = cf_dualformer_decode(ctx, m, tok, cf_dualformer_encode(ctx, m, s, p), p);
        double mx = -INFINITY, sum = 0, pr[64];
        for (int64_t v = 0; v < V; v++) mx = fmax(mx, cf_get_flat(lg, (n - 1) * V + v));
        for (int64_t v = 0; v < V; v++) sum += pr[v] = exp((cf_get_flat(lg, (n - 1) * V + v) - mx) / o->temperature);
        double u = cf_rng_uniform(key, (uint64_t)j, (uint64_t)pos) * sum, acc = 0;
        int64_t t = V - 1;
        for (int64_t v = 0; v < V; v++)
            if ((acc += pr[v]) >= u) {
                t = v;
                break;
            }
        out[pos++] = t;
        seq[n++] = t;
        cf_step_reset(ctx);
        if (t == o->stop_token) break;
    }
}

static void test_sampling(void)
{
    int64_t V = 12, B = 3, S = 6;
    int k = 3;
    cf_params *ps = cf_params_new(CF_F32, 6);
    cf_dualformer m;
    cf_dualformer_config c = tiny(V, 2);
    c.init_std = 0.3; /* peaky, varied logits: rows stop at different steps */
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
    int64_t hsrc[3 * 6];
    uint8_t hpad[3 * 6];
    cf_philox_key key = cf_rng_key(9, 9);
    for (int64_t i = 0; i < B * S; i++) hsrc[i] = 3 + (int64_t)(cf_rng_uniform(key, 0, (uint64_t)i) * 9), hpad[i] = i % S >= S - i / S;
    cf_tensor *src = cf_tensor_alloc(CF_I64, CF_SHAPE(B, S)), *pad = cf_tensor_alloc(CF_BOOL, CF_SHAPE(B, S));
    memcpy(cf_data(src), hsrc, sizeof hsrc);
    memcpy(cf_data(pad), hpad, sizeof hpad);
    cf_dualformer_sample_opts o = cf_dualformer_sample_defaults();
    o.max_len = 24, o.stop_token = 2, o.pad_token = 0, o.seed = 17, o.first_token = 7;
    int64_t ids[3] = {40, 41, 7}, cap = o.max_len;
    int64_t a[9 * 24], b[9 * 24], lens[9], lens_b[9];
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, a, lens) == CF_OK);
    o.max_rows = 4; /* one task per chunk: other batches, other compaction order */
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, b, lens_b) == CF_OK);
    CHECK(memcmp(a, b, sizeof a) == 0 && memcmp(lens, lens_b, sizeof lens) == 0);
    int stopped = 0, full = 0, agree = 0;
    for (int64_t r = 0; r < B * k; r++) {
        stopped += lens[r] < cap, full += lens[r] == cap;
        CHECK(a[r * cap] == 7); /* the forced token */
        int64_t ref[24];
        for (int i = 0; i < 24; i++) ref[i] = o.pad_token;
        reference_sample(&m, hsrc + (r / k) * S, hpad + (r / k) * S, S, ids[r / k], (int)(r % k), &o, ref);
        agree += memcmp(ref, a + r * cap, sizeof ref) == 0;
        for (int64_t i = lens[r]; i < cap; i++) CHECK(a[r * cap + i] == o.pad_token);
        if (lens[r] < cap) CHECK(a[r * cap + lens[r] - 1] == o.stop_token);
    }
    CHECK(agree == B * k);
    CHECK(stopped >= 2); /* rows ended at different times, so compaction ran */
    /* samples of one task differ (different draws), and the same call again repeats them */
    CHECK(memcmp(a, a + cap, (size_t)cap * sizeof *a) != 0 || memcmp(a + cap, a + 2 * cap, (size_t)cap * sizeof *a) != 0);
    o.max_rows = 0;
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, b, NULL) == CF_OK && memcmp(a, b, sizeof a) == 0);
    /* greedy: every sample of a task is the same */
    o.temperature = 0;
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, b, lens_b) == CF_OK);
    CHECK(memcmp(b, b + cap, (size_t)cap * sizeof *b) == 0);
    /* errors */
    o.max_len = 0;
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, b, NULL) == CF_ERR_ARG);
    o.max_len = 8, o.first_token = 99;
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, b, NULL) == CF_ERR_ARG);
    CHECK_ERROR_HAS("outside the vocabulary");
    (void)full;
    cf_tensor_free(src), cf_tensor_free(pad);
    cf_dualformer_free(&m);
    cf_params_free(ps);
}

/* Mode forcing on an untrained maze model: slow rows start with create, fast rows with plan; with the ban,
 * no create/close ever follows a plan token. */
static void test_mode_forcing(void)
{
    int V = cf_maze_vocab_size(5, 5);
    cf_params *ps = cf_params_new(CF_F32, 7);
    cf_dualformer m;
    cf_dualformer_config c = tiny(V, 1);
    c.init_std = 0.5;
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
    cf_tensor *src = cf_tensor_alloc(CF_I64, CF_SHAPE(2, 8)), *pad = cf_tensor_alloc(CF_BOOL, CF_SHAPE(2, 8));
    for (int i = 0; i < 16; i++) ((int64_t *)cf_data(src))[i] = CF_MAZE_TOK_COORD0 + i % 5;
    int k = 4, cap = 30;
    int64_t out[2 * 4 * 30];
    cf_dualformer_sample_opts o = cf_dualformer_sample_defaults();
    o.max_len = cap, o.stop_token = CF_MAZE_TOK_EOS, o.pad_token = CF_MAZE_TOK_PAD;
    o.first_token = cf_maze_mode_token(CF_MAZE_MODE_SLOW);
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, NULL, &o, out, NULL) == CF_OK);
    for (int r = 0; r < 2 * k; r++) CHECK(out[r * cap] == CF_MAZE_TOK_CREATE);
    o.first_token = cf_maze_mode_token(CF_MAZE_MODE_FAST);
    o.ban_after = CF_MAZE_TOK_PLAN, o.ban[0] = CF_MAZE_TOK_CREATE, o.ban[1] = CF_MAZE_TOK_CLOSE, o.n_ban = 2;
    CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, NULL, &o, out, NULL) == CF_OK);
    int trace = 0;
    for (int r = 0; r < 2 * k; r++) {
        CHECK(out[r * cap] == CF_MAZE_TOK_PLAN);
        for (int i = 0; i < cap; i++) trace += out[r * cap + i] == CF_MAZE_TOK_CREATE || out[r * cap + i] == CF_MAZE_TOK_CLOSE;
    }
    CHECK(trace == 0);
    cf_tensor_free(src), cf_tensor_free(pad);
    cf_dualformer_free(&m);
    cf_params_free(ps);
}

static cf_status fill(cf_dataset *ds, cf_batch *b)
{
    CF_TRY(cf_dataset_make_batch(ds, (int)ds->len, b));
    for (int64_t i = 0; i < ds->len; i++) CF_TRY(cf_dataset_get(ds, i, b, (int)i));
    return CF_OK;
}

/* A small model trained on 4 mazes (complete traces and plans alone) solves them: greedy slow mode
 * reproduces the A* trace and plan, fast mode writes an optimal plan with no trace token. */
static void test_overfit(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/tiny.bin", tmpdir);
    int n = 4;
    CHECK(cf_maze_generate_file(path, 4, n, 5, NULL) == CF_OK);
    cf_maze_ds_config dc = cf_maze_ds_defaults();
    cf_dataset *full = cf_maze_dataset_open(path, &dc, "all", NULL);
    dc.draw.trace = CF_MAZE_TRACE_NONE;
    cf_dataset *none = cf_maze_dataset_open(path, &dc, "all", NULL);
    CHECK(full && none);
    if (!full || !none) return;
    cf_batch bf = {0}, bn = {0};
    CHECK(fill(full, &bf) == CF_OK && fill(none, &bn) == CF_OK);
    int V = cf_maze_vocab_size(4, 4);
    cf_params *ps = cf_params_new(CF_F32, 8);
    cf_dualformer m;
    cf_dualformer_config c = tiny(V, 1);
    c.enc_dim = c.dec_dim = 48;
    c.enc_hidden = c.dec_hidden = 96;
    CHECK(cf_dualformer_init(&m, ps, &c) == CF_OK);
    cf_optim_config oc = cf_optim_defaults(CF_OPTIM_ADAMW);
    oc.weight_decay = 0;
    cf_optimizer *opt = cf_optim_new(ps, &oc);
    double loss = 0;
    int steps = 0;
    for (; steps < 400 && (steps < 20 || loss > 0.05); steps++) {
        cf_params_zero_grad(ps);
        cf_tensor *l1 = cf_dualformer_loss(ctx, &m, cf_batch_get(&bf, "src"), cf_batch_get(&bf, "src_pad"),
                                             cf_batch_get(&bf, "tgt_in"), cf_batch_get(&bf, "tgt_out"), true, 2);
        cf_tensor *l2 = cf_dualformer_loss(ctx, &m, cf_batch_get(&bn, "src"), cf_batch_get(&bn, "src_pad"),
                                             cf_batch_get(&bn, "tgt_in"), cf_batch_get(&bn, "tgt_out"), true, 1);
        cf_tensor *l = cf_add(ctx, l1, l2);
        if (!l || cf_backward(ctx, l, NULL) != CF_OK) break;
        loss = cf_item(l);
        cf_step_reset(ctx);
        cf_clip_grad_norm(ps, 1.0);
        cf_optim_step(opt, 3e-3);
    }
    if (loss > 0.05) fprintf(stderr, "overfit: loss %g after %d steps\n", loss, steps);
    CHECK(loss <= 0.05);
    const cf_maze_file *f = cf_maze_dataset_file(full);
    cf_maze mazes[4];
    int optimal[4];
    int64_t ids[4];
    for (int t = 0; t < n; t++) {
        ids[t] = t;
        CHECK(cf_maze_file_maze(f, t, &mazes[t], &optimal[t]) == CF_OK);
    }
    int cap = 4 * (int)cf_maze_file_get_info(f).max_trace + 40, k = 2;
    int64_t *out = malloc((size_t)(n * k * cap) * sizeof *out), lens[8];
    cf_dualformer_sample_opts o = cf_dualformer_sample_defaults();
    o.temperature = 0, o.max_len = cap, o.stop_token = CF_MAZE_TOK_EOS, o.pad_token = CF_MAZE_TOK_PAD;
    cf_tensor *src = cf_batch_get(&bf, "src"), *pad = cf_batch_get(&bf, "src_pad");
    for (int mode = CF_MAZE_MODE_SLOW; mode <= CF_MAZE_MODE_FAST; mode++) {
        o.first_token = cf_maze_mode_token((cf_maze_mode)mode);
        CHECK(cf_dualformer_sample(ctx, &m, src, pad, k, ids, &o, out, lens) == CF_OK);
        int ok = 0, trace = 0;
        for (int r = 0; r < n * k; r++) {
            cf_plan_check pc = cf_maze_check_plan(&mazes[r / k], optimal[r / k], out + (int64_t)r * cap, lens[r]);
            ok += pc.optimal && pc.has_eos && (int)pc.mode == mode;
            if (mode == CF_MAZE_MODE_FAST) trace += pc.trace_tokens;
            for (int i = 0; mode == CF_MAZE_MODE_FAST && i < lens[r]; i++)
                trace += out[(int64_t)r * cap + i] == CF_MAZE_TOK_CREATE || out[(int64_t)r * cap + i] == CF_MAZE_TOK_CLOSE;
            if (mode == CF_MAZE_MODE_SLOW) { /* greedy slow mode reproduces the training sequence */
                cf_maze_record rec;
                cf_maze_file_record(f, r / k, &rec);
                bool same = lens[r] == rec.n_trace + rec.n_plan + 1;
                for (int i = 0; same && i < rec.n_trace; i++) same = out[(int64_t)r * cap + i] == rec.trace[i];
                CHECK(same);
            }
        }
        if (ok != n * k) fprintf(stderr, "overfit: mode %d solved %d of %d\n", mode, ok, n * k);
        CHECK(ok == n * k);
        CHECK(trace == 0 || mode == CF_MAZE_MODE_SLOW);
        cf_maze_metrics mm;
        CHECK(cf_maze_metrics_from_outputs(mazes, optimal, out, cap, lens, n, k, &mm) == CF_OK);
        CHECK(mm.optimal1.value == 1 && mm.swc.value == 1);
        CHECK(mm.slow_fraction.value == (mode == CF_MAZE_MODE_SLOW ? 1.0 : 0.0));
    }
    free(out);
    cf_optim_free(opt);
    cf_batch_free(&bf), cf_batch_free(&bn);
    cf_dataset_free(full), cf_dataset_free(none);
    cf_dualformer_free(&m);
    cf_params_free(ps);
}

static cf_recipe *recipe(const char *extra_data, const char *path)
{
    char text[2048];
    snprintf(text, sizeof text,
             "model:\n  type: searchformer\n  dim: 32\n  layers: 1\n  heads: 4\n"
             "data:\n  type: mazes\n  path: %s\n  generate: {size: 4, count: 40, seed: 3}\n%s"
             "eval:\n  tasks: 3\n  samples: 2\n  max_len: 30\n  rows: 4\n", path, extra_data);
    return cf_recipe_parse(text, "t.yaml");
}

/* The recipe adapters: the dataset generates its file on first use and checks it afterwards, the model
 * reads its keys, evaluate fills the per-mode report and write_eval writes the nested JSON. */
static void test_registry(void)
{
    cf_register_builtins();
    const cf_model_vtable *vt = cf_model_find("searchformer");
    CHECK(vt && vt->write_eval);
    if (!vt) return;
    char path[300], json[300];
    snprintf(path, sizeof path, "%s/gen.bin", tmpdir);
    snprintf(json, sizeof json, "%s/eval.json", tmpdir);
    cf_recipe *r = recipe("  trace: random\n  level_p: [0.2, 0.2, 0.2, 0.2, 0.2]\n", path);
    CHECK(strcmp(cf_recipe_str(r, "model.type", ""), "searchformer") == 0 && strcmp(cf_recipe_str(r, "data.type", ""), "mazes") == 0);
    cf_params *ps = cf_params_new(CF_F32, 1);
    cf_dataset *train = cf_dataset_create("mazes", &(cf_dataset_config){.recipe = r, .split = "train"});
    cf_dataset *val = cf_dataset_create("mazes", &(cf_dataset_config){.recipe = r, .split = "val"});
    CHECK(train && val && train->info.vocab == 48 + 16);
    cf_model *m = train ? vt->create(r, ps, &train->info) : NULL;
    CHECK(m && cf_dualformer_of(m) && cf_dualformer_of(m)->cfg.vocab == 48 + 16);
    bool known = cf_recipe_check_unknown(r) == CF_OK;
    if (!known) fprintf(stderr, "%s\n", cf_recipe_error(r));
    CHECK(known);
    struct stat sb;
    CHECK(stat(path, &sb) == 0); /* generated */
    if (m && train && val) {
        cf_batch b = {0};
        CHECK(cf_dataset_make_batch(train, 4, &b) == CF_OK);
        for (int i = 0; i < 4; i++) CHECK(cf_dataset_get(train, i, &b, i) == CF_OK);
        cf_tensor *l = vt->loss(m, ctx, &b, NULL);
        CHECK(l && isfinite(cf_item(l)) && cf_item(l) > 1);
        CHECK(vt->items(m, &b) > 4);
        cf_step_reset(ctx);
        cf_batch_free(&b);
        cf_metrics met = {0};
        cf_eval_input in = {.recipe = r, .info = &train->info, .split = val, .split_name = "val", .train = train, .batch_size = 4};
        CHECK(vt->evaluate(m, ctx, &in, &met) == CF_OK);
        double v;
        CHECK(cf_metrics_get(&met, "slow_optimal_1", &v) && v >= 0 && v <= 1);
        CHECK(cf_metrics_get(&met, "auto_slow_fraction", &v) && cf_metrics_get(&met, "fast_steps", &v) && v == 0);
        CHECK(cf_metrics_get(&met, "loss", &v) && v > 1);
        cf_dualformer_report *rep = cf_dualformer_report_of(m);
        CHECK(rep && rep->tasks == 2 && rep->k == 2 && rep->max_len == 30); /* val: ceil(5% of 40) = 2 */
        CHECK(rep->mode[CF_MAZE_MODE_SLOW].done && rep->mode[CF_MAZE_MODE_FAST].done && rep->mode[CF_MAZE_MODE_AUTO].done);
        cf_metrics_set(&met, "step", 7);
        CHECK(vt->write_eval(m, json, &met) == CF_OK);
        FILE *f = fopen(json, "r");
        char text[16384] = "";
        size_t nr = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[nr] = 0;
        if (f) fclose(f);
        CHECK(strstr(text, "\"slow\": {\"solved_1\": ") && strstr(text, "\"fast\": {") && strstr(text, "\"auto\": {"));
        CHECK(strstr(text, "\"optimal_1_ci\": [") && strstr(text, "\"slow_fraction_short\"") && strstr(text, "\"step\": 7"));
    }
    cf_dataset_free(train), cf_dataset_free(val);
    if (m) vt->free(m);
    cf_params_free(ps);
    cf_recipe_free(r);

    /* the file exists now: other generate parameters are refused */
    char other[300];
    snprintf(other, sizeof other, "  generate: {size: 4, count: 41, seed: 3}\n");
    r = recipe("", path);
    cf_recipe_set(r, "data.generate.count=41");
    CHECK(!cf_dataset_create("mazes", &(cf_dataset_config){.recipe = r, .split = "train"}));
    CHECK(strstr(cf_recipe_error(r), "delete it or change data.path") != NULL);
    cf_recipe_free(r);
    /* bad keys name themselves */
    r = recipe("  trace: sometimes\n", path);
    CHECK(!cf_dataset_create("mazes", &(cf_dataset_config){.recipe = r, .split = "train"}));
    CHECK(strstr(cf_recipe_error(r), "data.trace") && strstr(cf_recipe_error(r), "full, random, none"));
    cf_recipe_free(r);
    r = recipe("  trace: random\n  level_p: [0.5, 0.5]\n", path);
    CHECK(!cf_dataset_create("mazes", &(cf_dataset_config){.recipe = r, .split = "train"}));
    CHECK(strstr(cf_recipe_error(r), "data.level_p") != NULL);
    cf_recipe_free(r);
    snprintf(other, sizeof other, "%s/missing.bin", tmpdir);
    r = cf_recipe_parse("model:\n  type: searchformer\ndata:\n  type: mazes\n  path: /nonexistent/m.bin\n", "t.yaml");
    ps = cf_params_new(CF_F32, 1);
    CHECK(!vt->create(r, ps, &(cf_data_info){0})); /* no vocabulary from the data, none in the recipe */
    CHECK(strstr(cf_recipe_error(r), "model.vocab") != NULL);
    cf_params_free(ps);
    cf_recipe_free(r);
}

int main(void)
{
    /* one thread: these models are tiny, and OpenMP barriers on a loaded 2-core machine cost more than they save */
    ctx = cf_ctx_new(&(cf_ctx_options){.threads = 1});
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dualformer_model.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_presets);
    RUN(test_rope_layout);
    RUN(test_loss_groups);
    RUN(test_encoder_padding);
    RUN(test_cache_equals_full);
    RUN(test_sampling);
    RUN(test_mode_forcing);
    RUN(test_overfit);
    RUN(test_registry);
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
