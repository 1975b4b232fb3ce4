/* Every CPU GEMM goes through here, so that its result does not depend on the thread count.
 *
 * OpenBLAS splits a threaded GEMM among its threads, and a row or column range whose edge does not fall
 * on the micro-kernel's unroll is computed by an edge kernel that adds in another order: the same
 * product came out differently with 1, 2, 3 or 4 threads (OpenBLAS 0.3.21, e.g. [3168, 96] x [96, 97]),
 * and a training run drifted apart from step 100 on. So OpenBLAS never threads a GEMM of ours: C is cut
 * into tiles whose edges depend on the shape alone (multiples of TILE_ALIGN), each tile is one
 * single-threaded GEMM over the whole K (one thread's result does not depend on which thread runs it),
 * and the tiles are shared among our OpenMP threads. Inside an active parallel region OpenBLAS runs
 * single-threaded (the OpenMP build, see threads.c); with one thread it is single-threaded anyway.
 * Products of at most DIRECT multiply-adds are one call outside any region: OpenBLAS runs them on one
 * thread whatever its count (it threads only above 65536 x GEMM_MULTITHREAD_THRESHOLD, 4 by default). */
#include "autograd/cpu/cpu.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define TILE_ALIGN 64        /* tile edges fall on multiples of this many rows / columns */
#define TILE_WORK (1 << 25)  /* multiply-adds one tile aims at: each tile packs its own panels of A and B, */
#define TILE_WORK_MIN (1 << 21) /* so fewer, bigger tiles pack less; but a product of MIN_TILES x TILE_WORK_MIN */
#define MIN_TILES 8             /* multiply-adds or more still gets MIN_TILES tiles, to share among threads */
#define MAX_TILES 64
#define DIRECT 65536         /* multiply-adds below which one call is always single-threaded */

static int64_t round_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

void cf_cpu_gemm_tiles(int64_t M, int64_t N, int64_t K, int64_t *mb, int64_t *nb)
{
    double work = (double)M * (double)N * (double)K;
    int64_t want = work / TILE_WORK > MAX_TILES ? MAX_TILES : (int64_t)(work / TILE_WORK);
    if (want < MIN_TILES) want = work / TILE_WORK_MIN > MIN_TILES ? MIN_TILES : (int64_t)(work / TILE_WORK_MIN);
    *mb = M > 0 ? M : 1, *nb = N > 0 ? N : 1;
    while (cdiv(M, *mb) * cdiv(N, *nb) < want) {
        /* halve the longer edge (rounded up to TILE_ALIGN) while it can still shrink */
        bool rows = *mb >= *nb ? *mb > TILE_ALIGN : *nb <= TILE_ALIGN;
        int64_t *e = rows ? mb : nb;
        if (*e <= TILE_ALIGN) break;
        *e = round_up(cdiv(*e, 2), TILE_ALIGN);
    }
}

static void blas(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                 int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    enum CBLAS_TRANSPOSE a = ta ? CblasTrans : CblasNoTrans, b = tb ? CblasTrans : CblasNoTrans;
    if (dt == CF_F32)
        cblas_sgemm(CblasRowMajor, a, b, (int)M, (int)N, (int)K, (float)alpha, A, (int)lda, B, (int)ldb, (float)beta, C,
                    (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, a, b, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static cf_gemm_shape *rec_buf;
static int rec_cap, *rec_n;
static int64_t *rec_dropped;

void cf_cpu_gemm_record(cf_gemm_shape *buf, int cap, int *n, int64_t *dropped)
{
    rec_buf = buf, rec_cap = cap, rec_n = n, rec_dropped = dropped;
}

static void record(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K)
{
    #pragma omp critical(cf_gemm_record)
    {
        int i = 0;
        while (i < *rec_n && !(rec_buf[i].dt == dt && rec_buf[i].ta == ta && rec_buf[i].tb == tb && rec_buf[i].M == M &&
                               rec_buf[i].N == N && rec_buf[i].K == K))
            i++;
        if (i < *rec_n) rec_buf[i].calls++;
        else if (i < rec_cap) rec_buf[(*rec_n)++] = (cf_gemm_shape){dt, ta, tb, M, N, K, 1};
        else (*rec_dropped)++;
    }
}

static bool in_parallel(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return true;
#endif
}

void cf_cpu_gemm(cf_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void *A,
                 int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (rec_buf) record(dt, ta, tb, M, N, K);
    size_t es = cf_dtype_size(dt);
    if (K <= 0) { /* C = beta C, without reading C when beta is 0 */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                void *c = (char *)C + (size_t)(i * ldc + j) * es;
                if (dt == CF_F32) *(float *)c = beta == 0 ? 0.0f : (float)beta * *(float *)c;
                else *(double *)c = beta == 0 ? 0.0 : beta * *(double *)c;
            }
        return;
    }
    if ((double)M * (double)N * (double)K <= DIRECT) {
        blas(dt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int64_t mb, nb;
    cf_cpu_gemm_tiles(M, N, K, &mb, &nb);
    int64_t mt = cdiv(M, mb), tiles = mt * cdiv(N, nb);
    /* one thread, or a worker of an enclosing region: the tiles one after another, BLAS single-threaded */
    bool par = !in_parallel();
    #pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t t = 0; t < tiles; t++) {
        int64_t i0 = t % mt * mb, j0 = t / mt * nb, m = M - i0 < mb ? M - i0 : mb, n = N - j0 < nb ? N - j0 : nb;
        const char *a = (const char *)A + (size_t)(ta ? i0 : i0 * lda) * es;
        const char *b = (const char *)B + (size_t)(tb ? j0 * ldb : j0) * es;
        blas(dt, ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, (char *)C + (size_t)(i0 * ldc + j0) * es, ldc);
    }
}
