/* SentencePiece encoding: the identity normaliser's whitespace handling (sentencepiece's
 * Normalizer::Normalize without a charsmap), then BPE over characters as its bpe::Model::Encode does
 * (a priority queue of adjacent pairs by piece score, leftmost first on ties; UNUSED pieces split back),
 * then unknown symbols to bytes or to one unknown id per run (SentencePieceProcessor's
 * PopulateSentencePieceText). */
#include "data/text/spm_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
    int32_t prev, next; /* -1 at the ends */
    uint32_t start, len; /* the bytes norm[start..start+len); len 0 once merged into its left neighbour */
    bool freeze;         /* a user-defined piece: never merged */
} sym;

typedef struct pair {
    int32_t left, right;
    float score;
    uint32_t size; /* len(left) + len(right) when pushed: a pair whose symbols changed since is stale */
} pair;

/* An UNUSED piece formed during this encoding: the span it was formed from and where it splits. */
typedef struct rev {
    uint32_t start, left_len;
    bool set;
} rev;

typedef struct enc {
    const cf_spm *s;
    const uint8_t *norm;
    sym *sy;
    pair *heap;
    size_t n_heap;
    rev *rev;        /* [vocab], only when the model has UNUSED pieces */
    spm_span *stack; /* resegmenting */
    int32_t *ids;
    size_t n_ids;
    bool prev_unk;
} enc;

static size_t put_space(const cf_spm *s, uint8_t *out, size_t o)
{
    if (!s->escape_ws) {
        out[o] = ' ';
        return o + 1;
    }
    memcpy(out + o, SPM_WS, SPM_WS_LEN);
    return o + SPM_WS_LEN;
}

/* Normalises n > 0 bytes into out (room for 3n + 3); returns the length. */
static size_t normalize(const cf_spm *s, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    if (s->remove_extra_ws)
        while (i < n && in[i] == ' ') i++;
    if (i == n) return 0;
    if (s->add_dummy_prefix) o = put_space(s, out, o);
    bool prev_space = s->remove_extra_ws;
    while (i < n) {
        size_t len = cf_spm_utf8_len(in + i, n - i);
        if (len == 0) { /* one invalid byte: U+FFFD */
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            prev_space = false;
        } else if (in[i] == ' ') {
            if (!prev_space) o = put_space(s, out, o);
            i++;
            prev_space = true;
        } else {
            memcpy(out + o, in + i, len);
            o += len;
            i += len;
            prev_space = false;
        }
        if (!s->remove_extra_ws) prev_space = false;
    }
    if (s->remove_extra_ws) {
        size_t w = s->escape_ws ? SPM_WS_LEN : 1;
        while (o >= w && memcmp(out + o - w, s->escape_ws ? SPM_WS : " ", w) == 0) o -= w;
    }
    return o;
}

