/* spike ops: declarations. */
#ifndef CF_OPS_SPIKE_H
#define CF_OPS_SPIKE_H

#include "../cf_tensor.h"

#endif
