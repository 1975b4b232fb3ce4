/* Hugging Face tokenizer.json byte-level BPE (hf_tokenizer.h): the file read into byte-string tokens, a
 * pair table over the file's ids driving the shared merge engine (bpe_internal.h), added tokens split out
 * first when allowed. */
#include "data/text/hf_tokenizer.h"

#include "autograd/json_read.h"
#include "data/text/bpe_internal.h"
#include "data/text/presplit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t id;
    uint32_t len;
    const uint8_t *bytes;
} added_token;

struct cf_hf_tokenizer {
    int vocab;               /* max id + 1 */
    uint8_t **tok_bytes;     /* [vocab]: the token's bytes (NULL: an id no entry names) */
    uint32_t *tok_len;       /* [vocab] */
    int32_t byte_tok[256];   /* the token of each single byte */
    /* bytes -> id, open addressing over (hash, id) */
    uint64_t *str_hash;
    int32_t *str_id;
    size_t str_cap;
    /* merges: (l, r) -> rank, and the token rank k makes */
    u64map pairs;
    int32_t *made;
    int n_merges;
    bool ignore_merges;
    cf_presplit split;
    bool add_prefix_space;
    added_token *added;
    int n_added;
};

/* ---- GPT-2's byte <-> character table ---- */

/* Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 map, in byte order, to
 * U+0100 onwards. */
static void byte_table(uint32_t to_cp[256], int16_t from_cp[324])
{
    int next = 0;
    for (int b = 0; b < 324; b++) from_cp[b] = -1;
    for (int b = 0; b < 256; b++) {
        bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        to_cp[b] = self ? (uint32_t)b : (uint32_t)(256 + next++);
        from_cp[to_cp[b]] = (int16_t)b;
    }
}

/* A vocabulary key's bytes: each character through the table. false when a character is not in it. */
static bool unmap_key(const int16_t from_cp[324], const char *key, size_t len, uint8_t *out, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += cf_utf8_decode((const uint8_t *)key + i, len - i, &cp);
        if (cp >= 324 || from_cp[cp] < 0) return false;
        out[k++] = (uint8_t)from_cp[cp];
    }
    *n = k;
    return true;
}

/* ---- bytes -> id ---- */

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return cf_bpe_mix64(h ^ n);
}

static int32_t lookup(const cf_hf_tokenizer *t, const uint8_t *p, size_t n)
{
    if (!t->str_cap) return -1;
    uint64_t h = hash_bytes(p, n);
    size_t mask = t->str_cap - 1;
    for (size_t i = h & mask; t->str_id[i] >= 0; i = (i + 1) & mask) {
        int32_t id = t->str_id[i];
        if (t->str_hash[i] == h && t->tok_len[id] == n && memcmp(t->tok_bytes[id], p, n) == 0) return id;
    }
    return -1;
}

/* Indexes id's bytes; the first id with given bytes wins (a later duplicate keeps its own decoding). */
static void index_token(cf_hf_tokenizer *t, int32_t id)
{
    const uint8_t *p = t->tok_bytes[id];
    size_t n = t->tok_len[id];
    if (lookup(t, p, n) >= 0) return;
    uint64_t h = hash_bytes(p, n);
    size_t mask = t->str_cap - 1, i = h & mask;
    while (t->str_id[i] >= 0) i = (i + 1) & mask;
    t->str_hash[i] = h, t->str_id[i] = id;
}

/* ---- loading ---- */

void cf_hf_tokenizer_free(cf_hf_tokenizer *t)
{
    if (!t) return;
    if (t->tok_bytes)
        for (int i = 0; i < t->vocab; i++) free(t->tok_bytes[i]);
    free(t->tok_bytes);
    free(t->tok_len);
    free(t->str_hash);
    free(t->str_id);
    cf_bpe_map_free(&t->pairs);
    free(t->made);
    free(t->added);
    free(t);
}

