/* The SentencePiece model reader. A model that loads must encode any bytes (the input itself) into ids in
 * range, within the documented bound, and decode them into valid UTF-8 (spm.h: invalid bytes become U+FFFD);
 * the sizing calls must agree with the real ones. */
#include "data/text/spm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the n bytes are valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). */
static int valid_utf8(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = p[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
        if (len == 0 || len > n - i) return 0;
        uint32_t cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp < 0xE000))
            return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_spm *sp = cf_spm_load_mem(data, size, "fuzz.model");
    if (!sp) return 0;
    size_t text_n = size < 4096 ? size : 4096;
    size_t need = 0, n_ids = 0, need_out = 0, n_out = 0;
    cf_spm_encode(sp, data, text_n, NULL, 0, &need);
    if (need > 3 * text_n + 3) abort();
    int32_t *ids = malloc((need + 1) * sizeof *ids);
    if (!ids || cf_spm_encode(sp, data, text_n, ids, need, &n_ids) != CF_OK || n_ids != need) abort();
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= cf_spm_vocab_size(sp)) abort();
    cf_spm_decode(sp, ids, n_ids, NULL, 0, &need_out);
    uint8_t *out = malloc(need_out + 1);
    if (!out || cf_spm_decode(sp, ids, n_ids, out, need_out, &n_out) != CF_OK || n_out != need_out ||
        !valid_utf8(out, n_out))
        abort();
    free(out);
    free(ids);
    cf_spm_free(sp);
    return 0;
}
