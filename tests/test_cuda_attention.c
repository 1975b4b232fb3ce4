/* The attention kernels on both backends beyond what the gradient-check cases reach, through the cross-backend
 * comparison (autograd/gradcheck.h, parity mode: NaN-poisoned device arena, outputs and input gradients within
 * the dtype's tolerance, f64, f32, then bf16 inputs against f32 on the same rounded values):
 *  - sdpa on shapes of 2 to 5 query and key tiles (f64 tiles differ from f32's, bf16 computes in f32 tiles) (its
 *    gradient-check cases stay below one tile), where the
 *    kernels skip hidden tiles, take the fully-visible fast path, carry the online softmax across key tiles
 *    and accumulate dK/dV over several query tiles and grouped query heads;
 *  - topk_softmax on rows longer than a block's threads, with many ties (kept in index order) and -0 == +0. */
#include "autograd/cformer.h"
#include "autograd/gradcheck.h"
#include "autograd/ops/hardattn.h"
#include "tests/check.h"

#include <stdlib.h>

typedef struct {
    cf_sdpa_opts o;
    bool bias, mask, pad; /* the inputs after q, k, v, in this order */
} big_case;

static cf_tensor *fn_big(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    const big_case *s = u;
    cf_sdpa_opts o = s->o;
    int i = 3;
    if (s->bias) o.bias = x[i++];
    if (s->mask) o.attn_mask = x[i++];
    if (s->pad) o.key_padding = x[i++];
    return cf_sdpa(c, x[0], x[1], x[2], &o);
}

/* q [B, H, Tq, 16], k [B, Hkv, Tk, 16], v [B, Hkv, Tk, 8]; bias [H, Tq, Tk]; attn_mask [Tq, Tk] with a
 * pseudo-random pattern; key padding hides the last 7 keys of batch 0 */
static void run(cf_gc *g, const char *label, big_case s, int64_t B, int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk)
{
    cf_tensor *in[6];
    int n = 0;
    in[n++] = cf_gc_randn(g, CF_SHAPE(B, H, Tq, 16));
    in[n++] = cf_gc_randn(g, CF_SHAPE(B, Hkv, Tk, 16));
    in[n++] = cf_gc_randn(g, CF_SHAPE(B, Hkv, Tk, 8));
    if (s.bias) in[n++] = cf_gc_randn(g, CF_SHAPE(H, Tq, Tk));
    double *v = malloc(sizeof(double) * (size_t)(Tq * Tk > B * Tk ? Tq * Tk : B * Tk));
    CHECK(v != NULL);
    if (!v) return;
    if (s.mask) {
        for (int64_t e = 0; e < Tq * Tk; e++) v[e] = (e * 7919 % 11) != 0;
        in[n++] = cf_gc_const(g, CF_BOOL, CF_SHAPE(Tq, Tk), v);
    }
    if (s.pad) {
        for (int64_t e = 0; e < B * Tk; e++) v[e] = e < Tk && e >= Tk - 7;
        in[n++] = cf_gc_const(g, CF_BOOL, CF_SHAPE(B, Tk), v);
    }
    free(v);
    CHECK(cf_gc_check(g, label, fn_big, &s, n, in) == CF_OK, "%s: %s", label, cf_last_error());
}

static cf_tensor *fn_topk(cf_ctx *c, cf_tensor *const *x, const void *u)
{
    return cf_topk_softmax(c, x[0], *(const int64_t *)u);
}

/* rows x len values from {-1.5, -1, ..., 1.5} (many ties, both zeros), requiring grad */
static void run_topk(cf_gc *g, const char *label, int64_t rows, int64_t len, int64_t k)
{
    double *v = malloc(sizeof(double) * (size_t)(rows * len));
    CHECK(v != NULL);
    if (!v) return;
    for (int64_t e = 0; e < rows * len; e++) {
        int64_t h = (e * 2654435761u) % 7;
        v[e] = h == 3 ? ((e & 1) ? -0.0 : 0.0) : 0.5 * (double)(h - 3);
    }
    cf_tensor *x = cf_gc_const(g, CF_F64, CF_SHAPE(rows, len), v);
    free(v);
    CHECK(x != NULL);
    if (!x) return;
    x->requires_grad = true;
    CHECK(cf_gc_check(g, label, fn_topk, &k, 1, &x) == CF_OK, "%s: %s", label, cf_last_error());
}

int main(void)
{
    if (!cf_backend_table(CF_CUDA) || !cf_backend_for(CF_CUDA)) {
        printf("no CUDA backend or device: skipped\n");
        return 77;
    }
    cf_ctx *cpu = cf_ctx_new(NULL);
    cf_ctx *dev = cf_ctx_new(&(cf_ctx_options){.device = CF_CUDA, .arena_bytes = 64u << 20});
    CHECK(cpu && dev);
    if (!cpu || !dev) TEST_MAIN_END();
    cf_gc *g = cf_gc_new(cpu, CF_OP_sdpa, false);
    cf_gc_set_parity(g, dev);
    cf_gc_set_parity_bf16(g, true);

    big_case s = {0};
    run(g, "no mask, 2 x 2 tiles", s, 1, 2, 2, 100, 100);
    s.o.mask = CF_SDPA_CAUSAL;
    run(g, "causal (hidden, partial and full tiles)", s, 1, 1, 1, 140, 140);
    run(g, "causal, KV-cache offset Tq < Tk, GQA", s, 1, 4, 2, 40, 130);
    s.o.mask = CF_SDPA_WINDOW, s.o.window = 30;
    run(g, "window 30", s, 1, 2, 1, 160, 160);
    s.o.mask = CF_SDPA_BLOCK, s.o.block = 50;
    run(g, "block-local 50", s, 1, 1, 1, 160, 160);
    s = (big_case){.bias = true, .mask = true, .pad = true};
    s.o.mask = CF_SDPA_CAUSAL, s.o.dropout = 0.2, s.o.dropout_stream = 3;
    run(g, "causal, bias, attn_mask, key padding, dropout", s, 2, 2, 1, 100, 100);

    CHECK(cf_gc_failures(g) == 0);
    CHECK(cf_gc_device_hits(g) > 0);
    cf_gc_free(g);

    g = cf_gc_new(cpu, CF_OP_topk_softmax, false);
    cf_gc_set_parity(g, dev);
    cf_gc_set_parity_bf16(g, true);
    run_topk(g, "k 37 of 300, ties", 3, 300, 37);
    run_topk(g, "k 150 of 300: the k-th largest is 0, both signs tie", 2, 300, 150);
    run_topk(g, "k 1 of 257, ties", 2, 257, 1);
    run_topk(g, "k 299 of 300, ties", 2, 300, 299);
    CHECK(cf_gc_failures(g) == 0);
    CHECK(cf_gc_device_hits(g) > 0);
    cf_gc_free(g);
    cf_ctx_free(dev);
    cf_ctx_free(cpu);
    TEST_MAIN_END();
}
