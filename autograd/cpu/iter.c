/* Broadcast iteration and the reductions that undo broadcasting in backward. */
#include "autograd/cpu/cpu.h"

#include <string.h>

void cf_iter_init(cf_iter *it, int ndim, const int64_t *shape, int nops, const cf_tensor *const *ops)
{
    int64_t st[CF_ITER_MAX][CF_MAX_DIMS];
    it->nops = nops;
    it->numel = 1;
    for (int d = 0; d < ndim; d++) it->numel *= shape[d];
    for (int k = 0; k < nops; k++) {
        const cf_tensor *t = ops[k];
        int lead = ndim - t->ndim;
        for (int d = 0; d < ndim; d++) {
            int td = d - lead;
            st[k][d] = (td >= 0 && t->shape[td] != 1) ? t->stride[td] : 0;
        }
    }
    /* merge dim d into d+1 when every operand steps through d exactly as through d+1 */
    int nd = 0;
    int64_t sh[CF_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue; /* size-1 dims carry nothing */
        if (nd > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (it->stride[k][nd - 1] != st[k][d] * shape[d]) merge = false;
            if (merge) {
                sh[nd - 1] *= shape[d];
                for (int k = 0; k < nops; k++) it->stride[k][nd - 1] = st[k][d];
                continue;
            }
        }
        sh[nd] = shape[d];
        for (int k = 0; k < nops; k++) it->stride[k][nd] = st[k][d];
        nd++;
    }
    if (nd == 0) { /* a scalar: one row of one element */
        sh[0] = 1;
        for (int k = 0; k < nops; k++) it->stride[k][0] = 0;
        nd = 1;
    }
    it->ndim = nd;
    memcpy(it->shape, sh, sizeof(int64_t) * (size_t)nd);
}

