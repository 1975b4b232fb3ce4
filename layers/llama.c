/* The Llama / Mistral decoder (see layers/llama.h): RMSNorm, SwiGLU, scaled RoPE, grouped-query and
 * sliding-window attention, built from the shared layers of layers/nn.h and the fused sdpa op. */
#include "layers/llama.h"

#include "autograd/cf_node.h" /* cf_scratch */

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const scaling_names[] = {"none", "linear", "llama3"};

bool cf_rope_scaling_parse(const char *s, cf_rope_scaling_kind *out)
{
    if (!s) return false;
    if (strcmp(s, "default") == 0) return *out = CF_ROPE_SCALE_NONE, true; /* Hugging Face's name for none */
    for (int i = 0; i < 3; i++)
        if (strcmp(s, scaling_names[i]) == 0) return *out = (cf_rope_scaling_kind)i, true;
    return false;
}

const char *cf_rope_scaling_name(cf_rope_scaling_kind k) { return (unsigned)k < 3 ? scaling_names[k] : "?"; }

cf_status cf_rope_inv_freq(double theta, int64_t head_dim, const cf_rope_scaling *s, double *out)
{
    if (head_dim <= 0 || head_dim % 2 || !(theta > 1))
        return cf_set_error(CF_ERR_ARG, "rope: head_dim %lld must be even and positive, theta %g above 1",
                            (long long)head_dim, theta);
    cf_rope_scaling none = {0};
    if (!s) s = &none;
    if (s->kind != CF_ROPE_SCALE_NONE && !(s->factor > 0 && isfinite(s->factor)))
        return cf_set_error(CF_ERR_ARG, "rope scaling %s: factor %g must be positive", cf_rope_scaling_name(s->kind), s->factor);
    if (s->kind == CF_ROPE_SCALE_LLAMA3 &&
        !(s->low_freq_factor > 0 && s->high_freq_factor > s->low_freq_factor && s->original_max_pos > 0))
        return cf_set_error(CF_ERR_ARG, "rope scaling llama3: needs 0 < low_freq_factor (%g) < high_freq_factor (%g) "
                            "and original_max_position_embeddings (%lld) > 0", s->low_freq_factor,
                            s->high_freq_factor, (long long)s->original_max_pos);
    for (int64_t i = 0; i < head_dim / 2; i++) {
        double f = pow(theta, -2.0 * (double)i / (double)head_dim);
        if (s->kind == CF_ROPE_SCALE_LINEAR) {
            f /= s->factor;
        } else if (s->kind == CF_ROPE_SCALE_LLAMA3) {
            /* Llama 3.1: wavelengths longer than the original context / low_freq_factor are interpolated by
             * factor, shorter than context / high_freq_factor kept, the band between blended linearly in
             * context / wavelength. */
            double ctx_len = (double)s->original_max_pos, wavelen = 2 * 3.14159265358979323846 / f;
            if (wavelen > ctx_len / s->low_freq_factor) {
                f /= s->factor;
            } else if (wavelen >= ctx_len / s->high_freq_factor) {
                double smooth = (ctx_len / wavelen - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
                f = (1 - smooth) * f / s->factor + smooth * f;
            }
        }
        out[i] = f;
    }
    return CF_OK;
}

cf_llama_config cf_llama_defaults(void)
{
    return (cf_llama_config){.vocab = 256, .dim = 256, .layers = 4, .heads = 4, .hidden = 688, .max_seq = 2048,
                             .norm_eps = 1e-5, .rope_theta = 10000.0, .init_std = 0.02};
}

cf_status cf_llama_config_check(cf_llama_config *c)
{
    if (c->kv_heads <= 0) c->kv_heads = c->heads;
    if (c->head_dim <= 0 && c->heads > 0) c->head_dim = c->dim / c->heads;
    if (c->vocab <= 0 || c->dim <= 0 || c->layers <= 0 || c->heads <= 0 || c->hidden <= 0 || c->max_seq <= 0)
        return cf_set_error(CF_ERR_ARG, "llama: vocab %lld, dim %lld, layers %lld, heads %lld, hidden %lld and "
                            "max_seq %lld must be positive", (long long)c->vocab, (long long)c->dim,
                            (long long)c->layers, (long long)c->heads, (long long)c->hidden, (long long)c->max_seq);
    if (c->heads % c->kv_heads)
        return cf_set_error(CF_ERR_ARG, "llama: kv_heads %lld does not divide heads %lld", (long long)c->kv_heads,
                            (long long)c->heads);
    if (c->head_dim <= 0 || c->head_dim % 2)
        return cf_set_error(CF_ERR_ARG, "llama: head_dim %lld must be even and positive (dim %lld / heads %lld)",
                            (long long)c->head_dim, (long long)c->dim, (long long)c->heads);
    if (c->sliding_window < 0) return cf_set_error(CF_ERR_ARG, "llama: sliding_window %lld < 0", (long long)c->sliding_window);
    if (!(c->norm_eps > 0)) return cf_set_error(CF_ERR_ARG, "llama: norm_eps %g must be positive", c->norm_eps);
    return CF_OK;
}

static cf_status layer_init(cf_llama_layer *l, cf_params *ps, const cf_llama_config *c, double std)
{
    int64_t qdim = c->heads * c->head_dim, kvdim = c->kv_heads * c->head_dim;
    CF_TRY(cf_norm_init(&l->attn_norm, ps, "attn_norm", CF_NORM_RMS, c->dim, false, c->norm_eps));
    cf_params_push(ps, "attn");
    cf_status st = cf_linear_init(&l->q, ps, "q", c->dim, qdim, false, std);
    if (st == CF_OK) st = cf_linear_init(&l->k, ps, "k", c->dim, kvdim, false, std);
    if (st == CF_OK) st = cf_linear_init(&l->v, ps, "v", c->dim, kvdim, false, std);
    if (st == CF_OK) st = cf_linear_init(&l->o, ps, "o", qdim, c->dim, false, std);
    cf_params_pop(ps);
    if (st == CF_OK) st = cf_norm_init(&l->mlp_norm, ps, "mlp_norm", CF_NORM_RMS, c->dim, false, c->norm_eps);
    if (st == CF_OK) st = cf_mlp_init(&l->mlp, ps, "mlp", CF_MLP_SWIGLU, c->dim, c->hidden, false, std, std);
    return st;
}

cf_status cf_llama_init(cf_llama *m, cf_params *ps, const cf_llama_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    cf_llama_config *c = &m->cfg;
    CF_TRY(cf_llama_config_check(c));
    m->inv_freq = malloc((size_t)(c->head_dim / 2) * sizeof *m->inv_freq);
    m->layers = calloc((size_t)c->layers, sizeof *m->layers);
    if (!m->inv_freq || !m->layers) {
        cf_llama_free(m);
        return cf_set_error(CF_ERR_OOM, "llama: out of memory");
    }
    cf_status st = cf_rope_inv_freq(c->rope_theta, c->head_dim, &c->rope_scaling, m->inv_freq);
    double std = c->init_std > 0 ? c->init_std : 0.02;
    if (st == CF_OK) st = cf_embedding_init(&m->embed, ps, "embed", c->vocab, c->dim, std);
    for (int64_t i = 0; st == CF_OK && i < c->layers; i++) {
        cf_params_push(ps, "layers.%lld", (long long)i);
        st = layer_init(&m->layers[i], ps, c, std);
        cf_params_pop(ps);
    }
    if (st == CF_OK) st = cf_norm_init(&m->norm, ps, "norm", CF_NORM_RMS, c->dim, false, c->norm_eps);
    if (st == CF_OK && !c->tie) st = cf_linear_init(&m->head, ps, "head", c->dim, c->vocab, false, std);
    if (st != CF_OK) cf_llama_free(m);
    return st;
}

void cf_llama_free(cf_llama *m)
{
    free(m->layers);
    free(m->inv_freq);
    m->layers = NULL, m->inv_freq = NULL;
}

/* [B, T, n * Dh] -> [B, n, T, Dh] */
static cf_tensor *split_heads(cf_ctx *ctx, cf_tensor *x, int64_t n, int64_t Dh)
{
    if (!x) return NULL;
    return cf_transpose(ctx, cf_reshape(ctx, x, CF_SHAPE(x->shape[0], x->shape[1], n, Dh)), 1, 2);
}

/* o(attention(attn_norm(h))): the attention sub-block before its residual add */
static cf_tensor *attn_out(cf_ctx *ctx, const cf_llama *m, const cf_llama_layer *l, cf_tensor *h, cf_kv_cache *cache)
{
    if (!h) return NULL;
    const cf_llama_config *c = &m->cfg;
    int64_t B = h->shape[0], T = h->shape[1], Dh = c->head_dim;
    int64_t past = cache ? cache->len : 0, at = cache ? cf_kv_cache_pos(cache) : 0; /* rows held, position */
    cf_tensor *a = cf_norm_fwd(ctx, &l->attn_norm, h);
    cf_tensor *q = cf_rope_freqs(ctx, split_heads(ctx, cf_linear_fwd(ctx, &l->q, a), c->heads, Dh), at, m->inv_freq);
    cf_tensor *k = cf_rope_freqs(ctx, split_heads(ctx, cf_linear_fwd(ctx, &l->k, a), c->kv_heads, Dh), at, m->inv_freq);
    cf_tensor *v = split_heads(ctx, cf_linear_fwd(ctx, &l->v, a), c->kv_heads, Dh);
    if (cache) { /* keys rotated at their absolute positions, appended; the queries are the last T positions */
        if (!k || !v) return NULL;
        if (past + T > cache->cap) {
            cf_set_error(CF_ERR_ARG, "llama: KV cache holds %lld positions, %lld needed", (long long)cache->cap,
                         (long long)(past + T));
            return NULL;
        }
        cf_tensor *ks = cf_slice(ctx, cache->k, 2, past, past + T, 1), *vs = cf_slice(ctx, cache->v, 2, past, past + T, 1);
        if (!ks || !vs || cf_copy_(ks, k) != CF_OK || cf_copy_(vs, v) != CF_OK) return NULL;
        cache->len = past + T;
        k = cf_slice(ctx, cache->k, 2, 0, cache->len, 1);
        v = cf_slice(ctx, cache->v, 2, 0, cache->len, 1);
    }
    /* a window as long as the keys is full causal attention; the fused op skips the keys it masks */
    bool window = c->sliding_window > 0 && c->sliding_window < past + T;
    cf_sdpa_opts o = {.mask = window ? CF_SDPA_WINDOW : CF_SDPA_CAUSAL, .window = c->sliding_window};
    cf_tensor *y = cf_sdpa(ctx, q, k, v, &o); /* [B, heads, T, Dh] */
    y = cf_reshape(ctx, cf_transpose(ctx, y, 1, 2), CF_SHAPE(B, T, c->heads * Dh));
    return cf_linear_fwd(ctx, &l->o, y);
}

/* h + o(attention(attn_norm(h))) */
static cf_tensor *attn_sub(cf_ctx *ctx, const cf_llama *m, const cf_llama_layer *l, cf_tensor *h, cf_kv_cache *cache)
{
    return cf_add(ctx, h, attn_out(ctx, m, l, h, cache));
}

/* h + mlp(mlp_norm(h)) */
static cf_tensor *mlp_sub(cf_ctx *ctx, const cf_llama_layer *l, cf_tensor *h)
{
    return cf_add(ctx, h, cf_mlp_fwd(ctx, &l->mlp, cf_norm_fwd(ctx, &l->mlp_norm, h)));
}

/* train.recompute (autograd/recompute.h): the sub-blocks, or whole layers, as recomputed segments; their
 * arguments besides the hidden state live in the step arena */
typedef struct segment_args {
    const cf_llama *m;
    const cf_llama_layer *l;
} segment_args;

static cf_tensor *attn_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    const segment_args *s = user;
    return attn_sub(ctx, s->m, s->l, in[0], NULL);
}

