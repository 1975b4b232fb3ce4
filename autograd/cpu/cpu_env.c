/* The load-time environment of OpenBLAS and libgomp, and the re-execution that applies it (cpu_env.h). */
#include "autograd/cpu/cpu_env.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cf_cpu_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c && *c ? c : "?";
}

const char *cf_cpu_blas_config(void)
{
    const char *c = openblas_get_config();
    return c ? c : "?";
}

/* OpenBLAS's kernels for CPUs without AVX2: what it falls back to when it does not know the model. */
static bool weak_core(const char *c)
{
    static const char *const weak[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Nano",
                                       "Sandybridge", "Opteron", "Opteron(SSE3)", "Barcelona", "Bobcat", "Katmai",
                                       "Coppermine", "Northwood", "Banias", "Athlon", "Unknown"};
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++)
        if (strcmp(c, weak[i]) == 0) return true;
    return false;
}

const char *cf_cpu_blas_better_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!weak_core(cf_cpu_blas_core())) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

int cf_cpu_env_plan(cf_env_setting *out, int max)
{
    if (getenv("CF_CPU_ENV")) return 0;
    int n = 0;
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : cf_cpu_blas_better_core();
    if (core && n < max)
        out[n++] = (cf_env_setting){"OPENBLAS_CORETYPE", core,
                                    "OpenBLAS did not recognise this CPU and chose kernels without AVX2; its feature flags support these"};
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && n < max)
        out[n++] = (cf_env_setting){"GOMP_SPINCOUNT", CF_CPU_SPINCOUNT,
                                    "idle OpenMP threads sleep after a short spin, so cores shared with other jobs are not wasted"};
    return n;
}

void cf_cpu_env_reexec(char **argv)
{
    cf_env_setting s[4];
    int n = cf_cpu_env_plan(s, 4);
    if (n == 0) return;
    for (int i = 0; i < n; i++) setenv(s[i].name, s[i].value, 0);
    setenv("CF_CPU_ENV", "applied", 1);
    /* the path of this executable (readlink, not /proc/self/exe itself: under valgrind the latter is the tool) */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0 || (size_t)len >= sizeof self - 1) return;
    self[len] = '\0';
    execv(self, argv);
    /* exec failed: run on; the variables set above still reach the processes this one starts */
}
