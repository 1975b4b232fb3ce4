/* Spike CSV. The first byte picks the reader's options (remap_ids, trial_relative, a unit count, a trial
 * duration); the rest is the file. Whatever the reader returns must satisfy cf_spikes_validate. */
#include "data/spikes/spikes.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    unsigned k = data[0];
    cf_spikes_csv_options o = cf_spikes_csv_defaults();
    o.remap_ids = k & 1;
    o.trial_relative = !(k & 2);
    o.n_units = (k & 4) ? 16 : 0;
    o.trial_duration = (k & 8) ? 2.0 : 0.0;
    o.resolution = (k & 16) ? 0.001 : 0.01;
    cf_spikes *s = cf_spikes_read_csv_mem(data + 1, size - 1, "fuzz.csv", &o);
    if (s && cf_spikes_validate(s, "fuzz.csv") != CF_OK) abort();
    cf_spikes_free(s);
    return 0;
}
