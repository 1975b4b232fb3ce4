/* Byte-level BPE: pre-split, training with incremental pair counts, heap-based encoding, the vocabulary
 * file. */
#include "autograd/fileio.h"
#include "data/text/bpe.h"

#include "autograd/fileio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- small helpers ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t pair_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r; }

#define EMPTY_KEY UINT64_MAX

/* Open-addressing map from a pair key to an int32, growing at half load. */
typedef struct u64map {
    uint64_t *keys;
    int32_t *vals;
    size_t cap, n;
} u64map;

static bool map_init(u64map *m, size_t want)
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

static void map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static int32_t *map_find(const uint64_t *keys, int32_t *vals, size_t cap, uint64_t key)
{
    size_t mask = cap - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        if (keys[i] == key) return &vals[i];
        if (keys[i] == EMPTY_KEY) return NULL;
    }
}

static bool map_grow(u64map *m)
{
    u64map g;
    if (!map_init(&g, m->cap)) {
        map_free(&g);
        return false;
    }
    size_t mask = g.cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == EMPTY_KEY) continue;
        size_t j = mix64(m->keys[i]) & mask;
        while (g.keys[j] != EMPTY_KEY) j = (j + 1) & mask;
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    g.n = m->n;
    map_free(m);
    *m = g;
    return true;
}

/* Finds key or inserts it with value v; returns the slot's value pointer (valid until the next insert),
 * NULL when out of memory. *fresh says whether it was inserted. */
