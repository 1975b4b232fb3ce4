/* MemoryFormer's Memory Layer and block (layers/memoryformer.h). */
#include "layers/memoryformer.h"

#include <math.h>
#include <stdlib.h>

cf_status cf_memory_layer_init(cf_memory_layer *l, cf_params *ps, const char *name, int64_t in, int64_t out,
                               int64_t tau, double std)
{
    *l = (cf_memory_layer){.in = in, .out = out, .tau = tau};
    if (tau < 1 || tau > CF_MEMLAYER_MAX_TAU || in % tau)
        return cf_set_error(CF_ERR_ARG, "memory layer %s: the input width %lld is not a multiple of tau = %lld (1 to %d)",
                            name, (long long)in, (long long)tau, CF_MEMLAYER_MAX_TAU);
    l->tables = in / tau;
    cf_params_push(ps, "%s", name);
    l->table = cf_params_add(ps, "table", CF_SHAPE(l->tables << tau, out), true);
    l->bias = l->table ? cf_params_add(ps, "bias", CF_SHAPE(out), false) : NULL;
    cf_status st = l->bias ? cf_init_normal(ps, l->table, 0, std) : cf_last_status();
    if (st == CF_OK) st = cf_init_normal(ps, l->bias, 0, 0.001);
    cf_params_pop(ps);
    return st;
}

cf_tensor *cf_memory_layer_apply(cf_ctx *ctx, const cf_memory_layer *l, cf_tensor *w, cf_tensor *rows)
{
    return cf_add(ctx, cf_memlayer_lookup(ctx, l->table, rows, w), l->bias);
}

cf_status cf_memory_usage_new(cf_memory_usage *u, int64_t sites, int64_t rows_per_site)
{
    *u = (cf_memory_usage){.sites = sites, .rows_per_site = rows_per_site};
    u->counts = calloc((size_t)(sites * rows_per_site), sizeof *u->counts);
    return u->counts || !sites ? CF_OK : cf_set_error(CF_ERR_OOM, "memory usage: out of memory");
}

void cf_memory_usage_free(cf_memory_usage *u)
{
    free(u->counts);
    u->counts = NULL;
}

void cf_memory_usage_add(cf_memory_usage *u, int64_t site, const cf_tensor *rows)
{
    if (!u || !u->counts || site < 0 || site >= u->sites) return;
    int64_t *c = u->counts + site * u->rows_per_site;
    for (int64_t i = 0, n = cf_numel(rows); i < n; i++) {
        int64_t r = (int64_t)cf_get_flat(rows, i);
        if (r >= 0 && r < u->rows_per_site) c[r]++;
    }
}

double cf_memory_usage_entropy(const cf_memory_usage *u, int64_t site, int64_t table, int64_t tau)
{
    int64_t n = INT64_C(1) << tau, at = table * n;
    if (site < 0 || site >= u->sites || at < 0 || at + n > u->rows_per_site) return NAN;
    const int64_t *c = u->counts + site * u->rows_per_site + at;
    double total = 0, h = 0;
    for (int64_t i = 0; i < n; i++) total += (double)c[i];
    for (int64_t i = 0; i < n && total > 0; i++)
        if (c[i]) h -= (double)c[i] / total * log2((double)c[i] / total);
    return h;
}

cf_status cf_memoryformer_block_init(cf_memoryformer_block *b, cf_params *ps, const char *name,
                                     const cf_memoryformer_config *cfg)
{
    *b = (cf_memoryformer_block){.cfg = *cfg};
    int64_t d = cfg->dim, mid = (cfg->tau + cfg->extra_bits) * (cfg->tau ? d / cfg->tau : 0);
    if (cfg->heads < 1 || d % cfg->heads)
        return cf_set_error(CF_ERR_ARG, "memoryformer block %s: %lld heads do not divide the width %lld", name,
                            (long long)cfg->heads, (long long)d);
    double std = cfg->std > 0 ? cfg->std : sqrt(2.0 / (5.0 * (double)d));
    cf_params_push(ps, "%s", name);
    cf_status st = cf_norm_init(&b->norm_attn, ps, "norm_attn", CF_NORM_RMS, d, false, cfg->eps);
    if (st == CF_OK) st = cf_memory_layer_init(&b->q, ps, "q", d, d, cfg->tau, std);
    if (st == CF_OK) st = cf_memory_layer_init(&b->k, ps, "k", d, d, cfg->tau, std);
    if (st == CF_OK) st = cf_memory_layer_init(&b->v, ps, "v", d, d, cfg->tau, std);
    if (st == CF_OK) st = cf_norm_init(&b->norm_ffn, ps, "norm_ffn", CF_NORM_RMS, d, false, cfg->eps);
    if (st == CF_OK) st = cf_memory_layer_init(&b->ml1, ps, "ml1", d, mid, cfg->tau, std);
    if (st == CF_OK) st = cf_norm_init(&b->norm_mid, ps, "norm_mid", CF_NORM_LAYER, mid, true, cfg->eps);
    if (st == CF_OK) st = cf_memory_layer_init(&b->ml2, ps, "ml2", mid, d, cfg->tau + cfg->extra_bits, std);
    cf_params_pop(ps);
    return st;
}

