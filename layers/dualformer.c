/* The Searchformer encoder-decoder: model, loss, incremental decoding with cached self- and
 * cross-attention keys/values, and batched sampling (see layers/dualformer.h). */
#include "layers/dualformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t cf_dualformer_ffn_hidden(int64_t dim)
{
    int64_t h = (8 * dim) / 3 + 255;
    return h / 256 * 256;
}

cf_status cf_dualformer_preset(const char *name, int64_t vocab, cf_dualformer_config *out)
{
    static const struct {
        const char *name;
        int64_t dim, layers, heads;
    } presets[] = {{"s", 192, 6, 3}, {"m-s", 384, 8, 4}, {"l", 768, 9, 4}, {"cpu", 96, 2, 4}};
    for (size_t i = 0; name && i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        memset(out, 0, sizeof *out);
        out->vocab = vocab;
        out->enc_dim = out->dec_dim = presets[i].dim;
        out->enc_layers = out->dec_layers = presets[i].layers;
        out->enc_heads = out->dec_heads = presets[i].heads;
        out->enc_hidden = out->dec_hidden = cf_dualformer_ffn_hidden(presets[i].dim);
        out->rope_base = 10000.0;
        out->eps = 1e-5;
        out->init_std = 0; /* PyTorch's defaults, as the official code */
        return CF_OK;
    }
    return cf_set_error(CF_ERR_ARG, "searchformer: unknown size '%s' (choose from s, m-s, l, cpu)", name ? name : "(null)");
}

static cf_block_config block_config(const cf_dualformer_config *c, bool decoder)
{
    int64_t dim = decoder ? c->dec_dim : c->enc_dim, layers = decoder ? c->dec_layers : c->enc_layers;
    int64_t hidden = decoder ? c->dec_hidden : c->enc_hidden;
    /* init_std 0: PyTorch's defaults (Linear U(+-1/sqrt(in)), Embedding N(0, 1)), as the official code */
    double std = c->init_std > 0 ? c->init_std : 0;
    return (cf_block_config){.dim = dim, .heads = decoder ? c->dec_heads : c->enc_heads,
                             .hidden = hidden > 0 ? hidden : cf_dualformer_ffn_hidden(dim), .mlp = CF_MLP_SWIGLU,
                             .norm = CF_NORM_RMS, .prenorm = true, .bias = false, .cross = decoder,
                             .mask = decoder ? CF_ATTN_CAUSAL : CF_ATTN_FULL, .rope = true,
                             .rope_base = c->rope_base > 0 ? c->rope_base : 10000.0, .dropout = c->dropout,
                             .eps = c->eps > 0 ? c->eps : 1e-5, .std = std,
                             .out_std = std > 0 ? std / sqrt(2.0 * (double)(layers > 0 ? layers : 1)) : 0};
}

cf_status cf_dualformer_init(cf_dualformer *m, cf_params *ps, const cf_dualformer_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const cf_dualformer_config *c = &m->cfg;
    if (c->vocab <= 0 || c->enc_dim <= 0 || c->dec_dim <= 0 || c->enc_layers <= 0 || c->dec_layers <= 0 ||
        c->enc_heads <= 0 || c->dec_heads <= 0 || c->enc_dim % c->enc_heads || c->dec_dim % c->dec_heads ||
        (c->enc_dim / c->enc_heads) % 2 || (c->dec_dim / c->dec_heads) % 2)
        return cf_set_error(CF_ERR_ARG, "searchformer: vocab %lld, encoder d %lld / %lld layers / %lld heads, decoder d "
                            "%lld / %lld layers / %lld heads: all must be positive and each d a multiple of its heads "
                            "with an even head dim (RoPE)", (long long)c->vocab, (long long)c->enc_dim,
                            (long long)c->enc_layers, (long long)c->enc_heads, (long long)c->dec_dim,
                            (long long)c->dec_layers, (long long)c->dec_heads);
    double std = c->init_std > 0 ? c->init_std : 0;
    cf_block_config ebc = block_config(c, false), dbc = block_config(c, true);
    cf_status st;
    cf_params_push(ps, "encoder");
    st = cf_embedding_init(&m->enc_embed, ps, "embed", c->vocab, c->enc_dim, std);
    if (st == CF_OK) st = cf_block_stack_init(&m->enc_blocks, ps, "blocks", c->enc_layers, &ebc);
    if (st == CF_OK) st = cf_norm_init(&m->enc_norm, ps, "norm", CF_NORM_RMS, c->enc_dim, false, ebc.eps);
    if (st == CF_OK) st = cf_linear_init(&m->enc_proj, ps, "proj", c->enc_dim, c->dec_dim, false, std);
    cf_params_pop(ps);
    if (st != CF_OK) return st;
    cf_params_push(ps, "decoder");
    st = cf_embedding_init(&m->dec_embed, ps, "embed", c->vocab, c->dec_dim, std);
    if (st == CF_OK) st = cf_block_stack_init(&m->dec_blocks, ps, "blocks", c->dec_layers, &dbc);
    if (st == CF_OK) st = cf_norm_init(&m->dec_norm, ps, "norm", CF_NORM_RMS, c->dec_dim, false, dbc.eps);
    if (st == CF_OK) st = cf_linear_init(&m->head, ps, "head", c->dec_dim, c->vocab, false, std);
    cf_params_pop(ps);
    return st;
}