static int32_t *map_upsert(u64map *m, uint64_t key, int32_t v, bool *fresh)
{
    if (2 * (m->n + 1) > m->cap && !map_grow(m)) return NULL;
    size_t mask = m->cap - 1;
    size_t i = mix64(key) & mask;
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

/* Builds token bytes and the rank map from merges (taken over by b). Checks that every merge joins
 * earlier tokens and that no pair repeats; `where` names the source in messages and, when line0 > 0,
 * merge k is reported as line line0 + k of it. */
static cf_bpe *build(int32_t *merges, int n_merges, const char *where, int line0)
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
    if (!b->tok_off || !b->tok_len || !map_init(&m, (size_t)n_merges)) goto oom;
    int64_t total = 256;
    for (int i = 0; i < 256; i++) b->tok_len[i] = 1;
    for (int k = 0; k < n_merges; k++) {
        int32_t l = merges[2 * k], r = merges[2 * k + 1];
        if (l < 0 || r < 0 || l >= 256 + k || r >= 256 + k) {
            map_free(&m);
            cf_bpe_free(b);
            cf_set_error(CF_ERR_FORMAT, "%s: merge %d joins tokens %" PRId32 " and %" PRId32
                         ", but only tokens below %d exist before it", loc(where, line0, k), k, l, r, 256 + k);
            return NULL;
        }
        int64_t len = (int64_t)b->tok_len[l] + b->tok_len[r];
        if (len > INT32_MAX) {
            map_free(&m);
            cf_bpe_free(b);
            cf_set_error(CF_ERR_FORMAT, "%s: merge %d makes a token longer than 2^31 bytes", loc(where, line0, k), k);
            return NULL;
        }
        b->tok_len[256 + k] = (int32_t)len;
        total += len;
        bool fresh;
        int32_t *v = map_upsert(&m, pair_key(l, r), k, &fresh);
        if (!v) goto oom;
        if (!fresh) {
            int32_t first = *v;
            map_free(&m);
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
    map_free(&m);
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
    return build(m, n_merges, "cf_bpe_from_merges", 0);
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

static inline int32_t rank_of(const cf_bpe *b, int32_t l, int32_t r)
{
    if (b->n_merges == 0) return -1;
    const int32_t *v = map_find(b->rank_keys, b->rank_vals, b->rank_cap, pair_key(l, r));
    return v ? *v : -1;
}

/* ---- training ---- */

typedef struct word {
    int64_t count;
    int32_t *sym;
    int32_t len;
} word;

typedef struct pair_entry {
    int32_t l, r;
    int64_t count;
    int32_t *words; /* words that contained this pair at some point (may hold stale ids) */
    int32_t nw, capw;
    int32_t last_word; /* to skip appending the same word twice in a row */
    int32_t stamp;     /* merge number that last touched it */
} pair_entry;

typedef struct heap_item {
    int64_t count;
    int32_t l, r;
} heap_item;

typedef struct trainer {
    word *words;
    int32_t nwords;
    int32_t *sympool; /* every word's symbols, back to back */
    u64map pmap; /* pair key -> index into pairs */
    pair_entry *pairs;
    int32_t npairs, cap_pairs;
    heap_item *heap;
    size_t nheap, cap_heap;
    int32_t *touched;
    int32_t ntouched, cap_touched;
    int32_t stamp;
} trainer;

/* max-heap order: more frequent first, then the smaller (left, right) pair, so ties are deterministic */
static inline bool heap_before(const heap_item *a, const heap_item *b)
{
    if (a->count != b->count) return a->count > b->count;
    if (a->l != b->l) return a->l < b->l;
    return a->r < b->r;
}

static bool heap_push(trainer *t, heap_item it)
{
    if (t->nheap == t->cap_heap) {
        size_t cap = t->cap_heap ? 2 * t->cap_heap : 1024;
        heap_item *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return false;
        t->heap = h;
        t->cap_heap = cap;
    }
    size_t i = t->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_before(&it, &t->heap[p])) break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = it;
    return true;
}

static heap_item heap_pop(trainer *t)
{
    heap_item top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0, n = t->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!heap_before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n) t->heap[i] = last;
    return top;
}

/* Adds delta to pair (l, r)'s count, records word w in its list when add_word, and marks it touched. */
static bool pair_add(trainer *t, int32_t l, int32_t r, int64_t delta, int32_t w, bool add_word)
{
    bool fresh;
    int32_t *v = map_upsert(&t->pmap, pair_key(l, r), t->npairs, &fresh);
    if (!v) return false;
    if (fresh) {
        if (t->npairs == t->cap_pairs) {
            int32_t cap = t->cap_pairs ? 2 * t->cap_pairs : 1024;
            pair_entry *p = realloc(t->pairs, (size_t)cap * sizeof *p);
            if (!p) return false;
            t->pairs = p;
            t->cap_pairs = cap;
        }
        t->pairs[t->npairs] = (pair_entry){.l = l, .r = r, .last_word = -1, .stamp = -1};
        t->npairs++;
    }
    pair_entry *p = &t->pairs[*v];
    p->count += delta;
    if (add_word && p->last_word != w) {
        if (p->nw == p->capw) {
            int32_t cap = p->capw ? 2 * p->capw : 4;
            int32_t *ws = realloc(p->words, (size_t)cap * sizeof *ws);
            if (!ws) return false;
            p->words = ws;
            p->capw = cap;
        }
        p->words[p->nw++] = w;
        p->last_word = w;
    }
    if (p->stamp != t->stamp) {
        p->stamp = t->stamp;
        if (t->ntouched == t->cap_touched) {
            int32_t cap = t->cap_touched ? 2 * t->cap_touched : 256;
            int32_t *tt = realloc(t->touched, (size_t)cap * sizeof *tt);
            if (!tt) return false;
            t->touched = tt;
            t->cap_touched = cap;
        }
        t->touched[t->ntouched++] = *v;
    }
    return true;
}

/* Pushes the current count of every pair touched since the last call (stale heap items are skipped
 * when popped, so this is all the heap needs to stay correct). */
static bool push_touched(trainer *t)
{
    for (int32_t i = 0; i < t->ntouched; i++) {
        const pair_entry *p = &t->pairs[t->touched[i]];
        if (p->count > 0 && !heap_push(t, (heap_item){p->count, p->l, p->r})) return false;
    }
    t->ntouched = 0;
    return true;
}

/* Replaces every (a, b) in word w by tok, updating pair counts. */
static bool merge_word(trainer *t, int32_t w, int32_t a, int32_t b, int32_t tok)
{
    word *wd = &t->words[w];
    int32_t *s = wd->sym, n = wd->len;
    bool has = false;
    for (int32_t i = 0; i + 1 < n && !has; i++) has = s[i] == a && s[i + 1] == b;
    if (!has) return true; /* a stale entry in the pair's word list */
    for (int32_t i = 0; i + 1 < n; i++)
        if (!pair_add(t, s[i], s[i + 1], -wd->count, w, false)) return false;
    int32_t o = 0;
    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[o++] = tok;
            i += 2;
        } else {
            s[o++] = s[i++];
        }
    }
    wd->len = o;
    /* pairs without tok were in the old word too, so the word is already on their lists */
    for (int32_t i = 0; i + 1 < o; i++)
        if (!pair_add(t, s[i], s[i + 1], wd->count, w, s[i] == tok || s[i + 1] == tok)) return false;
    return true;
}

static void trainer_free(trainer *t)
{
    for (int32_t i = 0; i < t->npairs; i++) free(t->pairs[i].words);
    free(t->pairs);
    map_free(&t->pmap);
    free(t->heap);
    free(t->touched);
    free(t->sympool);
    free(t->words);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < n; k++) h = (h ^ p[k]) * 0x100000001b3ull;
    return mix64(h);
}

