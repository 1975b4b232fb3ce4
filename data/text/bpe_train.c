/* Byte-level BPE training: incremental pair counts over distinct chunks, a max-heap of pairs. */
#include "data/text/bpe_internal.h"

#include <stdlib.h>
#include <string.h>

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
    int32_t *v = cf_bpe_map_upsert(&t->pmap, pair_key(l, r), t->npairs, &fresh);
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
    cf_bpe_map_free(&t->pmap);
    free(t->heap);
    free(t->touched);
    free(t->sympool);
    free(t->words);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < n; k++) h = (h ^ p[k]) * 0x100000001b3ull;
    return cf_bpe_mix64(h);
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
    if (!merges || !collect_words(&t, text, n) || !cf_bpe_map_init(&t.pmap, 4096)) goto oom;
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
            const int32_t *v = cf_bpe_map_find(t.pmap.keys, t.pmap.vals, t.pmap.cap, pair_key(it.l, it.r));
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
    return cf_bpe_build(merges, nm, "cf_bpe_train", 0);
oom:
    trainer_free(&t);
    free(merges);
    cf_set_error(CF_ERR_OOM, "cf_bpe_train: out of memory (%zu bytes of text)", n);
    return NULL;
}