void cf_dualformer_free(cf_dualformer *m)
{
    free(m->enc_blocks);
    free(m->dec_blocks);
    m->enc_blocks = m->dec_blocks = NULL;
}

static bool is_2d(const cf_tensor *t, cf_dtype dt, const char *what)
{
    if (t && t->ndim == 2 && t->dtype == dt) return true;
    char b[128];
    cf_set_error(CF_ERR_SHAPE, "searchformer: %s must be a [batch, length] %s tensor, got %s", what, cf_dtype_name(dt),
                 t ? cf_shape_str(t, b, sizeof b) : "NULL");
    return false;
}

cf_tensor *cf_dualformer_encode(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *src, cf_tensor *src_pad)
{
    if (!is_2d(src, CF_I64, "src")) return NULL;
    cf_tensor *x = cf_embedding_fwd(ctx, &m->enc_embed, src);
    cf_tensor *pad = m->cfg.encoder_padding_mask ? src_pad : NULL;
    for (int64_t l = 0; l < m->cfg.enc_layers; l++) x = cf_block_fwd(ctx, &m->enc_blocks[l], x, pad, NULL, NULL, NULL);
    return cf_linear_fwd(ctx, &m->enc_proj, cf_norm_fwd(ctx, &m->enc_norm, x));
}

cf_tensor *cf_dualformer_decode(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *tgt_in, cf_tensor *mem,
                                  cf_tensor *mem_pad)
{
    if (!is_2d(tgt_in, CF_I64, "tgt_in") || !mem) return NULL;
    cf_tensor *x = cf_embedding_fwd(ctx, &m->dec_embed, tgt_in);
    for (int64_t l = 0; l < m->cfg.dec_layers; l++) x = cf_block_fwd(ctx, &m->dec_blocks[l], x, NULL, mem, mem_pad, NULL);
    return cf_linear_fwd(ctx, &m->head, cf_norm_fwd(ctx, &m->dec_norm, x));
}

/* Row r of the contiguous [rows, cols] array src (elements of es bytes) into row i of dst [n, dcols]:
 * the first dcols columns. */
static void copy_row(void *dst, const void *src, int64_t i, int64_t r, int64_t cols, int64_t dcols, size_t es)
{
    memcpy((char *)dst + (size_t)(i * dcols) * es, (const char *)src + (size_t)(r * cols) * es, (size_t)dcols * es);
}

