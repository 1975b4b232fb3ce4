/* The byte-level BPE's internals shared by its files (bpe.c: the tables and the pair map; bpe_train.c:
 * training; bpe_encode.c: encoding and decoding; bpe_file.c: the vocabulary file). Not part of the API:
 * data/text/bpe.h is. */
#ifndef CF_BPE_INTERNAL_H
#define CF_BPE_INTERNAL_H

#include "data/text/bpe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BPE_FORMAT_VERSION 1
#define BPE_MAX_MERGES (1 << 24)

struct cf_bpe {
    int n_merges;
    int32_t *merges;   /* [2 * n_merges]: left, right of token 256 + k */
    int64_t *tok_off;  /* [vocab]: offset of the token's bytes in pool */
    int32_t *tok_len;  /* [vocab] */
    uint8_t *pool;
    /* (left, right) -> rank, open addressing */
    uint64_t *rank_keys;
    int32_t *rank_vals;
    size_t rank_cap;
};

#define EMPTY_KEY UINT64_MAX

static inline uint64_t pair_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r; }

/* Open-addressing map from a pair key to an int32, growing at half load. */
typedef struct u64map {
    uint64_t *keys;
    int32_t *vals;
    size_t cap, n;
} u64map;

/* The map's hash (a 64-bit finaliser). */
uint64_t cf_bpe_mix64(uint64_t x);
/* An empty map with room for `want` keys at half load; false when out of memory (free it anyway). */
bool cf_bpe_map_init(u64map *m, size_t want);
void cf_bpe_map_free(u64map *m);
/* The value slot of key in the (keys, vals, cap) table, NULL when absent. */
int32_t *cf_bpe_map_find(const uint64_t *keys, int32_t *vals, size_t cap, uint64_t key);
/* Finds key or inserts it with value v; returns the slot's value pointer (valid until the next insert),
 * NULL when out of memory. *fresh says whether it was inserted. */
int32_t *cf_bpe_map_upsert(u64map *m, uint64_t key, int32_t v, bool *fresh);

/* Builds token bytes and the rank map from merges (taken over by the result, freed on failure). Checks
 * that every merge joins earlier tokens and that no pair repeats; `where` names the source in messages
 * and, when line0 > 0, merge k is reported as line line0 + k of it. */
cf_bpe *cf_bpe_build(int32_t *merges, int n_merges, const char *where, int line0);

/* The rank (merge number) of the pair (l, r), -1 when no merge joins them. */
static inline int32_t cf_bpe_rank_of(const cf_bpe *b, int32_t l, int32_t r)
{
    if (b->n_merges == 0) return -1;
    const int32_t *v = cf_bpe_map_find(b->rank_keys, b->rank_vals, b->rank_cap, pair_key(l, r));
    return v ? *v : -1;
}

/* The merge engine the byte-level BPE and the Hugging Face tokenizer share: a pair table answers whether
 * tokens (l, r) merge, with the merge's rank (lower first; -1: they do not) and the token it makes. */
typedef int32_t (*cf_bpe_pair_fn)(const void *model, int32_t l, int32_t r, int32_t *made);

typedef struct enc_item {
    int32_t rank, pos;
} enc_item;

/* Scratch for one chunk, grown to the longest chunk seen (zero-initialise; cf_bpe_scratch_free). */
typedef struct cf_bpe_scratch {
    int32_t *tok, *prev, *next;
    enc_item *heap;
    size_t cap;
} cf_bpe_scratch;

bool cf_bpe_scratch_fit(cf_bpe_scratch *s, size_t n);
void cf_bpe_scratch_free(cf_bpe_scratch *s);
/* Merges the n tokens the caller put in s->tok[0..n) (after cf_bpe_scratch_fit(s, n)): the lowest-ranked
 * pair first, equal ranks left to right -- the order training merged them in. Writes the tokens to out and
 * returns their count (<= n). */
size_t cf_bpe_merge_chunk(size_t n, cf_bpe_pair_fn pair, const void *model, int32_t *out, cf_bpe_scratch *s);

#endif