static bool fail(const char *what, const char *msg, const char *detail)
{
    cf_set_error(CF_ERR_FORMAT, "%s: %s%s%s", what, msg, detail ? ": " : "", detail ? detail : "");
    return false;
}

/* The pre-split: GPT-2's ByteLevel, or Sequence[Split(pattern), ByteLevel(use_regex false)]. */
static bool read_pre_tokenizer(cf_hf_tokenizer *t, const cf_jv *pre, const char *what)
{
    if (!pre || pre->type != CF_JSON_OBJECT) return fail(what, "pre_tokenizer: expected an object (ByteLevel or Sequence)", NULL);
    const cf_jv *type = cf_json_need(pre, "type", CF_JSON_STRING, what);
    if (!type) return false;
    const cf_jv *byte_level = NULL, *split = NULL;
    if (strcmp(type->s, "ByteLevel") == 0) {
        byte_level = pre;
    } else if (strcmp(type->s, "Sequence") == 0) {
        const cf_jv *seq = cf_json_need(pre, "pretokenizers", CF_JSON_ARRAY, what);
        if (!seq) return false;
        for (int i = 0; i < seq->n; i++) {
            const cf_jv *ty = cf_json_get(&seq->items[i], "type");
            const char *name = ty && ty->type == CF_JSON_STRING ? ty->s : "?";
            if (strcmp(name, "Split") == 0 && !split) split = &seq->items[i];
            else if (strcmp(name, "ByteLevel") == 0 && !byte_level) byte_level = &seq->items[i];
            else return fail(what, "pre_tokenizer Sequence: unsupported step", name);
        }
    } else {
        return fail(what, "pre_tokenizer: unsupported type (ByteLevel or Sequence of Split + ByteLevel are read; "
                    "a Metaspace tokenizer ships a SentencePiece tokenizer.model: use that)", type->s);
    }
    if (!byte_level) return fail(what, "pre_tokenizer: no ByteLevel step (only byte-level BPE is read)", NULL);
    const cf_jv *regex = cf_json_get(byte_level, "use_regex"), *aps = cf_json_get(byte_level, "add_prefix_space");
    bool use_regex = !regex || (regex->type == CF_JSON_BOOL && regex->b);
    t->add_prefix_space = aps && aps->type == CF_JSON_BOOL && aps->b;
    if (split) {
        if (use_regex) return fail(what, "pre_tokenizer: a Split followed by a ByteLevel that splits again", NULL);
        const cf_jv *pattern = cf_json_get(cf_json_get(split, "pattern"), "Regex");
        const cf_jv *behavior = cf_json_get(split, "behavior"), *invert = cf_json_get(split, "invert");
        if (!pattern || pattern->type != CF_JSON_STRING) return fail(what, "pre_tokenizer Split: pattern.Regex missing", NULL);
        if (!behavior || behavior->type != CF_JSON_STRING || strcmp(behavior->s, "Isolated") != 0 ||
            (invert && invert->type == CF_JSON_BOOL && invert->b))
            return fail(what, "pre_tokenizer Split: only behavior Isolated without invert is read", NULL);
        if (strcmp(pattern->s, cf_presplit_pattern(CF_PRESPLIT_LLAMA3)) == 0) t->split = CF_PRESPLIT_LLAMA3;
        else if (strcmp(pattern->s, cf_presplit_pattern(CF_PRESPLIT_GPT2)) == 0) t->split = CF_PRESPLIT_GPT2;
        else return fail(what, "pre_tokenizer Split: a pattern this reader does not implement", pattern->s);
    } else {
        if (!use_regex) return fail(what, "pre_tokenizer: ByteLevel without use_regex and without a Split", NULL);
        t->split = CF_PRESPLIT_GPT2;
    }
    return true;
}

