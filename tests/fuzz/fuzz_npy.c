/* NumPy .npy from memory, read as each output type, with and without the finiteness check. */
#include "data/npy.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cf_npy_out outs[3] = {CF_NPY_OUT_F64, CF_NPY_OUT_F32, CF_NPY_OUT_I64};
    for (int k = 0; k < 3; k++) {
        cf_npy_info info;
        void *buf = NULL;
        cf_status st = cf_npy_read_mem(data, size, "fuzz.npy", outs[k], k == 1 ? CF_NPY_FINITE : 0, &info, &buf);
        if (st == CF_OK && info.count > 0 && !buf) abort(); /* data promised for a non-empty array */
        free(buf);
        if (st != CF_OK) break; /* the header is the same for every output type */
    }
    return 0;
}