static cf_tensor *mlp_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    const segment_args *s = user;
    return mlp_sub(ctx, s->l, in[0]);
}

/* a whole layer; its recomputation runs the two sub-blocks as segments of their own (as layers/block.c) */
static cf_tensor *layer_segment(cf_ctx *ctx, void *user, int n, cf_tensor *const *in)
{
    (void)n;
    cf_tensor *x = cf_recompute(ctx, attn_segment, user, 1, in);
    return cf_recompute(ctx, mlp_segment, user, 1, &x);
}

cf_tensor *cf_llama_layer_fwd(cf_ctx *ctx, const cf_llama *m, const cf_llama_layer *l, cf_tensor *h, cf_kv_cache *cache)
{
    cf_recompute_mode mode = cf_recompute_mode_of(ctx);
    if (mode == CF_RECOMPUTE_NONE || !cf_grad_enabled(ctx) || cache || !h) {
        /* one piece of tape: the attention's residual add fused with mlp_norm (the same values as mlp_sub(attn_sub)) */
        cf_tensor *y = cf_add_norm_fwd(ctx, &l->mlp_norm, h, attn_out(ctx, m, l, h, cache), &h);
        return cf_add(ctx, h, cf_mlp_fwd(ctx, &l->mlp, y));
    }
    segment_args *s = cf_scratch(ctx, sizeof *s);
    if (!s) return NULL;
    *s = (segment_args){m, l};
    if (mode == CF_RECOMPUTE_BLOCK) return cf_recompute(ctx, layer_segment, s, 1, &h);
    return mlp_sub(ctx, l, cf_recompute(ctx, attn_segment, s, 1, &h)); /* CF_RECOMPUTE_ATTENTION */
}


