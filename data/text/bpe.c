/* Byte-level BPE: the tokenizer tables, the pair map they and training share, and the pre-split. */
#include "data/text/bpe_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

uint64_t cf_bpe_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}




bool cf_bpe_map_init(u64map *m, size_t want)
{
    size_t cap = 16;
    while (cap < 2 * want) cap *= 2;
    m->keys = malloc(cap * sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->vals) return false;
    for (size_t i = 0; i < cap; i++) m->keys[i] = EMPTY_KEY;
    return true;
}

void cf_bpe_map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

int32_t *cf_bpe_map_find(const uint64_t *keys, int32_t *vals, size_t cap, uint64_t key)
{
    size_t mask = cap - 1;
    for (size_t i = cf_bpe_mix64(key) & mask;; i = (i + 1) & mask) {
        if (keys[i] == key) return &vals[i];
        if (keys[i] == EMPTY_KEY) return NULL;
    }
}

static bool map_grow(u64map *m)
{
    u64map g;
    if (!cf_bpe_map_init(&g, m->cap)) {
        cf_bpe_map_free(&g);
        return false;
    }
    size_t mask = g.cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == EMPTY_KEY) continue;
        size_t j = cf_bpe_mix64(m->keys[i]) & mask;
        while (g.keys[j] != EMPTY_KEY) j = (j + 1) & mask;
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    g.n = m->n;
    cf_bpe_map_free(m);
    *m = g;
    return true;
}

/* Finds key or inserts it with value v; returns the slot's value pointer (valid until the next insert),
 * NULL when out of memory. *fresh says whether it was inserted. */
int32_t *cf_bpe_map_upsert(u64map *m, uint64_t key, int32_t v, bool *fresh)
{
    if (2 * (m->n + 1) > m->cap && !map_grow(m)) return NULL;
    size_t mask = m->cap - 1;
    size_t i = cf_bpe_mix64(key) & mask;
    while (m->keys[i] != EMPTY_KEY && m->keys[i] != key) i = (i + 1) & mask;
    *fresh = m->keys[i] == EMPTY_KEY;
    if (*fresh) {
        m->keys[i] = key;
        m->vals[i] = v;
        m->n++;
    }
    return &m->vals[i];
}
/* ---- pre-split ---- */

enum { C_SPACE, C_LETTER, C_DIGIT, C_OTHER };

static inline int byte_class(uint8_t c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return C_SPACE;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return C_LETTER;
    if (c >= '0' && c <= '9') return C_DIGIT;
    return C_OTHER;
}

size_t cf_bpe_chunk_len(const uint8_t *t, size_t n)
{
    if (n == 0) return 0;
    size_t i = 0;
    if (t[0] == ' ' && n > 1 && byte_class(t[1]) != C_SPACE) i = 1; /* " word" keeps its space */
    int c = byte_class(t[i]);
    size_t j = i + 1;
    while (j < n && byte_class(t[j]) == c) j++;
    /* a whitespace run that precedes a word leaves its final space to that word (GPT-2's \s+(?!\S)) */
    if (c == C_SPACE && j < n && j - i > 1 && t[j - 1] == ' ') j--;
    return j;
}

/* ---- the tokenizer tables ---- */

void cf_bpe_free(cf_bpe *b)
{
    if (!b) return;
    free(b->merges);
    free(b->tok_off);
    free(b->tok_len);
    free(b->pool);
    free(b->rank_keys);
    free(b->rank_vals);
    free(b);
}

/* "where" or "where:line" for merge k's messages (one static buffer: only for an error being set). */
static const char *loc(const char *where, int line0, int k)
{
    static _Thread_local char buf[1100];
    if (line0 <= 0) return where;
    snprintf(buf, sizeof buf, "%.1000s:%d", where, line0 + k);
    return buf;
}