/* [B, T, d] -> [B, H, T, d / H] */
static cf_tensor *heads_of(cf_ctx *ctx, cf_tensor *x, int64_t H)
{
    return cf_transpose(ctx, cf_reshape(ctx, x, CF_SHAPE(x->shape[0], x->shape[1], H, x->shape[2] / H)), 1, 2);
}

/* RoPE on the first `rot` dims of each head, the rest passed through (GPT-NeoX's rotary_pct) */
static cf_tensor *partial_rope(cf_ctx *ctx, cf_tensor *x, int64_t rot, double base)
{
    int64_t dh = x ? x->shape[3] : 0;
    if (rot <= 0 || !x) return x;
    if (rot >= dh) return cf_rope(ctx, x, 0, base);
    cf_tensor *parts[2] = {cf_rope(ctx, cf_contiguous(ctx, cf_narrow(ctx, x, 3, 0, rot)), 0, base),
                           cf_narrow(ctx, x, 3, rot, dh - rot)};
    return cf_concat(ctx, 2, parts, 3);
}

/* the hash of x through layer l's tau, counted into usage's site */
static cf_tensor *hash(cf_ctx *ctx, const cf_memoryformer_block *b, int64_t tau, cf_tensor *x, cf_tensor **rows,
                       cf_memory_usage *usage, int64_t site)
{
    cf_tensor *w = cf_memlayer_hash(ctx, x, tau, b->cfg.weight, b->cfg.temperature, rows);
    if (w && usage) cf_memory_usage_add(usage, site, *rows);
    return w;
}

cf_tensor *cf_memoryformer_block_fwd(cf_ctx *ctx, const cf_memoryformer_block *b, cf_tensor *x, cf_memory_usage *usage,
                                     int64_t site0)
{
    if (!x) return NULL;
    const cf_memoryformer_config *c = &b->cfg;
    int64_t B = x->shape[0], T = x->shape[1], d = c->dim, H = c->heads;
    cf_tensor *rows = NULL;
    cf_tensor *w = hash(ctx, b, c->tau, cf_norm_fwd(ctx, &b->norm_attn, x), &rows, usage, site0);
    if (!w) return NULL;
    int64_t rot = (int64_t)floor(c->rotary_pct * (double)(d / H) / 2) * 2;
    cf_tensor *q = partial_rope(ctx, heads_of(ctx, cf_memory_layer_apply(ctx, &b->q, w, rows), H), rot, c->rope_base);
    cf_tensor *k = partial_rope(ctx, heads_of(ctx, cf_memory_layer_apply(ctx, &b->k, w, rows), H), rot, c->rope_base);
    cf_tensor *v = heads_of(ctx, cf_memory_layer_apply(ctx, &b->v, w, rows), H);
    cf_tensor *o = cf_sdpa(ctx, q, k, v, &(cf_sdpa_opts){.mask = CF_SDPA_CAUSAL});
    cf_tensor *u = cf_add(ctx, x, cf_reshape(ctx, cf_contiguous(ctx, cf_transpose(ctx, o, 1, 2)), CF_SHAPE(B, T, d)));
    if (!u) return NULL;
    w = hash(ctx, b, c->tau, cf_norm_fwd(ctx, &b->norm_ffn, u), &rows, usage, site0 + 1);
    cf_tensor *h = w ? cf_norm_fwd(ctx, &b->norm_mid, cf_memory_layer_apply(ctx, &b->ml1, w, rows)) : NULL;
    w = h ? hash(ctx, b, c->tau + c->extra_bits, h, &rows, usage, site0 + 2) : NULL;
    return w ? cf_add(ctx, u, cf_memory_layer_apply(ctx, &b->ml2, w, rows)) : NULL;
}

double cf_memoryformer_block_flops(const cf_memoryformer_config *cfg)
{
    double d = (double)cfg->dim, K = (double)(cfg->dim / cfg->tau), mid = (double)(cfg->tau + cfg->extra_bits) * K;
    double hashes = 2 * d + 2 * d + 2 * mid;            /* QKV (one shared hash), ML1, ML2 */
    double lookups = 3 * 2 * K * d + 2 * K * mid + 2 * K * d; /* Q, K, V; ML1; ML2 (K tables each) */
    return hashes + lookups;
}

double cf_dense_block_flops(int64_t dim, int64_t hidden)
{
    double d = (double)dim;
    return 2 * (4 * d * d + 2 * d * (double)hidden);
}
