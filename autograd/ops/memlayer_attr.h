/* Attributes of the memory-layer ops. */
#ifndef CF_MEMLAYER_ATTR_H
#define CF_MEMLAYER_ATTR_H

#include <stdint.h>

/* memlayer_hash: inputs (x); aux[MEMLAYER_AUX_ROWS] is the i64 row tensor the forward fills. */
#define MEMLAYER_AUX_ROWS 0
struct memlayer_hash_attr {
    int64_t tau;        /* bits per chunk */
    int weight;         /* cf_memweight */
    double temperature; /* t > 0 */
};

/* memlayer_lookup: inputs (table [R, D], rows i64 [N..., K], w [N..., K]), all contiguous. */

#endif