#define SUM_TO(T) \
    static void sum_to_##T(T *dst, const T *src, const cf_iter *it, int64_t dst_n, bool overwrite) \
    { \
        /* it: operand 0 = src (contiguous), operand 1 = dst (stride 0 on reduced dims). */ \
        /* Rows of the innermost dim; parallel over dst elements is awkward, so split by dst chunks: */ \
        /* each thread owns a disjoint dst range and scans the rows landing in it. */ \
        if (overwrite) memset(dst, 0, sizeof(T) * (size_t)dst_n); \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t si = it->stride[0][it->ndim - 1], di = it->stride[1][it->ndim - 1]; \
        if (di == 0) { /* innermost dim reduced: each row sums into one dst element */ \
            /* rows share a dst element when an outer dim is reduced too: then they are added in row \
             * order on one thread (an atomic add's order would follow the threads' timing) */ \
            bool shared = false; \
            for (int d = 0; d < it->ndim - 1; d++) shared |= it->stride[1][d] == 0; \
            _Pragma("omp parallel for if (!shared && it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
            { \
                int64_t off[CF_ITER_MAX]; \
                cf_iter_row(it, r, off); \
                double acc = 0; \
                for (int64_t j = 0; j < inner; j++) acc += src[off[0] + j * si]; \
                dst[off[1]] += (T)acc; \
            } \
            return; \
        } \
        /* innermost dim kept: threads split the inner range, so writes never collide */ \
        _Pragma("omp parallel if (it->numel > CF_PAR_MIN)") \
        { \
            int nth = 1, id = 0; \
            cf_omp_ids(&nth, &id); \
            int64_t lo = inner * id / nth, hi = inner * (id + 1) / nth; \
            for (int64_t r = 0; r < rows; r++) { \
                int64_t off[CF_ITER_MAX]; \
                cf_iter_row(it, r, off); \
                const T *s = src + off[0]; \
                T *dd = dst + off[1]; \
                for (int64_t j = lo; j < hi; j++) dd[j * di] += s[j * si]; \
            } \
        } \
    }

#ifdef _OPENMP
#include <omp.h>
static inline void cf_omp_ids(int *nth, int *id)
{
    *nth = omp_get_num_threads();
    *id = omp_get_thread_num();
}
#else
static inline void cf_omp_ids(int *nth, int *id)
{
    *nth = 1;
    *id = 0;
}
#endif

SUM_TO(float)
SUM_TO(double)

cf_status cf_cpu_sum_to(cf_tensor *dst, const cf_tensor *src, bool overwrite)
{
    char a[128], b[128];
    if (dst->dtype != src->dtype || !cf_is_contiguous(dst))
        return cf_set_error(CF_ERR_INTERNAL, "sum_to: bad operands %s <- %s", cf_shape_str(dst, a, sizeof a),
                            cf_shape_str(src, b, sizeof b));
    cf_iter it;
    const cf_tensor *ops[2] = {src, dst};
    cf_iter_init(&it, src->ndim, src->shape, 2, ops);
    if (src->dtype == CF_F32)
        sum_to_float(cf_data(dst), cf_data(src), &it, cf_numel(dst), overwrite);
    else if (src->dtype == CF_F64)
        sum_to_double(cf_data(dst), cf_data(src), &it, cf_numel(dst), overwrite);
    else
        return cf_set_error(CF_ERR_DTYPE, "sum_to: %s is not f32/f64", cf_dtype_name(src->dtype));
    return CF_OK;
}

#define COPY_STRIDED(NAME, T, ACC) \
    static void NAME(T *dst, const T *src, const cf_iter *it, bool acc) \
    { \
        (void)acc; \
        int64_t inner = cf_iter_inner(it), rows = cf_iter_rows(it); \
        int64_t ds = it->stride[0][it->ndim - 1], ss = it->stride[1][it->ndim - 1]; \
        if (rows == 1 && ds == 1 && ss == 1 && !(ACC)) { \
            memcpy(dst, src, sizeof(T) * (size_t)inner); \
            return; \
        } \
        _Pragma("omp parallel for if (it->numel > CF_PAR_MIN)") for (int64_t r = 0; r < rows; r++) \
        { \
            int64_t off[CF_ITER_MAX]; \
            cf_iter_row(it, r, off); \
            T *d = dst + off[0]; \
            const T *s = src + off[1]; \
            if (ds == 1 && ss == 1) { /* unit strides known to the compiler: a vector loop, or memcpy */ \
                if (ACC) \
                    for (int64_t j = 0; j < inner; j++) d[j] += s[j]; \
                else \
                    memcpy(d, s, sizeof(T) * (size_t)inner); \
            } else if (ACC) \
                for (int64_t j = 0; j < inner; j++) d[j * ds] += s[j * ss]; \
            else \
                for (int64_t j = 0; j < inner; j++) d[j * ds] = s[j * ss]; \
        } \
    }
COPY_STRIDED(acc_float, float, acc)
COPY_STRIDED(acc_double, double, acc)
COPY_STRIDED(copy_u8, uint8_t, false)
COPY_STRIDED(copy_u16, uint16_t, false)
COPY_STRIDED(copy_u32, uint32_t, false)
COPY_STRIDED(copy_u64, uint64_t, false)

void cf_cpu_copy_strided(cf_tensor *dst, const cf_tensor *src, bool accumulate)
{
    cf_iter it;
    const cf_tensor *ops[2] = {dst, src};
    cf_iter_init(&it, dst->ndim, dst->shape, 2, ops);
    void *d = cf_data(dst);
    const void *s = cf_data(src);
    if (dst->dtype == src->dtype && !accumulate) {
        switch (cf_dtype_size(dst->dtype)) {
        case 1: copy_u8(d, s, &it, false); return;
        case 2: copy_u16(d, s, &it, false); return;
        case 4: copy_u32(d, s, &it, false); return;
        case 8: copy_u64(d, s, &it, false); return;
        default: break;
        }
    }
    if (dst->dtype == CF_F32 && src->dtype == CF_F32) {
        acc_float(d, s, &it, accumulate);
    } else if (dst->dtype == CF_F64 && src->dtype == CF_F64) {
        acc_double(d, s, &it, accumulate);
    } else {
        int64_t n = cf_numel(dst);
        for (int64_t i = 0; i < n; i++)
            cf_set_flat(dst, i, (accumulate ? cf_get_flat(dst, i) : 0.0) + cf_get_flat(src, i));
    }
}

cf_status cf_cpu_accum_grad(cf_ctx *ctx, cf_tensor *x, const cf_tensor *g)
{
    bool overwrite;
    cf_tensor *gx = cf_grad_slot(ctx, x, &overwrite);
    if (!gx) return cf_last_status();
    if (cf_same_shape(gx, g)) {
        cf_cpu_copy_strided(gx, g, !overwrite);
        return CF_OK;
    }
    return cf_cpu_sum_to(gx, g, overwrite);
}
