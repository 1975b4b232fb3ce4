/* The environment the CPU backend's libraries read once, when they load, and what cformer sets there.
 *
 * OpenBLAS picks its GEMM kernels and libgomp its waiting policy from environment variables read by their
 * load-time constructors, before main() runs; nothing set later takes effect. Two defaults cost users
 * dearly:
 *  - OpenBLAS names the CPU from its cpuid model number. On a virtual machine that reports a generic model
 *    ("Intel Xeon Processor") it falls back to its oldest x86-64 kernels (Prescott, SSE3), and GEMM runs at
 *    a fifth of the speed the AVX-512 or AVX2 units give (measured: 64 against 300 GFLOP/s on 2 cores).
 *    The plan then names the best core the CPU's feature flags support: SkylakeX (AVX-512 F/BW/DQ/VL) or
 *    Haswell (AVX2 + FMA).
 *  - libgomp's threads spin for up to ~300000 iterations before they sleep. On cores shared with another busy
 *    process a spinning thread takes the core from the one that has work, and a step slows several-fold. The
 *    plan bounds the spinning (GOMP_SPINCOUNT = CF_CPU_SPINCOUNT): waits shorter than that still spin, longer
 *    ones sleep.
 * A variable the user set is never changed; CF_CPU_ENV=keep leaves the whole environment as it is.
 *
 * Usage (a program's main, first thing):
 *     int main(int argc, char **argv) { cf_cpu_env_reexec(argv); ... }
 * which, when the plan sets anything, sets it and re-executes the program (the file /proc/self/exe names,
 * same argv) so that the libraries load under it; CF_CPU_ENV=applied then marks the new process, which does
 * not re-execute. Under a debugger or valgrind set CF_CPU_ENV=keep (or the variables) so the process you
 * attached to is the one that runs.
 * Library users who cannot re-execute set the variables cf_cpu_env_plan lists themselves. */
#ifndef CF_CPU_ENV_H
#define CF_CPU_ENV_H

#include <stdbool.h>

/* Spinning iterations before an idle OpenMP thread sleeps (libgomp's default is 300000; chosen by the
 * shared-cores benchmark, docs/design.md "Threads on shared cores"). */
#define CF_CPU_SPINCOUNT "3000"

typedef struct {
    const char *name;  /* environment variable */
    const char *value; /* what the plan sets it to */
    const char *why;   /* one line for `cformer list env` */
} cf_env_setting;

/* The settings the plan would make in this process's environment (at most max; returns the count, 0 when
 * CF_CPU_ENV is set or nothing is needed). Strings are static. */
int cf_cpu_env_plan(cf_env_setting *out, int max);

/* Applies the plan and re-executes the program; returns only when there is nothing to apply, or the
 * re-execution failed (the process then runs on under the old settings). */
void cf_cpu_env_reexec(char **argv);

/* The core OpenBLAS runs ("Prescott", "SkylakeX", ...; "?" when unknown) and whether the CPU's feature flags
 * support a better one than that (the plan's choice, NULL when none). */
const char *cf_cpu_blas_core(void);
const char *cf_cpu_blas_better_core(void);
/* openblas_get_config(): version, build options and core. */
const char *cf_cpu_blas_config(void);

#endif
