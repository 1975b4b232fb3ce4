/* SentencePiece decoding, as SentencePieceProcessor::Decode does it: control pieces vanish, the unknown
 * piece shows unk_surface, runs of byte pieces are read as UTF-8 (an invalid byte becomes U+FFFD), '▁'
 * becomes ' ' and the dummy prefix's '▁' is dropped from the first piece that has one. */
#include "data/text/spm_internal.h"

#include <string.h>

/* The output: bytes are counted always and written while they fit. */
typedef struct sink {
    uint8_t *out;
    size_t cap, n;
} sink;

static void put(sink *k, const void *p, size_t len)
{
    if (len && k->n + len <= k->cap) memcpy(k->out + k->n, p, len);
    k->n += len;
}

/* The bytes of the byte pieces ids[begin..end), one UTF-8 character at a time. */
static void put_bytes(const cf_spm *s, const int32_t *ids, size_t begin, size_t end, sink *k)
{
    size_t i = begin;
    while (i < end) {
        uint8_t c[4];
        size_t have = 0;
        while (have < 4 && i + have < end) {
            int32_t id = ids[i + have];
            c[have++] = (uint8_t)cf_spm_byte_of_piece(s->piece[id], s->piece_len[id]);
        }
        size_t len = cf_spm_utf8_len(c, have);
        if (len == 0) {
            put(k, "\xEF\xBF\xBD", 3);
            len = 1;
        } else {
            put(k, c, len);
        }
        i += len;
    }
}

/* One piece other than a byte; returns whether it consumed the dummy prefix's '▁'. */
static bool put_piece(const cf_spm *s, int32_t id, bool at_start, sink *k)
{
    if (s->type[id] == CF_SPM_CONTROL) return false;
    if (s->type[id] == CF_SPM_UNKNOWN) {
        put(k, s->unk_surface, s->unk_surface_len);
        return false;
    }
    const uint8_t *p = s->piece[id];
    size_t len = s->piece_len[id];
    bool consumed = false;
    if (at_start && (s->add_dummy_prefix || s->remove_extra_ws) && len >= SPM_WS_LEN &&
        memcmp(p, SPM_WS, SPM_WS_LEN) == 0) {
        p += SPM_WS_LEN;
        len -= SPM_WS_LEN;
        /* with remove_extra_whitespaces every leading '▁' goes, so the next piece may drop one too */
        consumed = !s->remove_extra_ws;
    }
    size_t from = 0;
    for (size_t i = 0; i + SPM_WS_LEN <= len;) {
        if (memcmp(p + i, SPM_WS, SPM_WS_LEN) != 0) {
            i++;
            continue;
        }
        put(k, p + from, i - from);
        put(k, " ", 1);
        i += SPM_WS_LEN;
        from = i;
    }
    put(k, p + from, len - from);
    return consumed;
}

cf_status cf_spm_decode(const cf_spm *s, const int32_t *ids, size_t n, uint8_t *out, size_t cap, size_t *n_out)
{
    if (!s || (!ids && n) || (!out && cap) || !n_out)
        return cf_set_error(CF_ERR_ARG, "cf_spm_decode: NULL tokenizer, ids, output or count");
    *n_out = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->n)
            return cf_set_error(CF_ERR_ARG, "cf_spm_decode: id %d (position %zu) out of range 0..%d", (int)ids[i], i,
                                s->n - 1);
    sink k = {out, cap, 0};
    bool at_start = true, consumed = false;
    size_t byte_start = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = s->canon[ids[i]];
        if (s->type[id] == CF_SPM_BYTE) continue;
        put_bytes(s, ids, byte_start, i, &k);
        byte_start = i + 1;
        if (consumed || k.n > 0) at_start = false;
        consumed = put_piece(s, id, at_start, &k);
    }
    put_bytes(s, ids, byte_start, n, &k);
    *n_out = k.n;
    if (k.n > cap) return cf_set_error(CF_ERR_ARG, "cf_spm_decode: %zu bytes do not fit in %zu", k.n, cap);
    return CF_OK;
}
