/* The SentencePiece tokenizer (data/text/spm.h) against the reference library: tests/data/tokenizers/NAME.model
 * and the ids and texts sentencepiece 0.1.97 gave for them (NAME.json, written by make-spm-fixtures.py),
 * compared exactly; hand-computed BPE cases on a model built here; and every malformed-file error. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/json_read.h"
#include "data/text/spm.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES CF_SOURCE_DIR "/tests/data/tokenizers/"

/* ---- the reference fixtures ---- */

static size_t unhex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v;
        sscanf(s + i, "%2x", &v);
        out[i / 2] = (uint8_t)v;
    }
    return n / 2;
}

static bool same_ids(const int32_t *a, size_t na, const cf_jv *want)
{
    if (!want || want->type != CF_JSON_ARRAY || (size_t)want->n != na) return false;
    for (size_t i = 0; i < na; i++)
        if (want->items[i].i != a[i]) return false;
    return true;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
}

/* Decodes ids and compares with the expected text; `what` names the case. */
static void check_decode(const cf_spm *sp, const int32_t *ids, size_t n, const cf_jv *want, const char *what)
{
    size_t need = 0, got = 0;
    cf_status st = cf_spm_decode(sp, ids, n, NULL, 0, &need);
    CHECK(need == 0 ? st == CF_OK : st == CF_ERR_ARG, "%s: sizing call", what);
    uint8_t *out = malloc(need + 1);
    CHECK(cf_spm_decode(sp, ids, n, out, need, &got) == CF_OK && got == need, "%s: decode", what);
    bool ok = want && want->type == CF_JSON_STRING && want->len == got && memcmp(want->s, out, got) == 0;
    CHECK(ok, "%s: decoded \"%.*s\", sentencepiece \"%s\"", what, (int)got, (const char *)out, want ? want->s : "?");
    if (!ok) print_ids("ids", ids, n);
    free(out);
}

static const char *case_name(const cf_jv *c, char *buf, size_t cap)
{
    const cf_jv *t = cf_json_get(c, "text"), *h = cf_json_get(c, "hex");
    snprintf(buf, cap, "%.60s", t ? t->s : h ? h->s : "?");
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\t' || *p == '\r') *p = '~';
    return buf;
}

static void reference(const char *name)
{
    char path[1024], what[1200], label[80];
    snprintf(path, sizeof path, FIXTURES "%s.json", name);
    cf_json_doc *d = cf_json_parse_file(path, 0);
    CHECK(d != NULL, "%s", path);
    snprintf(path, sizeof path, FIXTURES "%s.model", name);
    cf_spm *sp = cf_spm_load(path);
    CHECK(sp != NULL, "%s", path);
    if (!d || !sp) goto done;
    const cf_jv *r = cf_json_root(d);
    CHECK(cf_spm_vocab_size(sp) == cf_json_get(r, "vocab_size")->i, "%s: vocab size", name);
    CHECK(cf_spm_unk_id(sp) == cf_json_get(r, "unk_id")->i && cf_spm_bos_id(sp) == cf_json_get(r, "bos_id")->i &&
          cf_spm_eos_id(sp) == cf_json_get(r, "eos_id")->i && cf_spm_pad_id(sp) == cf_json_get(r, "pad_id")->i,
          "%s: special ids %d %d %d %d", name, cf_spm_unk_id(sp), cf_spm_bos_id(sp), cf_spm_eos_id(sp),
          cf_spm_pad_id(sp));
    const cf_jv *enc = cf_json_get(r, "encode"), *dec = cf_json_get(r, "decode");
    CHECK(enc && enc->n > 50 && dec && dec->n > 40, "%s: the fixture has its cases", name);
    for (int c = 0; enc && c < enc->n; c++) {
        const cf_jv *e = &enc->items[c], *t = cf_json_get(e, "text"), *h = cf_json_get(e, "hex");
        uint8_t *text = malloc(t ? t->len + 1 : h->len / 2 + 1);
        size_t n = t ? t->len : unhex(h->s, h->len, text);
        if (t) memcpy(text, t->s, n);
        snprintf(what, sizeof what, "%s: encode #%d \"%s\"", name, c, case_name(e, label, sizeof label));
        size_t need = 0, got = 0;
        cf_status st = cf_spm_encode(sp, text, n, NULL, 0, &need);
        CHECK(need == 0 ? st == CF_OK : st == CF_ERR_ARG, "%s: sizing call", what);
        CHECK(need <= 3 * n + 3, "%s: %zu ids exceed the bound 3n+3", what, need);
        int32_t *ids = malloc((need + 1) * sizeof *ids);
        CHECK(cf_spm_encode(sp, text, n, ids, need, &got) == CF_OK && got == need, "%s", what);
        const cf_jv *want = cf_json_get(e, "ids");
        bool ok = same_ids(ids, got, want);
        CHECK(ok, "%s: ids differ from sentencepiece's", what);
        if (!ok) {
            print_ids("ours", ids, got);
            for (int i = 0; want && i < want->n; i++) ids[i < (int)got ? i : 0] = (int32_t)want->items[i].i;
        }
        check_decode(sp, ids, got, cf_json_get(e, "decoded"), what);
        free(ids);
        free(text);
    }
    for (int c = 0; dec && c < dec->n; c++) {
        const cf_jv *ids_j = cf_json_get(&dec->items[c], "ids");
        int32_t ids[64];
        size_t n = 0;
        for (int i = 0; i < ids_j->n && n < 64; i++) ids[n++] = (int32_t)ids_j->items[i].i;
        snprintf(what, sizeof what, "%s: decode #%d", name, c);
        check_decode(sp, ids, n, cf_json_get(&dec->items[c], "decoded"), what);
    }
done:
    cf_spm_free(sp);
    cf_json_doc_free(d);
}