static bool set_token(cf_hf_tokenizer *t, int64_t id, const uint8_t *bytes, size_t n, const char *what, const char *key)
{
    if (id < 0 || id >= t->vocab) return fail(what, "token id out of range", key);
    if (t->tok_bytes[id]) {
        char msg[80];
        snprintf(msg, sizeof msg, "id %lld is given to two tokens", (long long)id);
        return fail(what, msg, key);
    }
    t->tok_bytes[id] = malloc(n ? n : 1);
    if (!t->tok_bytes[id]) return cf_set_error(CF_ERR_OOM, "%s: out of memory", what), false;
    memcpy(t->tok_bytes[id], bytes, n);
    t->tok_len[id] = (uint32_t)n;
    return true;
}

/* One merge "a b" or ["a", "b"]: both operands and their concatenation must be tokens. */
static bool read_merge(cf_hf_tokenizer *t, const cf_jv *m, int k, const int16_t from_cp[324], uint8_t *buf,
                       const char *what)
{
    const char *a, *b;
    size_t la, lb;
    char where[96];
    snprintf(where, sizeof where, "model.merges[%d] (line %d)", k, m->line);
    if (m->type == CF_JSON_STRING) {
        const char *sp = memchr(m->s, ' ', m->len);
        if (!sp || memchr(sp + 1, ' ', m->len - (size_t)(sp + 1 - m->s))) return fail(what, where, "expected \"left right\"");
        a = m->s, la = (size_t)(sp - m->s), b = sp + 1, lb = m->len - la - 1;
    } else if (m->type == CF_JSON_ARRAY && m->n == 2 && m->items[0].type == CF_JSON_STRING &&
               m->items[1].type == CF_JSON_STRING) {
        a = m->items[0].s, la = m->items[0].len, b = m->items[1].s, lb = m->items[1].len;
    } else {
        return fail(what, where, "expected \"left right\" or [\"left\", \"right\"]");
    }
    size_t na, nb;
    if (!unmap_key(from_cp, a, la, buf, &na) || !unmap_key(from_cp, b, lb, buf + na, &nb) || !na || !nb)
        return fail(what, where, "an operand is not a byte-level token");
    int32_t l = lookup(t, buf, na), r = lookup(t, buf + na, nb), made = lookup(t, buf, na + nb);
    if (l < 0 || r < 0 || made < 0) return fail(what, where, made < 0 ? "the merged token is not in the vocabulary" : "an operand is not in the vocabulary");
    bool fresh;
    int32_t *v = cf_bpe_map_upsert(&t->pairs, pair_key(l, r), k, &fresh);
    if (!v) return cf_set_error(CF_ERR_OOM, "%s: out of memory", what), false;
    t->made[k] = made; /* a repeated pair keeps its first (lowest) rank */
    return true;
}

static bool read_added(cf_hf_tokenizer *t, const cf_jv *added, const char *what)
{
    if (!added || added->type == CF_JSON_NULL) return true;
    if (added->type != CF_JSON_ARRAY) return fail(what, "added_tokens: expected an array", NULL);
    t->added = calloc((size_t)(added->n ? added->n : 1), sizeof *t->added);
    if (!t->added) return cf_set_error(CF_ERR_OOM, "%s: out of memory", what), false;
    for (int i = 0; i < added->n; i++) {
        const cf_jv *a = &added->items[i];
        const cf_jv *id = cf_json_need(a, "id", CF_JSON_NUMBER, what), *content = cf_json_need(a, "content", CF_JSON_STRING, what);
        if (!id || !content) return false;
        if (!id->is_int || id->i < 0 || id->i >= t->vocab || content->len == 0)
            return fail(what, "added_tokens: bad id or empty content", content->s);
        static const char *const unsupported[] = {"lstrip", "rstrip", "single_word"};
        for (int k = 0; k < 3; k++) {
            const cf_jv *f = cf_json_get(a, unsupported[k]);
            if (f && f->type == CF_JSON_BOOL && f->b) {
                char msg[96];
                snprintf(msg, sizeof msg, "added_tokens: \"%s\": true is not supported", unsupported[k]);
                return fail(what, msg, content->s);
            }
        }
        /* an added token also in the vocabulary keeps the vocabulary's bytes (they are the same text) */
        if (!t->tok_bytes[id->i] && !set_token(t, id->i, (const uint8_t *)content->s, content->len, what, content->s))
            return false;
        t->added[t->n_added++] = (added_token){(int32_t)id->i, (uint32_t)content->len, (const uint8_t *)t->tok_bytes[id->i]};
        if (t->tok_len[id->i] != content->len || memcmp(t->tok_bytes[id->i], content->s, content->len) != 0)
            return fail(what, "added_tokens: the id names another token in the vocabulary", content->s);
    }
    return true;
}