/* Splits text into chunks and keeps each distinct chunk once with its count. */
static bool collect_words(trainer *t, const uint8_t *text, size_t n)
{
    size_t cap_words = 1024, hcap = 4096, nsym = 0;
    int32_t *table = malloc(hcap * sizeof *table);
    size_t *start = malloc(cap_words * sizeof *start); /* first occurrence of each word in text */
    t->words = malloc(cap_words * sizeof *t->words);
    if (!table || !start || !t->words) goto oom;
    for (size_t i = 0; i < hcap; i++) table[i] = -1;
    for (size_t at = 0; at < n;) {
        size_t len = cf_bpe_chunk_len(text + at, n - at);
        if (len > INT32_MAX) len = INT32_MAX;
        size_t mask = hcap - 1, i = fnv1a(text + at, len) & mask;
        for (;; i = (i + 1) & mask) {
            int32_t w = table[i];
            if (w < 0) break;
            if ((size_t)t->words[w].len == len && memcmp(text + start[w], text + at, len) == 0) break;
        }
        if (table[i] >= 0) {
            t->words[table[i]].count++;
        } else {
            if ((size_t)t->nwords == cap_words) {
                cap_words *= 2;
                word *nw = realloc(t->words, cap_words * sizeof *nw);
                if (!nw) goto oom;
                t->words = nw;
                size_t *ns = realloc(start, cap_words * sizeof *ns);
                if (!ns) goto oom;
                start = ns;
            }
            int32_t w = t->nwords++;
            t->words[w] = (word){.count = 1, .sym = NULL, .len = (int32_t)len};
            start[w] = at;
            nsym += len;
            table[i] = w;
            if (2 * (size_t)t->nwords > hcap) { /* rehash at half load */
                size_t ncap = hcap * 2;
                int32_t *nt = malloc(ncap * sizeof *nt);
                if (!nt) goto oom;
                for (size_t k = 0; k < ncap; k++) nt[k] = -1;
                for (size_t k = 0; k < hcap; k++) {
                    if (table[k] < 0) continue;
                    size_t j = fnv1a(text + start[table[k]], (size_t)t->words[table[k]].len) & (ncap - 1);
                    while (nt[j] >= 0) j = (j + 1) & (ncap - 1);
                    nt[j] = table[k];
                }
                free(table);
                table = nt;
                hcap = ncap;
            }
        }
        at += len;
    }
    /* one symbol pool for all words; words only ever shrink, so they are rewritten in place */
    int32_t *pool = malloc((nsym ? nsym : 1) * sizeof *pool);
    if (!pool) goto oom;
    size_t off = 0;
    for (int32_t w = 0; w < t->nwords; w++) {
        t->words[w].sym = pool + off;
        for (int32_t q = 0; q < t->words[w].len; q++) pool[off + (size_t)q] = text[start[w] + (size_t)q];
        off += (size_t)t->words[w].len;
    }
    t->sympool = pool;
    free(table);
    free(start);
    return true;
oom:
    free(table);
    free(start);
    free(t->words);
    t->words = NULL;
    t->nwords = 0;
    return false;
}

