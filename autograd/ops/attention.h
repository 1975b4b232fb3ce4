/* attention ops: declarations. */
#ifndef CF_OPS_ATTENTION_H
#define CF_OPS_ATTENTION_H

#include "../cf_tensor.h"

#endif