cf_tensor *cf_dualformer_loss(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *src, cf_tensor *src_pad,
                                cf_tensor *tgt_in, cf_tensor *tgt_out, bool sequence_mean, int groups)
{
    if (!is_2d(src, CF_I64, "src") || !is_2d(src_pad, CF_BOOL, "src_pad") || !is_2d(tgt_in, CF_I64, "tgt_in") ||
        !is_2d(tgt_out, CF_I64, "tgt_out"))
        return NULL;
    if (!cf_same_shape(tgt_in, tgt_out) || !cf_same_shape(src, src_pad) || src->shape[0] != tgt_in->shape[0]) {
        cf_set_error(CF_ERR_SHAPE, "searchformer: src/src_pad and tgt_in/tgt_out must pair up row by row");
        return NULL;
    }
    int64_t B = tgt_out->shape[0], T = tgt_out->shape[1], S = src->shape[1], rows = 0, total = 0;
    cf_tensor *tg = cf_contiguous(ctx, tgt_out), *ti = cf_contiguous(ctx, tgt_in), *sc = cf_contiguous(ctx, src),
              *pc = cf_contiguous(ctx, src_pad);
    cf_tensor *scratch = cf_empty(ctx, CF_I64, CF_SHAPE(3, B)); /* per row: target count, length, sorted order */
    if (!tg || !ti || !sc || !pc || !scratch) return NULL;
    int64_t *cnt = cf_data(scratch), *len = cnt + B, *order = len + B;
    const int64_t *tp = cf_data(tg);
    for (int64_t b = 0; b < B; b++) {
        cnt[b] = len[b] = 0;
        for (int64_t t = 0; t < T; t++)
            if (tp[b * T + t] != -100) cnt[b]++, len[b] = t + 1;
        rows += cnt[b] > 0, total += cnt[b];
    }
    /* Rows sorted by length and cut into groups, each run at its own longest length: the causal decoder's
     * outputs at a position do not depend on later positions and ignored targets add nothing, so this is
     * the same loss (and gradient) as one pass over the padded batch, at the cost of the real tokens. */
    for (int64_t b = 0; b < B; b++) {
        int64_t j = b;
        for (; j > 0 && len[order[j - 1]] > len[b]; j--) order[j] = order[j - 1];
        order[j] = b;
    }
    int64_t G = groups < 1 ? 1 : groups > B ? B : groups;
    cf_ce_opts none = CF_CE_DEFAULTS;
    none.reduction = CF_REDUCTION_NONE;
    cf_tensor *loss = NULL;
    for (int64_t g = 0; g < G; g++) {
        int64_t lo = g * B / G, hi = (g + 1) * B / G, n = hi - lo, Tg = 1;
        if (n == 0) continue;
        for (int64_t i = lo; i < hi; i++)
            if (len[order[i]] > Tg) Tg = len[order[i]];
        cf_tensor *s = cf_empty(ctx, CF_I64, CF_SHAPE(n, S)), *p = cf_empty(ctx, CF_BOOL, CF_SHAPE(n, S));
        cf_tensor *in = cf_empty(ctx, CF_I64, CF_SHAPE(n, Tg)), *out = cf_empty(ctx, CF_I64, CF_SHAPE(n, Tg));
        cf_tensor *w = cf_empty(ctx, m->head.weight->dtype, CF_SHAPE(n));
        if (!s || !p || !in || !out || !w) return NULL;
        for (int64_t i = 0; i < n; i++) {
            int64_t r = order[lo + i];
            copy_row(cf_data(s), cf_data(sc), i, r, S, S, sizeof(int64_t));
            copy_row(cf_data(p), cf_data(pc), i, r, S, S, 1);
            copy_row(cf_data(in), cf_data(ti), i, r, T, Tg, sizeof(int64_t));
            copy_row(cf_data(out), tp, i, r, T, Tg, sizeof(int64_t));
            /* the official code's reduction: each row's mean over its targets, then the mean over the rows */
            double wi = sequence_mean ? (cnt[r] > 0 ? 1.0 / ((double)cnt[r] * (double)rows) : 0.0)
                                      : (total > 0 ? 1.0 / (double)total : NAN);
            cf_set_flat(w, i, wi);
        }
        cf_tensor *mem = cf_dualformer_encode(ctx, m, s, p);
        cf_tensor *logits = cf_dualformer_decode(ctx, m, in, mem, p);
        cf_tensor *per_row = cf_sum(ctx, cf_cross_entropy_last(ctx, logits, out, &none), CF_DIMS(1), false);
        cf_tensor *part = cf_sum(ctx, cf_mul(ctx, per_row, w), CF_ALL_DIMS, false);
        if (!part) return NULL;
        loss = loss ? cf_add(ctx, loss, part) : part;
    }
    return loss;
}

