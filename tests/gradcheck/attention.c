/* Gradient checks of the fused attention: every mask kind, key padding, the bias gradient (full and
 * broadcast), the KV-cache offset, dropout, grouped-query heads and strided q/k/v views. Sizes stay
 * below one tile, so these check the arithmetic; tests/test_attention.c covers multi-tile skipping. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"

typedef struct {
    cf_sdpa_opts o;
    bool transposed; /* in[0..2] are [B, T, H, D] and go in as their transposes (the QKV-projection layout) */
    bool bias;       /* in[3] is the bias */
    /* o.attn_mask and o.key_padding, when set, are inputs too (after the bias): the cross-backend test then
     * moves them to the device with the other inputs */
} sdpa_case;

static cf_tensor *fn_sdpa(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const sdpa_case *s = u;
    cf_sdpa_opts o = s->o;
    cf_tensor *q = x[0], *k = x[1], *v = x[2];
    if (s->transposed) {
        q = cf_transpose(c, q, 1, 2);
        k = cf_transpose(c, k, 1, 2);
        v = cf_transpose(c, v, 1, 2);
    }
    int i = 3;
    if (s->bias) o.bias = x[i++];
    if (o.attn_mask) o.attn_mask = x[i++];
    if (o.key_padding) o.key_padding = x[i++];
    return cf_sdpa(c, q, k, v, &o);
}

/* q [B, H, Tq, D], k/v [B, Hkv, Tk, D|Dv] as gradcheck inputs, then the check */
static cf_status run(cf_gc *g, const char *label, const sdpa_case *s, int64_t B, int64_t H, int64_t Hkv, int64_t Tq,
                     int64_t Tk, int64_t D, int64_t Dv, cf_tensor *bias)
{
    cf_tensor *in[6];
    if (s->transposed) {
        in[0] = cf_gc_randn(g, CF_SHAPE(B, Tq, H, D));
        in[1] = cf_gc_randn(g, CF_SHAPE(B, Tk, Hkv, D));
        in[2] = cf_gc_randn(g, CF_SHAPE(B, Tk, Hkv, Dv));
    } else {
        in[0] = cf_gc_randn(g, CF_SHAPE(B, H, Tq, D));
        in[1] = cf_gc_randn(g, CF_SHAPE(B, Hkv, Tk, D));
        in[2] = cf_gc_randn(g, CF_SHAPE(B, Hkv, Tk, Dv));
    }
    int n = 3;
    if (s->bias) in[n++] = bias;
    if (s->o.attn_mask) in[n++] = s->o.attn_mask;
    if (s->o.key_padding) in[n++] = s->o.key_padding;
    return cf_gc_check(g, label, fn_sdpa, s, n, in);
}

/* A bool tensor from a 0/1 pattern. */
static cf_tensor *bools(cf_gc *g, int ndim, const int64_t *shape, const double *v)
{
    return cf_gc_const(g, CF_BOOL, ndim, shape, v);
}