/* ---- a model built here, for hand-computed cases and every malformed field ---- */

typedef struct buf {
    uint8_t b[16384];
    size_t n;
} buf;

static void put_varint(buf *o, uint64_t v)
{
    do {
        o->b[o->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void put_bytes(buf *o, uint32_t field, const void *p, size_t len)
{
    put_varint(o, (uint64_t)field << 3 | 2);
    put_varint(o, len);
    memcpy(o->b + o->n, p, len);
    o->n += len;
}

static void put_msg(buf *o, uint32_t field, const buf *m) { put_bytes(o, field, m->b, m->n); }

static void put_uint(buf *o, uint32_t field, uint64_t v)
{
    put_varint(o, (uint64_t)field << 3);
    put_varint(o, v);
}

static void put_piece(buf *o, const char *piece, float score, int type)
{
    buf m = {.n = 0};
    put_bytes(&m, 1, piece, strlen(piece));
    uint32_t bits;
    memcpy(&bits, &score, sizeof bits);
    put_varint(&m, 2 << 3 | 5);
    for (int i = 0; i < 4; i++) m.b[m.n++] = (uint8_t)(bits >> (8 * i));
    if (type != 1) put_uint(&m, 3, (uint64_t)type);
    put_msg(o, 1, &m);
}

#define WS "\xE2\x96\x81"

/* The pieces: <unk> <s> </s> ▁ a b c ab bc ▁a abc <u> (user-defined); scores as given, BPE model type. */
static void small_model(buf *o, float s_ab, float s_bc, bool with_trainer)
{
    o->n = 0;
    put_piece(o, "<unk>", 0, 2);
    put_piece(o, "<s>", 0, 3);
    put_piece(o, "</s>", 0, 3);
    put_piece(o, WS, -10, 1);
    put_piece(o, "a", -11, 1);
    put_piece(o, "b", -12, 1);
    put_piece(o, "c", -13, 1);
    put_piece(o, "ab", s_ab, 1);
    put_piece(o, "bc", s_bc, 1);
    put_piece(o, WS "a", -3, 1);
    put_piece(o, "abc", -4, 1);
    put_piece(o, "<u>", 0, 4);
    if (with_trainer) {
        buf t = {.n = 0};
        put_uint(&t, 3, 2);
        put_msg(o, 2, &t);
    }
}

static void encodes(const cf_spm *sp, const char *text, const int32_t *want, size_t n_want)
{
    int32_t ids[64];
    size_t n = 0;
    CHECK(cf_spm_encode(sp, (const uint8_t *)text, strlen(text), ids, 64, &n) == CF_OK, "%s", text);
    bool ok = n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
    CHECK(ok, "encode \"%s\"", text);
    if (!ok) print_ids("got", ids, n);
}

static void hand_cases(void)
{
    buf o;
    small_model(&o, -1, -2, true);
    cf_spm *sp = cf_spm_load_mem(o.b, o.n, "small");
    CHECK(sp != NULL);
    if (!sp) return;
    /* "abc" -> ▁ a b c: pairs ▁a (-3), ab (-1), bc (-2): ab first, then ab+c = abc (-4) and ▁+ab (none) */
    encodes(sp, "abc", (int32_t[]){3, 10}, 2);
    /* "a" -> ▁ a: ▁a (-3) */
    encodes(sp, "a", (int32_t[]){9}, 1);
    /* "<u>abc": the user-defined piece is frozen, so ▁ stays alone and <u> never merges */
    encodes(sp, "<u>abc", (int32_t[]){3, 11, 10}, 3);
    /* "ab d": d is unknown; without byte fallback a run of unknowns is one id: ▁ ab ▁ d d -> ▁ ab ▁ <unk> */
    encodes(sp, "ab dd", (int32_t[]){3, 7, 3, 0}, 4);
    CHECK(cf_spm_piece_id(sp, "ab", 2) == 7 && cf_spm_piece_id(sp, "zz", 2) == -1 && cf_spm_piece_id(sp, "<s>", 3) == 1);
    const char *p;
    size_t len;
    float score;
    cf_spm_type type;
    CHECK(cf_spm_piece(sp, 11, &p, &len, &score, &type) == CF_OK && len == 3 && memcmp(p, "<u>", 3) == 0 &&
          score == 0.0f && type == CF_SPM_USER_DEFINED);
    CHECK(cf_spm_piece(sp, 12, &p, &len, NULL, NULL) == CF_ERR_ARG);
    CHECK(cf_spm_bos_id(sp) == 1 && cf_spm_eos_id(sp) == 2 && cf_spm_unk_id(sp) == 0 && cf_spm_pad_id(sp) == -1);
    /* decode: <s> vanishes; remove_extra_whitespaces is on (the default), so every '▁' at the start goes,
     * not only the first one's; <unk> is " ⁇ ": "" "" "a" " " " ⁇ " "" */
    uint8_t out[64];
    size_t n;
    CHECK(cf_spm_decode(sp, (int32_t[]){1, 3, 9, 3, 0, 2}, 6, out, sizeof out, &n) == CF_OK && n == 7 &&
          memcmp(out, "a  \xE2\x81\x87 ", 7) == 0, "decoded %zu bytes", n);
    CHECK(cf_spm_decode(sp, (int32_t[]){4, 12}, 2, out, sizeof out, &n) == CF_ERR_ARG);
    CHECK_ERROR_HAS("id 12 (position 1) out of range 0..11");
    int32_t ids[4];
    CHECK(cf_spm_encode(sp, (const uint8_t *)"abc abc", 7, ids, 3, &n) == CF_ERR_ARG && n == 4, "needs %zu", n);
    cf_spm_free(sp);

    /* equal scores: the leftmost pair wins. "abc" -> ▁ a b c with ab and bc both -1: ab, then abc */
    small_model(&o, -1, -1, true);
    sp = cf_spm_load_mem(o.b, o.n, "small");
    encodes(sp, "abc", (int32_t[]){3, 10}, 2);
    cf_spm_free(sp);
    /* bc above ab: ▁ a bc, and a+bc is no piece; ▁a (-3) then joins */
    small_model(&o, -5, -1, true);
    sp = cf_spm_load_mem(o.b, o.n, "small");
    encodes(sp, "abc", (int32_t[]){9, 8}, 2);
    cf_spm_free(sp);
}

/* The model must be refused with an error containing `want`. */
static void refused(const buf *o, cf_status status, const char *want)
{
    cf_spm *sp = cf_spm_load_mem(o->b, o->n, "bad.model");
    CHECK(sp == NULL && cf_last_status() == status, "accepted a model that should fail with \"%s\"", want);
    CHECK(strstr(cf_last_error(), want) && strstr(cf_last_error(), "bad.model"), "error \"%s\" lacks \"%s\"",
          cf_last_error(), want);
    cf_spm_free(sp);
}

static void malformed(void)
{
    buf o, m;
    refused(&(buf){.n = 0}, CF_ERR_FORMAT, "no pieces");
    refused(&(buf){.b = {0x0A, 0x80}, .n = 2}, CF_ERR_FORMAT, "byte 1: ModelProto: truncated varint");
    refused(&(buf){.b = {0x0A, 0x05, 0x00}, .n = 3}, CF_ERR_FORMAT, "byte 0: ModelProto: length 5 runs past the end");
    refused(&(buf){.b = {0x0B}, .n = 1}, CF_ERR_FORMAT, "groups (wire type 3)");
    refused(&(buf){.b = {0x0F}, .n = 1}, CF_ERR_FORMAT, "invalid wire type 7");
    refused(&(buf){.b = {0x00}, .n = 1}, CF_ERR_FORMAT, "invalid field number 0");
    refused(&(buf){.b = {0x08, 0x01}, .n = 2}, CF_ERR_FORMAT, "pieces: expected length-delimited bytes, found wire type 0");
    refused(&(buf){.b = {0x0D, 1, 2}, .n = 3}, CF_ERR_FORMAT, "truncated 4-byte field");
    refused(&(buf){.b = {0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, .n = 11}, CF_ERR_FORMAT,
            "varint overflows 64 bits");
    /* inside a piece: its offset and index are named */
    small_model(&o, -1, -2, true);
    put_bytes(&o, 1, (uint8_t[]){0x0A, 0x01, 'x', 0x10, 0x01}, 5); /* score as a varint */
    refused(&o, CF_ERR_FORMAT, "pieces[12]: score: expected a 32-bit value, found wire type 0");
    small_model(&o, -1, -2, true);
    put_bytes(&o, 1, (uint8_t[]){0x0A, 0x01, 'x', 0x18, 0x09}, 5);
    refused(&o, CF_ERR_FORMAT, "pieces[12]: type: unknown value 9 (known: 1..6)");
    small_model(&o, -1, -2, true);
    put_bytes(&o, 1, (uint8_t[]){0x0A, 0x01, 'x', 0x15, 0x00, 0x00, 0xC0, 0x7F}, 8);
    refused(&o, CF_ERR_FORMAT, "pieces[12]: score is NaN");
    small_model(&o, -1, -2, true);
    put_bytes(&o, 1, (uint8_t[]){0x0A, 0x09, 'x'}, 3); /* the piece string runs past its message */
    refused(&o, CF_ERR_FORMAT, "pieces[12]: length 9 runs past the end of the message");
    /* what sentencepiece refuses */
    small_model(&o, -1, -2, true);
    put_piece(&o, "ab", 0, 1);
    refused(&o, CF_ERR_FORMAT, "pieces[12]: \"ab\" is already defined (pieces[7])");
    small_model(&o, -1, -2, true);
    put_piece(&o, "", 0, 1);
    refused(&o, CF_ERR_FORMAT, "pieces[12]: empty piece");
    small_model(&o, -1, -2, true);
    put_piece(&o, "<unk2>", 0, 2);
    refused(&o, CF_ERR_FORMAT, "pieces[12]: a second unknown piece (the first is pieces[0])");
    small_model(&o, -1, -2, true);
    put_piece(&o, "<0x41>", 0, 6);
    refused(&o, CF_ERR_FORMAT, "byte piece \"<0x41>\" although trainer_spec.byte_fallback is false");
    o.n = 0;
    put_piece(&o, "a", 0, 1);
    m.n = 0;
    put_uint(&m, 3, 2);
    put_msg(&o, 2, &m);
    refused(&o, CF_ERR_FORMAT, "no piece of type UNKNOWN among the 1 pieces");
    /* byte fallback needs all 256 byte pieces, written <0xXX> */
    small_model(&o, -1, -2, false);
    m.n = 0;
    put_uint(&m, 3, 2);
    put_uint(&m, 35, 1);
    put_msg(&o, 2, &m);
    put_piece(&o, "<0x0a>", 0, 6);
    refused(&o, CF_ERR_FORMAT, "byte piece \"<0x0a>\" is not of the form <0xXX>");
    small_model(&o, -1, -2, false);
    put_msg(&o, 2, &m);
    for (int b = 0; b < 255; b++) {
        char p[8];
        snprintf(p, sizeof p, "<0x%02X>", b);
        put_piece(&o, p, 0, 6);
    }
    refused(&o, CF_ERR_FORMAT, "byte_fallback is set but there is no byte piece <0xFF>");
    /* a second trainer_spec merges into the first (protobuf): one field changed, refused by name */
    static const struct {
        uint32_t field;
        uint64_t v;
        cf_status st;
        const char *want;
    } trainer[] = {
        {3, 1, CF_ERR_UNSUPPORTED, "a unigram model (trainer_spec.model_type 1); only BPE models are implemented"},
        {3, 3, CF_ERR_UNSUPPORTED, "a word model"},
        {3, 7, CF_ERR_FORMAT, "trainer_spec: model_type: unknown value 7"},
        {24, 1, CF_ERR_UNSUPPORTED, "treat_whitespace_as_suffix is not implemented"},
        {35, 1, CF_ERR_FORMAT, "byte_fallback is set but there is no byte piece <0x00>"},
        {44, 1, CF_ERR_FORMAT, "trainer_spec: unk_surface: expected length-delimited bytes, found wire type 0"},
    };
    for (size_t k = 0; k < sizeof trainer / sizeof *trainer; k++) {
        small_model(&o, -1, -2, true);
        m.n = 0;
        put_uint(&m, trainer[k].field, trainer[k].v);
        put_msg(&o, 2, &m);
        refused(&o, trainer[k].st, trainer[k].want);
    }
    small_model(&o, -1, -2, false);
    refused(&o, CF_ERR_UNSUPPORTED, "a unigram model"); /* no trainer_spec: the default model type */
    small_model(&o, -1, -2, true);
    m.n = 0;
    put_bytes(&m, 1, "nmt_nfkc", 8);
    put_bytes(&m, 2, "\x04\x00\x00\x00trie", 8);
    put_msg(&o, 3, &m);
    refused(&o, CF_ERR_UNSUPPORTED, "normalizer_spec \"nmt_nfkc\" has a 8-byte precompiled_charsmap");
    small_model(&o, -1, -2, true);
    put_msg(&o, 5, &m);
    refused(&o, CF_ERR_UNSUPPORTED, "denormalizer_spec has a 8-byte precompiled_charsmap");
    /* unknown fields are skipped, at every level */
    small_model(&o, -1, -2, true);
    m.n = 0;
    put_uint(&m, 4, 12);
    put_bytes(&m, 99, "future", 6);
    put_msg(&o, 2, &m);
    put_uint(&o, 77, 5);
    o.b[o.n++] = 0x79; /* field 15, a 64-bit value */
    for (int i = 0; i < 8; i++) o.b[o.n++] = 0;
    cf_spm *sp = cf_spm_load_mem(o.b, o.n, "ok.model");
    CHECK(sp && cf_spm_vocab_size(sp) == 12);
    cf_spm_free(sp);

    CHECK(cf_spm_load(FIXTURES "no-such.model") == NULL && cf_last_status() == CF_ERR_IO);
    CHECK_ERROR_HAS("no-such.model: cannot open SentencePiece model");
}

/* Every prefix of a real model and every single-byte change of its first kilobyte loads or fails with an
 * error naming it; what loads encodes and decodes. */
static void truncations(void)
{
    FILE *f = fopen(FIXTURES "plain.model", "rb");
    CHECK(f != NULL);
    if (!f) return;
    static uint8_t b[16384];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    int loaded = 0, named = 0, tries = 0;
    for (size_t cut = 0; cut < n; cut++) {
        cf_spm *sp = cf_spm_load_mem(b, cut, "cut.model");
        tries++;
        if (sp) {
            loaded++;
            int32_t ids[64];
            size_t k;
            CHECK(cf_spm_encode(sp, (const uint8_t *)"the quiet village", 17, ids, 64, &k) == CF_OK);
        } else {
            named += strstr(cf_last_error(), "cut.model") != NULL;
        }
        cf_spm_free(sp);
    }
    for (size_t i = 0; i < n && i < 1024; i++) {
        uint8_t save = b[i];
        b[i] ^= 0x5A;
        cf_spm *sp = cf_spm_load_mem(b, n, "flip.model");
        tries++;
        if (sp) {
            loaded++;
            int32_t ids[64];
            uint8_t out[256];
            size_t k, m;
            CHECK(cf_spm_encode(sp, (const uint8_t *)"the quiet village", 17, ids, 64, &k) == CF_OK &&
                  cf_spm_decode(sp, ids, k, out, sizeof out, &m) == CF_OK);
        } else {
            named += strstr(cf_last_error(), "flip.model") != NULL;
        }
        cf_spm_free(sp);
        b[i] = save;
    }
    CHECK(named + loaded == tries, "%d of %d failures name the model", named, tries - loaded);
    CHECK(named > tries / 2, "most damaged models are refused (%d of %d)", named, tries);
}

int main(void)
{
    reference("llama");
    reference("plain");
    reference("noescape");
    reference("unused");
    hand_cases();
    malformed();
    truncations();
    TEST_MAIN_END();
}
