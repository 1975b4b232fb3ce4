/* BPE training, encoding, the vocabulary file, tokenizers and the text dataset. */
#define CHECK_SHOW_LAST_ERROR /* a CHECK that fails also shows cf_last_error() */
#include "tests/check.h"
#include "data/text/bpe.h"
#include "data/loader.h"
#include "data/text/text.h"
#include "tests/tmpdir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static uint64_t lcg = 88172645463325252ull;
static uint32_t rnd(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg >> 33);
}

/* Pseudo-English with punctuation, digits, newlines and multibyte UTF-8 words. */
static uint8_t *make_text(size_t n)
{
    static const char *words[] = {"the",  "of",     "and",  "lower",  "lowest", "newer", "wider", "low",
                                  "new",  "widest", "a",    "token",  "merge",  "pair",  "byte",  "caf\xc3\xa9",
                                  "na\xc3\xafve", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                                  "\xce\xb5\xce\xbb\xce\xbb\xce\xac",
                                  "2024", "x86",  "\xf0\x9f\x99\x82"};
    static const char *seps[] = {" ", " ", " ", " ", ", ", ". ", "\n", "  ", "\t", "!\n"};
    uint8_t *t = malloc(n);
    size_t k = 0;
    while (k < n) {
        const char *w = words[rnd() % (sizeof words / sizeof *words)];
        const char *s = seps[rnd() % (sizeof seps / sizeof *seps)];
        for (const char *p = w; *p && k < n; p++) t[k++] = (uint8_t)*p;
        for (const char *p = s; *p && k < n; p++) t[k++] = (uint8_t)*p;
    }
    return t;
}

/* Reference encoder: every chunk, every merge in order, left to right -- the definition. */
static size_t naive_encode(const cf_bpe *b, const uint8_t *x, size_t n, int32_t *out)
{
    size_t k = 0;
    int32_t *s = malloc((n ? n : 1) * sizeof *s);
    for (size_t at = 0; at < n;) {
        size_t len = cf_bpe_chunk_len(x + at, n - at), m = len;
        for (size_t i = 0; i < len; i++) s[i] = x[at + i];
        for (int r = 0; r < cf_bpe_merge_count(b) && m > 1; r++) {
            int32_t l, rr;
            cf_bpe_merge(b, r, &l, &rr);
            size_t o = 0;
            for (size_t i = 0; i < m;) {
                if (i + 1 < m && s[i] == l && s[i + 1] == rr) {
                    s[o++] = 256 + r;
                    i += 2;
                } else {
                    s[o++] = s[i++];
                }
            }
            m = o;
        }
        memcpy(out + k, s, m * sizeof *s);
        k += m;
        at += len;
    }
    free(s);
    return k;
}

static bool round_trip(const cf_bpe *b, const uint8_t *x, size_t n, size_t *ntok)
{
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    uint8_t *back = malloc(n ? n : 1);
    size_t k = 0, m = 0;
    bool ok = cf_bpe_encode(b, x, n, ids, &k) == CF_OK && cf_bpe_decode(b, ids, k, back, n, &m) == CF_OK && m == n &&
              memcmp(back, x, n) == 0;
    if (ntok) *ntok = k;
    free(ids);
    free(back);
    return ok;
}

static void test_chunks(void)
{
    const char *s = "Hello  world,\n  caf\xc3\xa9 42x";
    const char *want[] = {"Hello", " ", " world", ",", "\n ", " caf\xc3\xa9", " 42", "x"};
    size_t n = strlen(s), at = 0;
    int k = 0;
    bool ok = true;
    while (at < n && k < 8) {
        size_t len = cf_bpe_chunk_len((const uint8_t *)s + at, n - at);
        ok = ok && len == strlen(want[k]) && memcmp(s + at, want[k], len) == 0;
        at += len;
        k++;
    }
    CHECK(ok && k == 8 && at == n, "pre-split chunks differ\n");
}