/* The largest id named by the vocabulary or the added tokens, -1 when none. */
static int64_t max_id(const cf_jv *vocab, const cf_jv *added)
{
    int64_t m = -1;
    for (int i = 0; i < vocab->n; i++)
        if (vocab->items[i].is_int && vocab->items[i].i > m) m = vocab->items[i].i;
    for (int i = 0; added && added->type == CF_JSON_ARRAY && i < added->n; i++) {
        const cf_jv *id = cf_json_get(&added->items[i], "id");
        if (id && id->type == CF_JSON_NUMBER && id->is_int && id->i > m) m = id->i;
    }
    return m;
}

static bool build(cf_hf_tokenizer *t, const cf_jv *root, const char *what)
{
    const cf_jv *model = cf_json_need(root, "model", CF_JSON_OBJECT, what);
    if (!model) return false;
    const cf_jv *type = cf_json_get(model, "type");
    if (type && (type->type != CF_JSON_STRING || strcmp(type->s, "BPE") != 0))
        return fail(what, "model.type: only BPE is read", type->type == CF_JSON_STRING ? type->s : NULL);
    static const char *const must_be_empty[] = {"continuing_subword_prefix", "end_of_word_suffix", "dropout"};
    for (int k = 0; k < 3; k++) {
        const cf_jv *f = cf_json_get(model, must_be_empty[k]);
        if (f && f->type != CF_JSON_NULL && !(f->type == CF_JSON_STRING && f->len == 0))
            return fail(what, "model: not supported (must be null)", must_be_empty[k]);
    }
    const cf_jv *normalizer = cf_json_get(root, "normalizer");
    if (normalizer && normalizer->type != CF_JSON_NULL) {
        const cf_jv *nt = cf_json_get(normalizer, "type");
        return fail(what, "normalizer: only null is read", nt && nt->type == CF_JSON_STRING ? nt->s : NULL);
    }
    const cf_jv *ign = cf_json_get(model, "ignore_merges");
    t->ignore_merges = ign && ign->type == CF_JSON_BOOL && ign->b;
    if (!read_pre_tokenizer(t, cf_json_get(root, "pre_tokenizer"), what)) return false;

    const cf_jv *vocab = cf_json_need(model, "vocab", CF_JSON_OBJECT, what);
    const cf_jv *merges = vocab ? cf_json_need(model, "merges", CF_JSON_ARRAY, what) : NULL;
    if (!merges) return false;
    const cf_jv *added = cf_json_get(root, "added_tokens");
    int64_t top = max_id(vocab, added);
    if (top < 0 || top >= (1 << 24)) return fail(what, "model.vocab: no ids, or ids beyond 2^24", NULL);
    t->vocab = (int)top + 1;
    t->tok_bytes = calloc((size_t)t->vocab, sizeof *t->tok_bytes);
    t->tok_len = calloc((size_t)t->vocab, sizeof *t->tok_len);
    t->str_cap = 16;
    while (t->str_cap < 2 * (size_t)t->vocab) t->str_cap *= 2;
    t->str_hash = malloc(t->str_cap * sizeof *t->str_hash);
    t->str_id = malloc(t->str_cap * sizeof *t->str_id);
    t->made = malloc((size_t)(merges->n ? merges->n : 1) * sizeof *t->made);
    uint8_t *buf = malloc(1 << 17);
    if (!t->tok_bytes || !t->tok_len || !t->str_hash || !t->str_id || !t->made || !buf ||
        !cf_bpe_map_init(&t->pairs, (size_t)merges->n)) {
        free(buf);
        return cf_set_error(CF_ERR_OOM, "%s: out of memory for %d tokens", what, t->vocab), false;
    }
    for (size_t i = 0; i < t->str_cap; i++) t->str_id[i] = -1;

    uint32_t to_cp[256];
    int16_t from_cp[324];
    byte_table(to_cp, from_cp);
    bool ok = true;
    for (int i = 0; ok && i < vocab->n; i++) {
        const cf_jv *id = &vocab->items[i];
        size_t n;
        if (id->type != CF_JSON_NUMBER || !id->is_int) ok = fail(what, "model.vocab: an id is not an integer", vocab->keys[i]);
        else if (vocab->key_lens[i] > (1 << 15) || !unmap_key(from_cp, vocab->keys[i], vocab->key_lens[i], buf, &n))
            ok = fail(what, "model.vocab: a token is not byte-level text", vocab->keys[i]);
        else ok = set_token(t, id->i, buf, n, what, vocab->keys[i]);
    }
    for (int32_t id = 0; ok && id < t->vocab; id++)
        if (t->tok_bytes[id]) index_token(t, id);
    for (int b = 0; ok && b < 256; b++) {
        uint8_t one = (uint8_t)b;
        if ((t->byte_tok[b] = lookup(t, &one, 1)) < 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "model.vocab: byte 0x%02X has no token", b);
            ok = fail(what, msg, NULL);
        }
    }
    t->n_merges = merges->n;
    for (int k = 0; ok && k < merges->n; k++) ok = read_merge(t, &merges->items[k], k, from_cp, buf, what);
    free(buf);
    return ok && read_added(t, added, what);
}

