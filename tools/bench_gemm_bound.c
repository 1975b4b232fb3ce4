/* `cformer bench train`'s GEMM bound at the model's own shapes (bench_gemm_bound.h). */
#include "tools/bench_gemm_bound.h"

#include "autograd/clock.h"
#include "autograd/cpu/cpu.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

void cf_gemm_bound_start(cf_gemm_bound *b)
{
    b->n = 0, b->dropped = 0;
    cf_cpu_gemm_record(b->shapes, CF_GEMM_BOUND_SHAPES, &b->n, &b->dropped);
}

/* Seconds for `calls` products of one shape through threaded cblas (best of 3 rounds). */
static double replay(const cf_gemm_shape *s, int64_t calls, void *A, void *B, void *C)
{
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N), ldc = (int)s->N;
    enum CBLAS_TRANSPOSE ta = s->ta ? CblasTrans : CblasNoTrans, tb = s->tb ? CblasTrans : CblasNoTrans;
    double best = 1e30;
    for (int round = 0; round < 4; round++) { /* round 0 warms caches and OpenBLAS's buffers */
        double t0 = cf_now();
        for (int64_t c = 0; c < calls; c++) {
            if (s->dt == CF_F32)
                cblas_sgemm(CblasRowMajor, ta, tb, (int)s->M, (int)s->N, (int)s->K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
            else
                cblas_dgemm(CblasRowMajor, ta, tb, (int)s->M, (int)s->N, (int)s->K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
        }
        double t = cf_now() - t0;
        if (round > 0 && t < best) best = t;
    }
    return best;
}

void cf_gemm_bound_report(void *user, double items_per_step, double step_s, int64_t steps_run)
{
    cf_gemm_bound *b = user;
    cf_cpu_gemm_record(NULL, 0, NULL, NULL);
    if (b->n == 0 || steps_run <= 0) return; /* no CPU GEMMs (another backend) */
    size_t most = 0;
    for (int i = 0; i < b->n; i++) {
        const cf_gemm_shape *s = &b->shapes[i];
        size_t e = (size_t)(s->M * s->K + s->K * s->N + s->M * s->N) * cf_dtype_size(s->dt);
        if (e > most) most = e;
    }
    char *buf = calloc(most, 1); /* zeros: GEMM speed does not depend on the values */
    if (!buf) {
        printf("GEMM bound: no memory for the replay (%zu bytes)\n", most);
        return;
    }
    double gemm_s = 0, flops = 0;
    int64_t calls = 0;
    for (int i = 0; i < b->n; i++) {
        const cf_gemm_shape *s = &b->shapes[i];
        int64_t per_step = (s->calls + steps_run - 1) / steps_run;
        size_t es = cf_dtype_size(s->dt);
        char *A = buf, *B = A + (size_t)(s->M * s->K) * es, *C = B + (size_t)(s->K * s->N) * es;
        gemm_s += replay(s, per_step, A, B, C);
        flops += 2.0 * (double)s->M * (double)s->N * (double)s->K * (double)per_step;
        calls += per_step;
    }
    free(buf);
    printf("GEMM bound at the model's shapes: %d shapes, %lld calls a step take %.1f ms through threaded cblas (%.1f GFLOP/s);"
           " this step is %.0f%% of that bound (%.1f tokens/s at most)%s\n",
           b->n, (long long)calls, 1e3 * gemm_s, flops / gemm_s * 1e-9, 100 * gemm_s / step_s, items_per_step / gemm_s,
           b->dropped ? " (shapes past the record's capacity left out)" : "");
}