static void test_train_small(void)
{
    /* the textbook example: aa (4) first, then ab over Za (tie: smaller ids), then Z Y */
    const char *s = "aaabdaaabac";
    cf_bpe *b = cf_bpe_train((const uint8_t *)s, strlen(s), 300);
    CHECK(b && cf_bpe_merge_count(b) == 3 && cf_bpe_vocab_size(b) == 259, "%d merges\n",
          b ? cf_bpe_merge_count(b) : -1);
    int32_t l, r;
    cf_bpe_merge(b, 0, &l, &r);
    CHECK(l == 'a' && r == 'a', "merge 0 = (%d, %d)\n", l, r);
    cf_bpe_merge(b, 1, &l, &r);
    CHECK(l == 'a' && r == 'b', "merge 1 = (%d, %d)\n", l, r);
    cf_bpe_merge(b, 2, &l, &r);
    CHECK(l == 256 && r == 257, "merge 2 = (%d, %d)\n", l, r);
    int32_t ids[16];
    size_t k;
    cf_bpe_encode(b, (const uint8_t *)s, strlen(s), ids, &k);
    int32_t want[] = {258, 'd', 258, 'a', 'c'};
    CHECK(k == 5 && memcmp(ids, want, sizeof want) == 0, "encoding of the training text (%zu tokens)\n", k);
    const uint8_t *tb;
    size_t tl;
    CHECK(cf_bpe_token_bytes(b, 258, &tb, &tl) == CF_OK && tl == 4 && memcmp(tb, "aaab", 4) == 0, "token 258 bytes\n");
    CHECK(cf_bpe_token_bytes(b, 259, &tb, &tl) == CF_ERR_ARG, "token out of range accepted\n");
    /* vocab_size caps the merges */
    cf_bpe *b1 = cf_bpe_train((const uint8_t *)s, strlen(s), 257);
    CHECK(b1 && cf_bpe_merge_count(b1) == 1, "vocab 257 gives one merge\n");
    CHECK(cf_bpe_train((const uint8_t *)s, strlen(s), 100) == NULL, "vocab below 256 accepted\n");
    cf_bpe *b0 = cf_bpe_train(NULL, 0, 512);
    CHECK(b0 && cf_bpe_merge_count(b0) == 0, "empty text\n");
    cf_bpe_free(b0);
    cf_bpe_free(b1);
    cf_bpe_free(b);
}

static void test_train_text(void)
{
    size_t n = 200000;
    uint8_t *text = make_text(n);
    clock_t t0 = clock();
    cf_bpe *b = cf_bpe_train(text, n, 600);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(b && cf_bpe_merge_count(b) > 50, "merges learned: %d\n", b ? cf_bpe_merge_count(b) : -1);
    if (!b) return;
    printf("trained %d merges on %zu bytes in %.2f s\n", cf_bpe_merge_count(b), n, secs);
    /* words of the text become single tokens */
    int32_t ids[16];
    size_t k;
    cf_bpe_encode(b, (const uint8_t *)" lowest", 7, ids, &k);
    CHECK(k == 1, "' lowest' is %zu tokens\n", k);
    cf_bpe_encode(b, (const uint8_t *)" caf\xc3\xa9", 6, ids, &k);
    CHECK(k == 1, "' caf\\xc3\\xa9' is %zu tokens\n", k);
    /* deterministic */
    cf_bpe *b2 = cf_bpe_train(text, n, 600);
    bool same = b2 && cf_bpe_merge_count(b2) == cf_bpe_merge_count(b);
    for (int i = 0; same && i < cf_bpe_merge_count(b); i++) {
        int32_t l1, r1, l2, r2;
        cf_bpe_merge(b, i, &l1, &r1);
        cf_bpe_merge(b2, i, &l2, &r2);
        same = l1 == l2 && r1 == r2;
    }
    CHECK(same, "training twice gave different merges\n");
    cf_bpe_free(b2);

    /* the fast encoder equals the definition, on the text and on random bytes */
    int32_t *fast = malloc(n * sizeof *fast), *ref = malloc(n * sizeof *ref);
    size_t nf = 0, nr = naive_encode(b, text, n, ref);
    cf_bpe_encode(b, text, n, fast, &nf);
    CHECK(nf == nr && memcmp(fast, ref, nf * sizeof *fast) == 0, "heap encoder differs from the reference\n");
    CHECK(nf < n / 2, "compression: %zu tokens for %zu bytes\n", nf, n);

    /* save / load: same merges, identical encodings */
    const char *path = tmp_path("vocab.bpe");
    CHECK(cf_bpe_save(b, path) == CF_OK, "save\n");
    cf_bpe *l = cf_bpe_load(path);
    CHECK(l && cf_bpe_vocab_size(l) == cf_bpe_vocab_size(b), "load\n");
    if (l) {
        size_t nl = 0;
        cf_bpe_encode(l, text, n, ref, &nl);
        CHECK(nl == nf && memcmp(fast, ref, nf * sizeof *fast) == 0, "loaded vocabulary encodes differently\n");
    }
    cf_bpe_free(l);
    /* no temporary left behind by the atomic write */
    char cmd[320];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", test_dir);
    CHECK(system(cmd) != 0, "a temporary file was left in %s\n", test_dir);

    /* exact round trip: the text, random bytes (NULs, invalid UTF-8), UTF-8 with multibyte characters */
    size_t ntok;
    CHECK(round_trip(b, text, n, &ntok), "round trip of the training text\n");
    uint8_t *noise = malloc(65536);
    for (int i = 0; i < 65536; i++) noise[i] = (uint8_t)rnd();
    noise[0] = 0, noise[1] = 0, noise[2] = 0xff, noise[3] = 0xc3; /* NULs and a truncated sequence */
    CHECK(round_trip(b, noise, 65536, NULL), "round trip of random bytes\n");
    nr = naive_encode(b, noise, 65536, ref);
    cf_bpe_encode(b, noise, 65536, fast, &nf);
    CHECK(nf == nr && memcmp(fast, ref, nf * sizeof *fast) == 0, "heap encoder differs on random bytes\n");
    for (int len = 0; len < 40; len++)
        CHECK(round_trip(b, noise + 100, (size_t)len, NULL), "round trip of %d bytes\n", len);
    const char *utf8 = "Gr\xc3\xbc\xc3\x9f" "e, \xe4\xb8\x96\xe7\x95\x8c! na\xc3\xafve caf\xc3\xa9 "
                       "\xf0\x9f\x99\x82\xf0\x9f\x99\x82 \xce\xb5\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1 "
                       "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82";
    CHECK(round_trip(b, (const uint8_t *)utf8, strlen(utf8), NULL), "round trip of UTF-8 text\n");
    /* long runs stay linear: a megabyte of one letter */
    uint8_t *same_byte = malloc(1 << 20);
    memset(same_byte, 'a', 1 << 20);
    CHECK(round_trip(b, same_byte, 1 << 20, NULL), "round trip of a 1 MiB run\n");
    int32_t bad = cf_bpe_vocab_size(b);
    size_t m;
    CHECK(cf_bpe_decode(b, &bad, 1, noise, 10, &m) == CF_ERR_ARG, "out-of-vocabulary id decoded\n");
    int32_t big = cf_bpe_vocab_size(b) - 1;
    CHECK(cf_bpe_decode(b, &big, 1, NULL, 0, &m) == CF_ERR_ARG && m > 0, "decode sizing\n");
    free(same_byte);
    free(noise);
    free(fast);
    free(ref);
    free(text);
    cf_bpe_free(b);
}