cf_tensor *cf_llama_logits(cf_ctx *ctx, const cf_llama *m, cf_tensor *tokens, cf_kv_cache *caches)
{
    if (!tokens) return NULL;
    if (tokens->ndim != 2) {
        char b[128];
        cf_set_error(CF_ERR_SHAPE, "llama: tokens must be [batch, time], got %s", cf_shape_str(tokens, b, sizeof b));
        return NULL;
    }
    cf_tensor *h = cf_embedding_fwd(ctx, &m->embed, tokens);
    for (int64_t i = 0; i < m->cfg.layers; i++) h = cf_llama_layer_fwd(ctx, m, &m->layers[i], h, caches ? &caches[i] : NULL);
    h = cf_norm_fwd(ctx, &m->norm, h);
    return m->cfg.tie ? cf_linear(ctx, h, m->embed.weight, NULL) : cf_linear_fwd(ctx, &m->head, h);
}

static cf_tensor *lm_logits(cf_ctx *ctx, const void *net, cf_tensor *tokens, cf_kv_cache *caches)
{
    return cf_llama_logits(ctx, net, tokens, caches);
}

cf_lm cf_llama_lm(const cf_llama *m)
{
    const cf_llama_config *c = &m->cfg;
    return (cf_lm){.net = m, .logits = lm_logits, .vocab = c->vocab, .layers = c->layers, .kv_heads = c->kv_heads,
                   .head_dim = c->head_dim, .dtype = m->embed.weight->dtype, .window = c->sliding_window};
}

int64_t cf_llama_param_count(const cf_llama_config *c)
{
    int64_t qdim = c->heads * c->head_dim, kvdim = c->kv_heads * c->head_dim;
    int64_t per_layer = 2 * c->dim + c->dim * (2 * qdim + 2 * kvdim) + 3 * c->dim * c->hidden;
    return c->layers * per_layer + c->vocab * c->dim * (c->tie ? 1 : 2) + c->dim;
}

double cf_llama_flops_per_token(const cf_llama *m, int64_t seq)
{
    const cf_llama_config *c = &m->cfg;
    double qdim = (double)(c->heads * c->head_dim), kvdim = (double)(c->kv_heads * c->head_dim);
    double per_layer = (double)c->dim * (2 * qdim + 2 * kvdim) + 3.0 * (double)c->dim * (double)c->hidden;
    double n = per_layer * (double)c->layers + (double)c->dim * (double)c->vocab;
    double t_eff = (double)(c->sliding_window > 0 && c->sliding_window < seq ? c->sliding_window : seq);
    return 6.0 * n + 6.0 * (double)c->layers * t_eff * qdim;
}
