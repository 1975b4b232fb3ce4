/* One thread count for OpenMP and OpenBLAS. We link the OpenMP build of OpenBLAS, so a GEMM called
 * from inside a parallel region runs single-threaded instead of oversubscribing the cores. */
#include "autograd/cpu/cpu.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int cf_cpu_set_threads(int n)
{
#ifdef _OPENMP
    /* the default: OMP_NUM_THREADS when set, else every core (what OpenMP itself starts with, read before
     * any omp_set_num_threads of ours changes it) */
    static int initial;
    if (initial == 0) initial = omp_get_max_threads();
    if (n <= 0) n = initial > 0 ? initial : omp_get_num_procs();
    omp_set_num_threads(n);
#else
    n = 1;
#endif
    openblas_set_num_threads(n);
    return n;
}
