/* The CPU backend's memory entries (cf_backend): host allocation, copies and fills. */
#include "autograd/cpu/cpu.h"

#include <stdlib.h>
#include <string.h>

void *cf_cpu_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, CF_ARENA_ALIGN, bytes ? bytes : 1) != 0) {
        cf_set_error(CF_ERR_OOM, "cpu: out of memory for %zu bytes", bytes);
        return NULL;
    }
    return p;
}

void cf_cpu_release(void *p) { free(p); }

cf_status cf_cpu_memcpy(void *dst, const void *src, size_t bytes)
{
    if (bytes) memcpy(dst, src, bytes);
    return CF_OK;
}

cf_status cf_cpu_fill(cf_tensor *t, double v)
{
    int64_t n = cf_numel(t);
    if (cf_is_contiguous(t) && t->dtype == CF_F32) {
        float *p = cf_data(t), fv = (float)v;
        for (int64_t i = 0; i < n; i++) p[i] = fv;
    } else if (cf_is_contiguous(t) && t->dtype == CF_F64) {
        double *p = cf_data(t);
        for (int64_t i = 0; i < n; i++) p[i] = v;
    } else {
        for (int64_t i = 0; i < n; i++) cf_set_flat(t, i, v);
    }
    return CF_OK;
}

cf_status cf_cpu_copy(cf_tensor *dst, const cf_tensor *src, bool accumulate)
{
    cf_cpu_copy_strided(dst, src, accumulate);
    return CF_OK;
}