cf_bpe *cf_bpe_train(const uint8_t *text, size_t n, int vocab_size)
{
    if ((!text && n > 0) || vocab_size < 256 || vocab_size - 256 > BPE_MAX_MERGES) {
        cf_set_error(CF_ERR_ARG, "cf_bpe_train: vocab_size %d (256..%d) or NULL text", vocab_size,
                     256 + BPE_MAX_MERGES);
        return NULL;
    }
    int want = vocab_size - 256;
    trainer t = {0};
    int32_t *merges = malloc((size_t)(want ? want : 1) * 2 * sizeof *merges);
    int nm = 0;
    if (!merges || !collect_words(&t, text, n) || !map_init(&t.pmap, 4096)) goto oom;
    t.stamp = 0;
    for (int32_t w = 0; w < t.nwords; w++)
        for (int32_t i = 0; i + 1 < t.words[w].len; i++)
            if (!pair_add(&t, t.words[w].sym[i], t.words[w].sym[i + 1], t.words[w].count, w, true)) goto oom;
    if (!push_touched(&t)) goto oom;
    while (nm < want) {
        /* the most frequent pair whose heap item is current */
        int32_t idx = -1;
        while (t.nheap > 0) {
            heap_item it = heap_pop(&t);
            const int32_t *v = map_find(t.pmap.keys, t.pmap.vals, t.pmap.cap, pair_key(it.l, it.r));
            if (v && t.pairs[*v].count == it.count) {
                idx = *v;
                break;
            }
        }
        if (idx < 0 || t.pairs[idx].count < 2) break; /* nothing left that occurs twice */
        int32_t a = t.pairs[idx].l, b = t.pairs[idx].r, tok = 256 + nm;
        merges[2 * nm] = a;
        merges[2 * nm + 1] = b;
        nm++;
        t.stamp = nm;
        /* the list is not appended to while we walk it: new pairs all contain tok, which is not a or b */
        int32_t *ws = t.pairs[idx].words, nw = t.pairs[idx].nw;
        for (int32_t k = 0; k < nw; k++)
            if (!merge_word(&t, ws[k], a, b, tok)) goto oom;
        free(t.pairs[idx].words); /* its count is 0 now and the pair can never come back */
        t.pairs[idx].words = NULL;
        t.pairs[idx].nw = t.pairs[idx].capw = 0;
        if (!push_touched(&t)) goto oom;
    }
    trainer_free(&t);
    return build(merges, nm, "cf_bpe_train", 0);
oom:
    trainer_free(&t);
    free(merges);
    cf_set_error(CF_ERR_OOM, "cf_bpe_train: out of memory (%zu bytes of text)", n);
    return NULL;
}

/* ---- encoding and decoding ---- */

typedef struct enc_item {
    int32_t rank, pos;
} enc_item;

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

/* Scratch for one chunk, grown to the longest chunk seen. */
typedef struct enc_scratch {
    int32_t *tok, *prev, *next;
    enc_item *heap;
    size_t cap;
} enc_scratch;

static bool scratch_fit(enc_scratch *s, size_t n)
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

/* Applies the merges to one chunk: the lowest-ranked pair first, equal ranks left to right, which is the
 * order training merged them in. Writes the tokens to out and returns their count. */
static size_t encode_chunk(const cf_bpe *b, const uint8_t *c, size_t n, int32_t *out, enc_scratch *s)
{
    int32_t *tok = s->tok, *prev = s->prev, *next = s->next;
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        tok[i] = c[i];
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = rank_of(b, tok[i], tok[i + 1]);
        if (r >= 0) enc_push(s->heap, &nh, (enc_item){r, (int32_t)i});
    }
    while (nh > 0) {
        enc_item it = enc_pop(s->heap, &nh);
        int32_t i = it.pos, j = next[i];
        /* skip items whose left token was consumed or whose pair has changed since the push */
        if (tok[i] < 0 || j < 0 || rank_of(b, tok[i], tok[j]) != it.rank) continue;
        tok[i] = 256 + it.rank;
        tok[j] = -1;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        if (prev[i] >= 0) {
            int32_t r = rank_of(b, tok[prev[i]], tok[i]);
            if (r >= 0) enc_push(s->heap, &nh, (enc_item){r, prev[i]});
        }
        if (next[i] >= 0) {
            int32_t r = rank_of(b, tok[i], tok[next[i]]);
            if (r >= 0) enc_push(s->heap, &nh, (enc_item){r, i});
        }
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) out[k++] = tok[i];
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
    enc_scratch s = {0};
    for (size_t at = 0; at < n;) {
        size_t len = cf_bpe_chunk_len(bytes + at, n - at);
        if (len > INT32_MAX) len = INT32_MAX; /* positions are int32 */
        if (len == 1) {
            out[k++] = bytes[at];
        } else {
            if (!scratch_fit(&s, len)) {
                free(s.tok), free(s.prev), free(s.next), free(s.heap);
                return cf_set_error(CF_ERR_OOM, "cf_bpe_encode: out of memory for a chunk of %zu bytes", len);
            }
            k += encode_chunk(b, bytes + at, len, out + k, &s);
        }
        at += len;
    }
    free(s.tok), free(s.prev), free(s.next), free(s.heap);
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

/* ---- the vocabulary file ---- */

cf_status cf_bpe_save(const cf_bpe *b, const char *path)
{
    if (!b || !path) return cf_set_error(CF_ERR_ARG, "cf_bpe_save: NULL tokenizer or path");
    cf_atomic_file *af = cf_atomic_open(path);
    if (!af) return cf_last_status();
    cf_atomic_printf(af, "cformer-bpe %d\nmerges %d\n", BPE_FORMAT_VERSION, b->n_merges);
    for (int k = 0; k < b->n_merges; k++)
        if (cf_atomic_printf(af, "%" PRId32 " %" PRId32 "\n", b->merges[2 * k], b->merges[2 * k + 1]) != CF_OK) break;
    return cf_atomic_commit(af);
}

