/* sort ops: declarations. */
#ifndef CF_OPS_SORT_H
#define CF_OPS_SORT_H

#include "../cf_tensor.h"

#endif