CF_GRADCHECK(sdpa)
{
    cf_status st = CF_OK, r;
#define CHECK(...) ((r = run(g, __VA_ARGS__)) != CF_OK ? (st = r) : r)
    sdpa_case s = {0};
    CHECK("no mask", &s, 2, 2, 2, 5, 5, 4, 4, NULL);
    CHECK("no mask, one head (split backward)", &s, 1, 1, 1, 6, 6, 4, 4, NULL);
    s.o.scale = 0.7;
    CHECK("explicit scale, Dv != D, Tq != Tk", &s, 1, 2, 2, 4, 6, 4, 3, NULL);
    s = (sdpa_case){0};
    s.o.mask = CF_SDPA_CAUSAL;
    CHECK("causal", &s, 2, 2, 2, 7, 7, 4, 4, NULL);
    CHECK("causal, KV-cache offset Tq < Tk", &s, 1, 2, 2, 3, 7, 4, 4, NULL);
    CHECK("causal, Tq > Tk (leading rows see nothing)", &s, 1, 2, 2, 6, 4, 4, 4, NULL);
    CHECK("causal, grouped-query heads", &s, 1, 4, 2, 6, 6, 4, 4, NULL);
    s.o.mask = CF_SDPA_WINDOW, s.o.window = 3;
    CHECK("window 3", &s, 2, 2, 2, 9, 9, 4, 4, NULL);
    CHECK("window 3, offset Tq < Tk", &s, 1, 2, 2, 4, 9, 4, 4, NULL);
    s.o.mask = CF_SDPA_BLOCK, s.o.block = 3;
    CHECK("block-local 3", &s, 2, 2, 2, 8, 8, 4, 4, NULL);
    CHECK("block-local 3, offset", &s, 1, 2, 2, 5, 8, 4, 4, NULL);

    /* explicit masks: query 2 sees nothing, so its output and gradient are zero */
    s = (sdpa_case){0};
    double m2[5 * 6] = {1, 0, 1, 1, 0, 1, /**/ 0, 1, 1, 0, 1, 1, /**/ 0, 0, 0, 0, 0, 0, /**/ 1, 1, 1, 1, 1, 1,
                        /**/ 0, 0, 0, 0, 0, 1};
    s.o.attn_mask = bools(g, CF_SHAPE(5, 6), m2);
    CHECK("attn_mask [Tq, Tk] with an empty row", &s, 2, 2, 2, 5, 6, 4, 4, NULL);
    double m4[2 * 5 * 5];
    for (int i = 0; i < 50; i++) m4[i] = (i * 7 + i / 5) % 3 != 0;
    s.o.attn_mask = bools(g, CF_SHAPE(2, 1, 5, 5), m4);
    s.o.mask = CF_SDPA_CAUSAL;
    CHECK("attn_mask [B, 1, Tq, Tk] and causal", &s, 2, 2, 2, 5, 5, 4, 4, NULL);

    s = (sdpa_case){0};
    double pad[2 * 6] = {0, 0, 0, 0, 1, 1, /**/ 1, 1, 1, 1, 1, 1}; /* batch 1 is all padding */
    s.o.key_padding = bools(g, CF_SHAPE(2, 6), pad);
    CHECK("key padding, one batch fully padded", &s, 2, 2, 2, 4, 6, 4, 4, NULL);
    s.o.mask = CF_SDPA_CAUSAL;
    CHECK("key padding and causal with offset", &s, 2, 2, 2, 3, 6, 4, 4, NULL);

    /* bias gradients: full, shared over batch (rel-pos bias [H, Tq, Tk]), shared over heads and rows */
    s = (sdpa_case){0};
    s.bias = true;
    CHECK("bias [B, H, Tq, Tk]", &s, 2, 2, 2, 5, 6, 4, 4, cf_gc_randn(g, CF_SHAPE(2, 2, 5, 6)));
    s.o.mask = CF_SDPA_CAUSAL;
    CHECK("bias [H, Tq, Tk] shared over batch, causal", &s, 2, 2, 2, 6, 6, 4, 4, cf_gc_randn(g, CF_SHAPE(2, 6, 6)));
    CHECK("bias [Tq, Tk] shared over heads, GQA", &s, 2, 4, 2, 5, 5, 4, 4, cf_gc_randn(g, CF_SHAPE(5, 5)));
    s.o.mask = CF_SDPA_NONE;
    CHECK("bias [B, 1, 1, Tk] shared over rows", &s, 2, 2, 2, 4, 5, 4, 4, cf_gc_randn(g, CF_SHAPE(2, 1, 1, 5)));

    /* dropout: the mask is regenerated from (seed, step, element), so every evaluation sees the same one */
    s = (sdpa_case){0};
    s.o.dropout = 0.3, s.o.dropout_stream = 5;
    CHECK("dropout 0.3", &s, 2, 2, 2, 5, 5, 4, 4, NULL);
    s.o.mask = CF_SDPA_CAUSAL, s.bias = true;
    CHECK("dropout 0.3, causal, bias", &s, 1, 2, 2, 6, 6, 4, 4, cf_gc_randn(g, CF_SHAPE(2, 6, 6)));

    /* strided q/k/v: the transpose of [B, T, H, D] */
    s = (sdpa_case){0};
    s.transposed = true;
    CHECK("q/k/v transposed from [B, T, H, D]", &s, 2, 2, 2, 5, 5, 4, 4, NULL);
    s.o.mask = CF_SDPA_WINDOW, s.o.window = 2;
    CHECK("transposed, window 2, GQA", &s, 1, 4, 2, 6, 6, 4, 4, NULL);
#undef CHECK
    return st;
}
