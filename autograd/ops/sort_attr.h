/* Attributes of topk and sort (sort is topk with k = the dim's size, sorted). */
#ifndef CF_SORT_ATTR_H
#define CF_SORT_ATTR_H

#include "autograd/cf_node.h"

struct sort_attr {
    int dim;
    int64_t k;
    bool largest; /* descending */
    bool sorted;  /* false: the chosen k in ascending index order */
};

/* n->aux[SORT_AUX_INDICES]: the i64 indices (the tensor handed to the caller), read by backward. */
#define SORT_AUX_INDICES 0

#endif
