/* reduce ops: declarations. */
#ifndef CF_OPS_REDUCE_H
#define CF_OPS_REDUCE_H

#include "../cf_tensor.h"

#endif
