/* Results that must not depend on the thread count, each computed with 1, 2 and 3 threads and compared
 * bit for bit: GEMM (cf_cpu_gemm's tiles, every transpose and beta, against a double reference too, on
 * shapes OpenBLAS's own threading computed differently), matmul and linear forward and backward, the
 * broadcast-undoing sum of a gradient whose rows share one element (sum_to), and gradient clipping's norm. */
#include "tests/check.h"
#include "autograd/cformer.h"
#include "autograd/cpu/cpu.h"
#include "layers/params.h"
#include "optim/optim.h"

#include <stdlib.h>

static cf_ctx *ctx;
static const int threads[] = {1, 2, 3};
#define NT 3

static void fill(void *p, cf_dtype dt, int64_t n, uint64_t seed)
{
    cf_philox_key k = cf_rng_key(seed, 5);
    for (int64_t i = 0; i < n; i++) {
        double v = cf_rng_uniform(k, 0, (uint64_t)i) - 0.5;
        if (dt == CF_F32) ((float *)p)[i] = (float)v;
        else ((double *)p)[i] = v;
    }
}

static double at(const void *p, cf_dtype dt, int64_t i) { return dt == CF_F32 ? ((const float *)p)[i] : ((const double *)p)[i]; }

static void test_tiles(void)
{
    int64_t shapes[][3] = {{3168, 97, 96}, {97, 96, 3168}, {2048, 2048, 2048}, {1, 5000, 5000}, {100, 100, 100}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], mb, nb;
        cf_cpu_gemm_tiles(M, N, K, &mb, &nb);
        int64_t tiles = (M + mb - 1) / mb * ((N + nb - 1) / nb);
        CHECK(mb >= 1 && nb >= 1 && mb <= M && nb <= N, "M %lld N %lld: tile %lld x %lld", (long long)M, (long long)N,
              (long long)mb, (long long)nb);
        CHECK((mb == M || mb % 64 == 0) && (nb == N || nb % 64 == 0), "tile edges off the 64 grid: %lld x %lld",
              (long long)mb, (long long)nb);
        CHECK(tiles >= 1 && tiles <= 64);
    }
    int64_t mb, nb;
    cf_cpu_gemm_tiles(2048, 2048, 2048, &mb, &nb);
    CHECK((2048 / mb) * (2048 / nb) >= 16, "a big product is shared among threads: tile %lld x %lld", (long long)mb,
          (long long)nb);
}

/* C = alpha op(A) op(B) + beta C0 against a double reference, then bit-identical across thread counts. */
static void gemm_case(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, double beta)
{
    size_t es = cf_dtype_size(dt);
    int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2; /* padded leading dims */
    int64_t arows = ta ? K : M, brows = tb ? N : K;
    void *A = malloc(es * (size_t)(arows * lda)), *B = malloc(es * (size_t)(brows * ldb));
    void *C0 = malloc(es * (size_t)(M * ldc)), *C[NT];
    fill(A, dt, arows * lda, 1), fill(B, dt, brows * ldb, 2), fill(C0, dt, M * ldc, 3);
    for (int t = 0; t < NT; t++) {
        C[t] = malloc(es * (size_t)(M * ldc));
        memcpy(C[t], C0, es * (size_t)(M * ldc));
        cf_set_threads(ctx, threads[t]);
        cf_cpu_gemm(dt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C[t], ldc);
    }
    cf_set_threads(ctx, 0);
    double worst = 0;
    bool pad_kept = true;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double ref = beta * at(C0, dt, i * ldc + j);
            for (int64_t k = 0; k < K; k++)
                ref += alpha * at(A, dt, ta ? k * lda + i : i * lda + k) * at(B, dt, tb ? j * ldb + k : k * ldb + j);
            double e = fabs(at(C[0], dt, i * ldc + j) - ref);
            worst = e > worst ? e : worst;
        }
        for (int64_t j = N; j < ldc; j++) pad_kept &= at(C[0], dt, i * ldc + j) == at(C0, dt, i * ldc + j);
    }
    double tol = (dt == CF_F32 ? 1e-5 : 1e-12) * (double)(K + 1);
    CHECK(worst < tol, "%s ta %d tb %d %lldx%lldx%lld: off the reference by %g", cf_dtype_name(dt), ta, tb,
          (long long)M, (long long)N, (long long)K, worst);
    CHECK(pad_kept, "columns past N were written");
    for (int t = 1; t < NT; t++)
        CHECK(memcmp(C[0], C[t], es * (size_t)(M * ldc)) == 0, "%s ta %d tb %d %lldx%lldx%lld: %d threads differ from 1",
              cf_dtype_name(dt), ta, tb, (long long)M, (long long)N, (long long)K, threads[t]);
    for (int t = 0; t < NT; t++) free(C[t]);
    free(A), free(B), free(C0);
}