double cf_dualformer_flops_per_token(const cf_dualformer *m, int64_t S, int64_t T)
{
    const cf_dualformer_config *c = &m->cfg;
    double de = (double)c->enc_dim, dd = (double)c->dec_dim;
    double he = (double)(c->enc_hidden > 0 ? c->enc_hidden : cf_dualformer_ffn_hidden(c->enc_dim));
    double hd = (double)(c->dec_hidden > 0 ? c->dec_hidden : cf_dualformer_ffn_hidden(c->dec_dim));
    double enc = (4 * de * de + 3 * de * he) * (double)c->enc_layers + de * dd;
    double dec = (8 * dd * dd + 3 * dd * hd) * (double)c->dec_layers + dd * (double)c->vocab;
    double ratio = T > 0 ? (double)S / (double)T : 1.0;
    /* 6 N per token; attention: 6 d per (query, key) pair, self over T/2 keys on average and cross over S */
    return 6.0 * (dec + enc * ratio) + 6.0 * dd * (double)c->dec_layers * ((double)T / 2 + (double)S) +
           6.0 * de * (double)c->enc_layers * (double)S * ratio;
}

/* ---- incremental decoding ---- */

void cf_dualformer_cache_free(cf_dualformer_cache *c)
{
    if (!c) return;
    for (int64_t l = 0; l < c->layers; l++) {
        if (c->self) cf_kv_cache_free(&c->self[l]);
        if (c->cross_k) cf_tensor_free(c->cross_k[l]);
        if (c->cross_v) cf_tensor_free(c->cross_v[l]);
    }
    free(c->self);
    free(c->cross_k);
    free(c->cross_v);
    cf_tensor_free(c->mem_pad);
    memset(c, 0, sizeof *c);
}

cf_status cf_dualformer_cache_init(cf_dualformer_cache *c, const cf_dualformer *m, int64_t batch,
                                     int64_t src_len, int64_t cap)
{
    memset(c, 0, sizeof *c);
    if (batch <= 0 || src_len <= 0 || cap <= 0)
        return cf_set_error(CF_ERR_ARG, "searchformer cache: batch %lld, source length %lld and capacity %lld must be "
                            "positive", (long long)batch, (long long)src_len, (long long)cap);
    int64_t L = m->cfg.dec_layers, H = m->cfg.dec_heads, Dh = m->cfg.dec_dim / H;
    cf_dtype dt = m->head.weight->dtype;
    c->batch = batch, c->src_len = src_len, c->cap = cap, c->layers = L;
    c->self = calloc((size_t)L, sizeof *c->self);
    c->cross_k = calloc((size_t)L, sizeof *c->cross_k);
    c->cross_v = calloc((size_t)L, sizeof *c->cross_v);
    c->mem_pad = cf_tensor_alloc(CF_BOOL, CF_SHAPE(batch, src_len));
    if (!c->self || !c->cross_k || !c->cross_v || !c->mem_pad) {
        cf_dualformer_cache_free(c);
        return cf_set_error(CF_ERR_OOM, "searchformer cache: out of memory");
    }
    for (int64_t l = 0; l < L; l++) {
        cf_status st = cf_kv_cache_init(&c->self[l], dt, batch, H, cap, Dh);
        c->cross_k[l] = cf_tensor_alloc(dt, CF_SHAPE(batch, H, src_len, Dh));
        c->cross_v[l] = cf_tensor_alloc(dt, CF_SHAPE(batch, H, src_len, Dh));
        if (st != CF_OK || !c->cross_k[l] || !c->cross_v[l]) {
            cf_dualformer_cache_free(c);
            return cf_set_error(CF_ERR_OOM, "searchformer cache: out of memory for %lld rows x %lld positions",
                                (long long)batch, (long long)cap);
        }
    }
    return CF_OK;
}