/* Reads one line into buf; false at end of file. *too_long when it did not fit. */
static bool read_line(FILE *f, char *buf, size_t cap, bool *too_long)
{
    *too_long = false;
    if (!fgets(buf, (int)cap, f)) return false;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n') {
        buf[--n] = '\0';
        if (n && buf[n - 1] == '\r') buf[--n] = '\0';
    } else if (!feof(f)) {
        *too_long = true;
    }
    return true;
}

/* Parses exactly `count` decimal integers separated by single spaces, nothing else. */
static bool parse_ints(const char *s, long long *v, int count)
{
    for (int i = 0; i < count; i++) {
        if (i > 0) {
            if (*s != ' ') return false;
            s++;
        }
        if (!(*s >= '0' && *s <= '9')) return false;
        char *end;
        errno = 0;
        v[i] = strtoll(s, &end, 10);
        if (errno) return false;
        s = end;
    }
    return *s == '\0';
}

/* Reads a vocabulary from f (which the caller closes), named path in messages. */
static cf_bpe *load(FILE *f, const char *path)
{
    char line[256];
    bool too_long;
    long long v[2];
    int32_t *merges = NULL;
    long lineno = 1;
    if (!read_line(f, line, sizeof line, &too_long) || strncmp(line, "cformer-bpe ", 12) != 0 ||
        !parse_ints(line + 12, v, 1)) {
        cf_set_error(CF_ERR_FORMAT, "%s:1: not a cformer BPE vocabulary (expected \"cformer-bpe %d\")", path,
                     BPE_FORMAT_VERSION);
        goto fail;
    }
    if (v[0] != BPE_FORMAT_VERSION) {
        cf_set_error(CF_ERR_FORMAT, "%s:1: BPE vocabulary format version %lld, this build reads version %d", path,
                     v[0], BPE_FORMAT_VERSION);
        goto fail;
    }
    lineno = 2;
    if (!read_line(f, line, sizeof line, &too_long) || strncmp(line, "merges ", 7) != 0 ||
        !parse_ints(line + 7, v, 1) || v[0] > BPE_MAX_MERGES) {
        cf_set_error(CF_ERR_FORMAT, "%s:2: expected \"merges N\" with N in 0..%d", path, BPE_MAX_MERGES);
        goto fail;
    }
    int n = (int)v[0];
    merges = malloc((size_t)(n ? n : 1) * 2 * sizeof *merges);
    if (!merges) {
        cf_set_error(CF_ERR_OOM, "%s: out of memory for %d merges", path, n);
        goto fail;
    }
    for (int k = 0; k < n; k++) {
        lineno = 3 + k;
        if (!read_line(f, line, sizeof line, &too_long)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: file ends after %d of %d merges", path, lineno, k, n);
            goto fail;
        }
        if (too_long || !parse_ints(line, v, 2)) {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: expected two token ids \"left right\"", path, lineno);
            goto fail;
        }
        if (v[0] >= 256 + k || v[1] >= 256 + k) {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: merge %d joins tokens %lld and %lld, but only tokens below %d exist "
                         "before it", path, lineno, k, v[0], v[1], 256 + k);
            goto fail;
        }
        merges[2 * k] = (int32_t)v[0];
        merges[2 * k + 1] = (int32_t)v[1];
    }
    lineno = 3 + (long)n;
    while (read_line(f, line, sizeof line, &too_long)) {
        if (too_long || line[0] != '\0') {
            cf_set_error(CF_ERR_FORMAT, "%s:%ld: unexpected content after the %d merges", path, lineno, n);
            goto fail;
        }
        lineno++;
    }
    if (ferror(f)) {
        cf_set_error(CF_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    return build(merges, n, path, 3);
fail:
    free(merges);
    return NULL;
}

cf_bpe *cf_bpe_load(const char *path)
{
    if (!path) {
        cf_set_error(CF_ERR_ARG, "cf_bpe_load: NULL path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_set_error(CF_ERR_IO, "%s: cannot open BPE vocabulary: %s", path, strerror(errno));
        return NULL;
    }
    cf_bpe *b = load(f, path);
    fclose(f);
    return b;
}

cf_bpe *cf_bpe_load_mem(const void *buf, size_t n, const char *what)
{
    if (!what) what = "(BPE buffer)";
    FILE *f = cf_open_mem(buf, n, what);
    cf_bpe *b = f ? load(f, what) : NULL;
    if (f) fclose(f);
    return b;
}