static void test_gemm(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case(CF_F32, ta, tb, 300, 197, 96, 1.0, 0.0);   /* several row and column tiles */
            gemm_case(CF_F32, ta, tb, 97, 96, 1200, 0.5, 1.0);   /* long K, accumulating */
            gemm_case(CF_F64, ta, tb, 130, 70, 200, 1.0, 1.0);
        }
    gemm_case(CF_F32, false, true, 1200, 97, 96, 1.0, 0.0); /* the Dualformer head's shape, scaled down */
    gemm_case(CF_F32, false, false, 20, 20, 20, 1.0, 0.0);  /* one direct call */
    gemm_case(CF_F32, false, false, 70, 50, 0, 1.0, 0.5);   /* K = 0: beta C */
}

/* matmul and linear, forward and every gradient, on shapes of the Dualformer's head and its weight
 * gradient (a long reduction over rows). */
static void test_ops(void)
{
    cf_tensor *x = cf_tensor_alloc(CF_F32, CF_SHAPE(6, 211, 96)), *w = cf_tensor_alloc(CF_F32, CF_SHAPE(97, 96));
    cf_tensor *m = cf_tensor_alloc(CF_F32, CF_SHAPE(6, 96, 130));
    fill(cf_data(x), CF_F32, cf_numel(x), 4), fill(cf_data(w), CF_F32, cf_numel(w), 5), fill(cf_data(m), CF_F32, cf_numel(m), 6);
    x->requires_grad = w->requires_grad = m->requires_grad = true;
    float *snap[NT][5];
    int64_t len[5] = {0};
    for (int t = 0; t < NT; t++) {
        cf_set_threads(ctx, threads[t]);
        cf_tensor *y = cf_linear(ctx, x, w, NULL), *z = cf_matmul(ctx, x, m);
        cf_tensor *loss = cf_add(ctx, cf_sum(ctx, cf_mul(ctx, y, y), CF_ALL_DIMS, false),
                                 cf_sum(ctx, cf_mul(ctx, z, z), CF_ALL_DIMS, false));
        CHECK(loss && cf_backward(ctx, loss, NULL) == CF_OK);
        cf_tensor *got[5] = {y, z, x->grad, w->grad, m->grad};
        for (int i = 0; i < 5; i++) {
            snap[t][i] = NULL;
            if (!got[i]) continue;
            len[i] = cf_numel(got[i]);
            snap[t][i] = malloc(sizeof(float) * (size_t)len[i]);
            memcpy(snap[t][i], cf_data(got[i]), sizeof(float) * (size_t)len[i]);
        }
        cf_zero_grad(x), cf_zero_grad(w), cf_zero_grad(m);
        cf_step_reset(ctx);
    }
    cf_set_threads(ctx, 0);
    const char *what[5] = {"linear", "matmul", "dx", "dw", "dm"};
    for (int t = 1; t < NT; t++)
        for (int i = 0; i < 5; i++)
            CHECK(snap[0][i] && snap[t][i] && memcmp(snap[0][i], snap[t][i], sizeof(float) * (size_t)len[i]) == 0,
                  "%s: %d threads differ from 1", what[i], threads[t]);
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < 5; i++) free(snap[t][i]);
    cf_tensor_free(x), cf_tensor_free(w), cf_tensor_free(m);
}