static bool better(const pair *a, const pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(enc *e, pair p)
{
    size_t i = e->n_heap++;
    while (i > 0 && better(&p, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = p;
}

static pair heap_pop(enc *e)
{
    pair top = e->heap[0], last = e->heap[--e->n_heap];
    size_t i = 0, n = e->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(&e->heap[c + 1], &e->heap[c])) c++;
        if (!better(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n) e->heap[i] = last;
    return top;
}

/* Queues the pair (l, r) when their concatenation is a piece BPE may form. */
static void maybe_add(enc *e, int32_t l, int32_t r)
{
    if (l < 0 || r < 0 || e->sy[l].freeze || e->sy[r].freeze) return;
    const cf_spm *s = e->s;
    uint32_t size = e->sy[l].len + e->sy[r].len;
    int32_t id = cf_spm_map_find(s, s->normal, e->norm + e->sy[l].start, size);
    if (id < 0) return;
    heap_push(e, (pair){l, r, s->score[id], size});
    if (s->type[id] == CF_SPM_UNUSED) e->rev[id] = (rev){e->sy[l].start, e->sy[l].len, true};
}

/* Appends the id of one final symbol, as PopulateSentencePieceText does. */
static void emit(enc *e, const uint8_t *p, size_t len, int32_t id)
{
    const cf_spm *s = e->s;
    bool unk = s->type[id] == CF_SPM_UNKNOWN;
    if (unk && s->byte_fallback) {
        for (size_t i = 0; i < len; i++) e->ids[e->n_ids++] = s->byte_id[p[i]];
    } else if (!(unk && e->prev_unk)) { /* a run of unknown symbols is one unknown id */
        e->ids[e->n_ids++] = id;
    }
    e->prev_unk = unk;
}

/* Emits a final symbol, splitting UNUSED pieces back into the pieces they were formed from. */
static void resegment(enc *e, uint32_t start, uint32_t len)
{
    const cf_spm *s = e->s;
    size_t top = 0;
    e->stack[top++] = (spm_span){start, len};
    while (top) {
        spm_span w = e->stack[--top];
        const uint8_t *p = e->norm + w.off;
        int32_t id = cf_spm_lookup(s, p, w.len);
        if (s->type[id] != CF_SPM_UNUSED || !e->rev[id].set) {
            emit(e, p, w.len, id);
            continue;
        }
        const rev *r = &e->rev[id];
        e->stack[top++] = (spm_span){r->start + r->left_len, w.len - r->left_len};
        e->stack[top++] = (spm_span){r->start, r->left_len};
    }
}

/* The length of the symbol at norm[pos..m): the longest user-defined piece there (*freeze), else one
 * character by its lead byte (sentencepiece's PrefixMatcher). */
static uint32_t symbol_len(const cf_spm *s, const uint8_t *norm, size_t pos, size_t m, bool *freeze)
{
    for (int u = 0; u < s->n_user_len; u++) {
        size_t len = s->user_len[u];
        if (len > m - pos) continue;
        int32_t id = cf_spm_map_find(s, s->normal, norm + pos, len);
        if (id >= 0 && s->type[id] == CF_SPM_USER_DEFINED) {
            *freeze = true;
            return (uint32_t)len;
        }
    }
    *freeze = false;
    size_t len = (size_t)"\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[norm[pos] >> 4];
    return (uint32_t)(len < m - pos ? len : m - pos);
}

/* BPE over the m > 0 normalised bytes in e->norm; the ids go to e->ids. */
static void bpe(enc *e, size_t m)
{
    int32_t n_sym = 0;
    for (size_t pos = 0; pos < m; n_sym++) {
        sym *y = &e->sy[n_sym];
        y->start = (uint32_t)pos;
        y->len = symbol_len(e->s, e->norm, pos, m, &y->freeze);
        pos += y->len;
        y->prev = n_sym - 1;
        y->next = pos < m ? n_sym + 1 : -1;
    }
    for (int32_t i = 1; i < n_sym; i++) maybe_add(e, i - 1, i);
    while (e->n_heap) {
        pair t = heap_pop(e);
        sym *l = &e->sy[t.left], *r = &e->sy[t.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != t.size) continue;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) e->sy[r->next].prev = t.left;
        r->len = 0;
        maybe_add(e, l->prev, t.left);
        maybe_add(e, t.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = e->sy[i].next) resegment(e, e->sy[i].start, e->sy[i].len);
}

cf_status cf_spm_encode(const cf_spm *s, const uint8_t *text, size_t n, int32_t *out, size_t cap, size_t *n_out)
{
    if (!s || (!text && n) || (!out && cap) || !n_out)
        return cf_set_error(CF_ERR_ARG, "cf_spm_encode: NULL tokenizer, text, output or count");
    *n_out = 0;
    if (n > (INT32_MAX - 3) / 3)
        return cf_set_error(CF_ERR_ARG, "cf_spm_encode: %zu bytes of text; at most %d at once", n, (INT32_MAX - 3) / 3);
    if (n == 0) return CF_OK;
    size_t room = 3 * n + 3;
    uint8_t *norm = malloc(room);
    enc e = {.s = s, .norm = norm};
    e.sy = malloc(room * sizeof *e.sy);
    e.heap = malloc(3 * room * sizeof *e.heap);
    e.stack = malloc(room * sizeof *e.stack);
    e.ids = malloc(room * sizeof *e.ids);
    if (s->has_unused) e.rev = calloc((size_t)s->n, sizeof *e.rev);
    cf_status st = CF_OK;
    if (!norm || !e.sy || !e.heap || !e.stack || !e.ids || (s->has_unused && !e.rev)) {
        st = cf_set_error(CF_ERR_OOM, "cf_spm_encode: out of memory for %zu bytes of text", n);
    } else {
        size_t m = normalize(s, text, n, norm);
        if (m) bpe(&e, m);
        *n_out = e.n_ids;
        if (e.n_ids > cap)
            st = cf_set_error(CF_ERR_ARG, "cf_spm_encode: %zu ids do not fit in %zu", e.n_ids, cap);
        else if (e.n_ids)
            memcpy(out, e.ids, e.n_ids * sizeof *out);
    }
    free(norm);
    free(e.sy);
    free(e.heap);
    free(e.stack);
    free(e.ids);
    free(e.rev);
    return st;
}
