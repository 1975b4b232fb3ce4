/* fft ops: declarations. */
#ifndef CF_OPS_FFT_H
#define CF_OPS_FFT_H

#include "../cf_tensor.h"

#endif