cf_hf_tokenizer *cf_hf_tokenizer_load_mem(const char *json, size_t n, const char *what)
{
    if (!what) what = "(tokenizer.json)";
    cf_json_doc *d = cf_json_parse(json, n, what);
    if (!d) return NULL;
    cf_hf_tokenizer *t = calloc(1, sizeof *t);
    if (!t) cf_set_error(CF_ERR_OOM, "%s: out of memory", what);
    if (t && !build(t, cf_json_root(d), what)) {
        cf_hf_tokenizer_free(t);
        t = NULL;
    }
    cf_json_doc_free(d);
    return t;
}

cf_hf_tokenizer *cf_hf_tokenizer_load(const char *path)
{
    cf_json_doc *d = cf_json_parse_file(path, 0);
    if (!d) return NULL;
    cf_hf_tokenizer *t = calloc(1, sizeof *t);
    if (!t) cf_set_error(CF_ERR_OOM, "%s: out of memory", path);
    if (t && !build(t, cf_json_root(d), path)) {
        cf_hf_tokenizer_free(t);
        t = NULL;
    }
    cf_json_doc_free(d);
    return t;
}

int cf_hf_tokenizer_vocab_size(const cf_hf_tokenizer *t) { return t ? t->vocab : 0; }

size_t cf_hf_tokenizer_max_tokens(const cf_hf_tokenizer *t, size_t n) { return t && t->add_prefix_space ? 2 * n + 1 : n; }

int32_t cf_hf_tokenizer_token_id(const cf_hf_tokenizer *t, const char *token, size_t len)
{
    if (!t || !token) return -1;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && memcmp(t->added[i].bytes, token, len) == 0) return t->added[i].id;
    return lookup(t, (const uint8_t *)token, len);
}

/* ---- encoding ---- */

static int32_t hf_pair(const void *model, int32_t l, int32_t r, int32_t *made)
{
    const cf_hf_tokenizer *t = model;
    const int32_t *k = cf_bpe_map_find(t->pairs.keys, t->pairs.vals, t->pairs.cap, pair_key(l, r));
    if (!k) return -1;
    *made = t->made[*k];
    return *k;
}