static void expect_load_error(const char *name, const char *content, const char *where)
{
    const char *path = tmp_path(name);
    test_write_bytes(path, content, strlen(content));
    cf_bpe *b = cf_bpe_load(path);
    char want[300];
    snprintf(want, sizeof want, "%s%s", path, where);
    CHECK(!b && strstr(cf_last_error(), want), "%s: expected an error at '%s'\n", name, want);
    cf_bpe_free(b);
}

static void test_corrupt_vocab(void)
{
    expect_load_error("v1", "not a vocab\n", ":1:");
    expect_load_error("v2", "cformer-bpe 9\nmerges 0\n", ":1:");
    expect_load_error("v3", "cformer-bpe 1\nmerges x\n", ":2:");
    expect_load_error("v4", "cformer-bpe 1\nmerges 3\n97 97\n97 x\n1 2\n", ":4:");
    expect_load_error("v5", "cformer-bpe 1\nmerges 2\n97 97\n", ":4:");            /* truncated */
    expect_load_error("v6", "cformer-bpe 1\nmerges 2\n97 97\n300 1\n", ":4:");     /* token from the future */
    expect_load_error("v7", "cformer-bpe 1\nmerges 1\n97 97\nextra\n", ":4:");     /* trailing content */
    expect_load_error("v8", "cformer-bpe 1\nmerges 2\n97 97\n97 97\n", ":4:");        /* repeated pair */
    expect_load_error("v9", "cformer-bpe 1\nmerges 1\n-1 97\n", ":3:");
    const char *missing = tmp_path("no-such.bpe");
    CHECK(!cf_bpe_load(missing) && strstr(cf_last_error(), missing), "missing vocabulary not named\n");
    const char *ok = tmp_path("ok.bpe");
    test_write_bytes(ok, "cformer-bpe 1\nmerges 2\n97 98\n256 99\n", 37);
    cf_bpe *b = cf_bpe_load(ok);
    int32_t ids[8];
    size_t k;
    CHECK(b && cf_bpe_encode(b, (const uint8_t *)"abcab", 5, ids, &k) == CF_OK && k == 2 && ids[0] == 257 &&
              ids[1] == 256, "hand-written vocabulary\n");
    cf_bpe_free(b);
    cf_bpe *e = cf_bpe_from_merges((const int32_t[]){97, 98}, 1);
    CHECK(cf_bpe_save(e, "/nonexistent-dir/x.bpe") == CF_ERR_IO && strstr(cf_last_error(), "/nonexistent-dir/x.bpe"),
          "save into a missing directory\n");
    cf_bpe_free(e);
    CHECK(cf_bpe_from_merges((const int32_t[]){97, 256}, 1) == NULL, "merge of a later token accepted\n");
}

