/* Hugging Face tokenizer.json byte-level BPE (data/text/hf_tokenizer.h) and the pre-split patterns
 * (data/text/presplit.h) against tests/data/tokenizers/: for the GPT-2 and Llama 3 layouts, every corpus
 * string's chunks must equal Python `regex`'s findall of the published pattern, its ids (with and without
 * added tokens) those of OpenAI's reference merge loop, and decoding must give the text back. Then any bytes
 * round-trip, and each malformed file is refused with the reason named. */
#define CHECK_SHOW_LAST_ERROR
#include "autograd/json_read.h"
#include "data/text/hf_tokenizer.h"
#include "data/text/presplit.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>

#define FIXTURES CF_SOURCE_DIR "/tests/data/tokenizers/"

static bool same_ids(const int32_t *got, size_t n, const cf_jv *want)
{
    if (!want || want->type != CF_JSON_ARRAY || (size_t)want->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want->items[i].i) return false;
    return true;
}

static void against_reference(const char *name, cf_presplit kind)
{
    char path[512];
    snprintf(path, sizeof path, FIXTURES "%s.tokenizer.json", name);
    cf_hf_tokenizer *t = cf_hf_tokenizer_load(path);
    CHECK(t != NULL, "%s", path);
    snprintf(path, sizeof path, FIXTURES "%s.expected.json", name);
    cf_json_doc *d = cf_json_parse_file(path, 0);
    CHECK(d != NULL, "%s", path);
    if (!t || !d) goto done;
    const cf_jv *pattern = cf_json_get(cf_json_root(d), "pattern");
    CHECK(pattern && strcmp(pattern->s, cf_presplit_pattern(kind)) == 0, "%s: the pattern tested is the one implemented", name);
    const cf_jv *cases = cf_json_get(cf_json_root(d), "cases");
    int checked = 0;
    for (int c = 0; cases && c < cases->n; c++) {
        const cf_jv *cs = &cases->items[c];
        const cf_jv *text = cf_json_get(cs, "text"), *split = cf_json_get(cs, "split");
        const uint8_t *s = (const uint8_t *)text->s;
        size_t n = text->len;
        /* chunks */
        int k = 0;
        bool split_ok = true;
        for (size_t at = 0; at < n; k++) {
            size_t len = cf_presplit_len(kind, s + at, n - at);
            if (k >= split->n || (int64_t)len != split->items[k].i) split_ok = false;
            at += len;
        }
        CHECK(split_ok && k == split->n, "%s: case %d \"%s\": chunks differ from the pattern's", name, c, text->s);
        /* ids with added tokens, without, and back */
        int32_t *ids = malloc((cf_hf_tokenizer_max_tokens(t, n) + 1) * sizeof *ids);
        uint8_t *back = malloc(n + 1);
        size_t k_ids = 0, k_back = 0;
        CHECK(cf_hf_tokenizer_encode(t, s, n, true, ids, &k_ids) == CF_OK);
        CHECK(same_ids(ids, k_ids, cf_json_get(cs, "ids")), "%s: case %d \"%s\": ids differ", name, c, text->s);
        CHECK(cf_hf_tokenizer_decode(t, ids, k_ids, back, n, &k_back) == CF_OK && k_back == n && memcmp(back, s, n) == 0,
              "%s: case %d: decode(encode(x)) != x", name, c);
        CHECK(cf_hf_tokenizer_encode(t, s, n, false, ids, &k_ids) == CF_OK);
        CHECK(same_ids(ids, k_ids, cf_json_get(cs, "ids_plain")), "%s: case %d \"%s\": ids without added tokens differ",
              name, c, text->s);
        free(ids);
        free(back);
        checked++;
    }
    CHECK(checked >= 25, "%s: %d cases", name, checked);
    /* any bytes, invalid UTF-8 included, round-trip */
    uint8_t junk[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) x = x * 1664525u + 1013904223u, junk[i] = (uint8_t)(x >> 24);
    int32_t *ids = malloc((cf_hf_tokenizer_max_tokens(t, sizeof junk)) * sizeof *ids);
    uint8_t back[sizeof junk];
    size_t k_ids = 0, k_back = 0;
    CHECK(cf_hf_tokenizer_encode(t, junk, sizeof junk, true, ids, &k_ids) == CF_OK &&
          cf_hf_tokenizer_decode(t, ids, k_ids, back, sizeof back, &k_back) == CF_OK && k_back == sizeof junk &&
          memcmp(back, junk, sizeof junk) == 0, "%s: random bytes round-trip", name);
    CHECK(cf_hf_tokenizer_decode(t, ids, k_ids, back, 10, &k_back) == CF_ERR_ARG && k_back == sizeof junk,
          "a small buffer is refused with the size needed");
    int32_t bad = cf_hf_tokenizer_vocab_size(t);
    CHECK(cf_hf_tokenizer_decode(t, &bad, 1, back, sizeof back, &k_back) == CF_ERR_ARG);
    free(ids);
done:
    cf_hf_tokenizer_free(t);
    cf_json_doc_free(d);
}