/* Pre-splits and BPEs text (no added tokens in it). */
static cf_status encode_plain(const cf_hf_tokenizer *t, const uint8_t *s, size_t n, int32_t *out, size_t *k,
                              cf_bpe_scratch *sc)
{
    for (size_t at = 0; at < n;) {
        size_t len = cf_presplit_len(t->split, s + at, n - at);
        int32_t whole = t->ignore_merges ? lookup(t, s + at, len) : -1;
        if (whole >= 0) {
            out[(*k)++] = whole;
        } else {
            if (len > INT32_MAX || !cf_bpe_scratch_fit(sc, len))
                return cf_set_error(CF_ERR_OOM, "tokenizer: out of memory for a chunk of %zu bytes", len);
            for (size_t i = 0; i < len; i++) sc->tok[i] = t->byte_tok[s[at + i]];
            *k += cf_bpe_merge_chunk(len, hf_pair, t, out + *k, sc);
        }
        at += len;
    }
    return CF_OK;
}

/* The earliest added token in s[0..n) (longest at that position): its index, *at its offset; -1 if none. */
static int find_added(const cf_hf_tokenizer *t, const uint8_t *s, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++) {
        int best = -1;
        for (int a = 0; a < t->n_added; a++) {
            const added_token *x = &t->added[a];
            if (x->bytes[0] == s[i] && x->len <= n - i && memcmp(x->bytes, s + i, x->len) == 0 &&
                (best < 0 || x->len > t->added[best].len))
                best = a;
        }
        if (best >= 0) {
            *at = i;
            return best;
        }
    }
    return -1;
}

cf_status cf_hf_tokenizer_encode(const cf_hf_tokenizer *t, const uint8_t *text, size_t n, bool allow_special,
                                 int32_t *out, size_t *n_out)
{
    if (!t || (!text && n) || (!out && n) || !n_out)
        return cf_set_error(CF_ERR_ARG, "cf_hf_tokenizer_encode: NULL tokenizer, text, output or count");
    cf_bpe_scratch sc = {0};
    size_t k = 0;
    cf_status st = CF_OK;
    uint8_t *seg = NULL; /* a segment with ByteLevel's prefix space */
    for (size_t pos = 0; st == CF_OK && pos < n;) {
        size_t at = n - pos;
        int a = allow_special && t->n_added ? find_added(t, text + pos, n - pos, &at) : -1;
        if (at > 0 && t->add_prefix_space && text[pos] != ' ') { /* per segment, as the library prefixes */
            uint8_t *b = realloc(seg, at + 1);
            if (!b) {
                st = cf_set_error(CF_ERR_OOM, "tokenizer: out of memory");
                break;
            }
            seg = b;
            seg[0] = ' ';
            memcpy(seg + 1, text + pos, at);
            st = encode_plain(t, seg, at + 1, out, &k, &sc);
        } else {
            st = encode_plain(t, text + pos, at, out, &k, &sc);
        }
        pos += at;
        if (a >= 0 && st == CF_OK) {
            out[k++] = t->added[a].id;
            pos += t->added[a].len;
        }
    }
    cf_bpe_scratch_free(&sc);
    free(seg);
    *n_out = k;
    return st;
}

cf_status cf_hf_tokenizer_decode(const cf_hf_tokenizer *t, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                                 size_t *n_out)
{
    if (!t || (!ids && n) || !n_out) return cf_set_error(CF_ERR_ARG, "cf_hf_tokenizer_decode: NULL tokenizer, ids or count");
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab || !t->tok_bytes[ids[i]])
            return cf_set_error(CF_ERR_ARG, "tokenizer: token %d at %zu is not in the vocabulary of %d", (int)ids[i], i, t->vocab);
        need += t->tok_len[ids[i]];
    }
    *n_out = need;
    if (need > cap || (!out && need))
        return cf_set_error(CF_ERR_ARG, "tokenizer: %zu bytes do not fit the buffer of %zu", need, cap);
    for (size_t i = 0, k = 0; i < n; k += t->tok_len[ids[i]], i++) memcpy(out + k, t->tok_bytes[ids[i]], t->tok_len[ids[i]]);
    return CF_OK;
}