cf_bpe *cf_bpe_build(int32_t *merges, int n_merges, const char *where, int line0)
{
    cf_bpe *b = calloc(1, sizeof *b);
    if (!b) {
        free(merges);
        cf_set_error(CF_ERR_OOM, "%s: out of memory", where);
        return NULL;
    }
    b->merges = merges;
    b->n_merges = n_merges;
    int vocab = 256 + n_merges;
    b->tok_off = malloc((size_t)vocab * sizeof *b->tok_off);
    b->tok_len = malloc((size_t)vocab * sizeof *b->tok_len);
    u64map m = {0};
    if (!b->tok_off || !b->tok_len || !cf_bpe_map_init(&m, (size_t)n_merges)) goto oom;
    int64_t total = 256;
    for (int i = 0; i < 256; i++) b->tok_len[i] = 1;
    for (int k = 0; k < n_merges; k++) {
        int32_t l = merges[2 * k], r = merges[2 * k + 1];
        if (l < 0 || r < 0 || l >= 256 + k || r >= 256 + k) {
            cf_bpe_map_free(&m);
            cf_bpe_free(b);
            cf_set_error(CF_ERR_FORMAT, "%s: merge %d joins tokens %" PRId32 " and %" PRId32
                         ", but only tokens below %d exist before it", loc(where, line0, k), k, l, r, 256 + k);
            return NULL;
        }
        int64_t len = (int64_t)b->tok_len[l] + b->tok_len[r];
        if (len > INT32_MAX) {
            cf_bpe_map_free(&m);
            cf_bpe_free(b);
            cf_set_error(CF_ERR_FORMAT, "%s: merge %d makes a token longer than 2^31 bytes", loc(where, line0, k), k);
            return NULL;
        }
        b->tok_len[256 + k] = (int32_t)len;
        total += len;
        bool fresh;
        int32_t *v = cf_bpe_map_upsert(&m, pair_key(l, r), k, &fresh);
        if (!v) goto oom;
        if (!fresh) {
            int32_t first = *v;
            cf_bpe_map_free(&m);
            cf_bpe_free(b);
            cf_set_error(CF_ERR_FORMAT, "%s: merge %d repeats pair (%" PRId32 ", %" PRId32 ") of merge %" PRId32,
                         loc(where, line0, k), k, l, r, first);
            return NULL;
        }
    }
    b->pool = malloc((size_t)total);
    if (!b->pool) goto oom;
    int64_t off = 0;
    for (int i = 0; i < 256; i++) {
        b->tok_off[i] = off;
        b->pool[off++] = (uint8_t)i;
    }
    for (int k = 0; k < n_merges; k++) {
        int32_t l = merges[2 * k], r = merges[2 * k + 1];
        b->tok_off[256 + k] = off;
        memcpy(b->pool + off, b->pool + b->tok_off[l], (size_t)b->tok_len[l]);
        memcpy(b->pool + off + b->tok_len[l], b->pool + b->tok_off[r], (size_t)b->tok_len[r]);
        off += b->tok_len[256 + k];
    }
    b->rank_keys = m.keys;
    b->rank_vals = m.vals;
    b->rank_cap = m.cap;
    return b;
oom:
    cf_bpe_map_free(&m);
    cf_bpe_free(b);
    cf_set_error(CF_ERR_OOM, "%s: out of memory for %d merges", where, n_merges);
    return NULL;
}

cf_bpe *cf_bpe_from_merges(const int32_t *pairs, int n_merges)
{
    if ((!pairs && n_merges > 0) || n_merges < 0 || n_merges > BPE_MAX_MERGES) {
        cf_set_error(CF_ERR_ARG, "cf_bpe_from_merges: %d merges (0..%d, pairs non-NULL)", n_merges, BPE_MAX_MERGES);
        return NULL;
    }
    int32_t *m = malloc((size_t)(n_merges ? n_merges : 1) * 2 * sizeof *m);
    if (!m) {
        cf_set_error(CF_ERR_OOM, "cf_bpe_from_merges: out of memory");
        return NULL;
    }
    if (n_merges) memcpy(m, pairs, (size_t)n_merges * 2 * sizeof *m);
    return cf_bpe_build(m, n_merges, "cf_bpe_from_merges", 0);
}

int cf_bpe_vocab_size(const cf_bpe *b) { return b ? 256 + b->n_merges : 0; }
int cf_bpe_merge_count(const cf_bpe *b) { return b ? b->n_merges : 0; }

cf_status cf_bpe_merge(const cf_bpe *b, int k, int32_t *left, int32_t *right)
{
    if (!b || k < 0 || k >= b->n_merges)
        return cf_set_error(CF_ERR_ARG, "cf_bpe_merge: merge %d of %d", k, b ? b->n_merges : 0);
    if (left) *left = b->merges[2 * k];
    if (right) *right = b->merges[2 * k + 1];
    return CF_OK;
}

cf_status cf_bpe_token_bytes(const cf_bpe *b, int32_t id, const uint8_t **bytes, size_t *len)
{
    if (!b || id < 0 || id >= 256 + b->n_merges)
        return cf_set_error(CF_ERR_ARG, "cf_bpe_token_bytes: token %" PRId32 " outside the vocabulary of %d", id,
                            cf_bpe_vocab_size(b));
    if (bytes) *bytes = b->pool + b->tok_off[id];
    if (len) *len = (size_t)b->tok_len[id];
    return CF_OK;
}
