/* conv ops: declarations. */
#ifndef CF_OPS_CONV_H
#define CF_OPS_CONV_H

#include "../cf_tensor.h"

#endif
