/* The C-callable surface of the CUDA runtime wrappers (implemented in .cu files, compiled by nvcc as
 * C++ with C linkage). Kept free of C-only syntax so both compilers can read it. */
#ifndef CF_CUDA_API_H
#define CF_CUDA_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable devices; 0 when there is no driver or no GPU (never an error). */
int cf_cuda_device_count(void);
/* Each returns 0 on success, else writes CUDA's error string into err. */
int cf_cuda_malloc(void **p, size_t bytes, char *err, size_t errlen);
void cf_cuda_free(void *p);
int cf_cuda_copy_h2d(void *dst, const void *src, size_t bytes, char *err, size_t errlen);
int cf_cuda_copy_d2h(void *dst, const void *src, size_t bytes, char *err, size_t errlen);
int cf_cuda_synchronize(char *err, size_t errlen);
/* "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB" into buf. */
int cf_cuda_describe(int device, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