static void test_tokenizers(void)
{
    cf_tokenizer *t = cf_tokenizer_open("byte", NULL);
    CHECK(t && cf_tokenizer_vocab_size(t) == 256 && strcmp(cf_tokenizer_kind(t), "byte") == 0, "byte tokenizer\n");
    const uint8_t x[] = {0, 255, 'a', 0xc3};
    int32_t ids[4];
    uint8_t back[4];
    size_t k, m;
    CHECK(cf_tokenizer_encode(t, x, 4, ids, &k) == CF_OK && k == 4 && ids[0] == 0 && ids[1] == 255, "byte encode\n");
    CHECK(cf_tokenizer_decode(t, ids, 4, back, 4, &m) == CF_OK && m == 4 && memcmp(back, x, 4) == 0, "byte decode\n");
    ids[2] = 256;
    CHECK(cf_tokenizer_decode(t, ids, 4, back, 4, &m) == CF_ERR_ARG, "byte decode of 256 accepted\n");
    cf_tokenizer_free(t);
    CHECK(!cf_tokenizer_open("sentencepiece", NULL) && strstr(cf_last_error(), "sentencepiece"), "unknown kind\n");
    CHECK(!cf_tokenizer_open("bpe", NULL), "bpe without a vocabulary accepted\n");
}

static void check_windows(cf_dataset *ds, const int32_t *split, int64_t seq, const char *what)
{
    cf_batch b = {0};
    CHECK(cf_dataset_make_batch(ds, 2, &b) == CF_OK, "%s: make_batch\n", what);
    const cf_tensor *tok = cf_batch_get(&b, "tokens"), *tgt = cf_batch_get(&b, "targets");
    CHECK(tok && tgt && tok->dtype == CF_I64 && tok->shape[1] == seq && tgt->shape[0] == 2, "%s: fields\n", what);
    bool ok = true;
    for (int64_t i = 0; i < ds->len && ok; i += (ds->len > 7 ? ds->len / 7 : 1)) {
        ok = cf_dataset_get(ds, i, &b, 1) == CF_OK;
        const int64_t *a = (const int64_t *)cf_data(tok) + seq, *t = (const int64_t *)cf_data(tgt) + seq;
        for (int64_t s = 0; s < seq && ok; s++) ok = a[s] == split[i * seq + s] && t[s] == split[i * seq + s + 1];
        for (int64_t s = 0; s + 1 < seq && ok; s++) ok = t[s] == a[s + 1]; /* targets = tokens shifted by one */
    }
    CHECK(ok, "%s: windows are not the split's tokens shifted by one\n", what);
    cf_batch_free(&b);
}

