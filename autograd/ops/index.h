/* index ops: declarations. */
#ifndef CF_OPS_INDEX_H
#define CF_OPS_INDEX_H

#include "../cf_tensor.h"

#endif
