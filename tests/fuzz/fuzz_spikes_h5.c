/* HDF5 spike files from memory: NWB-style units tables (with trials, behaviour, frames) and [N, T] binned
 * counts, picked by content as cf_spikes_load does. Whatever a reader returns must satisfy every invariant
 * of cf_spikes (cf_spikes_validate). */
#include "data/spikes/spikes.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_spikes *s = cf_spikes_read_h5_mem(data, size, "fuzz.nwb");
    if (s && cf_spikes_validate(s, "fuzz.nwb") != CF_OK) abort();
    cf_spikes_free(s);
    return 0;
}
