/* Attributes of the conv-family ops, shared by their frontends and kernels. 1-D ops are stored as 2-D
 * ones with a height of 1 (index 0 is h, 1 is w), so one kernel serves both. */
#ifndef CF_CONV_ATTR_H
#define CF_CONV_ATTR_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* conv1d, conv2d, conv_transpose2d (conv3d needs none: its stride is its kernel). */
struct conv_attr {
    int64_t stride[2], padding[2], dilation[2], output_padding[2];
    int64_t groups;
};

/* max/avg pools. The adaptive pools and interpolate read their sizes from the output's shape. */
struct pool_attr {
    int64_t kernel[2], stride[2], padding[2];
    bool include_pad; /* avg pools: padding counts in the divisor */
};

struct interp_attr {
    bool align_corners;
};

/* A (h, w) pair for messages: "3x3" for 2-D ops, "3" for 1-D ones (whose h is a placeholder 1). */
static inline const char *conv_pair_str(const int64_t *v, int nsp, char *buf, size_t n)
{
    if (nsp == 1) snprintf(buf, n, "%" PRId64, v[1]);
    else snprintf(buf, n, "%" PRId64 "x%" PRId64, v[0], v[1]);
    return buf;
}

#endif
