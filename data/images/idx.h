/* IDX files: the format of MNIST and Fashion-MNIST (LeCun et al., "Gradient-based learning applied to
 * document recognition", and the MNIST database page), read plain or gzip-compressed through zlib.
 *
 * Layout (all integers big-endian):
 *     offset 0: 0x00 0x00            magic
 *     offset 2: type byte            0x08 ubyte (the only one taken here), 0x09 sbyte, 0x0B short,
 *                                    0x0C int, 0x0D float, 0x0E double: refused by name
 *     offset 3: ndim byte            1..4 (labels: 1, images: 3 = [N, H, W])
 *     offset 4: ndim uint32 sizes    each >= 1
 *     then prod(sizes) bytes of data, row-major; nothing after it.
 *
 * Every error names the file, the byte offset (in the decompressed stream) and what is wrong. Usage:
 *
 *     cf_idx im;
 *     if (cf_idx_read("train-images-idx3-ubyte.gz", &im) != CF_OK) puts(cf_last_error());
 *     // im.ndim == 3, im.dims = {60000, 28, 28}, im.data[n*784 + y*28 + x]
 *     cf_idx_free(&im);
 */
#ifndef CF_IDX_H
#define CF_IDX_H

#include "autograd/cf_base.h"

#include <stddef.h>
#include <stdint.h>

#define CF_IDX_MAX_DIMS 4
/* the largest decompressed file taken (4 GiB): bounds a gzip bomb */
#define CF_IDX_MAX_BYTES ((int64_t)1 << 32)

typedef struct cf_idx {
    int ndim;
    int64_t dims[CF_IDX_MAX_DIMS];
    int64_t count;  /* prod(dims) */
    uint8_t *data;  /* count bytes, malloc'ed */
} cf_idx;

/* Parses n bytes already in memory; `name` is used in messages. On error *out is zeroed. */
cf_status cf_idx_parse(const uint8_t *buf, size_t n, const char *name, cf_idx *out);
/* Reads path (gzip or plain: zlib tells them apart by the magic) and parses it. */
cf_status cf_idx_read(const char *path, cf_idx *out);
/* Writes a ubyte IDX file, plain or gzip (path ending ".gz"), atomically. For tests and fixtures. */
cf_status cf_idx_write(const char *path, int ndim, const int64_t *dims, const uint8_t *data);
void cf_idx_free(cf_idx *x); /* zeroes *x; safe on a zeroed one */

#endif