/* [B, T, n*Dh] columns [from, from + n*Dh) as heads [B, n, T, Dh] (views), as attention.c lays them out. */
static cf_tensor *heads_of(cf_ctx *ctx, cf_tensor *proj, int64_t from, int64_t n, int64_t Dh)
{
    cf_tensor *cols = proj ? cf_slice(ctx, proj, -1, from, from + n * Dh, 1) : NULL;
    if (!cols) return NULL;
    return cf_transpose(ctx, cf_reshape(ctx, cols, CF_SHAPE(cols->shape[0], cols->shape[1], n, Dh)), 1, 2);
}

cf_status cf_dualformer_cache_start(cf_ctx *ctx, const cf_dualformer *m, cf_dualformer_cache *c, cf_tensor *mem,
                                      cf_tensor *mem_pad)
{
    if (!mem || mem->ndim != 3 || mem->shape[0] > c->batch || mem->shape[1] != c->src_len ||
        mem->shape[2] != m->cfg.dec_dim) {
        char b[128];
        return cf_set_error(CF_ERR_SHAPE, "searchformer cache: memory %s does not fit a cache of %lld rows x %lld "
                            "source positions (dim %lld)", mem ? cf_shape_str(mem, b, sizeof b) : "NULL",
                            (long long)c->batch, (long long)c->src_len, (long long)m->cfg.dec_dim);
    }
    int64_t n = mem->shape[0], H = m->cfg.dec_heads, Dh = m->cfg.dec_dim / H;
    bool prev = cf_set_grad_enabled(ctx, false);
    cf_status st = CF_OK;
    for (int64_t l = 0; l < c->layers && st == CF_OK; l++) {
        c->self[l].len = 0;
        cf_tensor *kv = cf_linear_fwd(ctx, &m->dec_blocks[l].cross.kv, mem);
        cf_tensor *k = heads_of(ctx, kv, 0, H, Dh), *v = heads_of(ctx, kv, H * Dh, H, Dh);
        cf_tensor *kd = cf_slice(ctx, c->cross_k[l], 0, 0, n, 1), *vd = cf_slice(ctx, c->cross_v[l], 0, 0, n, 1);
        if (!k || !v || !kd || !vd || cf_copy_(kd, k) != CF_OK || cf_copy_(vd, v) != CF_OK)
            st = cf_last_status() != CF_OK ? cf_last_status() : CF_ERR_INTERNAL;
    }
    uint8_t *pad = cf_data(c->mem_pad);
    for (int64_t i = 0; i < n * c->src_len; i++) pad[i] = mem_pad ? cf_get_flat(mem_pad, i) != 0 : 0;
    cf_bump_version(c->mem_pad);
    cf_set_grad_enabled(ctx, prev);
    return st;
}

cf_tensor *cf_dualformer_step(cf_ctx *ctx, const cf_dualformer *m, cf_dualformer_cache *c, cf_tensor *tokens)
{
    if (!is_2d(tokens, CF_I64, "tokens")) return NULL;
    int64_t n = tokens->shape[0], T = tokens->shape[1], H = m->cfg.dec_heads, Dh = m->cfg.dec_dim / H;
    if (n > c->batch) {
        cf_set_error(CF_ERR_SHAPE, "searchformer step: %lld rows, the cache holds %lld", (long long)n, (long long)c->batch);
        return NULL;
    }
    cf_tensor *pad = cf_slice(ctx, c->mem_pad, 0, 0, n, 1);
    cf_tensor *x = cf_embedding_fwd(ctx, &m->dec_embed, tokens);
    for (int64_t l = 0; l < c->layers && x; l++) {
        const cf_block *b = &m->dec_blocks[l];
        /* the first n rows of the layer's cache, as a cache of n rows */
        cf_kv_cache rows = {.k = cf_slice(ctx, c->self[l].k, 0, 0, n, 1), .v = cf_slice(ctx, c->self[l].v, 0, 0, n, 1),
                            .len = c->self[l].len, .cap = c->cap};
        if (!rows.k || !rows.v) return NULL;
        x = cf_add(ctx, x, cf_attention_fwd(ctx, &b->attn, cf_norm_fwd(ctx, &b->ln1, x), NULL, NULL, NULL, &rows));
        if (!x) return NULL;
        c->self[l].len = rows.len;
        /* cross-attention over the cached keys/values: cf_attention_fwd's cross path without the K/V projection */
        cf_tensor *q = heads_of(ctx, cf_linear_fwd(ctx, &b->cross.q, cf_norm_fwd(ctx, &b->ln3, x)), 0, H, Dh);
        cf_tensor *k = cf_slice(ctx, c->cross_k[l], 0, 0, n, 1), *v = cf_slice(ctx, c->cross_v[l], 0, 0, n, 1);
        if (!q || !k || !v) return NULL;
        cf_sdpa_opts o = {.mask = CF_SDPA_NONE, .key_padding = pad};
        cf_tensor *y = cf_sdpa(ctx, q, k, v, &o);
        y = cf_reshape(ctx, cf_transpose(ctx, y, 1, 2), CF_SHAPE(n, T, H * Dh));
        x = cf_add(ctx, x, cf_linear_fwd(ctx, &b->cross.proj, y));
        x = cf_add(ctx, x, cf_mlp_fwd(ctx, &b->mlp, cf_norm_fwd(ctx, &b->ln2, x)));
    }
    return cf_linear_fwd(ctx, &m->head, cf_norm_fwd(ctx, &m->dec_norm, x));
}

