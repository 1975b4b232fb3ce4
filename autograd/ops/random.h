/* random ops: declarations. */
#ifndef CF_OPS_RANDOM_H
#define CF_OPS_RANDOM_H

#include "../cf_tensor.h"

#endif
