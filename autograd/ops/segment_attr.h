/* Attributes of the segment ops. */
#ifndef CF_SEGMENT_ATTR_H
#define CF_SEGMENT_ATTR_H

#include "autograd/cf_node.h"

struct segment_attr {
    int64_t nseg; /* segments: the output's rows */
};

/* n->aux[SEGMENT_AUX_ARGMAX]: i64 [nseg, C], the input row that won each output element (-1: an empty
 * segment), written by forward and read by backward. */
#define SEGMENT_AUX_ARGMAX 0

#endif
