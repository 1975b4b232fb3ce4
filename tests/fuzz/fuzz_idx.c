/* IDX (data/images/idx.h) from memory: any bytes give an error or an array whose sizes match its data. */
#include "data/images/idx.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_idx x;
    if (cf_idx_parse(data, size, "fuzz.idx", &x) == CF_OK) {
        int64_t c = 1;
        for (int k = 0; k < x.ndim; k++) c *= x.dims[k];
        if (c != x.count || !x.data || (size_t)c + 4 + 4 * (size_t)x.ndim != size) abort();
    }
    cf_idx_free(&x);
    return 0;
}