/* Moves cache row `from` into row `to` (the first len self positions, the cross keys/values, the mask). */
static void move_row(cf_dualformer_cache *c, int64_t from, int64_t to)
{
    if (from == to) return;
    for (int64_t l = 0; l < c->layers; l++) {
        cf_tensor *ts[2] = {c->self[l].k, c->self[l].v};
        for (int i = 0; i < 2; i++) {
            int64_t H = ts[i]->shape[1], cap = ts[i]->shape[2], Dh = ts[i]->shape[3];
            size_t es = cf_dtype_size(ts[i]->dtype);
            char *base = cf_data(ts[i]);
            for (int64_t h = 0; h < H; h++)
                memcpy(base + (size_t)(((to * H + h) * cap) * Dh) * es, base + (size_t)(((from * H + h) * cap) * Dh) * es,
                       (size_t)(c->self[l].len * Dh) * es);
            cf_bump_version(ts[i]);
        }
        cf_tensor *xs[2] = {c->cross_k[l], c->cross_v[l]};
        for (int i = 0; i < 2; i++) {
            size_t row = (size_t)(cf_numel(xs[i]) / xs[i]->shape[0]) * cf_dtype_size(xs[i]->dtype);
            char *base = cf_data(xs[i]);
            memcpy(base + (size_t)to * row, base + (size_t)from * row, row);
            cf_bump_version(xs[i]);
        }
    }
    uint8_t *pad = cf_data(c->mem_pad);
    memcpy(pad + to * c->src_len, pad + from * c->src_len, (size_t)c->src_len);
    cf_bump_version(c->mem_pad);
}

cf_dualformer_sample_opts cf_dualformer_sample_defaults(void)
{
    return (cf_dualformer_sample_opts){.temperature = 1.0, .max_len = 256, .first_token = -1, .ban_after = -1,
                                         .stop_token = 2, .pad_token = 0, .seed = 0, .max_rows = 0};
}

/* Draws the next token of one row from its logits (V floats at l, stride 1), or the argmax. */
static int64_t draw(const float *l, int64_t V, double temp, const bool *banned, double u, double *p)
{
    double mx = -INFINITY;
    int64_t best = -1;
    for (int64_t v = 0; v < V; v++)
        if (!banned[v] && l[v] > mx) mx = l[v], best = v;
    if (best < 0) return 0;
    if (temp <= 0) return best;
    double sum = 0;
    for (int64_t v = 0; v < V; v++) sum += p[v] = banned[v] ? 0.0 : exp(((double)l[v] - mx) / temp);
    double target = u * sum, acc = 0;
    for (int64_t v = 0; v < V; v++) {
        acc += p[v];
        if (p[v] > 0 && acc >= target) return v;
    }
    return best;
}

/* Decodes rows [0, R) whose cache was started; cache row r writes out row slot[r]. A finished row's cache
 * row is refilled with the last live row (swap-remove), so each step computes the live rows only. */
