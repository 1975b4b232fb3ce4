/* Byte-level BPE encoding (lowest-rank merge first, heap-based) and decoding. */
#include "data/text/bpe_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding and decoding ---- */

static inline bool enc_before(enc_item a, enc_item b) { return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos; }

static void enc_push(enc_item *h, size_t *n, enc_item it)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!enc_before(it, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static enc_item enc_pop(enc_item *h, size_t *n)
{
    enc_item top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && enc_before(h[c + 1], h[c])) c++;
        if (!enc_before(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

bool cf_bpe_scratch_fit(cf_bpe_scratch *s, size_t n)
{
    if (n <= s->cap) return true;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *tok = realloc(s->tok, cap * sizeof *tok);
    if (tok) s->tok = tok;
    int32_t *prev = realloc(s->prev, cap * sizeof *prev);
    if (prev) s->prev = prev;
    int32_t *next = realloc(s->next, cap * sizeof *next);
    if (next) s->next = next;
    /* each merge pushes at most two items and the chunk starts with n - 1 */
    enc_item *heap = realloc(s->heap, 3 * cap * sizeof *heap);
    if (heap) s->heap = heap;
    if (!tok || !prev || !next || !heap) return false;
    s->cap = cap;
    return true;
}

void cf_bpe_scratch_free(cf_bpe_scratch *s)
{
    free(s->tok), free(s->prev), free(s->next), free(s->heap);
    memset(s, 0, sizeof *s);
}

size_t cf_bpe_merge_chunk(size_t n, cf_bpe_pair_fn pair, const void *model, int32_t *out, cf_bpe_scratch *s)
{
    int32_t *tok = s->tok, *prev = s->prev, *next = s->next, made;
    enc_item *heap = s->heap;
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = pair(model, tok[i], tok[i + 1], &made);
        if (r >= 0) enc_push(heap, &nh, (enc_item){r, (int32_t)i});
    }
    while (nh > 0) {
        enc_item it = enc_pop(heap, &nh);
        int32_t i = it.pos, j = next[i];
        /* skip items whose left token was consumed or whose pair has changed since the push */
        if (tok[i] < 0 || j < 0 || pair(model, tok[i], tok[j], &made) != it.rank) continue;
        tok[i] = made;
        tok[j] = -1;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        if (prev[i] >= 0) {
            int32_t r = pair(model, tok[prev[i]], tok[i], &made);
            if (r >= 0) enc_push(heap, &nh, (enc_item){r, prev[i]});
        }
        if (next[i] >= 0) {
            int32_t r = pair(model, tok[i], tok[next[i]], &made);
            if (r >= 0) enc_push(heap, &nh, (enc_item){r, i});
        }
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) out[k++] = tok[i];
    return k;
}

/* cf_bpe's own merges: merge k makes token 256 + k. */
static int32_t own_pair(const void *model, int32_t l, int32_t r, int32_t *made)
{
    int32_t k = cf_bpe_rank_of(model, l, r);
    *made = 256 + k;
    return k;
}

cf_status cf_bpe_encode(const cf_bpe *b, const uint8_t *bytes, size_t n, int32_t *out, size_t *n_out)
{
    if (!b || (!bytes && n) || (!out && n) || !n_out)
        return cf_set_error(CF_ERR_ARG, "cf_bpe_encode: NULL tokenizer, input, output or count");
    size_t k = 0;
    if (b->n_merges == 0) {
        for (size_t i = 0; i < n; i++) out[i] = bytes[i];
        *n_out = n;
        return CF_OK;
    }
    cf_bpe_scratch s = {0};
    for (size_t at = 0; at < n;) {
        size_t len = cf_bpe_chunk_len(bytes + at, n - at);
        if (len > INT32_MAX) len = INT32_MAX; /* positions are int32 */
        if (len == 1) {
            out[k++] = bytes[at];
        } else {
            if (!cf_bpe_scratch_fit(&s, len)) {
                cf_bpe_scratch_free(&s);
                return cf_set_error(CF_ERR_OOM, "cf_bpe_encode: out of memory for a chunk of %zu bytes", len);
            }
            for (size_t i = 0; i < len; i++) s.tok[i] = bytes[at + i];
            k += cf_bpe_merge_chunk(len, own_pair, b, out + k, &s);
        }
        at += len;
    }
    cf_bpe_scratch_free(&s);
    *n_out = k;
    return CF_OK;
}

cf_status cf_bpe_decode(const cf_bpe *b, const int32_t *ids, size_t n, uint8_t *out, size_t cap, size_t *n_out)
{
    if (!b || (!ids && n) || !n_out) return cf_set_error(CF_ERR_ARG, "cf_bpe_decode: NULL tokenizer, ids or count");
    int vocab = 256 + b->n_merges;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab)
            return cf_set_error(CF_ERR_ARG, "cf_bpe_decode: token %" PRId32 " at %zu outside the vocabulary of %d",
                                ids[i], i, vocab);
        need += (size_t)b->tok_len[ids[i]];
    }
    *n_out = need;
    if (need > cap || (!out && need))
        return cf_set_error(CF_ERR_ARG, "cf_bpe_decode: %zu bytes do not fit the buffer of %zu", need, cap);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + k, b->pool + b->tok_off[ids[i]], (size_t)b->tok_len[ids[i]]);
        k += (size_t)b->tok_len[ids[i]];
    }
    return CF_OK;
}
