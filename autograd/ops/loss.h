/* loss ops: declarations. */
#ifndef CF_OPS_LOSS_H
#define CF_OPS_LOSS_H

#include "../cf_tensor.h"

#endif
