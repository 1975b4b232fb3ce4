/* norm ops: declarations. */
#ifndef CF_OPS_NORM_H
#define CF_OPS_NORM_H

#include "../cf_tensor.h"

#endif
