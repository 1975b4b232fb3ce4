/* Attributes of the real FFTs. */
#ifndef CF_FFT_ATTR_H
#define CF_FFT_ATTR_H

#include <stdint.h>

struct fft_attr {
    int64_t n; /* the transform length (rfft's padded input, irfft's output) */
};

#endif