/* The gradient of a [1, T, 1] tensor broadcast over [B, T, C]: every b adds into one element per t. */
static void test_sum_to(void)
{
    int64_t B = 64, T = 37, C = 50;
    cf_tensor *x = cf_tensor_alloc(CF_F32, CF_SHAPE(B, T, C)), *s = cf_tensor_alloc(CF_F32, CF_SHAPE(1, T, 1));
    cf_tensor *c = cf_tensor_alloc(CF_F32, CF_SHAPE(1, 1, 1));
    fill(cf_data(x), CF_F32, cf_numel(x), 7), fill(cf_data(s), CF_F32, T, 8);
    cf_fill_(c, 0.5);
    s->requires_grad = c->requires_grad = true;
    float gs[NT][37], gc[NT];
    for (int t = 0; t < NT; t++) {
        cf_set_threads(ctx, threads[t]);
        cf_tensor *y = cf_mul(ctx, cf_mul(ctx, x, s), c);
        CHECK(cf_backward(ctx, cf_sum(ctx, cf_mul(ctx, y, x), CF_ALL_DIMS, false), NULL) == CF_OK);
        memcpy(gs[t], cf_data(s->grad), sizeof gs[t]);
        gc[t] = *(float *)cf_data(c->grad);
        cf_zero_grad(s), cf_zero_grad(c);
        cf_step_reset(ctx);
    }
    cf_set_threads(ctx, 0);
    double ref = 0; /* d/dc of sum(x^2 s c) = sum(x^2 s) */
    for (int64_t i = 0; i < B * T * C; i++) {
        double v = ((float *)cf_data(x))[i];
        ref += v * v * ((float *)cf_data(s))[i / C % T];
    }
    CHECK_NEAR(gc[0], ref, 1e-4 * fabs(ref) + 1e-4);
    for (int t = 1; t < NT; t++) {
        CHECK(memcmp(gs[0], gs[t], sizeof gs[0]) == 0, "[1, T, 1] gradient: %d threads differ from 1", threads[t]);
        CHECK(gc[0] == gc[t], "scalar gradient: %d threads differ from 1", threads[t]);
    }
    cf_tensor_free(x), cf_tensor_free(s), cf_tensor_free(c);
}

static void test_clip(void)
{
    cf_params *ps = cf_params_new(CF_F32, 1);
    int64_t n = 700001; /* several blocks and a ragged end */
    cf_params_add(ps, "w", CF_SHAPE(n), true);
    CHECK(cf_params_grads(ps) == CF_OK);
    double norm[NT], ref = 0;
    float first[NT];
    for (int t = 0; t < NT; t++) {
        fill(ps->grads, CF_F32, n, 9);
        cf_set_threads(ctx, threads[t]);
        norm[t] = cf_clip_grad_norm(ps, 1.0);
        first[t] = ((float *)ps->grads)[0];
    }
    cf_set_threads(ctx, 0);
    fill(ps->grads, CF_F32, n, 9);
    for (int64_t i = 0; i < n; i++) ref += (double)((float *)ps->grads)[i] * ((float *)ps->grads)[i];
    CHECK_NEAR(norm[0], sqrt(ref), 1e-9 * sqrt(ref));
    for (int t = 1; t < NT; t++)
        CHECK(norm[0] == norm[t] && first[0] == first[t], "clip: %d threads give norm %.17g, 1 thread %.17g", threads[t],
              norm[t], norm[0]);
    cf_params_free(ps);
}

int main(void)
{
    ctx = cf_ctx_new(NULL);
    test_tiles();
    test_gemm();
    test_ops();
    test_sum_to();
    test_clip();
    cf_ctx_free(ctx);
    TEST_MAIN_END();
}
