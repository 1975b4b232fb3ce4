/* cformer: basic types shared by every module: status codes, errors, dtypes, devices. */
#ifndef CF_BASE_H
#define CF_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CF_MAX_DIMS 8

typedef enum cf_status {
    CF_OK = 0,
    CF_ERR_ARG,         /* a bad argument value */
    CF_ERR_SHAPE,       /* shapes that do not fit the op */
    CF_ERR_DTYPE,       /* a dtype the op does not take */
    CF_ERR_DEVICE,      /* a device the op or build does not support */
    CF_ERR_OOM,         /* allocation failed */
    CF_ERR_IO,          /* reading or writing a file failed */
    CF_ERR_FORMAT,      /* a file or text is malformed */
    CF_ERR_STATE,       /* the call is illegal in the current state (e.g. stale saved tensor) */
    CF_ERR_UNSUPPORTED, /* not available in this build */
    CF_ERR_INTERNAL,
    CF_ERR_INTERRUPTED  /* stopped on request (a signal) after saving what is needed to continue */
} cf_status;

typedef enum cf_dtype {
    CF_F32 = 0,
    CF_F64,
    CF_BF16,
    CF_F16,
    CF_I32,
    CF_I64,
    CF_BOOL,
    CF_DTYPE_COUNT
} cf_dtype;

typedef enum cf_device { CF_CPU = 0, CF_CUDA = 1, CF_DEVICE_COUNT } cf_device;

/* The engine's headers are read by C11 and, from kernel .cu files, by C++ (nvcc or the host compiler
 * under the SIMT emulator): C-only spellings go through these. */
#ifdef __cplusplus
#define CF_ALIGNAS(n) alignas(n)
#else
#define CF_ALIGNAS(n) _Alignas(n)
#endif

#if defined(__GNUC__)
#define CF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CF_PRINTF(a, b)
#endif

/* Early returns on failure: CF_TRY in functions returning cf_status, CF_TRY_NULL in those returning a
 * pointer. */
#define CF_TRY(expr) \
    do { \
        cf_status try_st_ = (expr); \
        if (try_st_ != CF_OK) return try_st_; \
    } while (0)
#define CF_TRY_NULL(expr) \
    do { \
        if ((expr) != CF_OK) return NULL; \
    } while (0)

/* The message of the last error on this thread ("" when none). */
const char *cf_last_error(void);
cf_status cf_last_status(void);
void cf_clear_error(void);
/* Sets the thread's error and returns st, so callers can `return cf_set_error(...)`. */
cf_status cf_set_error(cf_status st, const char *fmt, ...) CF_PRINTF(2, 3);
/* Prepends context ("file.yaml:3: ") to the current message, keeping its status. */
void cf_error_prefix(const char *fmt, ...) CF_PRINTF(1, 2);
const char *cf_status_name(cf_status st);

size_t cf_dtype_size(cf_dtype dt);
const char *cf_dtype_name(cf_dtype dt);
bool cf_dtype_is_float(cf_dtype dt);
/* The dtype arithmetic on dt's values is carried in: f32 for the 16-bit floats (bf16, f16), dt otherwise. What
 * a loss over bf16 inputs returns, and what kernels keep their saved statistics in. */
cf_dtype cf_dtype_accum(cf_dtype dt);
/* Parses "f32", "float32", "bf16", ... ; returns false when unknown. */
bool cf_dtype_parse(const char *s, cf_dtype *out);

uint16_t cf_f32_to_bf16(float f);
float cf_bf16_to_f32(uint16_t h);
uint16_t cf_f32_to_f16(float f);
float cf_f16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif

#endif
