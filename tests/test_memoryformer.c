/* The MemoryFormer block (layers/memoryformer.h): the FLOP count of "MemoryFormer" Section 3.3 (the
 * non-attention bracket 6/tau + 2(tau+2)/tau^2 + 2/tau of d^2 against 24 d^2 for a dense block), the bucket
 * entropy (tau bits for uniform use, 0 for a collapsed table), causality (a later token never changes an
 * earlier output, bit for bit), Q, K and V reading one shared hash, and the sparse table gradient through
 * the whole block (rows no token picked keep a zero gradient). */
#include "autograd/cformer.h"
#include "layers/memoryformer.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

static void test_flops(void)
{
    const int64_t d = 1024;
    cf_memoryformer_config c = {.dim = d, .heads = 8, .tau = 8, .extra_bits = 2};
    double bracket = 6.0 / 8 + 2.0 * 10 / 64 + 2.0 / 8; /* 1.3125 */
    double hashes = 2.0 * d + 2.0 * d + 2.0 * (10 * d / 8);
    CHECK_NEAR(cf_memoryformer_block_flops(&c), bracket * (double)(d * d) + hashes, 1e-6);
    CHECK_NEAR(cf_dense_block_flops(d, 4 * d), 24.0 * (double)(d * d), 1e-6);
    CHECK(cf_dense_block_flops(d, 4 * d) / cf_memoryformer_block_flops(&c) > 17.5);
}

static void test_entropy(void)
{
    cf_memory_usage u;
    CHECK(cf_memory_usage_new(&u, 2, 2 * 8) == CF_OK); /* two tables of tau = 3 per site */
    if (!u.counts) return;
    for (int64_t r = 0; r < 8; r++) u.counts[r] = 5;  /* site 0, table 0: uniform */
    u.counts[8 + 3] = 40;                              /* site 0, table 1: one bucket */
    u.counts[16 + 0] = u.counts[16 + 1] = 1;           /* site 1, table 0: two buckets */
    CHECK_NEAR(cf_memory_usage_entropy(&u, 0, 0, 3), 3.0, 1e-12);
    CHECK_NEAR(cf_memory_usage_entropy(&u, 0, 1, 3), 0.0, 1e-12);
    CHECK_NEAR(cf_memory_usage_entropy(&u, 1, 0, 3), 1.0, 1e-12);
    CHECK(isnan(cf_memory_usage_entropy(&u, 2, 0, 3)) && isnan(cf_memory_usage_entropy(&u, 0, 2, 3)));
    cf_memory_usage_free(&u);
}

static const cf_memoryformer_config small = {.dim = 16, .heads = 2, .tau = 4, .extra_bits = 1, .rotary_pct = 0.5,
                                             .rope_base = 10000, .temperature = 1, .eps = 1e-5};

static void test_block(cf_ctx *ctx)
{
    const int64_t T = 6, d = 16;
    cf_params *ps = cf_params_new(CF_F64, 3);
    cf_memoryformer_block b;
    CHECK(ps && cf_memoryformer_block_init(&b, ps, "blocks.0", &small) == CF_OK && cf_params_grads(ps) == CF_OK);
    CHECK(b.q.table->shape[0] == 4 * 16 && b.ml1.out == 5 * 4 && b.ml2.table->shape[0] == 4 * 32);
    cf_tensor *x = cf_randn(ctx, CF_F64, CF_SHAPE(1, T, d), 5, 1);
    cf_memory_usage u;
    CHECK(cf_memory_usage_new(&u, 3, 4 * 32) == CF_OK);
    cf_tensor *y = cf_memoryformer_block_fwd(ctx, &b, x, &u, 0);
    CHECK(y && y->shape[1] == T && y->shape[2] == d);
    if (!y) goto done;
    /* causality: change token 4; outputs 0..3 stay the same bits, output 4 moves */
    double before[6 * 16];
    for (int64_t i = 0; i < T * d; i++) before[i] = cf_get_flat(y, i);
    cf_tensor *x2 = cf_empty(ctx, CF_F64, CF_SHAPE(1, T, d));
    cf_copy_(x2, x);
    for (int64_t c = 0; c < d; c++) cf_set_flat(x2, 4 * d + c, cf_get_flat(x, 4 * d + c) + 0.7);
    cf_tensor *y2 = cf_memoryformer_block_fwd(ctx, &b, x2, NULL, 0);
    int same = 0, moved = 0;
    for (int64_t i = 0; y2 && i < 4 * d; i++) same += cf_get_flat(y2, i) == before[i];
    for (int64_t i = 4 * d; y2 && i < 5 * d; i++) moved += cf_get_flat(y2, i) != before[i];
    CHECK(same == 4 * d, "%d of %lld earlier outputs unchanged", same, (long long)(4 * d));
    CHECK(moved > 0);
    /* the gradient of sum(y): zero in every Q/K/V table row no token picked (one hash picks the rows of all
     * three), nonzero in every V row picked */
    CHECK(cf_backward(ctx, y, cf_full(ctx, CF_F64, CF_SHAPE(1, T, d), 1.0)) == CF_OK);
    int zero_unused = 0, unused = 0, nonzero_used = 0, used = 0;
    const cf_tensor *tabs[3] = {b.q.table, b.k.table, b.v.table};
    for (int t = 0; t < 3; t++)
        for (int64_t r = 0; r < 64; r++) {
            double s = 0;
            for (int64_t c = 0; c < d; c++) s += fabs(cf_get_flat(tabs[t]->grad, r * d + c));
            if (!u.counts[r]) unused++, zero_unused += s == 0;
            else if (t == 2) used++, nonzero_used += s > 0; /* the first query's q gets no gradient: V only */
        }
    CHECK(unused > 0 && zero_unused == unused, "%d of %d unused rows have a zero gradient", zero_unused, unused);
    CHECK(used > 0 && nonzero_used == used, "%d of %d used rows have a gradient", nonzero_used, used);
    int64_t picks = 0;
    for (int64_t r = 0; r < 4 * 32; r++) picks += u.counts[r];
    CHECK(picks == T * 4, "site 0 counted %lld picks, want T K = %lld", (long long)picks, (long long)(T * 4));
done:
    cf_memory_usage_free(&u);
    cf_step_reset(ctx);
    cf_params_free(ps);
}

static void test_errors(void)
{
    cf_params *ps = cf_params_new(CF_F64, 1);
    cf_memoryformer_block b;
    cf_memoryformer_config c = small;
    c.tau = 5;
    CHECK(cf_memoryformer_block_init(&b, ps, "blocks.0", &c) != CF_OK && strstr(cf_last_error(), "tau = 5"));
    c = small, c.heads = 3;
    CHECK(cf_memoryformer_block_init(&b, ps, "blocks.1", &c) != CF_OK && strstr(cf_last_error(), "3 heads"));
    cf_params_free(ps);
}

int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    if (!ctx) return 1;
    test_flops();
    test_entropy();
    test_block(ctx);
    test_errors();
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
