/* The BPE vocabulary file. A vocabulary that loads must round-trip any bytes (bpe.h: decode(encode(x)) == x):
 * the input itself is encoded and decoded. */
#include "data/text/bpe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_bpe *b = cf_bpe_load_mem(data, size, "fuzz.bpe");
    if (!b) return 0;
    int32_t *ids = malloc((size ? size : 1) * sizeof *ids);
    uint8_t *back = malloc(size ? size : 1);
    size_t n_ids = 0, n_back = 0;
    if (ids && back && size) {
        if (cf_bpe_encode(b, data, size, ids, &n_ids) != CF_OK ||
            cf_bpe_decode(b, ids, n_ids, back, size, &n_back) != CF_OK || n_back != size ||
            memcmp(back, data, size) != 0)
            abort();
        for (int k = 0; k < cf_bpe_merge_count(b); k++) {
            const uint8_t *bytes;
            size_t len;
            int32_t l, r;
            if (cf_bpe_merge(b, k, &l, &r) != CF_OK || cf_bpe_token_bytes(b, 256 + k, &bytes, &len) != CF_OK) abort();
        }
    }
    free(ids);
    free(back);
    cf_bpe_free(b);
    return 0;
}
