/* Attributes of topk_softmax. */
#ifndef CF_HARDATTN_ATTR_H
#define CF_HARDATTN_ATTR_H

#include "autograd/cf_node.h"

struct hardattn_attr {
    int64_t k; /* kept entries per row (clamped to the row length by the kernel) */
};

#endif