static void test_text_dataset(void)
{
    size_t n = 5003;
    uint8_t *text = make_text(n);
    const char *path = tmp_path("corpus.txt");
    test_write_bytes(path, text, n);
    int64_t seq = 16;

    /* byte tokenizer: split by bytes */
    int32_t *all = malloc(n * sizeof *all);
    for (size_t i = 0; i < n; i++) all[i] = text[i];
    int64_t ntr = (int64_t)n * 9 / 10, nva = (int64_t)n - ntr;
    cf_status st = CF_ERR_INTERNAL;
    cf_dataset *tr = cf_text_dataset_open(path, "byte", NULL, "train", seq, &st);
    cf_dataset *va = cf_text_dataset_open(path, "byte", NULL, "val", seq, &st);
    CHECK(tr && va && st == CF_OK, "open byte splits\n");
    if (!tr || !va) return;
    CHECK(cf_text_dataset_split_tokens(tr) == ntr && cf_text_dataset_split_tokens(va) == nva,
          "split sizes %" PRId64 " + %" PRId64 "\n", cf_text_dataset_split_tokens(tr),
          cf_text_dataset_split_tokens(va));
    CHECK(tr->len == (ntr - 1) / seq && va->len == (nva - 1) / seq, "window counts %" PRId64 ", %" PRId64 "\n",
          tr->len, va->len);
    CHECK(cf_tokenizer_vocab_size(cf_text_dataset_tokenizer(tr)) == 256, "byte vocab\n");
    check_windows(tr, all, seq, "byte train");
    check_windows(va, all + ntr, seq, "byte val");

    /* val through the loader in order covers its windows contiguously */
    cf_loader_config c = cf_loader_defaults();
    c.batch_size = 4;
    c.shuffle = false;
    c.drop_last = false;
    cf_loader *l = cf_loader_create(va, &c);
    int64_t covered = 0;
    bool contiguous = true;
    for (int64_t bi = 0; bi < cf_loader_batches_per_epoch(l); bi++) {
        const cf_batch *b = cf_loader_next(l);
        if (!b) {
            contiguous = false;
            break;
        }
        const int64_t *t = cf_data(b->fields[1]);
        for (int r = 0; r < b->rows; r++)
            for (int64_t s = 0; s < seq; s++) contiguous = contiguous && t[r * seq + s] == all[ntr + 1 + covered++];
    }
    CHECK(contiguous && covered == va->len * seq, "val loader covered %" PRId64 " targets\n", covered);
    cf_loader_free(l);
    cf_dataset_free(tr);
    cf_dataset_free(va);

    /* BPE tokenizer: split by tokens */
    cf_bpe *b = cf_bpe_train(text, n, 400);
    const char *vocab = tmp_path("corpus.bpe");
    cf_bpe_save(b, vocab);
    int32_t *ids = malloc(n * sizeof *ids);
    size_t nt;
    cf_bpe_encode(b, text, n, ids, &nt);
    cf_bpe_free(b);
    ntr = (int64_t)nt * 9 / 10;
    nva = (int64_t)nt - ntr;
    seq = 8;
    cf_text_options opts = {.path = path, .tokenizer = "bpe", .vocab_path = vocab, .seq = seq};
    tr = cf_dataset_create("text", &(cf_dataset_config){.recipe = &opts, .split = "train"});
    va = cf_text_dataset_open(path, "bpe", vocab, "val", seq, NULL);
    CHECK(tr && va, "open bpe splits (registry and direct)\n");
    if (tr && va) {
        CHECK(cf_text_dataset_split_tokens(tr) == ntr && cf_text_dataset_split_tokens(va) == nva,
              "bpe split sizes\n");
        CHECK(tr->len == (ntr - 1) / seq && va->len == (nva - 1) / seq, "bpe window counts\n");
        CHECK(cf_tokenizer_vocab_size(cf_text_dataset_tokenizer(tr)) > 256, "bpe vocab\n");
        check_windows(tr, ids, seq, "bpe train");
        check_windows(va, ids + ntr, seq, "bpe val");
    }
    cf_dataset_free(tr);
    cf_dataset_free(va);

    /* errors name the path */
    const char *missing = tmp_path("missing.txt");
    st = CF_OK;
    CHECK(!cf_text_dataset_open(missing, "byte", NULL, "train", 8, &st) && st == CF_ERR_IO &&
              strstr(cf_last_error(), missing), "missing file\n");
    CHECK(!cf_text_dataset_open(test_dir, "byte", NULL, "train", 8, &st) && st == CF_ERR_IO &&
              strstr(cf_last_error(), test_dir), "a directory as data file\n");
    const char *tiny = tmp_path("tiny.txt");
    test_write_bytes(tiny, "abcdefghij", 10);
    CHECK(!cf_text_dataset_open(tiny, "byte", NULL, "val", 8, &st) && st == CF_ERR_FORMAT &&
              strstr(cf_last_error(), tiny), "split too short\n");
    CHECK(!cf_text_dataset_open(path, "bpe", tmp_path("v4"), "train", 8, &st) && strstr(cf_last_error(), "v4:4:"),
          "corrupt vocabulary through the dataset: '%s'\n", cf_last_error());
    CHECK(!cf_text_dataset_open(path, "byte", NULL, "test", 8, &st) && st == CF_ERR_ARG, "unknown split\n");
    CHECK(!cf_text_dataset_tokenizer(NULL), "tokenizer of NULL\n");
    free(ids);
    free(all);
    free(text);
}

int main(void)
{
    if (!test_dir_make("test_bpe")) return 1;
    test_chunks();
    test_train_small();
    test_train_text();
    test_corrupt_vocab();
    test_tokenizers();
    test_text_dataset();
    test_rmtree(test_dir);
    TEST_MAIN_END();
}