static cf_status decode_rows(cf_ctx *ctx, const cf_dualformer *m, cf_dualformer_cache *c, int64_t R,
                             const cf_dualformer_sample_opts *o, const cf_philox_key *keys, const int64_t *sample_j,
                             int64_t *slot, int64_t *out, int64_t *lens, int64_t *buf, bool *seen, bool *done,
                             double *p, bool *banned)
{
    int64_t V = m->cfg.vocab, cap = o->max_len;
    /* prefill: bos, and the forced mode token */
    int64_t T = o->first_token >= 0 ? 2 : 1, pos = 0; /* pos: the output position being drawn */
    for (int64_t r = 0; r < R; r++) {
        int64_t s = slot[r];
        seen[s] = false;
        buf[r * T] = 1; /* bos */
        if (o->first_token >= 0) {
            buf[r * T + 1] = o->first_token;
            out[s * cap] = o->first_token;
            seen[s] = o->first_token == o->ban_after;
        }
    }
    if (o->first_token >= 0) pos = 1;
    int64_t n = R;
    cf_status st = CF_OK;
    while (n > 0 && pos < cap) {
        cf_tensor *tok = cf_from_data(ctx, CF_I64, CF_SHAPE(n, T), buf);
        cf_tensor *logits = cf_contiguous(ctx, cf_dualformer_step(ctx, m, c, tok));
        if (!logits || logits->dtype != CF_F32) {
            st = logits ? cf_set_error(CF_ERR_DTYPE, "searchformer sample: f32 models only") : cf_last_status();
            break;
        }
        const float *L = cf_data(logits);
        for (int64_t r = 0; r < n; r++) {
            int64_t s = slot[r];
            for (int64_t v = 0; v < V; v++) banned[v] = false;
            if (seen[s])
                for (int i = 0; i < o->n_ban; i++)
                    if (o->ban[i] >= 0 && o->ban[i] < V) banned[o->ban[i]] = true;
            double u = cf_rng_uniform(keys[s], (uint64_t)sample_j[s], (uint64_t)pos);
            int64_t t = draw(L + (r * T + T - 1) * V, V, o->temperature, banned, u, p);
            out[s * cap + pos] = t;
            if (t == o->ban_after) seen[s] = true;
            done[r] = t == o->stop_token || pos + 1 >= cap;
            if (done[r]) lens[s] = pos + 1;
            buf[r] = t; /* the next input; T becomes 1 and row r reads buf[r] */
        }
        for (int64_t r = 0; r < n;) {
            if (!done[r]) {
                r++;
                continue;
            }
            n--;
            if (r != n) {
                move_row(c, n, r);
                slot[r] = slot[n], buf[r] = buf[n], done[r] = done[n];
            }
        }
        T = 1, pos++;
        cf_step_reset(ctx);
    }
    return st;
}