static void special_ids(void)
{
    cf_hf_tokenizer *t = cf_hf_tokenizer_load(FIXTURES "llama3.tokenizer.json");
    CHECK(t != NULL);
    if (!t) return;
    int32_t eot = cf_hf_tokenizer_token_id(t, "<|eot_id|>", 10), a = cf_hf_tokenizer_token_id(t, "a", 1);
    CHECK(eot == cf_hf_tokenizer_vocab_size(t) - 1 && a == 'a', "eot %d, a %d", (int)eot, (int)a);
    CHECK(cf_hf_tokenizer_token_id(t, "<|nope|>", 8) == -1);
    cf_hf_tokenizer_free(t);
}

/* a minimal valid file, then one change at a time */
static const char *base =
    "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true},"
    " \"added_tokens\": [], \"model\": {\"type\": \"BPE\", \"vocab\": {VOCAB}, \"merges\": [MERGES]}}";

static void refuses(const char *vocab_extra, const char *merges, const char *swap_from, const char *swap_to, const char *want)
{
    /* vocab: every byte through GPT-2's table, then the extra entries */
    char *v = malloc(1 << 15), *doc = malloc(1 << 16);
    size_t k = 0;
    for (int b = 0; b < 256; b++) {
        bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        static int next;
        if (b == 0) next = 0;
        unsigned cp = self ? (unsigned)b : 256u + (unsigned)next++;
        char u[8];
        int ul = cp < 0x80 ? snprintf(u, sizeof u, "%c", cp == '"' || cp == '\\' ? 'X' : (char)cp)
                           : snprintf(u, sizeof u, "%c%c", (char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 0x3F)));
        if (cp == '"') k += (size_t)snprintf(v + k, 64, "%s\"\\\"\": %d", b ? ", " : "", b);
        else if (cp == '\\') k += (size_t)snprintf(v + k, 64, "%s\"\\\\\": %d", b ? ", " : "", b);
        else k += (size_t)snprintf(v + k, 64, "%s\"%.*s\": %d", b ? ", " : "", ul, u, b);
    }
    snprintf(v + k, (1 << 15) - k, "%s", vocab_extra);
    /* substitute */
    const char *p = base;
    size_t m = 0;
    for (; *p; p++) {
        if (strncmp(p, "VOCAB", 5) == 0) m += (size_t)sprintf(doc + m, "%s", v), p += 4;
        else if (strncmp(p, "MERGES", 6) == 0) m += (size_t)sprintf(doc + m, "%s", merges), p += 5;
        else doc[m++] = *p;
    }
    doc[m] = 0;
    if (swap_from) {
        char *at = strstr(doc, swap_from);
        if (at) {
            char *rest = strdup(at + strlen(swap_from));
            sprintf(at, "%s%s", swap_to, rest);
            free(rest);
        }
    }
    cf_hf_tokenizer *t = cf_hf_tokenizer_load_mem(doc, strlen(doc), "bad.json");
    if (!want) {
        CHECK(t != NULL, "the base document loads");
    } else {
        CHECK(t == NULL, "accepted: %s", want);
        CHECK(strstr(cf_last_error(), want) != NULL, "error '%s' lacks '%s'", cf_last_error(), want);
    }
    cf_hf_tokenizer_free(t);
    free(v);
    free(doc);
}

static void malformed(void)
{
    refuses(", \"ab\": 256", "\"a b\"", NULL, NULL, NULL);
    refuses(", \"ab\": 256", "\"a c\"", NULL, NULL, "merged token is not in the vocabulary");
    refuses(", \"ab\": 256", "\"a  b\"", NULL, NULL, "expected \"left right\"");
    refuses(", \"ab\": 256", "7", NULL, NULL, "model.merges[0]");
    refuses(", \"ab\": 255", "\"a b\"", NULL, NULL, "id 255 is given to two tokens");
    refuses(", \"ab\": 2.5", "\"a b\"", NULL, NULL, "an id is not an integer");
    refuses(", \"a\\u0000b\": 256", "", NULL, NULL, "not byte-level text");
    refuses("", "", "\"a\": 97, ", "", "byte 0x61 has no token");
    refuses("", "", "\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}", "normalizer: only null is read: NFC");
    refuses("", "", "\"type\": \"ByteLevel\"", "\"type\": \"Metaspace\"", "use that");
    refuses("", "", "\"type\": \"BPE\"", "\"type\": \"WordPiece\"", "only BPE is read: WordPiece");
    refuses("", "", "{\"type\": \"ByteLevel\", \"use_regex\": true}",
            "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, "
            "\"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}",
            "a pattern this reader does not implement: \\w+");
    refuses("", "", "\"added_tokens\": []", "\"added_tokens\": [{\"id\": 300, \"content\": \"<s>\", \"lstrip\": true}]",
            "\"lstrip\": true is not supported");
    refuses("", "", "\"added_tokens\": []", "\"added_tokens\": [{\"id\": 97, \"content\": \"<s>\"}]",
            "the id names another token");
    refuses("", "", "\"model\"", "\"modle\"", "\"model\": missing");
    CHECK(cf_hf_tokenizer_load("/nonexistent/tokenizer.json") == NULL && strstr(cf_last_error(), "cannot open"));
}

int main(void)
{
    against_reference("gpt2", CF_PRESPLIT_GPT2);
    against_reference("llama3", CF_PRESPLIT_LLAMA3);
    special_ids();
    malformed();
    TEST_MAIN_END();
}