cf_status cf_dualformer_sample(cf_ctx *ctx, const cf_dualformer *m, cf_tensor *src, cf_tensor *src_pad, int k,
                                 const int64_t *task_ids, const cf_dualformer_sample_opts *o, int64_t *out,
                                 int64_t *lens)
{
    if (!is_2d(src, CF_I64, "src")) return cf_last_status();
    if (k <= 0 || !o || o->max_len < 1 || !out || o->n_ban < 0 || o->n_ban > 4)
        return cf_set_error(CF_ERR_ARG, "searchformer sample: k %d and max_len %lld must be positive (and out given)", k,
                            o ? (long long)o->max_len : 0LL);
    if (o->first_token >= m->cfg.vocab || o->stop_token < 0 || o->stop_token >= m->cfg.vocab)
        return cf_set_error(CF_ERR_ARG, "searchformer sample: first token %d or stop token %lld outside the vocabulary "
                            "(%lld)", o->first_token, (long long)o->stop_token, (long long)m->cfg.vocab);
    int64_t B = src->shape[0], S = src->shape[1], cap = o->max_len, V = m->cfg.vocab;
    int64_t per = o->max_rows > 0 ? o->max_rows / k : B; /* tasks per chunk */
    if (per < 1) per = 1;
    if (per > B) per = B;
    int64_t R = per * k, N = B * (int64_t)k;
    for (int64_t i = 0; i < N * cap; i++) out[i] = o->pad_token;
    int64_t *own_lens = NULL;
    if (!lens) lens = own_lens = malloc((size_t)N * sizeof *lens);
    cf_philox_key *keys = malloc((size_t)N * sizeof *keys);
    int64_t *sample_j = malloc((size_t)N * sizeof *sample_j), *slot = malloc((size_t)R * sizeof *slot);
    int64_t *buf = malloc((size_t)R * 2 * sizeof *buf), *idx = malloc((size_t)R * sizeof *idx);
    bool *seen = malloc((size_t)N * sizeof *seen), *done = malloc((size_t)R * sizeof *done);
    bool *banned = malloc((size_t)V * sizeof *banned);
    double *p = malloc((size_t)V * sizeof *p);
    /* the inputs on the host: sampling resets the step arena, which may hold them */
    int64_t *hsrc = malloc((size_t)(B * S) * sizeof *hsrc);
    uint8_t *hpad = malloc((size_t)(R * S) + 1), *tpad = malloc((size_t)(B * S) + 1);
    cf_dualformer_cache c = {0};
    cf_status st = CF_OK;
    if (!lens || !keys || !sample_j || !slot || !buf || !idx || !seen || !done || !banned || !p || !hsrc || !hpad ||
        !tpad) {
        st = cf_set_error(CF_ERR_OOM, "searchformer sample: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < B * S; i++) {
        hsrc[i] = (int64_t)cf_get_flat(src, i);
        tpad[i] = src_pad ? cf_get_flat(src_pad, i) != 0 : 0;
    }
    for (int64_t t = 0; t < B; t++)
        for (int j = 0; j < k; j++) {
            keys[t * k + j] = cf_rng_key(o->seed, (uint64_t)(task_ids ? task_ids[t] : t));
            sample_j[t * k + j] = j;
            lens[t * k + j] = cap;
        }
    /* bos, then at most max_len - 1 fed outputs (the forced token among them) */
    if ((st = cf_dualformer_cache_init(&c, m, R, S, cap + 1)) != CF_OK) goto done;
    bool prev_grad = cf_set_grad_enabled(ctx, false), prev_train = cf_is_training(ctx);
    cf_set_training(ctx, false);
    for (int64_t t0 = 0; t0 < B && st == CF_OK; t0 += per) {
        int64_t nt = B - t0 < per ? B - t0 : per, nr = nt * k;
        cf_tensor *s = cf_from_data(ctx, CF_I64, CF_SHAPE(nt, S), hsrc + t0 * S);
        cf_tensor *sp = cf_from_data(ctx, CF_BOOL, CF_SHAPE(nt, S), tpad + t0 * S);
        cf_tensor *mem = cf_dualformer_encode(ctx, m, s, sp);
        for (int64_t r = 0; r < nr; r++) {
            idx[r] = r / k;
            memcpy(hpad + r * S, tpad + (t0 + r / k) * S, (size_t)S);
        }
        cf_tensor *rows = mem ? cf_index_select(ctx, mem, 0, cf_from_data(ctx, CF_I64, CF_SHAPE(nr), idx)) : NULL;
        cf_tensor *pad_rows = cf_from_data(ctx, CF_BOOL, CF_SHAPE(nr, S), hpad);
        if (!rows || !pad_rows) {
            st = cf_last_status();
            break;
        }
        if ((st = cf_dualformer_cache_start(ctx, m, &c, rows, pad_rows)) != CF_OK) break;
        cf_step_reset(ctx);
        for (int64_t r = 0; r < nr; r++) slot[r] = t0 * k + r;
        st = decode_rows(ctx, m, &c, nr, o, keys, sample_j, slot, out, lens, buf, seen, done, p, banned);
    }
    cf_step_reset(ctx);
    cf_set_training(ctx, prev_train);
    cf_set_grad_enabled(ctx, prev_grad);
done:
    cf_dualformer_cache_free(&c);
    free(own_lens);
    free(keys);
    free(sample_j);
    free(slot);
    free(buf);
    free(idx);
    free(seen);
    free(done);
    free(banned);
    free(p);
    free(hsrc);
    free(hpad);
    free(tpad);
    return st;
}
